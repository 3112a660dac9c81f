"""Command line: ``jaxnas score``, ``correlate``, ``aggregate`` (a thin adapter over the public API)."""

from __future__ import annotations

import argparse
import contextlib
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
from jaxnas import aggregate, data, evaluate, models, population, proxies, search, spaces

def _batch_sizes(plist, batch_size: str) -> dict:
  """Per-proxy batch size: 'ref' = each reference's own (``Proxy.batch_size``); proxies that read
  only the image shape (batch_size None: params, flops, synflow) get one image."""
  if batch_size == "ref":
    return {p.name: p.batch_size or 1 for p in plist}
  if not batch_size.isdigit() or int(batch_size) < 1:
    raise ValueError(f"`--batch-size` must be a positive integer or 'ref', got {batch_size!r}.")
  return {p.name: int(batch_size) for p in plist}


_META_DEFAULTS = {"draws": 1, "augmented": False}


def cmd_score(args) -> int:
  space = spaces.get(args.space)
  plist = proxies.parse(args.proxies)
  selection = spaces.select_archs(space, args.archs)
  population.check_supported(space, plist)
  images = data.from_spec(args.data, seed=args.seed)
  sizes = _batch_sizes(plist, args.batch_size)
  # Everything that can be refused is checked before --out is touched.
  batches = {p.name: data.select(images, sizes[p.name], args.seed, augmented=args.augment)
             for p in plist}
  inits = population.proxy_inits(plist, args.init)
  out = Path(args.out)
  header = ["index", "arch"] + [p.name for p in plist]
  meta = {
      "jaxnas": jaxnas.__version__, "space": space.name, "archs": args.archs,
      "proxies": [p.name for p in plist], "data": images.source, "synthetic": images.synthetic,
      "seed": args.seed, "batch_sizes": sizes, "draws": args.draws,
      # The init each proxy was scored with: one name when they share it (as files made before
      # per-proxy inits record it), else proxy -> init.
      "init": inits[0] if len(set(inits)) == 1 else dict(zip((p.name for p in plist), inits)),
      "augmented": args.augment,
  }
  wanted = [int(i) for i in selection.indices]
  writer = jax.process_index() == 0  # in a multi-process run, process 0 owns the files
  multi = jax.process_count() > 1
  with contextlib.ExitStack() as files:
    done: dict[int, list[str]] = {}
    error = None
    if writer:
      try:
        files.enter_context(population.lock_output(out))
        done = population.resume_rows(
            out, meta, header, wanted, arch_of=selection.arch_of,
            defaults=_META_DEFAULTS, overwrite=args.overwrite)
      except ValueError as e:
        if not multi:
          raise
        error = str(e)
    with _peer_loss_reported():
      finished = (population.agree_on_done(done, wanted, error) if multi
                  else np.asarray([i in done for i in wanted], bool))
    todo = np.asarray(wanted, np.int64)[~finished]
    if writer:
      population.write_meta(population.meta_path(out), meta)
      population.write_rows(out, header, [done[i] for i in wanted if i in done])
      if done:
        logging.getLogger("jaxnas").warning("resuming %s: %d of %d architectures already scored",
                                            out, len(wanted) - len(todo), len(wanted))
    return _score_todo(args, space, selection, plist, images, sizes, batches, out, header, wanted,
                       todo, done, writer)


@contextlib.contextmanager
def _peer_loss_reported():
  """Collectives of a multi-process run: a lost peer becomes population.PeerLostError."""
  try:
    yield
  except Exception as e:
    lost = population.peer_lost(e)
    if lost is None:
      raise
    raise lost from e


