"""Correlation benchmark on a space without an official index: the distinct cells of a shared CSV.

For ``--space nb101``: the 292 distinct NAS-Bench-101 cells (by graph hash) of
``../shared/data/nb101_naslib.csv`` (500 NASLib rows), scored on real CIFAR-10 images by the
user-facing command, one ``jaxnas score`` per group of proxies (each resumable: an interrupted or
``--limit``-ed run continues where it stopped when run again)::

  jaxnas score --space nb101 --archs benchmarks/results/correlation_nb101_cells.txt \
      --proxies <group> --data npz:../shared/data/cifar10_5000.npz --batch-size ref --seed 0 \
      --out benchmarks/results/correlation_nb101_<group>_scores.csv

The cells file lists the canonical arch strings in the CSV's order of first appearance (line k =
``index`` k); ``--limit N`` writes its first N lines only, so a later run without ``--limit``
keeps the N scored rows and scores the rest. Spearman rho against ``val_accuracy`` two ways:
over the distinct cells (a cell's accuracy = the mean of its CSV rows: the rows hold one of
NAS-Bench-101's three training repeats each) and over all 500 rows (each row takes its cell's
score), beside the rho of NAS-Bench-Suite-Zero's own published scores of the same 500 rows
(below). Writes ``benchmarks/results/correlation_nb101.{csv,md}``.

Run from the repository root:  python benchmarks/correlation_spaces.py --space nb101 [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JAXNAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"

# group -> (proxies, extra `jaxnas score` arguments; None: a flag), as benchmarks/correlation.py.
GROUPS = {
    "classic": ("synflow,nwot,params,flops", {}),
    "jacobian": ("jacob_cov,epe_nas", {}),
    "saliency": ("grad_norm,snip,fisher,plain,l2_norm", {}),
    "grasp": ("grasp", {}),
    "meco": ("meco", {}),
    "swap": ("swap", {"--init": "normal"}),
    "zico": ("zico", {}),
}
# NAS-Bench-Suite-Zero's published scores of exactly these 500 rows: automl/NASLib
# `naslib/data/zc_nasbench101.json` (blob 82227ea3781570e6cba0f88aaed69c9019cff867, commit
# 22280f71, the source of nb101_naslib.csv), task cifar10. Spearman rho of each published score
# with the published val_accuracy, computed here from that file (scipy.stats.spearmanr, signed):
# (all 500 rows, the 292 distinct cells with score and accuracy averaged over a cell's rows).
# NASLib scored each row on its own (its own weights and batch), so rows of one cell differ.
# Its params equal jaxnas's nb101 num_params on all 500 rows; its flops count more than
# conv/linear multiply-accumulates (624.6 M against 613.6 M on the first row).
NBSZ_SOURCE = ("NAS-Bench-Suite-Zero published scores, automl/NASLib naslib/data/zc_nasbench101.json "
               "(blob 82227ea), rho over all 500 rows / all 292 cells of the CSV (not restricted to "
               "a partial run's cells)")
NBSZ = {  # jaxnas name: (NASLib name, rho over 500 rows, rho over 292 distinct cells)
    "flops": ("flops", 0.720, 0.637),
    "params": ("params", 0.716, 0.646),
    "snip": ("snip", 0.454, 0.045),
    "jacob_cov": ("jacov", -0.499, -0.454),
    "grad_norm": ("grad_norm", 0.383, -0.065),
    "plain": ("plain", 0.060, -0.249),
    "epe_nas": ("epe_nas", -0.025, 0.017),
    "fisher": ("fisher", 0.383, -0.096),
    "grasp": ("grasp", -0.025, 0.292),
    "l2_norm": ("l2_norm", 0.547, 0.469),
    "synflow": ("synflow", 0.648, 0.553),
}


def run(cmd) -> str:
  print("+", " ".join(cmd), flush=True)
  res = subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
  return res.stdout


def distinct_cells(space, csv_path: Path):
  """(canonical arch strings in order of first appearance, rows as (arch index, accuracy))."""
  with open(csv_path, newline="") as fh:
    rows = list(csv.DictReader(fh))
  first: dict = {}
  archs, members = [], []
  for r in rows:
    enc = space.encode(r["key"])
    ident = space.identity(enc)
    if ident not in first:
      first[ident] = len(archs)
      archs.append(space.decode(space.canonical(enc)))
    members.append((first[ident], float(r["val_accuracy"])))
  return archs, members


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--space", default="nb101", choices=["nb101"])
  ap.add_argument("--limit", type=int, help="score only the first N distinct cells (partial run)")
  ap.add_argument("--groups", default=",".join(GROUPS), help="comma-separated subset of " + ",".join(GROUPS))
  ap.add_argument("--data", default=str(SHARED / "cifar10_5000.npz"))
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--report-only", action="store_true",
                  help="score nothing: correlate each proxy over the cells its score file holds "
                       "(a leading run of the cells file), timings from the timing file")
  args = ap.parse_args()
  from jaxnas import evaluate, proxies, spaces

  space = spaces.get(args.space)
  csv_path = SHARED / "nb101_naslib.csv"
  archs, members = distinct_cells(space, csv_path)
  n = len(archs) if args.limit is None else min(args.limit, len(archs))
  if n < 3:
    raise SystemExit("--limit must be >= 3 (a rank correlation needs 3 cells)")
  cells = RESULTS / f"correlation_{args.space}_cells.txt"
  cells.write_text("".join(a + "\n" for a in archs[:n]))
  groups = [g.strip() for g in args.groups.split(",") if g.strip()]
  for g in groups:
    if g not in GROUPS:
      raise SystemExit(f"unknown group {g!r}; valid: {', '.join(GROUPS)}")
  data = Path(args.data)
  def rel(p: Path) -> str:  # as the commands read from the repository root
    p = p.resolve()
    if p.is_relative_to(ROOT):
      return str(p.relative_to(ROOT))
    return "../" + str(p.relative_to(ROOT.parent)) if p.is_relative_to(ROOT.parent) else str(p)
  commands, scores = [], {}
  timing_path = RESULTS / f"correlation_{args.space}_timing.json"
  timing = json.loads(timing_path.read_text()) if timing_path.is_file() else {}
  for g in groups:
    names, extra = GROUPS[g]
    out = RESULTS / f"correlation_{args.space}_{g}_scores.csv"
    cmd = ["jaxnas", "score", "--space", args.space, "--archs", rel(cells), "--proxies", names,
           "--data", f"npz:{rel(data)}", "--batch-size", "ref", "--seed", str(args.seed)]
    for k, v in extra.items():
      cmd += [k] if v is None else [k, v]
    cmd += ["--out", rel(out), "--no-progress"]
    commands.append(" ".join(cmd))
    summary = {"scored_now": 0} if args.report_only else json.loads(
        run([sys.executable, "-m", "jaxnas"] + cmd[1:]))
    if summary["scored_now"]:
      cells_now = summary["scored_now"]
      timing[g] = {"cells": cells_now, "run_s": summary["run_s"],
                   "s_per_cell": summary["s_per_arch"], "wall_s": summary["wall_s"],
                   "compile_s_per_cell": round((summary["lower_s"] + summary["compile_s"])
                                               / cells_now, 2)}
      timing_path.write_text(json.dumps(timing, indent=1))
    with open(RESULTS / out.name, newline="") as fh:
      for r in csv.DictReader(fh):
        for name in names.split(","):
          scores.setdefault(name, {})[int(r["index"])] = float(r[name])
  cells_acc = np.zeros(n)
  counts = np.zeros(n)
  for k, acc in members:
    if k < n:
      cells_acc[k] += acc
      counts[k] += 1
  cells_acc /= counts
  rows_idx = np.asarray([k for k, _ in members if k < n])
  rows_acc = np.asarray([a for k, a in members if k < n])
  table = []
  for g in groups:
    for name in GROUPS[g][0].split(","):
      col = scores.get(name, {})
      m = 0  # the leading cells scored (all n unless a run was cut short)
      while m < n and m in col:
        m += 1
      if m < 3:
        continue
      s = np.asarray([col[i] for i in range(m)])
      hib = proxies.REGISTRY[name].higher_is_better
      r_cells = evaluate.rank_correlation(s, cells_acc[:m], higher_is_better=hib)
      keep = rows_idx < m
      r_rows = evaluate.rank_correlation(s[rows_idx[keep]], rows_acc[keep], higher_is_better=hib)
      ref = NBSZ.get(name)
      table.append({"group": g, "proxy": name, "cells": m, "rows": int(keep.sum()),
                    "rho_cells": round(r_cells.spearman, 4), "rho_rows": round(r_rows.spearman, 4),
                    "nonfinite": r_cells.n_nonfinite,
                    "nbsz_rho_rows": ref[1] if ref else "", "nbsz_rho_cells": ref[2] if ref else "",
                    "s_per_cell": timing.get(g, {}).get("s_per_cell", ""),
                    "higher_is_better": hib})
  partial = n < len(archs) or any(r["cells"] < n for r in table)
  out_csv = RESULTS / f"correlation_{args.space}.csv"
  with open(out_csv, "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(table[0]) if table else ["proxy"])
    w.writeheader()
    w.writerows(table)
  _write_md(args, n, len(archs), len(members), partial, commands, timing, table)
  return 0


def _write_md(args, n, total, nrows, partial, commands, timing, table):
  space = args.space
  title = f"# Proxy correlations on NB101: {'PARTIAL, ' if partial else ''}{n} of {total} distinct cells, real CIFAR-10"
  lines = [title, ""]
  if partial:
    lines += [f"**Partial result (`--limit {n}`): the first {n} of the {total} distinct cells of "
              "`nb101_naslib.csv`. Correlations over so few cells say nothing about the proxies; "
              "this proves the pipeline. Run the command below without `--limit` to complete it: "
              "each group resumes from its score file. A group whose run was cut short is "
              "correlated over the cells its score file holds (the `cells` column).**", ""]
  lines += [f"Produced by `python benchmarks/correlation_spaces.py --space {space}"
            f"{f' --limit {args.limit}' if args.limit else ''}` (repository root, `../shared` beside "
            "it), which runs:", "", "```"] + commands + ["```", "",
            f"Cells: the distinct NAS-Bench-101 cells (graph hash) of `../shared/data/nb101_naslib.csv`"
            f" ({nrows} rows), canonical arch strings in `correlation_{space}_cells.txt` (line = "
            "`index`). Network: zero-cost-nas's `nasbench1.Network` (stem 128, 3 stacks x 3 cells), "
            "its own init (conv He fan-out normal, linear N(0, 0.01^2)) unless a proxy's reference "
            "re-initialises (swap: N(0, 1)). Batches: each proxy's reference batch size of real "
            "CIFAR-10 training images, seed 0. Key per cell: fold_in(seed, CRC32 of the graph hash).",
            "", "rho_cells: Spearman over the distinct cells, a cell's accuracy the mean of its rows "
            "(each row is one of NAS-Bench-101's three training repeats). rho_rows: over the CSV "
            "rows of those cells, each row taking its cell's score (ties within a cell). Signs: "
            "each proxy oriented by its `higher_is_better`, as `jaxnas correlate` does. NBSZ: "
            f"{NBSZ_SOURCE}, signs as stored (not oriented).", "",
            "| group | proxy | cells | rho_cells | rho_rows | NBSZ rho (500 rows) | NBSZ rho (292 cells) | non-finite |",
            "|---|---|---|---|---|---|---|---|"]
  for r in table:
    lines.append(f"| {r['group']} | {r['proxy']} | {r['cells']} | {r['rho_cells']:.3f} | "
                 f"{r['rho_rows']:.3f} | {r['nbsz_rho_rows']} | {r['nbsz_rho_cells']} | {r['nonfinite']} |")
  lines += ["", "Throughput (this machine: 2 CPU cores shared with other jobs, so an upper bound; "
            "each cell is its own exact network and compiles its own program, so compile s is per "
            "cell too: tracing, lowering and XLA compilation of the group's proxies for one cell; "
            "s/cell is the run alone; timings of the cells the last command scored, from "
            f"`correlation_{space}_timing.json`; 'in s/cell': that run counted compilation in "
            "s/cell):", "",
            "| group | cells timed | compile s/cell | s/cell | wall s |", "|---|---|---|---|---|"]
  for g, t in timing.items():
    lines.append(f"| {g} | {t.get('cells', 'resumed')} | {t.get('compile_s_per_cell', '')} | "
                 f"{t.get('s_per_cell', '')} | {t.get('wall_s', '')} |")
  (RESULTS / f"correlation_{space}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
  sys.exit(main())
