"""SWAP with the reference's 32 weight draws against the correlation benchmark's one draw.

SWAP's reference (pym1024/SWAP ``correlation.py``) averages the score over 32 fresh N(0, 1)
re-initialisations per network; benchmarks/correlation.py scores one draw per cell (32 would take
about 72 minutes on a 2-core CPU). This script measures what the average changes, on the first
``--cells`` cells of the benchmark's sample ``random:1000:0``: it runs

  jaxnas score --space nb201 --archs <those cells> --proxies swap,reg_swap \\
      --data npz:../shared/data/cifar10_5000.npz --batch-size ref --init normal --seed 0 \\
      --draws 32 --out benchmarks/results/swap_draws_scores.csv

(resumable: re-running it continues an interrupted run) and compares with the one-draw scores of
the same cells in ``correlation_nb201_swap_scores.csv`` (the same seed, so draw 0 of the average is
that draw): Spearman rho / Kendall tau against NB201's 200-epoch test accuracy and the rank
agreement of the two. Writes ``benchmarks/results/swap_draws.md``.

Run from the repository root:  python benchmarks/swap_draws.py  [--cells 200] [--draws 32]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = "random:1000:0"
NAMES = ("swap", "reg_swap")
COLUMNS = ("cifar10_test_acc", "cifar100_test_acc")


def read_scores(path: Path) -> dict[int, list[float]]:
  with open(path, newline="") as fh:
    return {int(r["index"]): [float(r[n]) for n in NAMES] for r in csv.DictReader(fh)}


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--cells", type=int, default=200, help="the first N cells of random:1000:0")
  ap.add_argument("--draws", type=int, default=32, help="weight draws averaged (reference: 32)")
  args = ap.parse_args()
  if args.cells < 1 or args.draws < 2:
    ap.error(f"--cells must be >= 1 and --draws >= 2, got {args.cells} and {args.draws}")
  npz, table = SHARED / "cifar10_5000.npz", SHARED / "nb201_cifar.csv"
  one_path = RESULTS / "correlation_nb201_swap_scores.csv"
  if not npz.exists() or not table.exists():
    print(f"skipped: reference data not found under {SHARED} (see ../shared/data/README.md)")
    return 0
  if not one_path.exists():
    ap.error(f"{one_path} is missing: run `python benchmarks/correlation.py --groups swap` first")
  from jaxnas import data, evaluate, spaces

  idx = np.asarray(spaces.parse_archs(spaces.nb201, SAMPLE))[: args.cells]
  cells = RESULTS / "swap_draws_cells.txt"
  cells.write_text("".join(f"{int(i)}\n" for i in idx))
  out = RESULTS / "swap_draws_scores.csv"
  cmd = ["jaxnas", "score", "--space", "nb201", "--archs", str(cells), "--proxies", ",".join(NAMES),
         "--data", f"npz:{npz}", "--batch-size", "ref", "--init", "normal", "--seed", "0",
         "--draws", str(args.draws), "--out", str(out), "--no-progress"]
  print("$", " ".join(cmd), flush=True)
  summary = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)

  one, many = read_scores(one_path), read_scores(out)
  truth = data.load_table(table)
  acc = {c: truth.lookup(idx, c) for c in COLUMNS}
  shown = " ".join(cmd).replace(str(npz), "../shared/data/cifar10_5000.npz").replace(
      str(ROOT) + "/", "")
  lines = [f"# SWAP: {args.draws} weight draws vs one, first {len(idx)} cells of {SAMPLE}", "",
           f"`python benchmarks/swap_draws.py --cells {args.cells} --draws {args.draws}`, which runs",
           "", "```", shown, "```", "",
           f"{summary['s_per_arch']} s per cell for the {args.draws} draws in the last run "
           f"({summary['scored_now']} cells scored then; compile {summary['compile_s']} s). One draw: "
           "`correlation_nb201_swap_scores.csv` (same seed: it is draw 0 of the average). Spearman "
           "rho / Kendall tau against NB201's 200-epoch test accuracy.", "",
           "| proxy | draws | rho C10 | tau C10 | rho C100 | tau C100 | rho(1 draw, mean of draws) |",
           "|---|---|---|---|---|---|---|"]
  for j, name in enumerate(NAMES):
    a = np.asarray([one[int(i)][j] for i in idx])
    b = np.asarray([many[int(i)][j] for i in idx])
    agree = evaluate.rank_correlation(a, b).spearman
    for label, s in (("1", a), (str(args.draws), b)):
      c10 = evaluate.rank_correlation(s, acc["cifar10_test_acc"])
      c100 = evaluate.rank_correlation(s, acc["cifar100_test_acc"])
      lines.append(f"| {name} | {label} | {c10.spearman:.3f} | {c10.kendall:.3f} | "
                   f"{c100.spearman:.3f} | {c100.kendall:.3f} | {agree:.3f} |")
  (RESULTS / "swap_draws.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