def _score_todo(args, space, selection, plist, images, sizes, batches, out, header, wanted, todo,
                done, writer) -> int:
  key = jax.random.key(args.seed)
  enc = selection.encodings_of(todo)
  timing: list = []

  def on_chunk(start, stop, scores):
    if not writer:
      return
    rows = [population.format_row(i, selection.arch_of(i), row)
            for i, row in zip(todo[start:stop], scores)]
    population.append_rows(out, rows)
    for r in rows:
      done[int(r[0])] = r

  t0 = time.perf_counter()
  with population.count_cache_events() as cache, _peer_loss_reported():
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
  population.write_rows(out, header, [done[i] for i in wanted])
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
    rows, lines = [], []
    for r in reader:
      rows.append(r)
      lines.append(reader.line_num)
    fields = reader.fieldnames or []
  if "index" not in fields:
    raise ValueError(f"{path}: a scores file needs an 'index' column; has {fields}.")
  names = [f for f in fields if f not in ("index", "arch")]
  if not names or not rows:
    raise ValueError(f"{path}: no proxy columns or no rows.")
  if _truth_is_keyed(args.truth):
    if "arch" not in fields:
      raise ValueError(f"{path}: matching a truth table by 'key' needs the scores' 'arch' column.")
    space_name = args.space or _meta_space(path)
    truth = evaluate.keyed_truth(spaces.get(space_name), [r["arch"] for r in rows], args.truth,
                                 args.column)
    source = f"{args.truth}, matched by key ({space_name})"
  else:
    table = data.load_table(args.truth)
    idx = np.asarray(_csv_column(path, rows, lines, "index", int))
    truth = table.lookup(idx, args.column)
    source = table.source
  cols = [np.asarray(_csv_column(path, rows, lines, n, float)) for n in names]
  dirs = [proxies.REGISTRY[n].higher_is_better if n in proxies.REGISTRY else True for n in names]
  meta_path = Path(str(path) + ".meta.json")
  try:
    meta = population.read_meta(meta_path, out=path) or {}
  except ValueError as e:
    print(f"WARNING: {e} Cannot tell whether these scores were computed on synthetic images.")
    meta = {}
  if meta.get("synthetic"):
    print("WARNING: these scores were computed on SYNTHETIC images, not real data.")
  print(f"{len(rows)} architectures from {path}; truth: {args.column} ({source})")
  print("non-finite scores (NaN/inf) are ranked worst (jaxnas.evaluate.oriented_scores)")
  w = max([12] + [len(n) for n in names])
  print(f"{'proxy':<{w}} {'n':>6} {'nonfinite':>9} {'spearman':>9} {'kendall':>8}")
  result = {}
  for n, c, d in zip(names, cols, dirs):
    r = evaluate.rank_correlation(c, truth, higher_is_better=d)
    result[n] = r._asdict()
    print(f"{n:<{w}} {r.n:>6} {r.n_nonfinite:>9} {r.spearman:>9.4f} {r.kendall:>8.4f}")
  if args.json:
    Path(args.json).write_text(json.dumps(result, indent=1))
  if args.plot:
    evaluate.scatter_grid(names, cols, truth, args.plot, truth_label=args.column, directions=dirs,
                          title=f"{path.name} vs {args.column}", scale=args.plot_scale)
    print(f"plot: {args.plot}")
  return 0


def _truth_is_keyed(truth) -> bool:
  """Whether a truth CSV is keyed by architecture ('key' column, no 'index')."""
  p = Path(truth).expanduser()
  if not p.is_file() or p.name.endswith(".gz"):
    return False
  with open(p, newline="") as fh:
    header = next(csv.reader(fh), [])
  return "key" in header and "index" not in header


def _meta_space(scores: Path) -> str:
  """The space a scores file was computed on (its meta file), for matching a keyed truth table."""
  meta = population.read_meta(Path(str(scores) + ".meta.json"), out=scores) or {}
  if "space" not in meta:
    raise ValueError(f"{scores}: no meta file names its space; pass --space to match the truth "
                     "table's 'key' column.")
  return meta["space"]


