"""Command line: ``jaxnas score`` and ``jaxnas correlate`` (a thin adapter over the public API)."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np

import jaxnas
from jaxnas import data, evaluate, population, proxies, spaces

def _batch_sizes(plist, batch_size: str) -> dict:
  """Per-proxy batch size: 'ref' = each reference's own (``Proxy.batch_size``); proxies that read
  only the image shape (batch_size None: params, flops, synflow) get one image."""
  if batch_size == "ref":
    return {p.name: p.batch_size or 1 for p in plist}
  if not batch_size.isdigit() or int(batch_size) < 1:
    raise ValueError(f"`--batch-size` must be a positive integer or 'ref', got {batch_size!r}.")
  return {p.name: int(batch_size) for p in plist}


def _read_rows(path: Path, header: list[str]) -> dict[int, list[str]]:
  """Complete rows of an existing score CSV keyed by index.

  A row counts only if its line terminator was written (the CSV module writes ``\\r\\n``), so a
  line torn by a kill mid-write, even one cut inside its last number, is dropped and re-scored.
  """
  with open(path, newline="") as fh:
    lines = fh.read().splitlines(keepends=True)
  if not lines or next(csv.reader([lines[0]])) != header:
    raise ValueError(f"{path} exists with different columns; use --overwrite or another --out.")
  rows = {}
  for line in lines[1:]:
    if not line.endswith("\n"):
      continue
    fields = next(csv.reader([line]))
    if len(fields) == len(header):
      rows[int(fields[0])] = fields
  return rows


def _write_rows(path: Path, header, rows) -> None:
  tmp = path.with_suffix(path.suffix + ".tmp")
  with open(tmp, "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(header)
    w.writerows(rows)
    fh.flush()
    os.fsync(fh.fileno())
  os.replace(tmp, path)


def cmd_score(args) -> int:
  space = spaces.get(args.space)
  plist = proxies.parse(args.proxies)
  indices = spaces.parse_archs(space, args.archs)
  images = data.from_spec(args.data, seed=args.seed)
  sizes = _batch_sizes(plist, args.batch_size)
  out = Path(args.out)
  header = ["index", "arch"] + [p.name for p in plist]
  meta = {
      "jaxnas": jaxnas.__version__, "space": space.name, "archs": args.archs,
      "proxies": [p.name for p in plist], "data": images.source, "synthetic": images.synthetic,
      "seed": args.seed, "batch_sizes": sizes, "init": "pytorch",
  }
  meta_path = Path(str(out) + ".meta.json")
  done: dict[int, list[str]] = {}
  if out.exists() and not args.overwrite:
    old = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if old is None or {k: old.get(k) for k in meta} != meta:
      raise ValueError(f"{out} exists and was made with other settings (see {meta_path}); pass "
                       "--overwrite to replace it or choose another --out.")
    done = _read_rows(out, header)
  out.parent.mkdir(parents=True, exist_ok=True)
  meta_path.write_text(json.dumps(meta, indent=1))
  wanted = [int(i) for i in indices]
  todo = np.asarray([i for i in wanted if i not in done], np.int64)
  _write_rows(out, header, [done[i] for i in wanted if i in done])
  if done:
    logging.getLogger("jaxnas").warning("resuming %s: %d of %d architectures already scored",
                                        out, len(wanted) - len(todo), len(wanted))
  key = jax.random.key(args.seed)
  batches = {p.name: data.select(images, sizes[p.name], args.seed) for p in plist}
  enc = space.encoding_of(todo)
  timing: list = []

  def on_chunk(start, stop, scores):
    with open(out, "a", newline="") as fh:
      w = csv.writer(fh)
      for i, e, row in zip(todo[start:stop], enc[start:stop], scores):
        fields = [int(i), space.decode(e)] + [repr(float(v)) for v in row]
        done[int(i)] = [str(f) for f in fields]
        w.writerow(fields)
      fh.flush()
      os.fsync(fh.fileno())

  t0 = time.perf_counter()
  if len(todo):
    population.score_population(
        enc, plist, batches, key, space=space.name,
        network_kwargs={"num_classes": images.num_classes}, chunk_size=args.chunk_size,
        method=args.method, progress=not args.no_progress, on_chunk=on_chunk, timing=timing)
  _write_rows(out, header, [done[i] for i in wanted])
  scores = np.asarray([[float(v) for v in done[i][2:]] for i in wanted])
  summary = {
      "out": str(out), "archs": len(wanted), "scored_now": int(len(todo)),
      "data": ("SYNTHETIC Gaussian images (not real data)" if images.synthetic else images.source),
      "batch_sizes": sizes, "seed": args.seed,
      "compile_s": round(timing[0].compile_s, 2) if timing else 0.0,
      "run_s": round(timing[0].run_s, 2) if timing else 0.0,
      "s_per_arch": round(timing[0].run_s / max(len(todo), 1), 4) if timing else 0.0,
      "wall_s": round(time.perf_counter() - t0, 2),
      "proxies": {p.name: {"median": float(np.median(scores[:, j])) if len(wanted) else None,
                           "nonfinite": int((~np.isfinite(scores[:, j])).sum())}
                  for j, p in enumerate(plist)},
  }
  print(json.dumps(summary, indent=1))
  return 0


def cmd_correlate(args) -> int:
  path = Path(args.scores)
  if not path.is_file():
    raise FileNotFoundError(f"Scores file not found: {path}.")
  with open(path, newline="") as fh:
    reader = csv.DictReader(fh)
    rows = list(reader)
    fields = reader.fieldnames or []
  if "index" not in fields:
    raise ValueError(f"{path}: a scores file needs an 'index' column; has {fields}.")
  names = [f for f in fields if f not in ("index", "arch")]
  if not names or not rows:
    raise ValueError(f"{path}: no proxy columns or no rows.")
  table = data.load_table(args.truth)
  idx = np.asarray([int(r["index"]) for r in rows])
  truth = table.lookup(idx, args.column)
  cols = [np.asarray([float(r[n]) for r in rows]) for n in names]
  dirs = [proxies.REGISTRY[n].higher_is_better if n in proxies.REGISTRY else True for n in names]
  meta_path = Path(str(path) + ".meta.json")
  meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
  if meta.get("synthetic"):
    print("WARNING: these scores were computed on SYNTHETIC images, not real data.")
  print(f"{len(rows)} architectures from {path}; truth: {args.column} ({table.source})")
  print("non-finite scores (NaN/inf) are ranked worst (jaxnas.evaluate.oriented_scores)")
  print(f"{'proxy':<12} {'n':>6} {'nonfinite':>9} {'spearman':>9} {'kendall':>8}")
  result = {}
  for n, c, d in zip(names, cols, dirs):
    r = evaluate.rank_correlation(c, truth, higher_is_better=d)
    result[n] = r._asdict()
    print(f"{n:<12} {r.n:>6} {r.n_nonfinite:>9} {r.spearman:>9.4f} {r.kendall:>8.4f}")
  if args.json:
    Path(args.json).write_text(json.dumps(result, indent=1))
  if args.plot:
    evaluate.scatter_grid(names, cols, truth, args.plot, truth_label=args.column, directions=dirs,
                          title=f"{path.name} vs {args.column}")
    print(f"plot: {args.plot}")
  return 0


def build_parser() -> argparse.ArgumentParser:
  ap = argparse.ArgumentParser(prog="jaxnas", description="Training-free NAS in JAX.")
  ap.add_argument("--version", action="version", version=f"jaxnas {jaxnas.__version__}")
  sub = ap.add_subparsers(dest="command", required=True)
  s = sub.add_parser("score", help="score architectures with zero-cost proxies")
  s.add_argument("--space", default="nb201", choices=sorted(spaces.SPACES))
  s.add_argument("--archs", default="random:100:0",
                 help="all | START:STOP | random:N[:SEED] | FILE (one index or arch string per line)")
  s.add_argument("--proxies", default="params,flops,synflow,nwot",
                 help=f"comma-separated, from: {', '.join(proxies.REGISTRY)}")
  s.add_argument("--data", default="synthetic", help="synthetic | cifar10:PATH | cifar100:PATH | npz:PATH")
  s.add_argument("--batch-size", default="ref",
                 help="images per proxy; 'ref' = each proxy's reference batch (nwot 128; "
                      "params, flops and synflow read only the image shape)")
  s.add_argument("--seed", type=int, default=0, help="seeds weights (per architecture) and the batch")
  s.add_argument("--out", default="scores.csv", help="CSV: index, arch, one column per proxy")
  s.add_argument("--chunk-size", type=int, default=8, help="architectures per compiled call")
  s.add_argument("--method", default="map", choices=population.METHODS)
  s.add_argument("--overwrite", action="store_true", help="replace --out instead of resuming it")
  s.add_argument("--no-progress", action="store_true")
  s.set_defaults(func=cmd_score)
  c = sub.add_parser("correlate", help="rank correlation of scores with benchmark accuracy")
  c.add_argument("--scores", required=True)
  c.add_argument("--truth", required=True, help="CSV with index, arch and accuracy columns")
  c.add_argument("--column", default="cifar10_test_acc")
  c.add_argument("--plot", help="save a scatter grid (PNG)")
  c.add_argument("--json", help="also write the correlations as JSON")
  c.set_defaults(func=cmd_correlate)
  return ap


def main(argv=None) -> int:
  logging.basicConfig(level=logging.WARNING, format="jaxnas: %(message)s")
  args = build_parser().parse_args(argv)
  try:
    # synflow's reference computes in float64 (NB201 scores exceed float32's range). The CLI is an
    # application, so it enables 64-bit JAX for its own run, scoped; networks stay float32.
    with jax.enable_x64(True):
      return args.func(args)
  except (ValueError, TypeError, FileNotFoundError, ImportError) as e:
    print(f"jaxnas {args.command}: error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("interrupted; finished rows are saved and a re-run resumes", file=sys.stderr)
    return 130
