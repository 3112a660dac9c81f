"""Throughput: jaxnas population scoring against zero-cost-nas's PyTorch code, side by side.

A fixed NB201 sample (``random:200:0``, the foundation benchmark's cells), one batch of 64 real
CIFAR-10 training images (``data.select(images, 64, seed=0)``, the same array on both sides), and
the seven classic proxies (synflow, jacob_cov, snip, grad_norm, fisher, nwot, grasp). For each
proxy alone and for the seven together, jaxnas's compile time (trace + XLA) is reported apart from
its median and mean run time per architecture (``score_population``, one architecture
per call so each is timed). The PyTorch side runs zero-cost-nas's measures (and NASWOT as
nas-without-training runs it) per architecture with torch's threads set to the machine's cores
(benchmarks/throughput_torch.py, in its own interpreter). Achieved GFLOP/s uses model FLOPs
(2 x xautodl's multiply-adds per image x batch x forward-pass equivalents of the definition:
forward 1, a backward pass 2) against a float32 matmul measured in the same run.

  python benchmarks/throughput.py --torch-python /tmp/torchenv/bin/python --zero-cost-nas /tmp/zcn

The jaxnas side runs with glibc's default allocator settings, as the CLI does; ``--host-memory
reuse`` measures ``population.reuse_host_memory`` (the CLI's ``--host-memory reuse``).

(/tmp/torchenv: ``python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0
numpy``; /tmp/zcn: a checkout of github.com/SamsungLabs/zero-cost-nas.) Without --torch-python
only the jaxnas side runs. Writes benchmarks/results/throughput_nb201.{md,csv} and, with the
PyTorch side, both sides' per-cell scores (``throughput_nb201_scores.csv``) with their rank
agreement and each side's rho against NB201's CIFAR-10 test accuracy.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import data, evaluate, population, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
PROXIES = ("synflow", "jacob_cov", "snip", "grad_norm", "fisher", "nwot", "grasp")
# Forward-pass equivalents of each definition (forward 1, backward 2) and the images it runs on.
PASSES = {"synflow": (3, 1), "jacob_cov": (3, 64), "snip": (3, 64), "grad_norm": (3, 64),
          "fisher": (3, 64), "nwot": (1, 64), "grasp": (8, 64)}
# Issue 7's figures for zero-cost-nas on this machine (torch 2.13 CPU, 2 threads, median s/arch).
ISSUE_TORCH = {"synflow": 0.28, "jacob_cov": 0.68, "snip": 0.69, "grad_norm": 0.70, "fisher": 0.79,
               "nwot": 0.88, "grasp": 1.92}


def matmul_peak_gflops(n: int = 2048, repeats: int = 10) -> float:
  a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), jnp.float32)
  f = jax.jit(lambda a: a @ a)
  f(a).block_until_ready()
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    f(a).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2 * n ** 3 / best / 1e9


def jaxnas_side(enc, batch, names):
  """(compile s, per-architecture run times, scores (cells, names)) of scoring `names` together."""
  timing: list = []
  with jax.enable_x64(True):  # synflow's float64, as the CLI runs it
    scores = population.score_population(enc, [proxies.get(n) for n in names], batch,
                                         jax.random.key(0), chunk_size=1, timing=timing)
  t = timing[0]
  return t.lower_s + t.compile_s, np.asarray(t.chunk_run_s), np.asarray(scores, np.float64)


def agreement_rows(chosen, jaxnas_values, torch_values, idx):
  """Per proxy: Spearman rho between the two sides' per-cell scores, and each side's rho against
  NB201's CIFAR-10 test accuracy (when ../shared/data/nb201_cifar.csv is there)."""
  table = SHARED / "nb201_cifar.csv"
  truth = data.load_table(table).lookup(idx, "cifar10_test_acc") if table.exists() else None
  rows = []
  for p in chosen:
    a, b = np.asarray(jaxnas_values[p], np.float64), np.asarray(torch_values[p], np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    up = proxies.get(p).higher_is_better
    row = {"proxy": p, "finite_both": int(both.sum()),
           "rho_jaxnas_torch": evaluate.rank_correlation(a[both], b[both]).spearman}
    if truth is not None:
      row["rho_c10_jaxnas"] = evaluate.rank_correlation(a, truth, higher_is_better=up).spearman
      row["rho_c10_torch"] = evaluate.rank_correlation(b, truth, higher_is_better=up).spearman
    rows.append(row)
  return rows


def torch_side(args, archs, batch, workdir: Path, chosen):
  images = workdir / "batch.npz"
  np.savez(images, x=np.asarray(batch.x, np.float32), y=np.asarray(batch.y, np.int64))
  config = workdir / "config.json"
  config.write_text(json.dumps({"archs": archs, "images": str(images), "threads": os.cpu_count(),
                                "proxies": list(chosen), "num_classes": 10}))
  out = workdir / "torch.json"
  env = dict(os.environ, PYTHONPATH=str(Path(args.zero_cost_nas).resolve()))
  subprocess.run([args.torch_python, str(Path(__file__).with_name("throughput_torch.py")),
                  str(config), str(out)], check=True, env=env)
  return json.loads(out.read_text())


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--cells", type=int, default=200,
                  help="score the first N cells of random:200:0 (default: all 200)")
  ap.add_argument("--torch-python", help="a Python with torch==2.13.0 for the PyTorch side")
  ap.add_argument("--zero-cost-nas", help="a checkout of SamsungLabs/zero-cost-nas")
  ap.add_argument("--proxies", default=",".join(PROXIES),
                  help="comma-separated subset of the seven (default: all)")
  ap.add_argument("--no-suite", action="store_true", help="skip scoring the proxies together")
  ap.add_argument("--out", default=str(RESULTS / "throughput_nb201"))
  ap.add_argument("--host-memory", default="release", choices=("release", "reuse"),
                  help="jaxnas side: 'release' (the CLI's default) keeps glibc's defaults; 'reuse' "
                       "calls population.reuse_host_memory() before JAX starts (`--host-memory reuse`)")
  args = ap.parse_args()
  if args.host_memory == "reuse":
    population.reuse_host_memory()
  npz = SHARED / "cifar10_5000.npz"
  if not npz.exists():
    print(f"skipped: {npz} not found (see ../shared/data/README.md)")
    return 0
  if bool(args.torch_python) != bool(args.zero_cost_nas):
    ap.error("--torch-python and --zero-cost-nas go together")
  chosen = tuple(p for p in args.proxies.split(",") if p)
  if not chosen or any(p not in PROXIES for p in chosen):
    ap.error(f"--proxies must name some of {', '.join(PROXIES)}; got {args.proxies!r}")
  nb201 = spaces.nb201
  idx = np.asarray(spaces.parse_archs(nb201, "random:200:0"))[: args.cells]
  enc = nb201.encoding_of(idx)
  archs = [nb201.decode(e) for e in enc]
  batch = data.select(data.load_npz(npz), 64, seed=0)
  macs = np.asarray([nb201.flops(e) for e in enc], np.float64)  # xautodl multiply-adds per image

  peak = matmul_peak_gflops()
  print(f"float32 matmul peak: {peak:.1f} GFLOP/s; {len(idx)} cells; jax {jax.__version__}")
  rows, jaxnas_values = [], {}
  for name in chosen + (() if args.no_suite else ("suite",)):
    names = chosen if name == "suite" else (name,)
    compile_s, times, scores = jaxnas_side(enc, batch, names)
    if name != "suite":
      jaxnas_values[name] = scores[:, 0]
    rows.append({"proxy": name, "jaxnas_compile_s": compile_s, "jaxnas_median_s": float(np.median(times)),
                 "jaxnas_mean_s": float(np.mean(times))})
    print(f"jaxnas {name:<10} compile {compile_s:7.1f} s  median {rows[-1]['jaxnas_median_s']:.3f} s/arch",
          flush=True)
  torch = None
  if args.torch_python:
    with tempfile.TemporaryDirectory() as tmp:
      torch = torch_side(args, archs, batch, Path(tmp), chosen)
    per_arch = np.asarray([torch["times"][p] for p in chosen])  # (proxies, cells)
  for r in rows:
    name = r["proxy"]
    passes, images = (sum(PASSES[p][0] * PASSES[p][1] for p in chosen), 1) if name == "suite" \
        else PASSES[name]
    model_gflop = 2 * macs * images * passes / 1e9  # per cell
    r["model_gflop_per_arch"] = float(np.mean(model_gflop))
    r["jaxnas_gflops"] = float(np.sum(model_gflop) / (r["jaxnas_mean_s"] * len(idx)))
    if torch is not None:
      t = per_arch.sum(0) if name == "suite" else per_arch[chosen.index(name)]
      r["torch_median_s"] = float(np.median(t))
      r["torch_mean_s"] = float(np.mean(t))
      r["torch_gflops"] = float(np.sum(model_gflop) / np.sum(t))
      r["speedup_median"] = r["torch_median_s"] / r["jaxnas_median_s"]
    r["issue_torch_median_s"] = (sum(ISSUE_TORCH[p] for p in chosen) if name == "suite"
                                 else ISSUE_TORCH[name])

  out = Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  with open(out.with_suffix(".csv"), "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
  cmd = " ".join(["python benchmarks/throughput.py"] + sys.argv[1:])
  lines = [
      f"# Throughput: jaxnas vs zero-cost-nas (PyTorch), NB201, {len(idx)} cells of random:200:0", "",
      f"Command: `{cmd}`", "",
      f"Machine: {os.cpu_count()}-core CPU, jax {jax.__version__}"
      + (f", torch {torch['torch']} ({torch['threads']} threads)" if torch else "")
      + f"; batch 64 real CIFAR-10 training images (same array on both sides); float32 matmul peak "
        f"{peak:.1f} GFLOP/s (2048x2048, best of 10).", "",
      "jaxnas: `population.score_population` (switch supernet, one architecture per call, run "
      "without a loop, 64-bit JAX enabled as in the CLI: synflow in float64; its default XLA options: "
      "no YNNPACK convolutions for the batch of 64, XLA's defaults for synflow's one image). `suite` = the seven scored together "
      "(shared passes); for PyTorch it is the sum of the seven, as find_measures runs them. "
      f"Host memory: {args.host_memory} (`population.reuse_host_memory()`"
      + (" called before JAX started, as `jaxnas score --host-memory reuse` does" if args.host_memory == "reuse"
         else " not called, the CLI's default")
      + f"); jaxnas process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20:.1f} GiB. "
      "Proxies in this run: " + ", ".join(chosen) + ".", "",
      "| proxy | jaxnas compile s | jaxnas median s/arch | PyTorch median s/arch | speed-up (median) "
      "| jaxnas GFLOP/s | PyTorch GFLOP/s | issue's PyTorch figure |",
      "|---|---|---|---|---|---|---|---|",
  ]
  for r in rows:
    tm = f"{r['torch_median_s']:.3f}" if torch else "not run"
    sp = f"{r['speedup_median']:.2f}x" if torch else "-"
    tg = f"{r['torch_gflops']:.1f}" if torch else "-"
    lines.append(f"| {r['proxy']} | {r['jaxnas_compile_s']:.1f} | {r['jaxnas_median_s']:.3f} | {tm} | "
                 f"{sp} | {r['jaxnas_gflops']:.1f} | {tg} | {r['issue_torch_median_s']:.2f} |")
  if torch is not None:
    with open(out.parent / f"{out.name}_scores.csv", "w", newline="") as fh:
      w = csv.writer(fh)
      w.writerow(["index", "arch"] + [f"{side}_{p}" for side in ("jaxnas", "torch") for p in chosen])
      for i, (ix, arch) in enumerate(zip(idx, archs)):
        w.writerow([int(ix), arch] + [repr(float(jaxnas_values[p][i])) for p in chosen]
                   + [repr(float(torch["values"][p][i])) for p in chosen])
    agree = agreement_rows(chosen, jaxnas_values, torch["values"], idx)
    lines += [
        "", "## The two sides' scores",
        "",
        f"Per-cell scores of both sides: `{out.name}_scores.csv`. The networks are not the same: "
        "the PyTorch side builds zero-cost-nas's own NB201 model (`foresight.models.nasbench2`, whose "
        "cell BatchNorms have no affine parameters), jaxnas xautodl's TinyNetwork (the network NB201 "
        "trained), and the weights are drawn independently (jaxnas from its key, PyTorch from "
        "`torch.manual_seed(cell)`), so per-cell scores differ by model and initialisation "
        "(synflow's magnitudes most); equality for identical weights and batch was measured "
        "separately (README, 'Networks and proxies': relative agreement to 1e-7 or better for "
        "these seven). Spearman rho of the two sides' scores over the cells, and each side's rho "
        "against NB201's CIFAR-10 test accuracy on the same cells:", "",
        "| proxy | cells finite on both | rho(jaxnas, PyTorch) | rho C10 jaxnas | rho C10 PyTorch |",
        "|---|---|---|---|---|",
    ]
    for a in agree:
      c10 = (f"{a['rho_c10_jaxnas']:.3f} | {a['rho_c10_torch']:.3f}" if "rho_c10_jaxnas" in a
             else "- | -")
      lines.append(f"| {a['proxy']} | {a['finite_both']} | {a['rho_jaxnas_torch']:.3f} | {c10} |")
  lines += [
      "",
      "Model FLOPs per architecture: 2 x xautodl multiply-adds per image x images x forward-pass "
      "equivalents (nwot 1; grad_norm, snip, fisher, jacob_cov 3; synflow 3 on one image; grasp 8: "
      "gradient, then a Hessian-vector product through a second forward and double backward). "
      "The same count is used for both sides, so the GFLOP/s columns compare like with like; the "
      "`suite` row counts the seven definitions' work, which jaxnas partly shares.",
      "NASWOT on the PyTorch side is timed as nas-without-training's scoring loop runs it (a batch "
      "Jacobian forward + backward, then the hooked forward pass); jaxnas computes the definition "
      "(one forward pass).",
  ]
  out.with_suffix(".md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