def _csv_column(path: Path, rows, lines, name: str, kind) -> list:
  """Column `name` of csv.DictReader `rows` (read from file `lines`) as `kind` (int or float); a
  missing or unreadable cell is an error naming the file, its line and the column."""
  values = []
  for line, r in zip(lines, rows):
    cell = r.get(name)
    if cell is None:
      given = sum(v is not None for k, v in r.items() if k is not None)
      raise ValueError(f"{path}:{line}: a short row ({given} of {len(r) - (None in r)} fields): "
                       f"no value in column '{name}'.")
    try:
      values.append(kind(cell))
    except ValueError:
      want = "an integer" if kind is int else "a number (nan and inf allowed)"
      raise ValueError(f"{path}:{line}: column '{name}' holds {cell!r}, not {want}.") from None
  return values


def cmd_aggregate(args) -> int:
  table = aggregate.read_scores([p for p in args.scores.split(",") if p])
  names = [n for n in args.proxies.split(",") if n] if args.proxies else None
  truth = None
  if args.truth:
    gt = data.load_table(args.truth)
    truth = lambda idx: gt.lookup(idx, args.column)
  res = aggregate.aggregate_table(table, args.method, names, truth=truth, labels=args.labels,
                                  seed=args.seed, graph=args.graph_features)
  out = Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  rows = [[int(i), a, repr(float(v))] for i, a, v in zip(table.index, table.arch, res.scores)]
  population.write_rows(out, ["index", "arch", "score"], rows)
  print(json.dumps({"out": str(out), "rows": len(table.index), "method": args.method,
                    "proxies": list(res.proxies), "labels": len(res.fitted), "seed": args.seed,
                    "graph_features": args.graph_features}, indent=1))
  return 0


def cmd_search(args) -> int:
  space = spaces.get(args.space)
  if not space.official_index:
    raise ValueError(f"`jaxnas search` replays searches over tables indexed by official index; "
                     f"{space.name} has none (its cells are looked up by graph hash).")
  truth = data.load_table(args.truth)
  query = truth.dense(args.query_column, space.size)
  cost = truth.dense(args.cost_column, space.size) if args.cost_column else None
  scores, sources = {}, []
  if args.scores:
    sources = [s for s in args.scores.split(",") if s]
    merged = data.merge_tables([data.load_table(s) for s in sources])
    scores = {n: merged.dense(n, space.size) for n in merged.columns}
  names = [n.strip() for n in args.proxies.split(",") if n.strip()] if args.proxies else None
  options = {k: v for k, v in (("population_size", args.population_size),
                               ("sample_size", args.sample_size), ("n", args.n),
                               ("evaluations", args.evaluations),
                               ("generations", args.generations),
                               ("bo_steps", args.bo_steps)) if v is not None}
  spec = search.STRATEGIES.get(args.strategy, {})
  live = not sources and spec.get("fitness") == "proxy"
  if live:  # score the proxy live, cell by cell as the search asks
    use = names or list(spec["proxies"])
    if len(use) != 1:
      raise ValueError(f"`--proxies`: live scoring takes one proxy for {args.strategy}, got {use}.")
    proxy = proxies.get(use[0])
    images = data.from_spec(args.data, seed=args.seed)
    # names the proxy's column; its values come from live scoring
    scores = {use[0]: np.full(space.size, np.nan)}
  strategy, used = search.build_strategy(args.strategy, space, scores=scores, proxies=names,
                                         budget=args.budget, options=options)
  if live:
    batch = data.select(images, proxy.batch_size or 1, args.seed)
    source = search.live_fitness(space, proxy, batch, jax.random.key(args.seed),
                                 network_kwargs={"num_classes": images.num_classes})
  else:
    source = search.fitness_for(strategy, used, scores=scores, query=query,
                                query_name=args.query_column, cost=cost)
  result = search.run(strategy, source, jax.random.key(args.seed), budget=args.budget,
                      max_cost_s=args.max_cost_s, progress=not args.no_progress)
  report_cols = {c: truth.dense(c, space.size) for c in truth.columns}
  settings = {
      "jaxnas": jaxnas.__version__, "space": space.name, "seed": args.seed,
      "budget": args.budget if strategy.fitness == "query" else 0, "max_cost_s": args.max_cost_s,
      "scores": sources, "proxies": list(used), "fitness": source.name,
      "truth": str(args.truth), "query_column": args.query_column, "cost_column": args.cost_column,
      "data": images.source if live else None, "options": strategy.settings,
      "proxy_cost_note": ("measured seconds of live proxy scoring in this run" if live else
                          "proxies read from precomputed tables: their scoring time is not "
                          "included (see the tables' .meta.json)"),
      "query_cost_note": f"summed {args.cost_column} of the queried cells (benchmark's recorded "
                         "training seconds, not measured here)" if args.cost_column else None,
  }
  if args.strategy == "mtf_pdns":  # its answer is a front, not one cell
    acc = {c: v for c, v in report_cols.items() if c.endswith("test_acc")}
    settings.update(search.pareto_report(result, scores, used, acc, scores["flops"])
                    if "flops" in scores and acc else {})
    settings["best_index_note"] = (f"MTF-PDNS answers with `archive`; best_index is the archive "
                                   f"cell with the best {used[0]}")
  out = search.report(result, space, truth=report_cols, settings=settings)
  if args.out:
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
  brief = {k: out[k] for k in ("strategy", "seed", "best_index", "best_arch", "num_queries",
                               "query_cost_s", "proxy_cost_s")}
  brief.update({k: v for k, v in out.items() if k.startswith("best_") and k not in brief})
  print(json.dumps(brief, indent=1))
  return 0


