"""Does compiling proxy groups concurrently cut the classic proxies' compile time on a 2-core CPU?

The issue's levers for the first run's compile time include "compile groups concurrently". This
measures whether that can pay here: XLA:CPU compile time of one population program (NB201 switch
supernet, NB201 cell 9930, real CIFAR-10 at each proxy's reference batch, float64 enabled as in the
CLI) on one core (``taskset -c 0``) against every core, and two programs (grad_norm, jacob_cov)
compiled one after the other against compiled at once in two threads. Each case runs in a fresh
process (no compiled program is shared, no persistent cache). Linux only (``taskset``).

Writes ``benchmarks/results/compile_cores.md``.

Run from the repository root (on an otherwise idle machine):  python benchmarks/compile_cores.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JAXNAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"


def _case(mode: str, names: list[str]) -> dict:
  """In this process: score cell 9930 with each proxy of `names` (one program each), one after
  the other ('seq') or in one thread per proxy ('threads'); wall time and each program's timing."""
  import jax
  import numpy as np

  jax.config.update("jax_enable_x64", True)
  from jaxnas import data, population, proxies
  from jaxnas.spaces import nb201

  images = data.load_npz(SHARED / "cifar10_5000.npz")
  enc = nb201.encoding_of(np.array([9930]))
  res: list = [None] * len(names)

  def one(i, name):
    p = proxies.get(name)
    timing: list = []
    population.score_population(enc, [p], data.select(images, p.batch_size or 1, 0),
                                jax.random.key(0), timing=timing)
    res[i] = {"proxy": name, "lower_s": timing[0].lower_s, "compile_s": timing[0].compile_s}

  t0 = time.perf_counter()
  if mode == "seq":
    for i, n in enumerate(names):
      one(i, n)
  else:
    threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(names)]
    for t in threads:
      t.start()
    for t in threads:
      t.join()
  return {"mode": mode, "wall_s": time.perf_counter() - t0, "programs": res}


def _run(mode: str, names: list[str], cores: str | None) -> dict:
  cmd = [sys.executable, __file__, "--case", mode, ",".join(names)]
  if cores is not None:
    cmd = ["taskset", "-c", cores] + cmd
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  out["cores"] = "one (taskset -c 0)" if cores is not None else f"all {os.cpu_count()}"
  return out


def main() -> int:
  if not (SHARED / "cifar10_5000.npz").exists():
    print(f"{SHARED / 'cifar10_5000.npz'} not found (see ../shared/data/README.md).", file=sys.stderr)
    return 2
  cases = [_run("seq", ["grad_norm"], "0"), _run("seq", ["grad_norm"], None),
           _run("seq", ["grad_norm", "jacob_cov"], None),
           _run("threads", ["grad_norm", "jacob_cov"], None)]
  lines = ["# Compiling on one core, on all cores, and two programs at once", "",
           "Command: `python benchmarks/compile_cores.py` (quiet machine, "
           f"{os.cpu_count()} cores). NB201 switch-supernet population programs of cell 9930, "
           "real CIFAR-10 at each proxy's reference batch, float64 enabled; each case a fresh "
           "process.", "",
           "| case | cores | wall s | per program: lower s / XLA compile s |", "|---|---|---|---|"]
  labels = ["grad_norm alone", "grad_norm alone", "grad_norm then jacob_cov",
            "grad_norm and jacob_cov in two threads"]
  for label, c in zip(labels, cases):
    per = ", ".join(f"{p['proxy']} {p['lower_s']:.1f} / {p['compile_s']:.1f}" for p in c["programs"])
    lines.append(f"| {label} | {c['cores']} | {c['wall_s']:.1f} | {per} |")
  one, two = cases[0]["programs"][0]["compile_s"], cases[1]["programs"][0]["compile_s"]
  seq, par = cases[2]["wall_s"], cases[3]["wall_s"]
  lines += ["", f"XLA:CPU already compiles one program on every core: grad_norm's compile takes "
            f"{one:.1f} s on one core and {two:.1f} s on all ({one / two:.2f}x). Two programs "
            f"compiled at once in two threads take {par:.1f} s against {seq:.1f} s one after the "
            "other, so compiling proxy groups concurrently cannot shorten a first run on this "
            "machine: the compile time is CPU work, and only a smaller program would cut it."]
  RESULTS.mkdir(parents=True, exist_ok=True)
  (RESULTS / "compile_cores.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  if len(sys.argv) > 1 and sys.argv[1] == "--case":
    print(json.dumps(_case(sys.argv[2], sys.argv[3].split(","))))
    sys.exit(0)
  sys.exit(main())
