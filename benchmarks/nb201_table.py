"""The whole-space NB201 proxy table: complete `jaxnas score --archs all` outputs merged into one file.

  python benchmarks/nb201_table.py --scores A.csv,B.csv,... [--notes NOTES.md]
  python benchmarks/nb201_table.py --base benchmarks/results/nb201_proxies_all.csv.gz --scores C.csv [--notes MORE.md]

Each input is a `jaxnas score` CSV (``index``, ``arch``, one column per proxy) with its
``.meta.json``, scored on every one of the 15,625 cells (whatever machine scored it: the CLI on a
CPU, ``benchmarks/gpu.py`` on a GPU). The inputs are checked (every official index once, the
official arch string of each index, numbers or nan/inf in every score), merged by index into
``benchmarks/results/nb201_proxies_all.csv.gz`` (``index``, ``arch``, the proxy columns) and
described in ``benchmarks/results/nb201_proxies_all.md``: for each input its settings (from its meta
file), and for each proxy its Spearman rho and Kendall tau against NB201's 200-epoch CIFAR-10 and
CIFAR-100 test accuracies over all cells. ``jaxnas.data.load_table`` reads the table back.

``--base`` extends the committed table: its columns come first, checked like any input, and the
input rows and notes of the committed ``nb201_proxies_all.md`` are kept (the earlier inputs' files
need not be at hand); ``--notes`` is appended after them.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "nb201_proxies_all.csv.gz"


def read_complete(path: Path, arch_of: dict[int, str]) -> tuple[list[str], dict[int, list[float]], dict]:
  """(proxy names, index -> scores, meta) of a complete whole-space score file; ValueError otherwise."""
  opener = gzip.open if str(path).endswith(".gz") else open
  with opener(path, "rt", newline="") as fh:
    reader = csv.reader(fh)
    header = next(reader)
    rows = list(reader)
  if header[:2] != ["index", "arch"] or len(header) < 3:
    raise ValueError(f"{path}: expected columns index, arch, <proxies>; got {header}.")
  scores: dict[int, list[float]] = {}
  for k, r in enumerate(rows, start=2):
    if len(r) != len(header):
      raise ValueError(f"{path} line {k}: {len(r)} fields, expected {len(header)}.")
    i = int(r[0])
    if i in scores:
      raise ValueError(f"{path} line {k}: index {i} appears twice.")
    if arch_of.get(i) != r[1]:
      raise ValueError(f"{path} line {k}: index {i} has arch {r[1]!r}, the benchmark's is {arch_of.get(i)!r}.")
    scores[i] = [float(v) for v in r[2:]]
  missing = sorted(set(arch_of) - set(scores))
  if missing:
    raise ValueError(f"{path}: {len(missing)} of {len(arch_of)} cells missing (first {missing[:5]}); "
                     "resume the run that made it.")
  meta_path = Path(str(path) + ".meta.json")
  meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
  return header[2:], scores, meta


def _md_inputs_and_notes(md: Path) -> tuple[list[str], str]:
  """The input-table rows and the notes (everything after the correlation table) of a table's md."""
  text = md.read_text().splitlines()
  head = text.index("| input | proxies | data | init | batch sizes | augmented | device |")
  rows = []
  for line in text[head + 2:]:
    if not line.startswith("| "):
      break
    rows.append(line)
  corr = text.index("| proxy | rho C10 | tau C10 | rho C100 | tau C100 | non-finite |")
  k = corr + 2
  while k < len(text) and text[k].startswith("| "):
    k += 1
  return rows, "\n".join(text[k:]).strip()


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--scores", required=True, help="comma-separated complete whole-space score CSVs")
  ap.add_argument("--notes", help="Markdown appended to the description (provenance, timings)")
  ap.add_argument("--base", help="an earlier table (nb201_proxies_all.csv.gz) to extend; its md's input "
                  "rows and notes are kept")
  args = ap.parse_args()
  truth_path = SHARED / "nb201_cifar.csv"
  if not truth_path.exists():
    print(f"skipped: {truth_path} not found (see ../shared/data/README.md)")
    return 0
  from jaxnas import data, evaluate, proxies

  truth = data.load_table(truth_path)
  arch_of = {int(i): a for i, a in zip(truth.index, truth.arch)}
  order = sorted(arch_of)
  columns: dict[str, np.ndarray] = {}
  sources = []
  kept_rows: list[str] = []
  kept_notes = ""
  if args.base:
    names, scores, _ = read_complete(Path(args.base), arch_of)
    for j, n in enumerate(names):
      columns[n] = np.asarray([scores[i][j] for i in order])
    kept_rows, kept_notes = _md_inputs_and_notes(RESULTS / "nb201_proxies_all.md")
  for name in args.scores.split(","):
    path = Path(name)
    names, scores, meta = read_complete(path, arch_of)
    for j, n in enumerate(names):
      if n in columns:
        raise ValueError(f"proxy {n!r} is in two inputs ({path} and an earlier one).")
      columns[n] = np.asarray([scores[i][j] for i in order])
    sources.append((path.name, names, meta))
  with gzip.open(OUT, "wt", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["index", "arch", *columns])
    for k, i in enumerate(order):
      w.writerow([i, arch_of[i], *(repr(float(c[k])) for c in columns.values())])
  pos = {int(i): k for k, i in enumerate(truth.index)}
  rows = np.asarray([pos[i] for i in order])
  lines = ["# NB201 whole-space proxy table", "",
           f"`benchmarks/results/{OUT.name}`: all {len(order):,} cells (official index order), columns "
           f"`index`, `arch`, {', '.join(f'`{n}`' for n in columns)}. Made by `python benchmarks/nb201_table.py "
           "--scores ...` from these complete score files (settings from their meta files):", "",
           "| input | proxies | data | init | batch sizes | augmented | device |", "|---|---|---|---|---|---|---|"]
  lines += kept_rows
  for fname, names, meta in sources:
    lines.append(f"| {fname} | {', '.join(names)} | {meta.get('data', '?')} | {meta.get('init', '?')} | "
                 f"{meta.get('batch_sizes', '?')} | {meta.get('augmented', '?')} | {meta.get('device', 'cpu')} |")
  lines += ["", "Spearman rho / Kendall tau against the 200-epoch test accuracy over all cells (non-finite "
            "scores ranked worst, `jaxnas.evaluate.rank_correlation`):", "",
            "| proxy | rho C10 | tau C10 | rho C100 | tau C100 | non-finite |", "|---|---|---|---|---|---|"]
  for n, col in columns.items():
    d = proxies.REGISTRY[n].higher_is_better if n in proxies.REGISTRY else True
    c10 = evaluate.rank_correlation(col, truth.column("cifar10_test_acc")[rows], higher_is_better=d)
    c100 = evaluate.rank_correlation(col, truth.column("cifar100_test_acc")[rows], higher_is_better=d)
    lines.append(f"| {n} | {c10.spearman:.4f} | {c10.kendall:.4f} | {c100.spearman:.4f} | {c100.kendall:.4f} "
                 f"| {c10.n_nonfinite} |")
  if kept_notes:
    lines += ["", kept_notes]
  if args.notes:
    lines += ["", Path(args.notes).read_text().strip()]
  (RESULTS / "nb201_proxies_all.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
