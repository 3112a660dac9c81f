"""TE-NAS's NTK condition number: one batch for every cell (the correlation benchmark) against a new
batch for every cell (the reference), on the same cells and weights.

AZ-NAS's ``compute_te_nas_score.py`` (``get_ntk_n``), which gives the TE-NAS row of the AZ-NAS and
VKDNW tables, takes ``next(iter(trainloader))`` for every network: a fresh, shuffled and augmented
batch of 64 training images per architecture. The correlation benchmark (``correlation.py --groups
tenas``) gives every cell the same batch (``data.select(cifar10_5000, 64, seed=0, augmented=True)``),
as it does for every proxy. This script scores ``ntk_cond`` on the first ``--cells`` cells of
``random:1000:0`` with a batch of its own per cell (``data.select(..., 64, seed=1 + index,
augmented=True)``: other images, other crops and flips) and the same weights as the benchmark
(``fold_in(key(0), index)``, PyTorch default init), then compares Spearman's rho with CIFAR-10 /
CIFAR-100 test accuracy against the benchmark's own scores of those cells
(``results/correlation_nb201_tenas_scores.csv``). Linear regions are left out: with 64 N(0, 1)
images every healthy cell has 64 (the aggregate's second rank is a constant).

Per-cell scores go to ``benchmarks/results/tenas_batch_scores.csv`` as they are computed (an
interrupted run resumes); the table to ``benchmarks/results/tenas_batch.md``.

Run from the repository root:  python benchmarks/tenas_batch.py [--cells 200]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import jax
import numpy as np
from scipy import stats

from jaxnas import data, evaluate, population, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
FIXED = RESULTS / "correlation_nb201_tenas_scores.csv"


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--cells", type=int, default=200)
  args = ap.parse_args()
  npz, table = SHARED / "cifar10_5000.npz", SHARED / "nb201_cifar.csv"
  if not npz.exists() or not table.exists() or not FIXED.exists():
    print(f"skipped: needs {npz}, {table} and the correlation benchmark's {FIXED.name} "
          "(python benchmarks/correlation.py --groups tenas)")
    return 0
  fixed = {int(r["index"]): float(r["ntk_cond"]) for r in csv.DictReader(open(FIXED))}
  cells = [int(i) for i in spaces.parse_archs(spaces.nb201, "random:1000:0")[: args.cells]]
  missing = [i for i in cells if i not in fixed]
  if missing:
    print(f"skipped: {len(missing)} of these cells are not in {FIXED.name} yet")
    return 0
  images = data.load_npz(npz)
  out = RESULTS / "tenas_batch_scores.csv"
  own = {}
  if out.exists():
    own = {int(r["index"]): float(r["ntk_cond"]) for r in csv.DictReader(open(out))}
  else:
    out.write_text("index,ntk_cond\n")
  proxy = [proxies.get("ntk_cond")]

  def kappa(i, seed):
    batch = data.select(images, 64, seed=seed, augmented=True)
    with jax.enable_x64(True):  # as the CLI runs: float32 network and images, float64 eigenvalues
      return float(population.score_population(spaces.nb201.encoding_of([i]), proxy, batch,
                                               jax.random.key(0), space="nb201")[0, 0])

  # Same weights as the benchmark: its batch reproduces its score.
  check = kappa(cells[0], 0)
  print(f"cell {cells[0]} with the benchmark's batch: {check!r} (benchmark: {fixed[cells[0]]!r})")
  if not np.isclose(check, fixed[cells[0]], rtol=1e-4):
    raise SystemExit("the benchmark's score is not reproduced: different weights or images")
  todo = [i for i in cells if i not in own]
  t0 = time.perf_counter()
  for n, i in enumerate(todo):
    own[i] = kappa(i, 1 + i)
    with open(out, "a") as fh:
      fh.write(f"{i},{own[i]!r}\n")
    if n % 20 == 0:
      print(f"{n + 1}/{len(todo)} cells, {time.perf_counter() - t0:.0f} s", flush=True)
  truth = data.load_table(table)
  lines = [f"# TE-NAS NTK condition number: one batch for all cells vs one batch per cell "
           f"({len(cells)} cells)", "",
           f"`python benchmarks/tenas_batch.py --cells {args.cells}`: the first {len(cells)} cells "
           "of `random:1000:0`, PyTorch default init with the correlation benchmark's keys, 64 "
           "real CIFAR-10 training images cropped and flipped (`--augment`). 'one batch' = the "
           "correlation benchmark's scores (`data.select(cifar10_5000, 64, seed=0, "
           "augmented=True)` for every cell); 'batch per cell' = `seed=1 + index`, as the "
           "reference draws `next(iter(trainloader))` for every network. Spearman rho of -kappa "
           "(non-finite ranked worst) with the test accuracy of the same cells.", "",
           "| accuracy | one batch | batch per cell |", "|---|---|---|"]
  a = np.array([fixed[i] for i in cells])
  b = np.array([own[i] for i in cells])
  for column in ("cifar10_test_acc", "cifar100_test_acc"):
    acc = truth.lookup(np.array(cells), column)
    r = [evaluate.rank_correlation(s, acc, higher_is_better=False).spearman for s in (a, b)]
    lines.append(f"| {column} | {r[0]:.3f} | {r[1]:.3f} |")
  both = np.isfinite(a) & np.isfinite(b)
  agree = stats.spearmanr(a[both], b[both])[0]
  lines += ["", f"Per-cell Spearman rho between the two columns' kappa ({int(both.sum())} cells "
            f"finite in both): {agree:.3f}. Non-finite: {int((~np.isfinite(a)).sum())} / "
            f"{int((~np.isfinite(b)).sum())} (the zero-output cells)."]
  (RESULTS / "tenas_batch.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
