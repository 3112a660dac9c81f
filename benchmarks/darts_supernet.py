"""darts space (NAS-Bench-301 cells): exact networks vs the op-switch supernet, side by side.

Scores the first cells of ``../shared/data/nb301_naslib.csv`` with the same proxies two ways: exact
networks (``score_exact``: one compile per cell, NASLib's nasbench301 network, C=32 x 8 cells) and
the op-switch supernet one member after another (``score_population(method='map')``: one compile for
every cell; only the chosen op of each slot runs). ``vmap`` is not measured: it would run all 7 ops
of every slot (14 branch shapes in a reduction cell), ~7x one network's convolutions. Scores are
checked equal (float32 tolerance).

Writes benchmarks/results/darts_supernet.md. Run from the repository root:
  python benchmarks/darts_supernet.py [--cells 6] [--batch 32]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

from jaxnas import data, population, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JAXNAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"
PROXIES = ("nwot", "grad_norm", "snip", "params")


def verdict(exact_cell: float, sup_run: float, sup_compile: float) -> str:
  """Which engine pays on the 725 cells of the shared CSV (this program's proxies)."""
  total_exact, total_sup = 725 * exact_cell, sup_compile + 725 * sup_run
  head = (f"On the 725 cells of the shared CSV: exact networks {total_exact / 3600:.1f} h, supernet "
          f"{total_sup / 3600:.1f} h. ")
  if sup_run >= exact_cell:
    return head + ("The supernet runs a member slower than an exact network compiles and runs it, so "
                   "it never pays on this CPU: `jaxnas.models.SPACES['darts'].engine` is 'exact' "
                   "(score_population's default for darts; `engine='supernet'` and make_scorer still "
                   "use it). Scores of both engines agree (float32 tolerance, checked).")
  return head + (f"The supernet's compile is repaid after ~{sup_compile / (exact_cell - sup_run):.0f} "
                 "cells. Scores of both engines agree (float32 tolerance, checked).")


def first_cells(n: int) -> np.ndarray:
  """Encodings of the first `n` rows of the shared nb301_naslib.csv; SystemExit when it is absent."""
  table = SHARED / "nb301_naslib.csv"
  if not table.exists():
    raise SystemExit(f"{table} is absent: this benchmark scores its cells (see ../shared/data/README).")
  with open(table, newline="") as f:
    keys = [row["key"] for _, row in zip(range(n), csv.DictReader(f))]
  return np.stack([spaces.darts.encode(k) for k in keys])


def main() -> None:
  ap = argparse.ArgumentParser()
  ap.add_argument("--cells", type=int, default=6)
  ap.add_argument("--batch", type=int, default=32)
  args = ap.parse_args()
  enc = first_cells(args.cells)
  batch = data.select(data.load_npz(SHARED / "cifar10_5000.npz"), args.batch, 0)
  plist = [proxies.get(n) for n in PROXIES]
  key = jax.random.key(0)
  timing: list = []
  t0 = time.perf_counter()
  exact = population.score_exact(enc, plist, batch, key, space="darts", timing=timing)
  exact_s = time.perf_counter() - t0
  te = timing[0]
  timing = []
  t0 = time.perf_counter()
  sup = population.score_population(enc, plist, batch, key, space="darts", method="map",
                                    timing=timing)
  sup_s = time.perf_counter() - t0
  ts = timing[0]
  np.testing.assert_allclose(sup, exact, rtol=2e-3, atol=1e-5)
  n = len(enc)
  lines = [
      "# darts space (NAS-Bench-301 cells): op-switch supernet vs exact networks",
      "",
      f"Command: `python benchmarks/darts_supernet.py --cells {args.cells} --batch {args.batch}` "
      f"(repository root), one run, {platform.machine()} CPU ({os.cpu_count()} cores), JAX "
      f"{jax.__version__}, float32. Network: NASLib's nasbench301 graph (C=32, 8 cells; the one "
      f"NAS-Bench-Suite-Zero scored). Data: real CIFAR-10 (cifar10_5000.npz of the shared data), "
      f"batch {args.batch}, train-mode BN. Proxies in one program: {', '.join(PROXIES)}. Cells: the "
      f"first {n} rows of nb301_naslib.csv.",
      "",
      "| engine | run s/cell | compile s (lower + XLA) | compiled | wall s/cell, compile included |",
      "|---|---|---|---|---|",
      f"| exact networks (score_exact) | {te.run_s / n:.2f} | {(te.lower_s + te.compile_s) / n:.1f} "
      f"per cell | per cell | {exact_s / n:.2f} |",
      f"| supernet, map | {ts.run_s / n:.2f} | {ts.lower_s + ts.compile_s:.1f} | once | "
      f"{sup_s / n:.2f} |",
      "",
      verdict(exact_s / n, ts.run_s / n, ts.lower_s + ts.compile_s),
  ]
  RESULTS.mkdir(parents=True, exist_ok=True)
  (RESULTS / "darts_supernet.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
