"""Does sharing passes between proxies pay off? Shared vs separate scoring, side by side.

grad_norm, snip, fisher, plain and grasp start from one forward/backward pass of the loss, and
jacob_cov and epe_nas from one input-Jacobian pass (``jaxnas.proxies.evaluate``). This scores the
same NB201 cells (switch supernet, ``lax.map``, batch 64 of real CIFAR-10 images) once with all
proxies in one program and once with one program per proxy, in the same process, and compares
run times (compilation reported apart). Writes ``benchmarks/results/sharing_nb201.{md,csv}``.

Run from the repository root:  python benchmarks/sharing.py [--archs 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import jax
import numpy as np

from jaxnas import data, population, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
NPZ = ROOT.parent / "shared" / "data" / "cifar10_5000.npz"
RESULTS = ROOT / "benchmarks" / "results"
GROUPS = {  # grasp shares the same pass too; it is left out here to keep compile time short
    "loss gradients": ("grad_norm", "snip", "fisher", "plain"),
    "input Jacobians": ("jacob_cov", "epe_nas"),
}


def timed(enc, plist, batch):
  timing = []
  scores = population.score_population(enc, plist, batch, jax.random.key(0), chunk_size=len(enc),
                                        timing=timing)
  return scores, timing[0]


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--archs", type=int, default=8)
  ap.add_argument("--repeats", type=int, default=2)
  args = ap.parse_args()
  if not NPZ.exists():
    print(f"skipped: {NPZ} not found (see ../shared/data/README.md)")
    return 0
  batch = data.select(data.load_npz(NPZ), 64, seed=0)
  enc = spaces.nb201.encoding_of(spaces.nb201.sample_indices(np.random.default_rng(1), args.archs))
  rows = []
  with jax.enable_x64(True):
    for group, names in GROUPS.items():
      plist = [proxies.get(n) for n in names]
      shared_run, separate_run, shared_compile, separate_compile = [], [], 0.0, 0.0
      for r in range(args.repeats):  # alternate, so machine noise hits both sides alike
        s_scores, t = timed(enc, plist, batch)
        shared_run.append(t.run_s)
        shared_compile += t.compile_s
        sep, sep_scores = 0.0, []
        for p in plist:
          sc, t = timed(enc, [p], batch)
          sep += t.run_s
          separate_compile += t.compile_s
          sep_scores.append(sc[:, 0])
        separate_run.append(sep)
        np.testing.assert_allclose(s_scores, np.stack(sep_scores, 1), rtol=1e-4)
      shared_s = float(np.median(shared_run)) / args.archs
      separate_s = float(np.median(separate_run)) / args.archs
      rows.append(dict(group=group, proxies=" ".join(names), archs=args.archs,
                       shared_s_per_arch=round(shared_s, 3), separate_s_per_arch=round(separate_s, 3),
                       speedup=round(separate_s / shared_s, 2),
                       shared_compile_s=round(shared_compile, 1),
                       separate_compile_s=round(separate_compile, 1)))
      print(rows[-1], flush=True)
  RESULTS.mkdir(parents=True, exist_ok=True)
  with open(RESULTS / "sharing_nb201.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
  lines = ["# Shared passes vs one program per proxy (NB201, switch supernet, batch 64, real CIFAR-10)",
           "", f"`python benchmarks/sharing.py --archs {args.archs} --repeats {args.repeats}` on a "
           "2-core CPU; medians over repeats, run time only (compilation apart, once per program). "
           "Scores of both ways agree to 1e-4 (checked in the script).", "",
           "| group | proxies | shared s/arch | separate s/arch | speed-up | compile shared / separate (s) |",
           "|---|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['group']} | {r['proxies']} | {r['shared_s_per_arch']} | "
                 f"{r['separate_s_per_arch']} | {r['speedup']}x | {r['shared_compile_s']} / "
                 f"{r['separate_compile_s']} |")
  lines.append("")
  (RESULTS / "sharing_nb201.md").write_text("\n".join(lines))
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
