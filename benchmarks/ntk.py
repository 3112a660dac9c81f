"""Empirical NTK speed: jaxnas against neural-tangents 0.6.5, each in its own environment, one run.

neural-tangents only imports on old JAX, so it runs in the pinned side environment that
``tests/ntk/test_nt_oracle.py`` builds (``$JAXNAS_CACHE/nt-oracle-venv``, default
``~/.cache/jaxnas``). This script times jaxnas in the current environment, then starts the side
environment's Python on this same file (``--engine nt``) for the same models, sizes, parameters and
inputs, and there also runs jaxnas's NTK module on the old JAX (``--engine jaxnas_old_jax``: same code,
older XLA:CPU), and times jaxnas once more compiled with ``jaxnas.population.compiler_options()``
(``--engine jaxnas_cpu_options``: XLA:CPU without YNNPACK convolutions, see
``benchmarks/xla_options.py``), and, for NTK-vector products, with those options and the whole
output basis in one ``vmap`` as neural-tangents maps it (``--engine jaxnas_one_vmap``; jaxnas maps
it in blocks on CPU, ``jaxnas.ntk._empirical._basis_blocks``), alternating the engines per case
so machine noise hits all alike. Per case: compile time apart, then the median of ``--repeats``
runs of the jitted kernel function (x2 = None, float32, ``trace_axes=(-1,)``). Writes ``benchmarks/results/ntk_speed.{md,csv}``.

Run from the repository root:  python benchmarks/ntk.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VENV_PYTHON = Path(os.environ.get("JAXNAS_CACHE", Path.home() / ".cache" / "jaxnas")) / \
    "nt-oracle-venv" / "bin" / "python"

CASES = {  # name -> (batch N, description)
    "mlp": (64, "MLP 256-512-512-10, tanh"),
    "cnn": (32, "CNN 16x16x3: conv3x3 32, relu, avgpool 2, conv3x3 32, relu, dense 10"),
}
IMPLEMENTATIONS = {1: "JACOBIAN_CONTRACTION", 2: "NTK_VECTOR_PRODUCTS"}


def build(name):
  import jax
  import jax.numpy as jnp

  rng = np.random.RandomState(0)
  normal = lambda *s: jnp.asarray(rng.normal(size=s) / np.sqrt(np.prod(s[:-1])), jnp.float32)
  n = CASES[name][0]
  if name == "mlp":
    params = {"w1": normal(256, 512), "w2": normal(512, 512), "w3": normal(512, 10)}

    def f(p, x):
      return jnp.tanh(jnp.tanh(x @ p["w1"]) @ p["w2"]) @ p["w3"]

    x = jnp.asarray(rng.normal(size=(n, 256)), jnp.float32)
  else:
    params = {"c1": normal(3, 3, 3, 32), "c2": normal(3, 3, 32, 32), "w": normal(8 * 8 * 32, 10)}
    dn = ("NHWC", "HWIO", "NHWC")

    def f(p, x):
      h = jax.nn.relu(jax.lax.conv_general_dilated(x, p["c1"], (1, 1), "SAME", dimension_numbers=dn))
      h = jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4
      h = jax.nn.relu(jax.lax.conv_general_dilated(h, p["c2"], (1, 1), "SAME", dimension_numbers=dn))
      return h.reshape(h.shape[0], -1) @ p["w"]

    x = jnp.asarray(rng.normal(size=(n, 16, 16, 3)), jnp.float32)
  return f, params, x


def time_case(engine, name, impl, repeats):
  """{'compile_s', 'run_s' (median), 'checksum'} for one engine, model and implementation."""
  import jax

  if engine == "nt":
    import neural_tangents as lib
  elif engine == "jaxnas_old_jax":  # jaxnas's NTK module (it imports only jax and numpy) on JAX 0.5.3
    import importlib.util

    spec = importlib.util.spec_from_file_location("_empirical", ROOT / "jaxnas" / "ntk" / "_empirical.py")
    lib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lib)
  else:
    from jaxnas import ntk as lib
  f, params, x = build(name)
  options = {}
  if engine in ("jaxnas_cpu_options", "jaxnas_one_vmap"):
    from jaxnas import population

    options = population.compiler_options(batch_size=x.shape[0])
  if engine == "jaxnas_one_vmap":
    from jaxnas.ntk import _empirical

    _empirical.VP_BLOCK = 1 << 30
  fn = jax.jit(lambda x, p: lib.empirical_ntk_fn(f, trace_axes=(-1,), implementation=impl)(x, None, p))
  t0 = time.perf_counter()
  exe = fn.lower(x, params).compile(compiler_options=options)
  compile_s = time.perf_counter() - t0
  runs = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    k = jax.block_until_ready(exe(x, params))
    runs.append(time.perf_counter() - t0)
  return {"compile_s": compile_s, "run_s": float(np.median(runs)),
          "checksum": float(np.asarray(k, np.float64).sum()), "jax": jax.__version__}


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--repeats", type=int, default=5)
  ap.add_argument("--engine", default=None,
                  choices=("jaxnas", "jaxnas_cpu_options", "nt", "jaxnas_old_jax", "jaxnas_one_vmap"),
                  help="internal: time one engine for --case/--impl and print JSON")
  ap.add_argument("--case")
  ap.add_argument("--impl", type=int)
  args = ap.parse_args()
  if args.engine:
    print(json.dumps(time_case(args.engine, args.case, args.impl, args.repeats)))
    return 0
  if not VENV_PYTHON.exists():
    print(f"skipped: side environment {VENV_PYTHON} not found; run the test "
          "tests/ntk/test_nt_oracle.py once to build it")
    return 0
  rows = []
  for name in CASES:
    for impl, impl_name in IMPLEMENTATIONS.items():
      res = {}
      engines = [("nt", str(VENV_PYTHON)), ("jaxnas", sys.executable),
                 ("jaxnas_cpu_options", sys.executable), ("jaxnas_old_jax", str(VENV_PYTHON))]
      if impl_name == "NTK_VECTOR_PRODUCTS":
        engines.append(("jaxnas_one_vmap", sys.executable))
      for engine, python in engines:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
        out = subprocess.run([python, __file__, "--engine", engine, "--case", name, "--impl",
                              str(impl), "--repeats", str(args.repeats)],
                             check=True, capture_output=True, text=True, env=env, cwd=str(ROOT))
        res[engine] = json.loads(out.stdout.strip().splitlines()[-1])
      agree = all(abs(res["nt"]["checksum"] - res[e]["checksum"]) <= 1e-4 * abs(res["nt"]["checksum"])
                  for e in res if e != "nt")
      rows.append(dict(model=name, n=CASES[name][0], implementation=impl_name,
                       nt_run_s=round(res["nt"]["run_s"], 4),
                       jaxnas_run_s=round(res["jaxnas"]["run_s"], 4),
                       speedup=round(res["nt"]["run_s"] / res["jaxnas"]["run_s"], 2),
                       jaxnas_cpu_options_run_s=round(res["jaxnas_cpu_options"]["run_s"], 4),
                       speedup_cpu_options=round(res["nt"]["run_s"] / res["jaxnas_cpu_options"]["run_s"], 2),
                       jaxnas_old_jax_run_s=round(res["jaxnas_old_jax"]["run_s"], 4),
                       jaxnas_one_vmap_run_s=(round(res["jaxnas_one_vmap"]["run_s"], 4)
                                              if "jaxnas_one_vmap" in res else None),
                       nt_compile_s=round(res["nt"]["compile_s"], 2),
                       jaxnas_compile_s=round(res["jaxnas"]["compile_s"], 2),
                       kernels_agree=agree, nt_jax=res["nt"]["jax"], jaxnas_jax=res["jaxnas"]["jax"]))
      print(rows[-1], flush=True)
  RESULTS.mkdir(parents=True, exist_ok=True)
  with open(RESULTS / "ntk_speed.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
  lines = ["# Empirical NTK: jaxnas vs neural-tangents 0.6.5 (2-core CPU, float32, x2 = None)", "",
           f"`python benchmarks/ntk.py --repeats {args.repeats}`: each engine in its own process "
           f"and environment (neural-tangents on JAX {rows[0]['nt_jax']}, jaxnas on JAX "
           f"{rows[0]['jaxnas_jax']}), alternating per case; median run time of the jitted kernel "
           "function, compilation apart. Speed-up = neural-tangents time / jaxnas time. The column "
           "'jaxnas on JAX 0.5.3' runs jaxnas's NTK module (`jaxnas/ntk/_empirical.py`, which "
           "imports only jax and numpy) in neural-tangents' environment: the same code on the older "
           "XLA:CPU. 'jaxnas, CPU options' compiles jaxnas's kernel function with "
           "`jaxnas.population.compiler_options(batch_size=N)` (XLA:CPU without YNNPACK convolutions), "
           "as jaxnas's population programs are compiled. 'one vmap' (NTK-vector products): the same "
           "with the whole output basis in one `vmap`, as neural-tangents maps it, where jaxnas maps it "
           "in blocks on CPU (`_basis_blocks` in `jaxnas/ntk/_empirical.py`).", "",
           "| model | N | implementation | neural-tangents s | jaxnas s | speed-up | jaxnas, CPU options s | speed-up, CPU options | jaxnas on JAX 0.5.3 s | CPU options, one vmap s | compile nt / jaxnas (s) | kernels agree (1e-4) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {CASES[r['model']][1]} | {r['n']} | {r['implementation']} | {r['nt_run_s']} | "
                 f"{r['jaxnas_run_s']} | {r['speedup']}x | {r['jaxnas_cpu_options_run_s']} | "
                 f"{r['speedup_cpu_options']}x | {r['jaxnas_old_jax_run_s']} | "
                 f"{'–' if r['jaxnas_one_vmap_run_s'] is None else r['jaxnas_one_vmap_run_s']} | "
                 f"{r['nt_compile_s']} / "
                 f"{r['jaxnas_compile_s']} | {'yes' if r['kernels_agree'] else 'NO'} |")
  lines.append("")
  (RESULTS / "ntk_speed.md").write_text("\n".join(lines))
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
