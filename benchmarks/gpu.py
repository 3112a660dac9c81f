"""GPU benchmark and whole-space NB201 proxy groups, in one prepared command for a borrowed GPU.

Borrowed accelerators come in minutes, so one command measures what the issue asks and returns
what it finished when its deadline comes:

  python benchmarks/gpu.py run --data npz:PATH/cifar10_5000.npz --out-dir DIR --deadline-s 540

Stages, in order (each in its own process, killed at its time cap so that a slow compilation
cannot take the others' time; rows are saved after every chunk, and a rerun with the same DIR
resumes every stage):

1. NWOT on all 15,625 NB201 cells (batch 128, ``vmap`` chunks) and on ``random:1000:0`` with
   ``map`` (one cell per call): the map-vs-vmap ratio;
2. the classic proxies on ``random:1000:0`` in the correlation benchmark's groups (``synflow,
   nwot,params,flops``; ``jacob_cov,epe_nas``; ``grad_norm,snip,fisher,plain,l2_norm``; ``grasp``),
   each with ``vmap`` and with ``map``: seconds per cell, compilation apart;
3. with the time left, whole-space groups (every proxy with its reference's batch, init and
   images, as ``benchmarks/correlation.py`` and ``benchmarks/az_nas.py`` score them) in priority
   order into ``DIR/all_<group>.csv``, in ``jaxnas score``'s format with its meta file.

With ``--parallel N`` up to N stages run at once (each process with 0.9 / N of the GPU's memory;
their compilations overlap on the host's cores). ``--only all_<group>,all_<group>_rev`` scores a
group from both ends, the first with ``--whole-method``, the second from the last cell with
``--rev-method``; each stops where it meets the other's rows, and ``gpu.py merge --from DIR --to
DIR2`` joins the halves (checking that cells both scored agree).

Weights come from ``fold_in(key(0), official index)`` as everywhere in jaxnas, so every cell's
score can be compared with the committed CPU scores of the same cell. Convolutions and matrix
products run at ``--precision`` (default ``highest``: float32, no TF32 on NVIDIA GPUs). Timings
go to ``DIR/gpu_timing.json`` (every attempt of every stage) and ``DIR/gpu.md``.

Then, on a machine with ``../shared/data``:

  python benchmarks/gpu.py report --from DIR

compares every GPU score with the committed CPU score of the same cell and writes
``benchmarks/results/gpu_nb201.md``; ``benchmarks/nb201_table.py`` merges whole-space groups into
``benchmarks/results/nb201_proxies_all.csv.gz``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = "random:1000:0"
# The correlation benchmark's classic groups (benchmarks/correlation.py), timed on the sample.
CLASSIC = {
    "classic": "synflow,nwot,params,flops",
    "jacobian": "jacob_cov,epe_nas",
    "saliency": "grad_norm,snip,fisher,plain,l2_norm",
    "grasp": "grasp",
}
# Whole-space groups in priority order: name -> (proxies, init, images, batch size or None for each
# proxy's reference batch, augmented). Images 'cifar10' = --data; 'normal' = one N(0, 1) batch of 64
# drawn from key(seed) (AZ-NAS's, Zen's and VKDNW's torch.randn inputs).
WHOLE = {
    "nwot": ("nwot", "pytorch", "cifar10", None, False),
    "swap": ("swap,reg_swap", "normal", "cifar10", None, False),
    **{g: (p, "pytorch", "cifar10", None, False) for g, p in CLASSIC.items()},
    "meco": ("meco,meco_opt", "pytorch", "cifar10", None, False),
    "zico": ("zico", "pytorch", "cifar10", None, False),
    "rbflex": ("rbflex", "pytorch", "cifar10", None, True),
    "az_nas": ("az_expressivity,az_progressivity,az_trainability", "kaiming_normal", "normal", 64, False),
    "vkdnw": ("vkdnw,vkdnw_dim", "kaiming_normal", "normal", 64, False),
    "jacov_kaiming": ("jacob_cov", "kaiming_normal", "cifar10", 64, False),
    "hnas": ("ntk_trace_norm,hnas_cond", "pytorch", "cifar10", None, False),
    "zen": ("zen", "normal", "normal", 64, False),
    "tenas": ("ntk_cond,linear_regions", "pytorch", "cifar10", 64, True),
}
# Committed CPU scores of the 1,000-cell sample: (file, init, images) for the per-cell agreement.
CPU_TABLES = {
    "pytorch": [f"correlation_nb201_{g}_scores.csv" for g in
                ("classic", "jacobian", "saliency", "grasp", "meco", "zico", "rbflex", "tenas")],
    "normal": ["correlation_nb201_swap_scores.csv", "az_nas_nb201_zen_scores.csv"],
    "kaiming_normal": ["az_nas_nb201_scores.csv", "az_nas_nb201_vkdnw_scores.csv",
                       "az_nas_nb201_jacov_scores.csv"],
}


class _Deadline(Exception):
  """Raised from a chunk callback when a stage has used its time."""


def _read_csv(path: Path) -> tuple[list[str], dict[int, list[str]]]:
  opener = gzip.open if path.suffix == ".gz" else open
  with opener(path, "rt", newline="") as fh:
    reader = csv.reader(fh)
    header = next(reader)
    rows = {int(r[0]): r for r in reader if len(r) == len(header)}
  return header, rows


def _indices(path: Path) -> set[int]:
  """Indices of the complete rows of a score CSV that another process may be appending to."""
  with open(path, newline="") as fh:
    return {int(line.split(",", 1)[0]) for line in fh.read().splitlines(keepends=True)[1:]
            if line.endswith("\n") and line.split(",", 1)[0].isdigit()}


def plan(args) -> list[dict]:
  """The stages of a run, in order."""
  smoke = args.smoke
  every, sample = ("0:6", "random:4:0") if smoke else (args.whole_archs, SAMPLE)
  stages = [dict(name="nwot_all_vmap", proxies="nwot", archs=every, method="vmap", cap=args.cap_nwot,
                 csv="all_nwot.csv"),
            dict(name="nwot_1000_map", proxies="nwot", archs=sample, method="map", cap=args.cap_map)]
  for group, names in CLASSIC.items():
    names = "params,flops" if smoke else names
    for method in ("vmap", "map"):
      stages.append(dict(name=f"{group}_1000_{method}", proxies=names, archs=sample, method=method,
                         cap=args.cap_group))
  for group, (names, init, images, bs, aug) in WHOLE.items():
    if smoke:
      names = "swap" if group == "swap" else "params,flops"
    whole = dict(proxies=names, archs=every, init=init, images=images, batch_size=bs, augmented=aug,
                 cap=None, group=group)
    stages.append(dict(name=f"all_{group}", method=args.whole_method, csv=f"all_{group}.csv",
                       peer=f"all_{group}_rev.csv", **whole))
    # The same cells from the other end with the other method; the two stop where they meet.
    stages.append(dict(name=f"all_{group}_rev", method=args.rev_method, csv=f"all_{group}_rev.csv",
                       reverse=True, peer=f"all_{group}.csv", **whole))
  if args.only:
    want = args.only.split(",")
    by_name = {s["name"]: s for s in stages}
    unknown = [w for w in want if w not in by_name]
    if unknown:
      raise SystemExit(f"--only: unknown stage(s) {unknown}; valid: {', '.join(by_name)}")
    return [by_name[w] for w in want]  # in the order given
  return [s for s in stages if not s.get("reverse")]


def _faster_method(timing: dict, group: str) -> str:
  """'map' when the group's 1,000-cell map stage ran faster per cell than its vmap stage, else 'vmap'."""
  def rate(name):
    runs = [a.get("s_per_cell") for a in timing.get("stages", {}).get(name, []) if a.get("s_per_cell")]
    return min(runs) if runs else None
  v, m = rate(f"{group}_1000_vmap"), rate(f"{group}_1000_map")
  return "map" if (m is not None and (v is None or m < v)) else "vmap"


