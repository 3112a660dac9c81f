"""Regularised SWAP's size prior (mu, sigma) for NB201, chosen on cells the correlation benchmark
does not use.

SWAP's regulariser multiplies the score by exp(-(P - mu)^2 / sigma), P the parameter count in
thousands. The reference code takes mu and sigma as inputs and the paper states no NB201 values
(../shared/docs/proxies.md A13), so jaxnas has to pick defaults. This script picks them without
looking at the correlation benchmark's cells: on a tuning sample disjoint from the 1,000 cells of
``benchmarks/correlation.py`` (``random:1000:1`` without the cells of ``random:1000:0``), scored
with ``jaxnas score --proxies swap,params`` as that benchmark scores SWAP (16 real CIFAR-10 images,
one N(0, 1) weight draw per cell; the reference averages 32 draws), it searches a grid of
(mu, sigma) for the highest mean of the Spearman rho against NB201's CIFAR-10 and CIFAR-100 test
accuracy. It then reports that choice on the correlation benchmark's own cells (held out), next to
plain SWAP and the earlier defaults, when ``benchmarks/results/correlation_nb201_swap_scores.csv``
and ``..._classic_scores.csv`` exist.

  python benchmarks/reg_swap_prior.py        (repository root, ../shared beside it; ~8 min on 2 cores)

Writes benchmarks/results/reg_swap_prior.{md,csv} (the grid) and the tuning sample's scores
(``reg_swap_prior_scores.csv``, resumed if present).
"""

from __future__ import annotations

import argparse
import csv
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np

from jaxnas import data, evaluate, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
MUS = np.arange(0.0, 2001.0, 50.0)  # thousands of parameters (NB201: 73 k to 1.5 M)
SIGMAS = 10.0 ** np.arange(3.0, 8.01, 0.2)
COLUMNS = ("cifar10_test_acc", "cifar100_test_acc")
EARLIER = (1500.0, 1.0e5)  # jaxnas's defaults before this benchmark


def log_reg_swap(swap, params, mu, sigma):
  """log of SWAP x exp(-(P/1000 - mu)^2 / sigma): the same ranking, without underflow."""
  with np.errstate(divide="ignore"):
    return np.log(swap) - np.square(params / 1e3 - mu) / sigma


def rhos(swap, params, truth, mu, sigma):
  score = log_reg_swap(swap, params, mu, sigma)
  return [evaluate.rank_correlation(score, t).spearman for t in truth]


