"""Correlation benchmark on the darts space: NAS-Bench-301 cells of ../shared/data/nb301_naslib.csv.

Every csv row (in file order, the first --limit of them) is built as NASLib's nasbench301 network
(`jaxnas.models.network('darts', key)`, the network NAS-Bench-Suite-Zero scored: C=32, 8 cells) and
scored by each proxy on real CIFAR-10 training images (../shared/data/cifar10_5000.npz, each proxy's
reference batch size, seed 0, each proxy's reference init); weights from fold_in(key(0), row).
Spearman rho against the csv's val_accuracy (a NAS-Bench-301 surrogate prediction) sits beside
NAS-Bench-Suite-Zero's own scores of the same 725 cells (its released zc_nasbench301.json, NASLib
@ 6639fd15, see ../shared/data/README.md), whose rho the --reference JSON yields when given.

Resumable: rows are appended to benchmarks/results/correlation_darts_scores.csv as they finish and
a rerun skips keys already there, after checking that the stored rows come from today's weights
(the first row's l2_norm, rescored; a file scored before a change of the networks' initialisation
is refused, not mixed). Writes benchmarks/results/correlation_darts.{csv,md}.

`--engine supernet` scores each cell with the darts op-switch supernet instead (one compiled
program for every cell; it pays for forward-only proxies, `darts_supernet_split.md`), by default
the proxies it serves without a gradient pass, into correlation_darts_supernet{_scores.csv,.csv,.md};
its weights are the exact path's (same per-row key): the first 3 cells are rescored with exact
networks and the largest relative difference is reported.

Run from the repository root:
  JAX_ENABLE_X64=1 python benchmarks/correlation_darts.py --limit N [--reference zc_nasbench301.json]
  JAX_ENABLE_X64=1 python benchmarks/correlation_darts.py --engine supernet [--reference ...]
(float64 is needed by synflow, jacob_cov and the NTK proxies, as for NB201.)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JAXNAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"
PROXIES = ("params", "flops", "l2_norm", "grad_norm", "snip", "fisher", "synflow", "jacob_cov",
           "nwot", "swap", "meco", "zico")
# The proxies the supernet serves with a forward pass only (params, flops and l2_norm need none).
SUPERNET_PROXIES = ("params", "flops", "l2_norm", "nwot", "swap")
# NAS-Bench-Suite-Zero's score names for ours.
NBSZ_NAME = {"jacob_cov": "jacov"}


def _spearman(a, b) -> float:
  from scipy.stats import spearmanr

  a, b = np.asarray(a, float), np.asarray(b, float)
  ok = np.isfinite(a) & np.isfinite(b)
  return float(spearmanr(a[ok], b[ok])[0]) if ok.sum() > 2 else float("nan")


def _cell(i: int, row: dict):
  """(encoding (1, L), weight key) of csv row `i`: the same for every engine and check."""
  import jax

  from jaxnas import spaces

  return spaces.darts.encode(row["key"])[None], jax.random.fold_in(jax.random.key(0), i)


def _agreement_with_exact(rows, done, plist, batches, n: int = 3) -> list[str]:
  """Markdown lines: the largest relative difference, per proxy, between the supernet's scores of
  the first `n` scored rows and their exact networks' (scored here, same keys and weights)."""
  from jaxnas import population

  rel = np.zeros(len(plist))
  scored = [(i, r) for i, r in enumerate(rows) if r["key"] in done][:n]
  for i, r in scored:
    enc, key = _cell(i, r)
    want = population.score_exact(enc, plist, batches, key, space="darts")[0]
    got = np.array([float(done[r["key"]][p.name]) for p in plist])
    rel = np.maximum(rel, np.abs(got - want) / np.maximum(np.abs(want), 1e-30))
  parts = ", ".join(f"{p.name} {v:.1e}" for p, v in zip(plist, rel))
  return ["", f"Supernet against exact networks (`score_exact`, same keys and weights) on the first "
          f"{len(scored)} cells: largest relative difference {parts}."]


