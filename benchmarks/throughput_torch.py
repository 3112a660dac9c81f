"""PyTorch side of benchmarks/throughput.py: zero-cost-nas's own code, timed per architecture.

Run by throughput.py with a Python that has torch (e.g. a throwaway venv under /tmp with
``pip install torch==2.13.0 numpy``) and a checkout of SamsungLabs/zero-cost-nas on PYTHONPATH:

  python throughput_torch.py CONFIG.json OUT.json

CONFIG holds the cells (arch strings), the images (.npz written by throughput.py; or a mapping
from proxy to .npz when proxies take different batches), the thread count, the proxies and,
optionally, each cell's ``torch.manual_seed`` (default: its position in the list). Nothing of zero-cost-nas is copied here: this file builds its NB201 model
(``foresight.models.nasbench2.get_model_from_arch_str``, PyTorch default init, train mode) and
times ``foresight.pruners.measures.calc_measure`` plus find_measures' summation, per proxy, exactly
as ``find_measures`` runs them (a fresh network copy per measure). NASWOT is not in zero-cost-nas:
it is timed as BayesWatch/nas-without-training (v2, ``score_networks.py``) runs it: the batch
Jacobian pass (forward + backward) its loop always makes, then the hooked forward pass that fills
K, then ``slogdet``; on the same zero-cost-nas model (hooks on every ``nn.ReLU``).
"""

import json
import sys
import time
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from foresight.models.nasbench2 import get_model_from_arch_str
from foresight.pruners import measures
from foresight.pruners.predictive import copynet


def summed(value):
  if isinstance(value, (list, tuple)):
    return float(sum(torch.sum(v) for v in value).item())
  return float(value)


def naswot(net, x, y):
  k = np.zeros((x.shape[0], x.shape[0]))

  def hook(module, inp, out):
    nonlocal k
    codes = (inp[0].view(inp[0].size(0), -1) > 0).float()
    k = k + (codes @ codes.t()).numpy() + ((1.0 - codes) @ (1.0 - codes.t())).numpy()

  # BayesWatch's get_batch_jacobian, run before the counting pass in its scoring loop.
  xj = x.clone().requires_grad_(True)
  net.zero_grad()
  out = net(xj)
  out.backward(torch.ones_like(out))
  handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
  with torch.no_grad():
    net(x.clone())
  for h in handles:
    h.remove()
  return float(np.linalg.slogdet(k)[1])


def load_batch(path):
  images = np.load(path)
  x = torch.from_numpy(np.ascontiguousarray(images["x"].transpose(0, 3, 1, 2))).float()
  return x, torch.from_numpy(images["y"]).long()


def main(config_path, out_path):
  cfg = json.loads(open(config_path).read())
  torch.set_num_threads(int(cfg["threads"]))
  paths = cfg["images"]
  if isinstance(paths, str):
    paths = {p: paths for p in cfg["proxies"]}
  batches = {p: load_batch(paths[p]) for p in cfg["proxies"]}
  seeds = cfg.get("seeds", list(range(len(cfg["archs"]))))
  times = {p: [] for p in cfg["proxies"]}
  values = {p: [] for p in cfg["proxies"]}
  for i, arch in enumerate(cfg["archs"]):
    torch.manual_seed(int(seeds[i]))
    net = get_model_from_arch_str(arch, int(cfg["num_classes"]))
    net.get_prunable_copy = types.MethodType(copynet, net)
    net.train()
    for p in cfg["proxies"]:
      # A fresh input tensor per measure, as find_measures fetches one per architecture:
      # zero-cost-nas's get_batch_jacobian (jacob_cov) reads x.grad without zeroing it, so a shared
      # tensor would accumulate every earlier architecture's input gradient into the Jacobian.
      x, y = batches[p]
      xi = x.clone()
      t0 = time.perf_counter()
      if p == "nwot":
        v = naswot(net.get_prunable_copy(bn=True), xi, y)
      else:
        v = measures.calc_measure(p, net, "cpu", xi, y, loss_fn=F.cross_entropy, split_data=1)
        v = float(v) if p == "jacob_cov" else summed(v)
      times[p].append(time.perf_counter() - t0)
      values[p].append(v)
    print(f"torch cell {i + 1}/{len(cfg['archs'])}: {sum(t[-1] for t in times.values()):.2f} s",
          file=sys.stderr, flush=True)
  json.dump({"times": times, "values": values, "torch": torch.__version__,
             "threads": torch.get_num_threads()}, open(out_path, "w"))


if __name__ == "__main__":
  main(*sys.argv[1:])
