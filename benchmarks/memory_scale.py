"""Peak host memory of `jaxnas score` against population size, with a proxy that runs every network.

``benchmarks/sweep.py`` measures the sweep machinery with params and flops, which need no forward
pass. This script runs a proxy that builds and differentiates every network: synflow (one image,
float64, a forward and a backward pass per architecture), for the first 1,000, 5,000 and all 15,625
NB201 cells, each command in a fresh process with ``--chunk-size 64`` (245 compiled calls for the
whole space, rows saved after every call). Reported: peak resident memory (``wait4`` rusage), wall,
compile and run time, and architectures per second. One compilation cache directory for the three
commands, so only the first compiles.

  python benchmarks/memory_scale.py     # ~16 min on 2 cores; writes benchmarks/results/memory_nb201.md
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path

from sweep import run_measured  # benchmarks/sweep.py: (summary, peak RSS MiB, wall s)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZES = (1000, 5000, 15625)


def main() -> int:
  lines = ["# Peak host memory against population size: synflow on NB201", "",
           "Command: `python benchmarks/memory_scale.py` (each row a fresh process; one compilation "
           "cache directory, so the first row also compiles).", "",
           "`jaxnas score --archs 0:N --proxies synflow --chunk-size 64 --no-progress`", "",
           "| cells | rows written | peak RSS MiB | wall s | compile s | run s | architectures / s |",
           "|---|---|---|---|---|---|---|"]
  with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, JAXNAS_CACHE=str(Path(tmp) / "cache"))
    for n in SIZES:
      out = Path(tmp) / f"m{n}.csv"
      cmd = ["jaxnas", "score", "--archs", f"0:{n}", "--proxies", "synflow", "--chunk-size", "64",
             "--no-progress", "--overwrite", "--out", str(out)]
      summary, rss, wall = run_measured(cmd, env)
      with open(out) as fh:
        rows = sum(1 for _ in csv.DictReader(fh))
      lines.append(f"| {n:,} | {rows:,} | {rss:.0f} | {wall:.1f} | {summary['compile_s']:.1f} | "
                   f"{summary['run_s']:.1f} | {n / summary['run_s']:.1f} |")
      print(lines[-1], flush=True)
  RESULTS.mkdir(parents=True, exist_ok=True)
  (RESULTS / "memory_nb201.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