def cmd_run(args) -> int:
  """The parent: runs every stage in a child process under its cap and keeps the timings."""
  out = Path(args.out_dir)
  out.mkdir(parents=True, exist_ok=True)
  timing_path = out / "gpu_timing.json"
  timing = json.loads(timing_path.read_text()) if timing_path.exists() else {}
  timing.setdefault("stages", {})
  t_end = time.perf_counter() + args.deadline_s

  def save():
    timing_path.write_text(json.dumps(timing, indent=1))
    write_gpu_md(timing, out / "gpu.md")
    if args.tar:
      with tarfile.open(args.tar, "w:gz") as tf:
        for p in sorted(out.iterdir()):
          tf.add(p, arcname=p.name)

  common = ["--data", args.data, "--out-dir", str(out), "--precision", args.precision,
            "--seed", str(args.seed)]
  if args.compile_cache:
    common += ["--compile-cache", args.compile_cache]
  if args.chunk_size:
    common += ["--chunk-size", str(args.chunk_size)]
  env = dict(os.environ)
  if args.parallel > 1:  # each child may take its share of the GPU's memory, no more
    env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{0.9 / args.parallel:.3f}"
  pending, running = list(plan(args)), []

  def finish(spec, proc, t0, record, killed):
    rec = json.loads(record.read_text()) if record.exists() else {}
    if killed:
      path = out / spec.get("csv", spec["name"] + ".csv")
      rec = {**rec, "status": killed, "rows_in_file": len(_read_csv(path)[1]) if path.exists() else 0}
    rec.setdefault("status", f"child process ended (rc {proc.returncode}) without a record")
    rec["parent_wall_s"] = round(time.perf_counter() - t0, 1)
    rec["parallel"] = args.parallel
    timing["stages"].setdefault(spec["name"], []).append({**spec, **rec})
    save()
    print(json.dumps({spec["name"]: rec}), flush=True)

  while pending or running:
    while pending and len(running) < args.parallel:
      spec = pending.pop(0)
      left = t_end - time.perf_counter()
      cap = left if spec["cap"] is None else min(spec["cap"], left)
      if cap < args.min_stage_s:
        timing["stages"].setdefault(spec["name"], []).append({"status": "skipped: no time left"})
        save()
        continue
      if spec.get("group") and spec["method"] == "auto":
        spec["method"] = _faster_method(timing, spec["group"])
      record = out / f"stage_{spec['name']}.json"
      record.unlink(missing_ok=True)
      cmd = [sys.executable, __file__, "stage", "--spec", json.dumps(spec), "--budget-s", f"{cap:.1f}",
             "--until", f"{time.time() + cap:.1f}",
             *common]
      print(f"[{time.strftime('%H:%M:%S')}] {spec['name']}: cap {cap:.0f} s", flush=True)
      running.append((spec, subprocess.Popen(cmd, env=env), time.perf_counter(), cap, record))
    time.sleep(0.5)
    for item in list(running):
      spec, proc, t0, cap, record = item
      killed = None
      if proc.poll() is None:
        if time.perf_counter() - t0 < cap + args.grace_s:
          continue
        proc.kill()  # the child stops itself after the chunk that passes its budget; a hang is killed
        proc.wait()
        killed = f"killed at its cap + {args.grace_s:.0f} s (still compiling or in one chunk)"
      running.remove(item)
      finish(spec, proc, t0, record, killed)
  return 0


