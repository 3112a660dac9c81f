"""Does sharing passes between proxies pay off? Shared vs separate scoring, side by side.

grad_norm, snip, fisher, plain and grasp start from one forward/backward pass of the loss, and
jacob_cov and epe_nas from one input-Jacobian pass (``jaxnas.proxies.evaluate``). For a few NB201
cells (exact networks, the proxies' reference network, batch 64 of real CIFAR-10 images with labels)
this compiles one program that scores a group together through ``evaluate`` and one program per proxy,
then times them alternately in the same process (run time only; compilation reported apart).
Writes ``benchmarks/results/sharing_nb201.{md,csv}``.

Run from the repository root:  python benchmarks/sharing.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import jax
import numpy as np

from jaxnas import data, models, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
NPZ = ROOT.parent / "shared" / "data" / "cifar10_5000.npz"
RESULTS = ROOT / "benchmarks" / "results"
GROUPS = {
    "loss gradients": ("grad_norm", "snip", "fisher", "plain", "grasp"),
    "input Jacobians": ("jacob_cov", "epe_nas"),
}
CELLS = (  # all-3x3 (the costliest), a mixed cell, a cheap pooling/skip cell
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    "|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|",
)


def compiled(fn, *args):
  t0 = time.perf_counter()
  exe = jax.jit(fn).lower(*args).compile()
  return exe, time.perf_counter() - t0


def run_time(exe, *args):
  t0 = time.perf_counter()
  out = jax.block_until_ready(exe(*args))
  return time.perf_counter() - t0, out


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--repeats", type=int, default=3)
  args = ap.parse_args()
  if not NPZ.exists():
    print(f"skipped: {NPZ} not found (see ../shared/data/README.md)")
    return 0
  batch = data.select(data.load_npz(NPZ), 64, seed=0)
  keys = [jax.random.key(j) for j in range(5)]
  rows = []
  with jax.enable_x64(True):  # jacob_cov's eigenvalues are taken in float64
    for group, names in GROUPS.items():
      plist = [proxies.get(n) for n in names]
      for arch in CELLS:
        enc = spaces.nb201.encode(arch)
        net = models.network("nb201", enc, **dict(plist[0].network))
        variables = net.init(jax.random.key(0))
        together, c_shared = compiled(
            lambda v, b: proxies.evaluate(plist, net, v, [b] * len(plist), keys[:len(plist)]),
            variables, batch)
        alone = [compiled(lambda v, b, p=p, k=k: p.fn(net, v, b, k), variables, batch)
                 for p, k in zip(plist, keys)]
        shared_t, separate_t = [], []
        for _ in range(args.repeats):  # alternate, so machine noise hits both sides alike
          t, s_scores = run_time(together, variables, batch)
          shared_t.append(t)
          ts = [run_time(exe, variables, batch) for exe, _ in alone]
          separate_t.append(sum(t for t, _ in ts))
          np.testing.assert_allclose(np.asarray(s_scores, float), [float(s) for _, s in ts],
                                     rtol=1e-5)
        shared_s, separate_s = float(np.median(shared_t)), float(np.median(separate_t))
        rows.append(dict(group=group, proxies=" ".join(names), cell=arch,
                         shared_s=round(shared_s, 3), separate_s=round(separate_s, 3),
                         speedup=round(separate_s / shared_s, 2),
                         shared_compile_s=round(c_shared, 1),
                         separate_compile_s=round(sum(c for _, c in alone), 1)))
        print(rows[-1], flush=True)
  RESULTS.mkdir(parents=True, exist_ok=True)
  with open(RESULTS / "sharing_nb201.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
  lines = ["# Shared passes vs one program per proxy (NB201 exact networks, batch 64, real CIFAR-10)",
           "", f"`python benchmarks/sharing.py --repeats {args.repeats}` on this 2-core CPU: one "
           "compiled program scoring a group through `jaxnas.proxies.evaluate` against one compiled "
           "program per proxy, timed alternately in one process; medians over repeats, run time only "
           "(compilation apart). Both ways give the same scores (checked to 1e-5 in the script).", "",
           "| group | cell | shared s | separate s (sum) | speed-up | compile shared / separate (s) |",
           "|---|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['group']} ({r['proxies']}) | `{r['cell']}` | {r['shared_s']} | "
                 f"{r['separate_s']} | {r['speedup']}x | {r['shared_compile_s']} / "
                 f"{r['separate_compile_s']} |")
  lines.append("")
  (RESULTS / "sharing_nb201.md").write_text("\n".join(lines))
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
