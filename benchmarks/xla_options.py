"""XLA:CPU compiler options: jaxnas's CPU defaults against XLA's own, side by side in one process.

``jaxnas.population.compiler_options()`` keeps XLA's defaults on CPU except that convolutions are
not handed to YNNPACK (``xla_cpu_experimental_ynn_fusion_type`` = individual dots and reductions;
jaxlib 0.10's default also lists individual convolutions). This script measures what that choice
does, on the programs jaxnas compiles:

- population scoring (``score_population``, switch supernet, one architecture per call, as the CLI
  runs it) of the first ``--cells`` cells of ``random:200:0`` on 64 real CIFAR-10 training images,
  per proxy: compile time, median run time per architecture, and the largest relative difference of
  the scores between the two option sets (float32 rounding of different kernels);
- the empirical NTK models of ``benchmarks/ntk.py`` (trace_axes=(-1,), both implementations);
- one 3x3 convolution's forward pass and gradient (weights and input) at NB201's three stage shapes,
  float32 and float64, 1 to 64 images: where the choice pays and where it does not (hence
  ``compiler_options``' rule: float32 and 16 images or more).

The `jaxnas` side is what jaxnas compiles with by default: ``score_population``'s own choice
(``compiler_options=None``) and ``population.compiler_options(batch_size=N, dtype=...)`` elsewhere.

Run times alternate between the two option sets (``--repeats`` rounds after compilation), so the
machine's noise hits both alike. Writes ``benchmarks/results/xla_cpu_options.{md,csv}``.

Run from the repository root:  python benchmarks/xla_options.py [--cells 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import data, ntk, population, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
NPZ = ROOT.parent / "shared" / "data" / "cifar10_5000.npz"
RESULTS = ROOT / "benchmarks" / "results"
PROXIES = ("grad_norm", "jacob_cov", "snip", "nwot")
CONV_SHAPES = ((32, 16), (16, 32), (8, 64))  # NB201 stages: (height = width, channels)
CONV_BATCHES = (1, 4, 16, 64)
sys.path.insert(0, str(ROOT / "benchmarks"))
import ntk as ntk_bench  # noqa: E402  (the NTK benchmark's models)


def population_rows(enc, batch, names, repeats, configs):
  rows = []
  for name in names:
    p = [proxies.get(name)]
    compile_s, runs, scores = {}, {c: [] for c in configs}, {}
    for r in range(repeats + 1):
      for c, opts in configs.items():
        timing: list = []
        with jax.enable_x64(True):  # synflow's float64 and jacob_cov's eigenvalues, as the CLI runs them
          s = population.score_population(enc, p, batch, jax.random.key(0), chunk_size=1,
                                          timing=timing, compiler_options=opts)
        if r == 0:
          compile_s[c] = timing[0].lower_s + timing[0].compile_s
          scores[c] = np.asarray(s, np.float64)[:, 0]
        else:
          runs[c].extend(timing[0].chunk_run_s)
    a, b = (scores[c] for c in configs)
    rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-30)))
    rows.append(summary_row(f"population {name}", batch.x.shape[0] if p[0].batch_size else 1, compile_s,
                            {c: float(np.median(r)) for c, r in runs.items()}, rel, compile_digits=1))
  return rows


def summary_row(program, batch, compile_s, run_s, diff, compile_digits):
  """One table row: compile and median run seconds per option set, and the results' difference."""
  row = {"program": program, "batch": batch}
  for c in compile_s:
    row[f"{c} compile s"] = round(compile_s[c], compile_digits)
    row[f"{c} run s"] = round(run_s[c], 3)
  row["max rel. diff"] = f"{diff:.1e}"
  print(row, flush=True)
  return row


def alternate(exes, args, repeats):
  """Median run time per executable, timed alternately."""
  runs = {c: [] for c in exes}
  for c, exe in exes.items():
    jax.block_until_ready(exe(*args))
  for _ in range(repeats):
    for c, exe in exes.items():
      t0 = time.perf_counter()
      jax.block_until_ready(exe(*args))
      runs[c].append(time.perf_counter() - t0)
  return {c: float(np.median(r)) for c, r in runs.items()}


def conv_rows(repeats, ours):
  dn = ("NHWC", "HWIO", "NHWC")

  def conv(x, k):
    return jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=dn)

  grad = jax.grad(lambda k, x: (conv(x, k) ** 2).sum(), argnums=(0, 1))
  rows = []
  with jax.enable_x64(True):
    for dtype in (np.float32, np.float64):
      for h, c in CONV_SHAPES:
        for n in CONV_BATCHES:
          rng = np.random.default_rng(0)
          x = jnp.asarray(rng.standard_normal((n, h, h, c)), dtype)
          k = jnp.asarray(rng.standard_normal((3, 3, c, c)), dtype)
          chosen = population.compiler_options(batch_size=n, dtype=dtype)
          configs = {"XLA defaults": {}, "no YNNPACK conv": ours}
          fwd = alternate({n_: jax.jit(conv).lower(x, k).compile(compiler_options=o)
                           for n_, o in configs.items()}, (x, k), repeats)
          bwd = alternate({n_: jax.jit(grad).lower(k, x).compile(compiler_options=o)
                           for n_, o in configs.items()}, (k, x), repeats)
          row = {"program": f"conv3x3 {jnp.dtype(dtype).name} {n}x{h}x{h}x{c}",
                 "forward speed-up": f"{fwd['XLA defaults'] / fwd['no YNNPACK conv']:.2f}x",
                 "gradient speed-up": f"{bwd['XLA defaults'] / bwd['no YNNPACK conv']:.2f}x",
                 "jaxnas chooses": "no YNNPACK conv" if chosen else "XLA defaults"}
          rows.append(row)
          print(row, flush=True)
  return rows