def cmd_stage(args) -> int:
  """The child: one stage with one compiled program; rows after every chunk; a JSON record."""
  import jax

  from jaxnas import data, population, proxies, spaces

  spec = json.loads(args.spec)
  if args.compile_cache:  # this script is the application: it may set process-wide options
    jax.config.update("jax_compilation_cache_dir", args.compile_cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  out = Path(args.out_dir)
  record = out / f"stage_{spec['name']}.json"
  env = {"jax": jax.__version__, "device_kind": jax.devices()[0].device_kind,
         "devices": len(jax.devices()), "python": platform.python_version(), "precision": args.precision}
  try:
    import flax
    env["flax"] = flax.__version__
  except ImportError:
    pass
  images_all = data.from_spec(args.data, seed=args.seed)
  plist = proxies.parse(spec["proxies"])
  init, images, bs = spec.get("init", "pytorch"), spec.get("images", "cifar10"), spec.get("batch_size")
  augmented = spec.get("augmented", False)
  wanted = [int(i) for i in spaces.parse_archs(spaces.nb201, spec["archs"])]
  header = ["index", "arch"] + [p.name for p in plist]
  path = out / spec.get("csv", spec["name"] + ".csv")
  done = {}
  if path.exists():
    try:  # the valid rows of an earlier attempt with the same columns (others: a fresh file)
      done = population.read_rows(path, header).rows
    except ValueError:
      done = {}
  done = {i: done[i] for i in wanted if i in done}
  population.write_rows(path, header, [done[i] for i in wanted if i in done])
  sizes = {p.name: (bs or p.batch_size or 1) for p in plist}
  meta = {"jaxnas": "0.1.0", "space": "nb201", "archs": spec["archs"], "proxies": [p.name for p in plist],
          "data": "N(0, 1) batch from key(seed)" if images == "normal" else images_all.source,
          "synthetic": images == "normal", "seed": args.seed, "batch_sizes": sizes, "init": init,
          "draws": 1, "augmented": augmented, "device": env["device_kind"], "precision": args.precision}
  population.write_meta(population.meta_path(path), meta)
  if images == "normal":
    batch = data.synthetic_batch(jax.random.key(args.seed), bs or 64)
    batches = {p.name: batch for p in plist}
  else:
    batches = {p.name: data.select(images_all, sizes[p.name], args.seed, augmented=augmented) for p in plist}
  todo = np.asarray([i for i in wanted if i not in done], np.int64)
  peer = out / spec["peer"] if spec.get("peer") else None
  if spec.get("reverse"):
    todo = todo[::-1].copy()
  if peer is not None and peer.exists():
    todo = np.asarray([i for i in todo if i not in _indices(peer)], np.int64)
  rec = {"env": env, "cells_wanted": len(wanted), "cells_before": len(done), "budget_s": args.budget_s}
  if not len(todo):
    record.write_text(json.dumps({**rec, "status": "complete (nothing to do)"}))
    return 0
  enc = spaces.nb201.encoding_of(todo)
  stamps: list = []
  t0 = last_look = time.perf_counter()
  met = []

  def on_chunk(start, stop, scores):
    nonlocal last_look
    population.append_rows(path, [population.format_row(i, spaces.nb201.decode(e), row)
                                  for i, e, row in zip(todo[start:stop], enc[start:stop], scores)])
    now = time.perf_counter()
    stamps.append((now, stop))
    if stop < len(todo) and time.time() > args.until:
      raise _Deadline
    if peer is not None and peer.exists() and stop < len(todo) and now - last_look > 5.0:
      last_look = now
      if set(todo[stop:].tolist()) <= _indices(peer):
        met.append(stop)
        raise _Deadline

  timing: list = []
  status = "complete"
  try:
    with jax.enable_x64(True), jax.default_matmul_precision(args.precision):
      population.score_population(
          enc, plist, batches, jax.random.key(args.seed),
          network_kwargs={"num_classes": images_all.num_classes}, method=spec["method"], init=init,
          chunk_size=args.chunk_size if spec["method"] == "vmap" else None, on_chunk=on_chunk,
          timing=timing)
  except _Deadline:
    status = f"met its peer {spec['peer']}" if met else "cut by its time budget"
  except Exception as e:  # recorded, so that the parent goes on with the next stage
    status = f"failed: {type(e).__name__}: {e}"[:2000]
  if timing:
    t = timing[0]
    rate = dict(s_per_cell=t.run_s / max(t.num_archs, 1), compile_s=t.compile_s, lower_s=t.lower_s,
                chunk_size=t.chunk_size)
  elif len(stamps) >= 2:  # rate over the chunks after the first (which includes compilation)
    rate = dict(s_per_cell=(stamps[-1][0] - stamps[0][0]) / (stamps[-1][1] - stamps[0][1]),
                first_chunk_s=stamps[0][0] - t0, chunk_size=stamps[0][1])
  else:
    rate = {}
  record.write_text(json.dumps({**rec, "status": status, "cells_scored": stamps[-1][1] if stamps else 0,
                                "wall_s": round(time.perf_counter() - t0, 2), **rate}))
  return 0


def _fmt(v, digits=4):
  return "-" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


def write_gpu_md(timing: dict, path: Path) -> None:
  envs = [a["env"] for runs in timing["stages"].values() for a in runs if "env" in a]
  head = (f"{envs[0]['device_kind']}, JAX {envs[0]['jax']}, flax {envs[0].get('flax')}, precision "
          f"{envs[0]['precision']}") if envs else "no stage started"
  lines = [f"# GPU run: {head}", "",
           "| stage | proxies | method | cells before | cells scored | chunk | compile s | s/cell | status |",
           "|---|---|---|---|---|---|---|---|---|"]
  for name, runs in timing["stages"].items():
    for a in runs:
      lines.append(f"| {name} | {a.get('proxies', '')} | {a.get('method', '')} | "
                   f"{_fmt(a.get('cells_before'))} | {_fmt(a.get('cells_scored', a.get('rows_in_file')))} | "
                   f"{_fmt(a.get('chunk_size'))} | {_fmt(a.get('compile_s'), 1)} | {_fmt(a.get('s_per_cell'))} | "
                   f"{a.get('status')} |")
  path.write_text("\n".join(lines) + "\n")


def cmd_report(args) -> int:
  """GPU-vs-CPU agreement on the committed 1,000-cell scores, and the throughput table."""
  from scipy import stats

  src = Path(getattr(args, "from"))
  timing = json.loads((src / "gpu_timing.json").read_text())
  cpu: dict = {}  # (init, proxy) -> {index: score}
  for init, files in CPU_TABLES.items():
    for name in files:
      if (RESULTS / name).exists():
        header, rows = _read_csv(RESULTS / name)
        for j, n in enumerate(header[2:], start=2):
          cpu.setdefault((init, n), {i: float(r[j]) for i, r in rows.items()})
  inits = {s: a.get("init", "pytorch") for s, runs in timing["stages"].items() for a in runs}
  agree = []
  for path in sorted(src.glob("*.csv")):
    stage = path.stem if path.stem in timing["stages"] else f"all_{path.stem[4:]}"
    init = inits.get(stage, "pytorch")
    header, rows = _read_csv(path)
    for j, n in enumerate(header[2:], start=2):
      ref = cpu.get((init, n))
      idx = [i for i in rows if ref is not None and i in ref]
      if not idx:
        continue
      g = np.asarray([float(rows[i][j]) for i in idx])
      c = np.asarray([ref[i] for i in idx])
      fin = np.isfinite(g) & np.isfinite(c)
      rel = np.abs(g[fin] - c[fin]) / np.maximum(np.abs(c[fin]), 1e-300)
      agree.append((path.name, n, len(idx), int((np.isfinite(g) != np.isfinite(c)).sum()),
                    float(np.median(rel)), float(rel.max()), int((g[fin] == c[fin]).sum()),
                    float(stats.spearmanr(g[fin], c[fin])[0]) if fin.sum() > 2 else float("nan")))
  lines = [f"# NB201 on a GPU ({args.label})", "",
           f"Produced by `{args.command_note}` on the GPU machine, then `python benchmarks/gpu.py "
           "report --from DIR` here. Weights `fold_in(key(0), index)`, real CIFAR-10 training images, each "
           "proxy at its reference batch and init, float32 convolutions at precision `highest`.", "",
           "## Throughput (every attempt of every stage)", ""]
  lines += (src / "gpu.md").read_text().splitlines()[2:]
  lines += ["", "s/cell: run time per cell after compilation (`vmap`: chunks of `chunk` cells per call; "
            "`map`: one cell per call); for a stage cut by its budget, the rate of the chunks after the "
            "first. `cells before`: rows an earlier attempt had saved (the stage resumed).", "",
            "## GPU scores against the committed CPU scores of the same cells (1,000-cell sample)", "",
            "| file | proxy | cells | finite on one side only | median rel. diff. | max rel. diff. | "
            "identical | Spearman GPU vs CPU |", "|---|---|---|---|---|---|---|---|"]
  lines += [f"| {a} | {b} | {c} | {d} | {e:.1e} | {f:.1e} | {g} | {h:.6f} |" for a, b, c, d, e, f, g, h in agree]
  if args.notes:
    lines += ["", Path(args.notes).read_text().strip()]
  Path(args.out).write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


def cmd_merge(args) -> int:
  """Joins each group's two halves (``all_<group>.csv`` from the first cell, ``all_<group>_rev.csv``
  from the last) into ``TO/all_<group>.csv`` with the first half's meta file; cells both scored
  must agree (their largest relative difference is printed and kept in the meta file)."""
  src, dst = Path(getattr(args, "from")), Path(args.to)
  dst.mkdir(parents=True, exist_ok=True)
  from jaxnas import population

  for fwd in sorted(src.glob("all_*.csv")):
    if fwd.stem.endswith("_rev"):
      continue
    rev = fwd.with_name(fwd.stem + "_rev.csv")
    header, rows = _read_csv(fwd)
    meta = population.read_meta(population.meta_path(fwd))
    worst = 0.0
    if rev.exists():
      rheader, rrows = _read_csv(rev)
      if rheader != header:
        raise SystemExit(f"{rev}: columns {rheader} differ from {fwd}'s {header}")
      for i, r in rrows.items():
        if i in rows:
          a, b = np.asarray(rows[i][2:], float), np.asarray(r[2:], float)
          fin = np.isfinite(a) & np.isfinite(b)
          if (np.isfinite(a) != np.isfinite(b)).any():
            raise SystemExit(f"cell {i}: finite in one of {fwd.name}, {rev.name} only: {a} vs {b}")
          rel = np.abs(a[fin] - b[fin]) / np.maximum(np.abs(a[fin]), 1e-300)
          worst = max(worst, float(rel.max(initial=0.0)))
        else:
          rows[i] = r
      meta = {**meta, "merged_from": [fwd.name, rev.name], "overlap_max_rel_diff": worst,
              "methods": "first half and last half scored by two stages; see gpu_timing.json"}
    out = dst / fwd.name
    population.write_rows(out, header, [rows[i] for i in sorted(rows)])
    population.write_meta(population.meta_path(out), meta)
    print(f"{out}: {len(rows)} cells" + (f" (with {rev.name}; overlap max rel. diff. {worst:.1e})"
                                         if rev.exists() else ""))
  return 0


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  sub = ap.add_subparsers(dest="command", required=True)
  for name, fn, help_ in (("run", cmd_run, "measure and score on this machine's accelerator"),
                          ("stage", cmd_stage, "internal: one stage (run starts these)")):
    r = sub.add_parser(name, help=help_)
    r.add_argument("--data", default=f"npz:{SHARED / 'cifar10_5000.npz'}")
    r.add_argument("--out-dir", required=True)
    r.add_argument("--precision", default="highest", choices=("default", "high", "highest"))
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--chunk-size", type=int, default=None, help="vmap chunk (default: from free memory)")
    r.add_argument("--compile-cache", help="JAX's persistent compilation cache directory (a rerun on "
                   "the same machine loads its programs)")
    r.set_defaults(func=fn)
    if name == "stage":
      r.add_argument("--spec", required=True)
      r.add_argument("--budget-s", type=float, required=True)
      r.add_argument("--until", type=float, required=True, help="the parent's deadline (Unix time): "
                     "the budget counts from the parent's start of this child, imports included")
      continue
    r.add_argument("--tar", help="also keep DIR as this .tar.gz, rewritten after every stage")
    r.add_argument("--deadline-s", type=float, default=540.0)
    r.add_argument("--cap-nwot", type=float, default=150.0)
    r.add_argument("--cap-group", type=float, default=60.0, help="cap of each 1,000-cell classic stage")
    r.add_argument("--cap-map", type=float, default=50.0)
    r.add_argument("--grace-s", type=float, default=20.0, help="a stage is killed at cap + this")
    r.add_argument("--min-stage-s", type=float, default=20.0, help="no stage starts with less time")
    r.add_argument("--only", help="comma-separated stage names to run (default: all, in order)")
    r.add_argument("--whole-method", default="auto", choices=("auto", "map", "vmap"),
                   help="method of the whole-space groups (auto: the faster on the 1,000 cells, else vmap)")
    r.add_argument("--smoke", action="store_true", help="a few cells and cheap proxies (a CPU check)")
    r.add_argument("--whole-archs", default="all", help="cells of the whole-space stages (a check)")
    r.add_argument("--parallel", type=int, default=1, help="stages run at once, each in its own process "
                   "with 0.9 / this of the GPU's memory")
    r.add_argument("--rev-method", default="vmap", choices=("map", "vmap"),
                   help="method of the all_<group>_rev stages (the cells from the last, until they meet "
                   "all_<group>'s)")
  p = sub.add_parser("report", help="agreement with the committed CPU scores (needs no GPU)")
  p.add_argument("--from", required=True)
  p.add_argument("--label", default="NVIDIA H200")
  p.add_argument("--command-note", default="python benchmarks/gpu.py run --data npz:cifar10_5000.npz "
                 "--out-dir DIR --deadline-s 540")
  p.add_argument("--notes", help="a Markdown file appended to the report")
  p.add_argument("--out", default=str(RESULTS / "gpu_nb201.md"), help="the report (Markdown)")
  p.set_defaults(func=cmd_report)
  m = sub.add_parser("merge", help="join each group's all_<group>.csv and all_<group>_rev.csv")
  m.add_argument("--from", required=True)
  m.add_argument("--to", required=True)
  m.set_defaults(func=cmd_merge)
  args = ap.parse_args()
  return args.func(args)


if __name__ == "__main__":
  sys.exit(main())