def read_scores(path):
  with open(path, newline="") as fh:
    return {int(r["index"]): r for r in csv.DictReader(fh)}


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--tune", default="random:1000:1", help="tuning sample (cells of --heldout removed)")
  ap.add_argument("--heldout", default="random:1000:0", help="the correlation benchmark's cells")
  args = ap.parse_args()
  npz, table_path = SHARED / "cifar10_5000.npz", SHARED / "nb201_cifar.csv"
  if not npz.exists() or not table_path.exists():
    print(f"skipped: reference data not found under {SHARED} (see ../shared/data/README.md)")
    return 0
  RESULTS.mkdir(parents=True, exist_ok=True)
  nb201 = spaces.nb201
  held = set(int(i) for i in spaces.parse_archs(nb201, args.heldout))
  tune = [int(i) for i in spaces.parse_archs(nb201, args.tune) if int(i) not in held]
  cells = RESULTS / "reg_swap_prior_cells.txt"
  cells.write_text("".join(f"{i}\n" for i in tune))
  out = RESULTS / "reg_swap_prior_scores.csv"
  cmd = ["jaxnas", "score", "--space", "nb201", "--archs", str(cells), "--proxies", "swap,params",
         "--data", f"npz:{npz}", "--batch-size", "ref", "--init", "normal", "--seed", "0",
         "--out", str(out), "--no-progress"]
  print("$", " ".join(cmd), flush=True)
  subprocess.run(cmd, check=True)

  table = data.load_table(table_path)
  scores = read_scores(out)
  idx = np.asarray(tune)
  swap = np.asarray([float(scores[i]["swap"]) for i in tune])
  params = np.asarray([float(scores[i]["params"]) for i in tune])
  truth = [np.asarray(table.lookup(idx, c), np.float64) for c in COLUMNS]
  grid = []
  for mu in MUS:
    for sigma in SIGMAS:
      r10, r100 = rhos(swap, params, truth, mu, sigma)
      grid.append((float(mu), float(sigma), r10, r100, (r10 + r100) / 2))
  best = max(grid, key=lambda g: g[4])
  defaults = inspect.signature(proxies.reg_swap).parameters
  mu, sigma = best[0], best[1]
  with open(RESULTS / "reg_swap_prior.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["mu_thousands", "sigma", "rho_c10", "rho_c100", "mean"])
    w.writerows(grid)

  def line(name, values):
    return f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |"

  shown = " ".join(cmd).replace(str(npz), "../shared/data/cifar10_5000.npz").replace(
      str(RESULTS), "benchmarks/results")
  plain = [evaluate.rank_correlation(swap, t).spearman for t in truth]
  size = [evaluate.rank_correlation(params, t).spearman for t in truth]
  lines = [
      "# Regularised SWAP: the size prior (mu, sigma) for NB201", "",
      "Command: `python benchmarks/reg_swap_prior.py`", "",
      f"Tuning sample: {args.tune} without the cells of {args.heldout} ({len(tune)} cells, "
      "`reg_swap_prior_cells.txt`), scored with:", "", "```", shown, "```", "",
      f"Grid: mu = {MUS[0]:.0f} ... {MUS[-1]:.0f} thousand parameters in steps of 50, sigma = "
      f"1e3 ... 1e8 in steps of 10^0.2; objective: the mean of Spearman rho against NB201's "
      "CIFAR-10 and CIFAR-100 200-epoch test accuracy (`nb201_cifar.csv`). The whole grid is in "
      "`reg_swap_prior.csv`.", "",
      f"Choice: **mu = {mu:.0f}, sigma = {sigma:.4g}** (jaxnas's defaults, "
      f"`jaxnas.proxies.reg_swap`; now {defaults['mu'].default:.0f} / "
      f"{defaults['sigma'].default:.4g}).", "",
      "## On the tuning cells", "",
      "| score | rho C10 | rho C100 |", "|---|---|---|",
      line("swap", plain), line("params", size),
      line(f"reg_swap, mu {mu:.0f}, sigma {sigma:.4g} (chosen)", best[2:4]),
      line(f"reg_swap, mu {EARLIER[0]:.0f}, sigma {EARLIER[1]:.4g} (earlier defaults)",
           rhos(swap, params, truth, *EARLIER)),
  ]
  sw_path = RESULTS / "correlation_nb201_swap_scores.csv"
  cl_path = RESULTS / "correlation_nb201_classic_scores.csv"
  if sw_path.exists() and cl_path.exists():
    sw, cl = read_scores(sw_path), read_scores(cl_path)
    hidx = sorted(set(sw) & set(cl))
    hswap = np.asarray([float(sw[i]["swap"]) for i in hidx])
    hparams = np.asarray([float(cl[i]["params"]) for i in hidx])
    htruth = [np.asarray(table.lookup(np.asarray(hidx), c), np.float64) for c in COLUMNS]
    lines += [
        "", f"## Held out: the correlation benchmark's {len(hidx)} cells ({args.heldout})", "",
        "Their SWAP scores and parameter counts from `correlation_nb201_swap_scores.csv` and "
        "`correlation_nb201_classic_scores.csv`.", "",
        "| score | rho C10 | rho C100 |", "|---|---|---|",
        line("swap", [evaluate.rank_correlation(hswap, t).spearman for t in htruth]),
        line(f"reg_swap, mu {mu:.0f}, sigma {sigma:.4g} (chosen)",
             rhos(hswap, hparams, htruth, mu, sigma)),
        line(f"reg_swap, mu {EARLIER[0]:.0f}, sigma {EARLIER[1]:.4g} (earlier defaults)",
             rhos(hswap, hparams, htruth, *EARLIER)),
    ]
  lo, hi = np.percentile(np.log(swap[swap > 1]), [5, 95])

  def spread(m, sg):
    return np.ptp(np.square(params / 1e3 - m) / sg)

  lines += ["", f"Why sigma matters: on the tuning cells log SWAP spans {hi - lo:.2f} between its 5th "
            f"and 95th percentiles (cells with more than one pattern), while the prior's term "
            f"(P - mu)^2 / sigma spans {spread(*EARLIER):.1f} with the earlier defaults (the ranking "
            f"is then mostly by size) and {spread(mu, sigma):.2f} with the chosen ones."]
  (RESULTS / "reg_swap_prior.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
