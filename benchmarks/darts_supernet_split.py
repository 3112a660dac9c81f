"""darts op-switch supernet vs exact networks, forward-only (nwot) and gradient (grad_norm) apart.

A smaller network than ``darts_supernet.py`` (C=16, 5 cells, batch 16, the first 3 rows of
``../shared/data/nb301_naslib.csv``) so that each of the four programs compiles in minutes: it
shows which pass makes a supernet member slower than an exact network. Writes
benchmarks/results/darts_supernet_split.md. Run from the repository root:
  python benchmarks/darts_supernet_split.py
"""

from __future__ import annotations

import os
import platform

import jax

from jaxnas import data, population, proxies

# benchmarks/darts_supernet.py: the data and results folders, the first NB301 rows
from darts_supernet import RESULTS, SHARED, first_cells

KW = {"C": 16, "layers": 5}
CELLS, BATCH = 3, 16


def main() -> None:
  enc = first_cells(CELLS)
  batch = data.select(data.load_npz(SHARED / "cifar10_5000.npz"), BATCH, 0)
  rows = []
  for name in ("nwot", "grad_norm"):
    for engine in ("exact", "supernet"):
      tm: list = []
      population.score_population(enc, [proxies.get(name)], batch, jax.random.key(0), space="darts",
                                  engine=engine, network_kwargs=KW, timing=tm)
      t = tm[0]
      rows.append((name, engine, t.lower_s + t.compile_s, t.run_s / CELLS))
  lines = [
      "# darts supernet vs exact networks: forward-only and gradient proxies apart", "",
      f"Command: `python benchmarks/darts_supernet_split.py` (repository root), {platform.machine()} "
      f"CPU ({os.cpu_count()} cores), JAX {jax.__version__}, float32. Network: NASLib's nasbench301 "
      f"graph at C={KW['C']}, {KW['layers']} cells; the first {CELLS} rows of nb301_naslib.csv; "
      f"{BATCH} real CIFAR-10 images.", "",
      "| proxy | engine | lower + compile s (all cells) | run s/cell |", "|---|---|---|---|"]
  lines += [f"| {n} | {e} | {c:.1f} | {r:.3f} |" for n, e, c, r in rows]
  lines += ["", "Exact networks compile once per cell (the compile column sums them); the supernet "
            "once. See `darts_supernet.md` for the full-size network."]
  RESULTS.mkdir(parents=True, exist_ok=True)
  (RESULTS / "darts_supernet_split.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