def ntk_rows(repeats):
  rows = []
  for case in ntk_bench.CASES:
    f, params, x = ntk_bench.build(case)
    configs = {"XLA defaults": {}, "jaxnas": population.compiler_options(batch_size=x.shape[0])}
    for impl, impl_name in ntk_bench.IMPLEMENTATIONS.items():
      fn = jax.jit(lambda x, p: ntk.empirical_ntk_fn(f, trace_axes=(-1,), implementation=impl)(x, None, p))
      exe, compile_s, out = {}, {}, {}
      for c, opts in configs.items():
        t0 = time.perf_counter()
        exe[c] = fn.lower(x, params).compile(compiler_options=opts)
        compile_s[c] = time.perf_counter() - t0
        out[c] = np.asarray(jax.block_until_ready(exe[c](x, params)), np.float64)
      run_s = alternate(exe, (x, params), repeats)
      a, b = (out[c] for c in configs)
      rows.append(summary_row(f"NTK {case} {impl_name}", x.shape[0], compile_s, run_s,
                              np.linalg.norm(a - b) / np.linalg.norm(a), compile_digits=2))
  return rows


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--cells", type=int, default=3)
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--proxies", default=",".join(PROXIES))
  args = ap.parse_args()
  if jax.default_backend() != "cpu":
    print(f"skipped: these are XLA:CPU options and JAX's backend is {jax.default_backend()}")
    return 0
  ours = population.compiler_options()
  if not ours:
    print("skipped: this jaxlib has no YNNPACK fusion option, or XLA_FLAGS sets it; nothing to compare")
    return 0
  if not NPZ.exists():
    print(f"skipped: {NPZ} not found (see ../shared/data/README.md)")
    return 0
  configs = {"XLA defaults": {}, "jaxnas": None}  # None: score_population's own choice
  nb201 = spaces.nb201
  enc = nb201.encoding_of(np.asarray(spaces.parse_archs(nb201, "random:200:0"))[: args.cells])
  batch = data.select(data.load_npz(NPZ), 64, seed=0)
  names = [n for n in args.proxies.split(",") if n]
  rows = population_rows(enc, batch, names, args.repeats, configs) + ntk_rows(args.repeats * 2)
  for r in rows:
    r["speed-up"] = f"{r['XLA defaults run s'] / r['jaxnas run s']:.2f}x"
  convs = conv_rows(args.repeats * 3, ours)
  RESULTS.mkdir(parents=True, exist_ok=True)
  with open(RESULTS / "xla_cpu_options.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]) + list(convs[0]), restval="")
    w.writeheader()
    w.writerows(rows + convs)
  cols = list(rows[0])
  lines = ["# XLA:CPU compiler options: jaxnas's CPU defaults vs XLA's defaults", "",
           f"`python benchmarks/xla_options.py --cells {args.cells} --repeats {args.repeats} "
           f"--proxies {','.join(names)}` on this 2-core CPU, jax {jax.__version__}. `jaxnas` = what "
           "jaxnas compiles with by default: `score_population`'s own choice, and "
           "`population.compiler_options(batch_size=N)` for the NTK; for a float32 batch of 16 images "
           f"or more that is `{ours}` (no YNNPACK convolutions), else XLA's defaults. `XLA defaults` = "
           "`{}` (jaxlib 0.10 also hands convolutions to YNNPACK). `batch` = images per pass the rule "
           "sees (1 for synflow's all-ones image). Population rows: `score_population` (switch supernet, one "
           f"architecture per call) of the first {args.cells} cells of `random:200:0`, 64 real CIFAR-10 "
           "images; median run time per architecture over the repeats, run alternately; compile = "
           "tracing + XLA. NTK rows: `benchmarks/ntk.py`'s models, trace_axes=(-1,). `max rel. diff`: "
           "largest relative difference of the scores (population) or relative Frobenius difference "
           "of the kernels (NTK) between the two option sets.", "",
           "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
  lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
  lines += ["", "One convolution, forward pass and gradient (weights and input), XLA's defaults time / "
            f"time without YNNPACK convolutions (`{ours}`), medians of {args.repeats * 3} alternate "
            "runs; the last column is what `population.compiler_options(batch_size=N, dtype=...)` picks.",
            "", "| " + " | ".join(convs[0]) + " |", "|" + "---|" * len(convs[0])]
  lines += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in convs]
  lines.append("")
  (RESULTS / "xla_cpu_options.md").write_text("\n".join(lines))
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
