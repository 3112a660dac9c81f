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
from jaxnas import data, evaluate, models, population, proxies, spaces

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


_META_DEFAULTS = {"draws": 1, "augmented": False}


def _resume_state(out: Path, meta_path: Path, meta: dict, header, wanted, overwrite: bool):
  """Rows already in `out` (index -> fields), after checking they were made with these settings."""
  if not out.exists() or overwrite:
    return {}
  old = json.loads(meta_path.read_text()) if meta_path.exists() else None
  # A setting added after `out` was written reads as its default there.
  if old is None or {k: old.get(k, _META_DEFAULTS.get(k)) for k in meta} != meta:
    raise ValueError(f"{out} exists and was made with other settings (see {meta_path}); pass "
                     "--overwrite to replace it or choose another --out.")
  rows = _read_rows(out, header)
  return {i: rows[i] for i in wanted if i in rows}


def _agree_on_done(done: dict, wanted: list[int], error: str | None) -> np.ndarray:
  """Process 0's view of the finished rows, sent to every process (all must score the same todo)."""
  from jax.experimental import multihost_utils

  state = np.zeros(len(wanted) + 1, np.int32)
  if jax.process_index() == 0:
    state[0] = error is not None
    state[1:] = [i in done for i in wanted]
  state = np.asarray(multihost_utils.broadcast_one_to_all(state))
  if state[0]:
    raise ValueError(error or "process 0 refused to start (see its error message).")
  return state[1:].astype(bool)


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
      "seed": args.seed, "batch_sizes": sizes, "init": args.init, "draws": args.draws,
      "augmented": args.augment,
  }
  meta_path = Path(str(out) + ".meta.json")
  wanted = [int(i) for i in indices]
  writer = jax.process_index() == 0  # in a multi-process run, process 0 owns the files
  done: dict[int, list[str]] = {}
  error = None
  if writer:
    try:
      done = _resume_state(out, meta_path, meta, header, wanted, args.overwrite)
    except ValueError as e:
      if jax.process_count() == 1:
        raise
      error = str(e)
  finished = (np.asarray([i in done for i in wanted], bool) if jax.process_count() == 1
              else _agree_on_done(done, wanted, error))
  todo = np.asarray(wanted, np.int64)[~finished]
  if writer:
    out.parent.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, indent=1))
    _write_rows(out, header, [done[i] for i in wanted if i in done])
    if done:
      logging.getLogger("jaxnas").warning("resuming %s: %d of %d architectures already scored",
                                          out, len(wanted) - len(todo), len(wanted))
  key = jax.random.key(args.seed)
  batches = {p.name: data.select(images, sizes[p.name], args.seed, augmented=args.augment)
             for p in plist}
  enc = space.encoding_of(todo)
  timing: list = []

  def on_chunk(start, stop, scores):
    if not writer:
      return
    rows = [[int(i), space.decode(e)] + [repr(float(v)) for v in row]
            for i, e, row in zip(todo[start:stop], enc[start:stop], scores)]
    with open(out, "a", newline="") as fh:
      csv.writer(fh).writerows(rows)
      fh.flush()
      os.fsync(fh.fileno())
    for r in rows:
      done[r[0]] = [str(f) for f in r]

  t0 = time.perf_counter()
  with population.count_cache_events() as cache:
    if len(todo):
      population.score_population(
          enc, plist, batches, key, space=space.name,
          network_kwargs={"num_classes": images.num_classes}, chunk_size=args.chunk_size,
          method=args.method, init=args.init, progress=not args.no_progress, on_chunk=on_chunk,
          timing=timing, draws=args.draws)
  t = timing[0] if timing else None
  summary = {
      "out": str(out), "archs": len(wanted), "scored_now": int(len(todo)),
      "data": ("SYNTHETIC Gaussian images (not real data)" if images.synthetic else images.source),
      "batch_sizes": sizes, "augmented": args.augment, "seed": args.seed, "draws": args.draws,
      "processes": jax.process_count(), "devices": t.num_devices if t else len(jax.devices()),
      "chunk_size": t.chunk_size if t else args.chunk_size,
      "lower_s": round(t.lower_s, 2) if t else 0.0,
      "compile_s": round(t.compile_s, 2) if t else 0.0,
      "compile_cache": {"dir": jax.config.jax_compilation_cache_dir, **cache},
      "run_s": round(t.run_s, 2) if t else 0.0,
      "s_per_arch": round(t.run_s / max(len(todo), 1), 4) if t else 0.0,
      "wall_s": round(time.perf_counter() - t0, 2),
  }
  if not writer:
    print(json.dumps({**summary, "process": jax.process_index(), "out": None}, indent=1))
    return 0
  _write_rows(out, header, [done[i] for i in wanted])
  scores = np.asarray([[float(v) for v in done[i][2:]] for i in wanted])
  summary["proxies"] = {p.name: {"median": float(np.median(scores[:, j])) if len(wanted) else None,
                                 "nonfinite": int((~np.isfinite(scores[:, j])).sum())}
                        for j, p in enumerate(plist)}
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
  s.add_argument("--augment", action="store_true",
                 help="random crop (4 pixels of zero padding) and horizontal flip of the chosen "
                      "images, as the references' CIFAR training loaders (data.augment)")
  s.add_argument("--init", default="pytorch", choices=models.INITS,
                 help="weight initialisation: PyTorch's defaults (most references), 'normal' "
                      "(N(0,1): Zen-NAS, SWAP) or 'kaiming_normal' (AZ-NAS)")
  s.add_argument("--draws", type=_positive_int, default=1,
                 help="average every score over this many independent weight draws (SWAP's "
                      "reference: 32; population.score_population's `draws`)")
  s.add_argument("--out", default="scores.csv", help="CSV: index, arch, one column per proxy")
  s.add_argument("--chunk-size", type=_positive_int, default=None,
                 help="architectures per device per compiled call (default: automatic; rows are "
                      "saved after every call)")
  s.add_argument("--method", default="map", choices=population.METHODS)
  s.add_argument("--overwrite", action="store_true", help="replace --out instead of resuming it")
  s.add_argument("--no-progress", action="store_true")
  s.add_argument("--host-memory", default="release", choices=("release", "reuse"),
                 help="'reuse' keeps freed host memory in the process for the next architecture "
                      "instead of returning it to the OS (jaxnas.population.reuse_host_memory; "
                      "Linux/glibc): on CPU 1.2-1.6x faster per architecture for a gradient proxy, "
                      "but the process holds its peak heap and more (1.7x the resident memory). "
                      "Default 'release': the C library's own behaviour")
  s.add_argument("--compile-cache", default=str(population.default_cache_dir()),
                 help="directory of JAX's persistent compilation cache, shared by later runs "
                      "('none' turns it off; default $JAXNAS_CACHE/xla or ~/.cache/jaxnas/xla)")
  d = s.add_argument_group("multi-process runs (jax.distributed; every process runs the same "
                           "command, process 0 writes --out)")
  d.add_argument("--distributed", action="store_true",
                 help="join a multi-process run detected by JAX (Cloud TPU pod, Slurm, Open MPI)")
  d.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0")
  d.add_argument("--num-processes", type=_positive_int)
  d.add_argument("--process-id", type=int)
  s.set_defaults(func=cmd_score)
  c = sub.add_parser("correlate", help="rank correlation of scores with benchmark accuracy")
  c.add_argument("--scores", required=True)
  c.add_argument("--truth", required=True, help="CSV with index, arch and accuracy columns")
  c.add_argument("--column", default="cifar10_test_acc")
  c.add_argument("--plot", help="save a scatter grid (PNG)")
  c.add_argument("--json", help="also write the correlations as JSON")
  c.set_defaults(func=cmd_correlate)
  return ap