def _stale_weights(done: dict, rows, batches) -> str:
  """'' when the stored rows' weights are today's: the first stored row's l2_norm (a function of
  the weights alone) rescored with its exact network must match; else what differs."""
  from jaxnas import population, proxies

  first = next(((i, r) for i, r in enumerate(rows) if r["key"] in done), None)
  if first is None or "l2_norm" not in done[first[1]["key"]]:
    return ""
  stored = done[first[1]["key"]]
  enc, key = _cell(*first)
  p = proxies.get("l2_norm")
  now = float(population.score_exact(enc, [p], batches["l2_norm"], key, space="darts")[0, 0])
  was = float(stored["l2_norm"])
  if abs(now - was) <= 1e-5 * abs(now):
    return ""
  return f"l2_norm of row {first[0]}: stored {was:.6g}, now {now:.6g}"


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--limit", type=int, default=None, help="score only the first N csv rows")
  ap.add_argument("--proxies", default=None,
                  help=f"default: {','.join(PROXIES)} (exact), {','.join(SUPERNET_PROXIES)} (supernet)")
  ap.add_argument("--engine", choices=("exact", "supernet"), default="exact")
  ap.add_argument("--reference", default=None,
                  help="NAS-Bench-Suite-Zero's zc_nasbench301.json, for its rho on the same cells")
  args = ap.parse_args(argv)
  supernet = args.engine == "supernet"
  stem = "correlation_darts_supernet" if supernet else "correlation_darts"
  SCORES = RESULTS / f"{stem}_scores.csv"
  if args.proxies is None:
    args.proxies = ",".join(SUPERNET_PROXIES if supernet else PROXIES)
  table = SHARED / "nb301_naslib.csv"
  if not table.exists():
    print(f"{table} not found (see ../shared/data/README.md).", file=sys.stderr)
    return 2
  import jax

  from jaxnas import data, population, proxies, spaces

  with open(table) as f:
    rows = list(csv.DictReader(f))[: args.limit]
  plist = proxies.parse(args.proxies)
  names = [p.name for p in plist]
  images = data.load_npz(SHARED / "cifar10_5000.npz")
  batches = {p.name: data.select(images, p.batch_size or 1, 0) for p in plist}
  RESULTS.mkdir(parents=True, exist_ok=True)
  done = {}
  if SCORES.exists():
    with open(SCORES) as f:
      for r in csv.DictReader(f):
        done[r["key"]] = r
    if done and list(next(iter(done.values())))[3:-1] != names:
      print(f"{SCORES} holds other proxies; move it away to change --proxies.", file=sys.stderr)
      return 2
    stale = _stale_weights(done, rows, batches)
    if stale:
      print(f"{SCORES} was scored with other weights than today's networks draw ({stale}); "
            "resuming would mix two initialisations: move it away and rerun.", file=sys.stderr)
      return 2
  header = ["row", "key", "val_accuracy"] + names + ["seconds"]
  new = not SCORES.exists()
  with open(SCORES, "a", newline="") as f:
    w = csv.writer(f)
    if new:
      w.writerow(header)
    for i, r in enumerate(rows):
      if r["key"] in done:
        continue
      enc, key = _cell(i, r)
      t0 = time.perf_counter()
      if supernet:  # one program for every cell (compiled at the first)
        s = population.score_population(enc, plist, batches, key, space="darts",
                                        engine="supernet")[0]
      else:
        # One program per proxy: programs holding several proxies' passes of this network grow
        # large (one of all 12 did not finish compiling within minutes on 2 shared cores).
        s = [population.score_exact(enc, [p], batches, key, space="darts")[0, 0] for p in plist]
      dt = time.perf_counter() - t0
      w.writerow([i, r["key"], r["val_accuracy"]] + [repr(float(v)) for v in s] + [f"{dt:.1f}"])
      f.flush()
      done[r["key"]] = dict(zip(header, [i, r["key"], r["val_accuracy"]] + list(s) + [dt]))
      print(f"row {i}: {dt:.1f} s", flush=True)
  scored = [done[r["key"]] for r in rows if r["key"] in done]
  acc = [float(r["val_accuracy"]) for r in scored]
  ref = None
  if args.reference:
    ref = json.load(open(args.reference))["cifar10"]
  summary = []
  for n in names:
    rho = _spearman([float(r[n]) for r in scored], acc)
    ref_all = ref_same = agree_rho = None
    if ref is not None:
      key = NBSZ_NAME.get(n, n)
      if key in next(iter(ref.values())):
        vals = list(ref.values())
        ref_all = _spearman([v[key]["score"] for v in vals], [v["val_accuracy"] for v in vals])
        theirs = [ref[r["key"]][key]["score"] for r in scored]
        ref_same = _spearman(theirs, acc)
        agree_rho = _spearman([float(r[n]) for r in scored], theirs)
    summary.append((n, len(scored), rho, ref_same, ref_all, agree_rho))
  secs = [float(r["seconds"]) for r in scored]
  with open(RESULTS / f"{stem}.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["proxy", "n", "spearman_rho", "nbsz_rho_same_cells", "nbsz_rho_all_725",
                "rho_jaxnas_vs_nbsz_scores"])
    for row in summary:
      w.writerow([row[0], row[1]] + ["" if v is None else f"{v:.3f}" for v in row[2:]])
  agree = None
  if ref is not None and "params" in names:  # NB-Suite-Zero records params in millions
    agree = max(abs(float(r["params"]) / 1e6 - ref[r["key"]]["params"]["score"]) for r in scored)
  partial = len(scored) < 725
  fmt = lambda v: "-" if v is None or not np.isfinite(v) else f"{v:.3f}"
  lines = [
      "# darts (NAS-Bench-301 cells): proxy Spearman rho vs val_accuracy" +
      (f" - PARTIAL: {len(scored)} of 725 cells" if partial else ""), "",
      "Command: `JAX_ENABLE_X64=1 python benchmarks/correlation_darts.py" +
      (" --engine supernet" if supernet else "") +
      (f" --limit {args.limit}" if args.limit else "") +
      (" --reference zc_nasbench301.json`" if args.reference else "`"), "",
      "Network: NASLib's nasbench301 graph as NAS-Bench-Suite-Zero scored it (C=32, 8 cells; its "
      "recorded params, e.g. 0.856298 M for the json's first cell, equal jaxnas's count). Images: "
      "CIFAR-10 training images, each proxy's reference batch size, seed 0, each proxy's reference "
      "init. Truth: the csv's val_accuracy (NAS-Bench-301 v1.0 surrogate, noisy).", "",
      "NAS-Bench-Suite-Zero columns: Spearman rho of the scores NAS-Bench-Suite-Zero released for "
      "these very cells (automl/NASLib @ 6639fd15 `naslib/data/zc_nasbench301.json`, blob 4487b7ba, "
      "task cifar10), on the same scored cells and on all 725; '-' where it has no such proxy. "
      "(Its paper's Fig. 2 reports NB301 on 11,221 cells; these 725 are the benchmark's released "
      "sample.)" if ref is not None else "NAS-Bench-Suite-Zero's rho: rerun with --reference.", "",
      "| proxy | n | jaxnas rho | NB-Suite-Zero rho (same cells) | NB-Suite-Zero rho (all 725) | "
      "rho(jaxnas score, NB-Suite-Zero score) |",
      "| --- | --- | --- | --- | --- | --- |",
  ]
  lines += [f"| {n} | {k} | {fmt(r)} | {fmt(a)} | {fmt(b)} | {fmt(c)} |"
            for n, k, r, a, b, c in summary]
  if agree is not None:
    lines += ["", f"params of every scored cell equal NAS-Bench-Suite-Zero's recorded value (max "
              f"|difference| {agree:.6f} M): the same network."]
  if supernet:
    lines += ["", f"Throughput (CPU, this machine, 2 cores): the darts op-switch supernet, one "
              f"compiled program for every cell (compiled once per process: the first cell of a "
              f"run takes {secs[0]:.0f} s with it), median {np.median(secs):.2f} s/cell for all "
              f"{len(names)} proxies."]
    lines += _agreement_with_exact(rows, done, plist, batches)
  else:
    lines += ["", f"Throughput (CPU, this machine, 2 shared cores): {np.mean(secs):.0f} s/cell for "
              f"all {len(names)} proxies, compile included: every cell and proxy is its own exact "
              "network and program (darts's default engine: the supernet's gradient pass is slower "
              "than an exact network's on CPU, `darts_supernet.md`), so compile time is most of "
              "it; per proxy on one cell, measured alone: l2_norm 4.5 s, swap 13 s, meco 10 s, "
              "synflow 20 s, grad_norm 24 s, jacob_cov 38 s, snip 46 s, fisher 48 s, zico 91 s.",
              "", "Known issue: on this machine two runs stalled (every thread waiting, no CPU "
              "time) for minutes, one at its first cell, one after 12 cells; killing and rerunning "
              "resumes."]
  if partial and len(scored) < 100:
    lines += ["", "With so few cells the rho values are not meaningful; they prove the pipeline. "
              "Rerun the command without --limit (resumable) for the full table."]
  elif partial:
    lines += ["", "Partial: rerun the command without --limit (resumable) for all 725 cells."]
  (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
