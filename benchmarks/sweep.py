"""Sweeps with the CLI: peak host memory against population size, and the persistent compilation
cache across commands.

1. ``jaxnas score --archs 0:N --proxies params,flops --chunk-size 64`` for N = 1,000, 5,000 and all
   15,625 cells, each in a fresh process: its peak resident memory (``wait4`` rusage) and time.
2. The same command, ``--archs random:20:0 --proxies synflow,nwot`` on real CIFAR-10, twice with a
   fresh cache directory: the second command loads the compiled program instead of compiling it.
3. ``--proxies grad_norm`` on 20 and 200 cells with ``--host-memory reuse`` and ``release`` (the
   default): peak resident memory and run time per architecture.

  python benchmarks/sweep.py        # writes benchmarks/results/sweep_nb201.md
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def run_measured(cmd, env):
  """(summary JSON, peak RSS MiB, wall s) of one CLI process."""
  t0 = time.perf_counter()
  proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
  out = proc.stdout.read()
  _, status, usage = os.wait4(proc.pid, 0)
  if os.waitstatus_to_exitcode(status) != 0:
    raise RuntimeError(f"{cmd} failed with status {status}")
  return json.loads(out), usage.ru_maxrss / 1024, time.perf_counter() - t0


def main() -> int:
  npz = SHARED / "cifar10_5000.npz"
  if not npz.exists():
    print(f"skipped: {npz} not found (see ../shared/data/README.md)")
    return 0
  lines = ["# Sweeps with the CLI: peak memory and the compilation cache", "",
           "Command: `python benchmarks/sweep.py` (2-core CPU; each row is a fresh process).", "",
           "## Peak host memory against population size", "",
           "`jaxnas score --archs 0:N --proxies params,flops --chunk-size 64 --no-progress`", "",
           "| cells | peak RSS MiB | wall s | run s |", "|---|---|---|---|"]
  with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, JAXNAS_CACHE=str(Path(tmp) / "cache"))
    for n in (1000, 5000, 15625):
      cmd = ["jaxnas", "score", "--archs", f"0:{n}", "--proxies", "params,flops", "--chunk-size", "64",
             "--no-progress", "--overwrite", "--out", str(Path(tmp) / f"m{n}.csv")]
      summary, rss, wall = run_measured(cmd, env)
      lines.append(f"| {n:,} | {rss:.0f} | {wall:.1f} | {summary['run_s']:.2f} |")
      print(lines[-1], flush=True)
    lines += ["", "## A second identical command and the persistent compilation cache", "",
              f"`jaxnas score --archs random:20:0 --proxies synflow,nwot --data npz:{npz.name} "
              "--no-progress --overwrite --out s.csv` with `JAXNAS_CACHE` pointing at a new directory",
              "", "| command | trace+lower s | XLA compile (or cache load) s | cache hits | misses | wall s |",
              "|---|---|---|---|---|---|"]
    cache_env = dict(os.environ, JAXNAS_CACHE=str(Path(tmp) / "fresh"))
    for label in ("first", "second"):
      cmd = ["jaxnas", "score", "--archs", "random:20:0", "--proxies", "synflow,nwot", "--data",
             f"npz:{npz}", "--no-progress", "--overwrite", "--out", str(Path(tmp) / "s.csv")]
      s, _, wall = run_measured(cmd, cache_env)
      c = s["compile_cache"]
      lines.append(f"| {label} | {s['lower_s']:.1f} | {s['compile_s']:.1f} | {c['hits']} | "
                   f"{c['misses']} | {wall:.1f} |")
      print(lines[-1], flush=True)
    lines += ["", "## Host memory reuse on a gradient proxy", "",
              f"`jaxnas score --archs random:N:0 --proxies grad_norm --data npz:{npz.name} "
              "--host-memory MODE --no-progress --overwrite` (batch 64, one architecture per call; "
              "one cache directory, so only the first command compiles). 'reuse' keeps freed memory in "
              "the process (`population.reuse_host_memory`); 'release', the default, is glibc's "
              "own behaviour, which unmaps XLA's large temporary buffers after every architecture.", "",
              "| host memory | cells | peak RSS MiB | run s | s/arch |", "|---|---|---|---|---|"]
    for n in (20, 200):
      for mode in ("reuse", "release"):
        cmd = ["jaxnas", "score", "--archs", f"random:{n}:0", "--proxies", "grad_norm", "--data",
               f"npz:{npz}", "--host-memory", mode, "--no-progress", "--overwrite", "--out",
               str(Path(tmp) / "g.csv")]
        s, rss, _ = run_measured(cmd, env)
        lines.append(f"| {mode} | {n} | {rss:.0f} | {s['run_s']:.1f} | {s['run_s'] / n:.3f} |")
        print(lines[-1], flush=True)
  RESULTS.mkdir(parents=True, exist_ok=True)
  (RESULTS / "sweep_nb201.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