def _positive_int(text: str) -> int:
  if not text.isdigit() or int(text) < 1:
    raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
  return int(text)


def _enable_compilation_cache(path: str) -> None:
  """JAX's persistent compilation cache in `path` for this process (the CLI is an application, so
  it sets this process-wide option itself). Every program is kept (a handful per configuration),
  not only slow ones, so a second identical command compiles nothing."""
  cache = Path(path).expanduser()
  try:
    cache.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise ValueError(f"`--compile-cache`: cannot create {cache}: {e}.") from None
  jax.config.update("jax_compilation_cache_dir", str(cache))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _start_runtime(args) -> None:
  """Host allocator, compilation cache and multi-process start-up, before JAX touches a device."""
  if getattr(args, "host_memory", "release") == "reuse":
    population.reuse_host_memory()
  if getattr(args, "compile_cache", "none").lower() != "none":
    _enable_compilation_cache(args.compile_cache)
  flags = [getattr(args, f, None) is not None for f in ("coordinator", "num_processes", "process_id")]
  if getattr(args, "distributed", False) or any(flags):
    population.initialize_distributed(args.coordinator, args.num_processes, args.process_id)


def _quiet_xla_log() -> None:
  """Keeps XLA's C++ log out of the CLI's terminal: its "Very slow compile?" alarm, printed as an
  error after two minutes of compilation (``slow_operation_alarm.cc``), is expected here (an NB201
  supernet compiles for minutes on a small CPU; the summary reports ``compile_s``), and XLA's real
  errors reach the CLI as Python exceptions. Only FATAL messages stay, for this process only; a
  ``TF_CPP_MIN_LOG_LEVEL`` or ``JAX_LOGGING_LEVEL`` of the user's own wins (``TF_CPP_MIN_LOG_LEVEL=0``
  shows everything)."""
  if os.environ.get("JAX_LOGGING_LEVEL") or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "1") != "1":
    return  # jax itself defaults TF_CPP_MIN_LOG_LEVEL to 1
  try:
    from jaxlib import utils as jaxlib_utils
  except ImportError:
    return
  set_level = getattr(jaxlib_utils, "absl_set_min_log_level", None)
  if set_level is not None:
    set_level(3)  # absl: 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL


def main(argv=None) -> int:
  logging.basicConfig(level=logging.WARNING, format="jaxnas: %(message)s")
  _quiet_xla_log()
  args = build_parser().parse_args(argv)
  try:
    _start_runtime(args)
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
