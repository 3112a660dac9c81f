"""The NB101 network against its PyTorch reference, in float64 (two stages, two environments).

Stage 1 (jaxnas's environment) builds six cells (the bare input -> output cell, NAS-Bench-101's
README cell, and cells of ``nb101_naslib.csv`` with an uneven channel split, one output vertex plus
an input projection (conv and max-pool), with and without BN), draws float64 weights, and saves
them with logits, parameter and input gradients of ``sum(logits * w)``, NASWOT's score and the
(shape, multiplicity) list of ``capture="outputs"`` records::

  python benchmarks/nb101_torch_oracle.py dump --out /tmp/nb101_oracle

Stage 2 (a scratch environment with torch, outside the repository) builds SamsungLabs/zero-cost-nas
``foresight/models/nasbench1.py`` for the same specs, copies the weights in and compares; it also
hooks every module (``outputs`` records: one per distinct tensor value a forward hook sees, with
the number of modules that output it) and every module whose type name contains 'ReLU' (NASWOT's
reference hooks)::

  python benchmarks/nb101_torch_oracle.py check --out /tmp/nb101_oracle \
      --reference <zero-cost-nas checkout>/foresight/models

Last run (torch 2.13 CPU, zero-cost-nas public HEAD): logits and gradients agree to <= 3e-13
relative, NASWOT scores to all printed digits, ``outputs`` records exactly, parameter counts
exactly. The reference's ``outputs += projection`` is in place: for a cell whose output is one conv
vertex plus the input projection, PyTorch's backward pass raises (the ReLU output it saved was
modified); the forward pass, and everything here, is unaffected.
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JAXNAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
OPS = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]


def _cases():
  from jaxnas.spaces import nb101

  cases = {"bare": "000001/00000/0000/000/00/0|conv3x3,conv3x3,conv3x3,conv3x3,conv3x3",
           "readme": "111010/00001/0001/100/01/1|conv1x1,conv3x3,conv3x3,conv3x3,maxpool3x3"}
  want = {
      "split3": lambda c: c.matrix[1:-1, -1].sum() == 3 and c.matrix[0, -1],
      "single_plus_in_conv": lambda c: (c.matrix[1:-1, -1].sum() == 1 and c.matrix[0, -1]
                                        and c.ops[-1] != 2),
      "single_plus_in_pool": lambda c: (c.matrix[1:-1, -1].sum() == 1 and c.matrix[0, -1]
                                        and c.ops[-1] == 2),
  }
  with open(SHARED / "nb101_naslib.csv", newline="") as fh:
    rows = list(csv.DictReader(fh))
  for name, pred in want.items():
    key = next(r["key"] for r in rows if pred(nb101.prune(nb101.encode(r["key"]))))
    cases[name] = nb101.decode(nb101.encode(key))
  return cases


def dump(out: Path) -> None:
  import jax
  import jax.numpy as jnp

  jax.config.update("jax_enable_x64", True)
  from jaxnas import models, proxies
  from jaxnas.spaces import nb101

  out.mkdir(parents=True, exist_ok=True)
  for name, arch in _cases().items():
    enc = nb101.encode(arch)
    for bn in (True, False):
      net = models.network("nb101", enc, batch_norm=bn, dtype=jnp.float64)
      v = net.init(jax.random.key(1), dtype=jnp.float64, input_shape=(1, 8, 8, 3))
      # BN affine parameters away from 1 / 0, so that they matter
      v = jax.tree_util.tree_map_with_path(
          lambda p, l: l * 1.3 + 0.1 if "'bn'" in jax.tree_util.keystr(p) and "params" in
          jax.tree_util.keystr(p) else l, v)
      x = jax.random.normal(jax.random.key(2), (3, 8, 8, 3), jnp.float64)
      w = jax.random.normal(jax.random.key(3), (3, 10), jnp.float64)
      loss = lambda params, x: jnp.sum(net({**v, "params": params}, x, train=True) * w)
      gp, gx = jax.grad(loss, argnums=(0, 1))(v["params"], x)
      flat = {jax.tree_util.keystr(p): np.asarray(l)
              for p, l in jax.tree_util.tree_leaves_with_path(v["params"])}
      grads = {"g" + jax.tree_util.keystr(p): np.asarray(l)
               for p, l in jax.tree_util.tree_leaves_with_path(gp)}
      _, recs = net(v, x, capture="outputs")
      outw = np.asarray(sorted(list(r.value.shape[1:]) + [int(r.weight)] for r in recs
                               if r.value.ndim == 4 and int(r.weight) > 0))
      nw = float(proxies.nwot(net, v, proxies.Batch(x), jax.random.key(0)))
      c = nb101.prune(enc)
      np.savez(out / f"{name}_bn{int(bn)}.npz", matrix=c.matrix, ops=np.asarray(c.ops),
               x=np.asarray(x), w=np.asarray(w), logits=np.asarray(net(v, x)), gx=np.asarray(gx),
               nparams=int(net.num_params()), nwot=nw, outw=outw, **flat, **grads)
      print(name, bn, arch, int(net.num_params()))


def check(out: Path, reference: Path) -> int:
  import torch

  sys.path.insert(0, str(reference))
  src = (reference / "nasbench1.py").read_text().replace("from .nasbench1_ops", "from nasbench1_ops")
  namespace: dict = {"__name__": "nasbench1_ref"}
  exec(compile(src, str(reference / "nasbench1.py"), "exec"), namespace)
  from nasbench1_spec import ModelSpec

  torch.set_default_dtype(torch.float64)
  worst = 0.0
  for f in sorted(glob.glob(str(out / "*_bn*.npz"))):
    d = np.load(f)
    bn = f.endswith("bn1.npz")
    spec = ModelSpec(d["matrix"], ["input"] + [OPS[o] for o in d["ops"]] + ["output"])
    net = namespace["Network"](spec, stem_out=128, num_stacks=3, num_mods=3, num_classes=10,
                               bn=bn).double().train()
    tparams = dict(net.named_parameters())
    assert sum(p.numel() for p in tparams.values()) == int(d["nparams"]), f

    def tname(jkey):
      ks = [k.strip("[]'") for k in jkey.split("][")]
      leaf = ks[-1]
      if ks[0] == "classifier":
        return "classifier." + ("weight" if leaf == "kernel" else "bias")
      if ks[0] == "stem":
        pre, mod = "layers.0.conv_bn_relu.", ks[1]
      else:
        layer, blk, mod = int(ks[0][5:]), ks[1], ks[2]
        if blk.startswith("op"):
          t = int(blk[2:])
          pre = f"layers.{layer}.vertex_op.{t}.{['conv3x3', 'conv1x1'][d['ops'][t - 1]]}.conv_bn_relu."
        else:
          pre = f"layers.{layer}.input_op.{int(blk[4:])}.conv_bn_relu."
      return pre + ("0" if mod == "conv" else "1") + "." + {"kernel": "weight", "scale": "weight",
                                                             "bias": "bias"}[leaf]

    def to_torch(a):
      return np.transpose(a, (3, 2, 0, 1)) if a.ndim == 4 else a.T if a.ndim == 2 else a

    with torch.no_grad():
      for k in d.files:
        if k.startswith("["):
          tparams[tname(k)].copy_(torch.from_numpy(to_torch(d[k])))
    x = torch.from_numpy(np.transpose(d["x"], (0, 3, 1, 2))).requires_grad_(True)
    logits = net(x)
    err = np.max(np.abs(logits.detach().numpy() - d["logits"])) / np.max(np.abs(d["logits"]))
    gerr, note = 0.0, ""
    try:
      (logits * torch.from_numpy(d["w"])).sum().backward()
      gerr = np.max(np.abs(np.transpose(x.grad.numpy(), (0, 2, 3, 1)) - d["gx"])) / np.max(np.abs(d["gx"]))
      for k in d.files:
        if k.startswith("g["):
          jg = to_torch(d[k])
          gerr = max(gerr, np.max(np.abs(tparams[tname(k[1:])].grad.numpy() - jg)) /
                     max(np.max(np.abs(jg)), 1e-300))
    except RuntimeError:
      note = " (reference backward raises: in-place add on a saved ReLU output)"
    seen, codes, alive = {}, [], []

    def record(m, i, o):
      if isinstance(o, torch.Tensor) and o.dim() == 4:
        alive.append(o)  # kept alive: no id is reused by a later tensor
        # the value sum tells apart one tensor's states before and after an in-place update
        k = (id(o), round(float(o.detach().sum()), 6))
        seen.setdefault(k, [o.shape[2], o.shape[3], o.shape[1], 0])[3] += 1
      if "ReLU" in str(type(m)):
        codes.append((i[0].detach().reshape(i[0].shape[0], -1) > 0).double())

    hooks = [m.register_forward_hook(record) for m in net.modules()]
    with torch.no_grad():
      net(x)
    for h in hooks:
      h.remove()
    same_outputs = sorted(seen.values()) == sorted(d["outw"].tolist())
    kern = sum(c @ c.T + (1 - c) @ (1 - c).T for c in codes)
    nwot = torch.slogdet(kern)[1].item()
    nerr = abs(nwot - float(d["nwot"])) / abs(nwot)
    worst = max(worst, err, gerr, nerr)
    print(f"{Path(f).name:30s} params {int(d['nparams'])} logits {err:.1e} grads {gerr:.1e} "
          f"nwot {nerr:.1e} outputs records equal {same_outputs}{note}")
    if not same_outputs:
      worst = np.inf
  print("worst relative error", worst)
  return 0 if worst < 1e-10 else 1


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("stage", choices=["dump", "check"])
  ap.add_argument("--out", type=Path, default=Path("/tmp/nb101_oracle"))
  ap.add_argument("--reference", type=Path, help="zero-cost-nas foresight/models directory")
  args = ap.parse_args()
  if args.stage == "dump":
    dump(args.out)
    return 0
  if args.reference is None:
    raise SystemExit("check needs --reference <zero-cost-nas>/foresight/models")
  return check(args.out, args.reference)


if __name__ == "__main__":
  sys.exit(main())