def build_parser() -> argparse.ArgumentParser:
  ap = argparse.ArgumentParser(prog="jaxnas", description="Training-free NAS in JAX.")
  ap.add_argument("--version", action="version", version=f"jaxnas {jaxnas.__version__}")
  sub = ap.add_subparsers(dest="command", required=True)
  s = sub.add_parser("score", help="score architectures with zero-cost proxies")
  s.add_argument("--space", default="nb201", choices=sorted(spaces.SPACES))
  s.add_argument("--archs", default="random:100:0",
                 help="all | START:STOP | random:N[:SEED] | FILE (one index or arch string per "
                      "line; repeats are scored once). Random samples of one seed are subsets "
                      "of each other only for N > size/50 (NB201: 313), see spaces.parse_archs")
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
  s.add_argument("--init", default=None, choices=models.INITS,
                 help="override every proxy's weight initialisation (default: each proxy's "
                      "reference init, recorded in the meta file: PyTorch's defaults for most, "
                      "N(0,1) for SWAP and Zen, kaiming_normal for AZ-NAS and VKDNW)")
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
                           "command, process 0 writes --out; if one process is lost, the others "
                           "exit with status 3 and the same commands resume the run)")
  d.add_argument("--distributed", action="store_true",
                 help="join a multi-process run detected by JAX (Cloud TPU pod, Slurm, Open MPI)")
  d.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0")
  d.add_argument("--num-processes", type=_positive_int)
  d.add_argument("--process-id", type=int)
  s.set_defaults(func=cmd_score)
  c = sub.add_parser("correlate", help="rank correlation of scores with benchmark accuracy")
  c.add_argument("--scores", required=True)
  c.add_argument("--truth", required=True,
                 help="CSV with index, arch and accuracy columns, or with a 'key' column (e.g. "
                      "nb101_naslib.csv: NASLib keys) matched to the scores' arch column through "
                      "the space (same network; repeated keys averaged)")
  c.add_argument("--column", default="cifar10_test_acc")
  c.add_argument("--space", choices=list(spaces.SPACES),
                 help="space of a key-matched truth table (default: the scores' meta file)")
  c.add_argument("--plot", help="save a scatter grid (PNG)")
  c.add_argument("--plot-scale", default="auto", choices=evaluate.PLOT_SCALES,
                 help="x axes of the plot: 'rank' (the scale rho and tau see; spreads heavy "
                      "tails such as jacob_cov's), 'log' (symmetric), 'linear', or 'auto' (log10 "
                      "for non-negative scores spanning more than 3 decades, else linear)")
  c.add_argument("--json", help="also write the correlations as JSON")
  c.set_defaults(func=cmd_correlate)
  g = sub.add_parser("aggregate", help="combine proxy score tables into one score per architecture")
  g.add_argument("--scores", required=True,
                 help="TABLE[,TABLE...]: score CSVs (.csv or .csv.gz) joined on index")
  g.add_argument("--method", required=True, help=f"one of: {', '.join(aggregate.METHODS)}")
  g.add_argument("--proxies", help="comma-separated proxy columns (default: every proxy column)")
  g.add_argument("--truth", help="ground-truth CSV (learned methods): index and --column")
  g.add_argument("--column", default="cifar10_test_acc")
  g.add_argument("--labels", type=int, default=0,
                 help="learned methods: fit on this many rows of the table drawn with --seed")
  g.add_argument("--seed", type=int, default=0)
  g.add_argument("--graph-features", action="store_true",
                 help="learned methods: add NB201 cell features (op counts, path lengths)")
  g.add_argument("--out", default="aggregate.csv", help="CSV: index, arch, score")
  g.set_defaults(func=cmd_aggregate)
  r = sub.add_parser("search", help="search a space with a strategy on score tables and queries")
  r.add_argument("--space", default="nb201", choices=sorted(spaces.SPACES))
  r.add_argument("--strategy", required=True, choices=list(search.STRATEGIES))
  r.add_argument("--scores", help="comma-separated score tables (CSV or .csv.gz: index, arch, one "
                                  "column per proxy)")
  r.add_argument("--proxies", help="comma-separated proxy columns the strategy uses (default: its "
                                   "reference's)")
  r.add_argument("--data", default="synthetic",
                 help="without --scores: images for live scoring "
                      "(synthetic | cifar10:PATH | npz:PATH)")
  r.add_argument("--truth", required=True, help="CSV with index, arch, query and accuracy columns")
  r.add_argument("--query-column", default="cifar10_valid_acc_12ep",
                 help="the training-based query the budget buys")
  r.add_argument("--cost-column", default="cifar10_train_seconds_12ep",
                 help="recorded seconds of one query ('' for none)")
  r.add_argument("--budget", type=_positive_int, default=20, help="number of distinct queries")
  r.add_argument("--max-cost-s", type=float,
                 help="also stop once the queries' recorded cost reaches this many seconds "
                      "(NB201's REA/random protocol: 12000)")
  r.add_argument("--seed", type=int, default=0)
  r.add_argument("--population-size", type=_positive_int,
                 help="rea, rea_proxy, swap_nas, mtf_pdns")
  r.add_argument("--sample-size", type=_positive_int, help="rea, rea_proxy, swap_nas")
  r.add_argument("--generations", type=_positive_int, help="mtf_pdns")
  r.add_argument("--bo-steps", type=_positive_int,
                 help="robot: BO evaluations (default --budget); a cell BO proposes again costs no "
                      "query, so BO may run longer than the query budget")
  r.add_argument("--n", type=_positive_int, help="naswot: architectures scored")
  r.add_argument("--evaluations", type=_positive_int, help="rea_proxy, swap_nas: proxy evaluations")
  r.add_argument("--out", help="result JSON")
  r.add_argument("--no-progress", action="store_true")
  r.set_defaults(func=cmd_search)
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


def _exit_now(code: int) -> None:
  """Ends the process at once: a normal exit would wait in JAX's shutdown barrier for the lost
  process until the coordination service aborts this one (SIGABRT, ~100 s later). Rows are
  already fsynced and the lock dies with the process."""
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)


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
  except population.PeerLostError as e:
    print(f"jaxnas {args.command}: error: {e}", file=sys.stderr)
    _exit_now(3)
    return 3
  except (ValueError, TypeError, FileNotFoundError, ImportError) as e:
    print(f"jaxnas {args.command}: error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("interrupted; finished rows are saved and a re-run resumes", file=sys.stderr)
    return 130
