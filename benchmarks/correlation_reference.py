"""The reference code's own correlations on the correlation benchmark's cells and batches.

benchmarks/correlation.py compares jaxnas's rho on ``random:1000:0`` with published figures that
were measured on other samples, other accuracy columns and other images. This script removes those
differences for the seven proxies whose reference code runs here: it scores the same 1,000 cells
with zero-cost-nas's own PyTorch measures (grad_norm, snip, grasp, fisher, synflow, jacob_cov; on
zero-cost-nas's ``nasbench2`` model, PyTorch default init, train mode) and NASWOT as
BayesWatch/nas-without-training runs it (benchmarks/throughput_torch.py), on the very batches
jaxnas's benchmark used (``data.select(cifar10_5000, batch, seed=0)``: 64 images, NASWOT 128), and
correlates both sides with the same accuracy columns. A gap between jaxnas and a published figure
that the reference code shows as well on these cells is the sample's and the protocol's, not
jaxnas's.

  python benchmarks/correlation_reference.py --torch-python /tmp/torchenv/bin/python \\
      --zero-cost-nas /tmp/zcn

(/tmp/torchenv: ``python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0
numpy``; /tmp/zcn: a checkout of github.com/SamsungLabs/zero-cost-nas.) About an hour on a 2-core
CPU. The PyTorch side runs in chunks of ``--chunk`` cells, each saved under ``--workdir`` when it
finishes, so an interrupted run resumes where it stopped. jaxnas's scores are read from
correlation.py's committed per-group score files. Writes
benchmarks/results/correlation_nb201_reference.{md,csv} and the PyTorch scores
(``correlation_nb201_reference_scores.csv``).
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

from jaxnas import data, evaluate, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
ARCHS = "random:1000:0"
# proxy -> correlation.py's score group (its CSV holds jaxnas's scores of the same cells)
GROUP = {"grad_norm": "saliency", "snip": "saliency", "fisher": "saliency", "grasp": "grasp",
         "synflow": "classic", "nwot": "classic", "jacob_cov": "jacobian"}
PROXIES = tuple(GROUP)
COLUMNS = ("cifar10_test_acc", "cifar100_test_acc")


def jaxnas_scores(idx: np.ndarray) -> dict[str, np.ndarray]:
  out = {}
  for p, g in GROUP.items():
    path = RESULTS / f"correlation_nb201_{g}_scores.csv"
    if not path.exists():
      raise FileNotFoundError(f"{path} is missing: run `python benchmarks/correlation.py --groups {g}`.")
    rows = {int(r["index"]): float(r[p]) for r in csv.DictReader(open(path))}
    missing = [int(i) for i in idx if int(i) not in rows]
    if missing:
      raise ValueError(f"{path.name} lacks {len(missing)} of the {ARCHS} cells (e.g. {missing[:3]}); "
                       f"re-run `python benchmarks/correlation.py --groups {g}`.")
    out[p] = np.asarray([rows[int(i)] for i in idx])
  return out


def torch_scores(args, archs: list[str], idx: np.ndarray, images: dict[str, Path], workdir: Path):
  """Scores of zero-cost-nas's code (cells x proxies), chunk by chunk, resuming finished chunks."""
  env = dict(os.environ, PYTHONPATH=str(Path(args.zero_cost_nas).resolve()))
  values = {p: [] for p in PROXIES}
  starts = range(0, len(archs), args.chunk)
  t_start = time.perf_counter()
  for n, lo in enumerate(starts):
    hi = min(lo + args.chunk, len(archs))
    out = workdir / f"chunk_{lo:05d}_{hi:05d}.json"
    if not out.exists():
      config = workdir / f"chunk_{lo:05d}_{hi:05d}.config.json"
      # torch.manual_seed(cell index): a fixed, documented weight draw per cell.
      config.write_text(json.dumps({
          "archs": archs[lo:hi], "seeds": [int(i) for i in idx[lo:hi]],
          "images": {p: str(images[p]) for p in PROXIES}, "threads": os.cpu_count(),
          "proxies": list(PROXIES), "num_classes": 10}))
      tmp = out.with_suffix(".partial")
      subprocess.run([args.torch_python, str(Path(__file__).with_name("throughput_torch.py")),
                      str(config), str(tmp)], check=True, env=env, stderr=subprocess.DEVNULL)
      tmp.rename(out)
      print(f"chunk {n + 1}/{len(starts)} done ({hi} cells, {time.perf_counter() - t_start:.0f} s)",
            flush=True)
    got = json.loads(out.read_text())
    for p in PROXIES:
      values[p] += got["values"][p]
  return {p: np.asarray(v, np.float64) for p, v in values.items()}, got["torch"]


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--torch-python", required=True, help="a Python with torch==2.13.0")
  ap.add_argument("--zero-cost-nas", required=True, help="a checkout of SamsungLabs/zero-cost-nas")
  ap.add_argument("--chunk", type=int, default=50, help="cells per PyTorch process (default 50)")
  ap.add_argument("--workdir", default=str(Path.home() / ".cache" / "jaxnas" / "correlation_reference"),
                  help="where finished chunks are kept (resume)")
  ap.add_argument("--cells", type=int, default=1000,
                  help="score the first N cells of the sample (default: all 1,000)")
  ap.add_argument("--out", default=str(RESULTS / "correlation_nb201_reference"))
  args = ap.parse_args()
  if args.chunk < 1 or args.cells < 1:
    ap.error(f"--chunk and --cells must be positive integers, got {args.chunk} and {args.cells}")
  npz, table = SHARED / "cifar10_5000.npz", SHARED / "nb201_cifar.csv"
  for f in (npz, table):
    if not f.exists():
      print(f"skipped: {f} not found (see ../shared/data/README.md)")
      return 0
  nb201 = spaces.nb201
  idx = np.asarray(spaces.parse_archs(nb201, ARCHS))[: args.cells]
  archs = [nb201.decode(e) for e in nb201.encoding_of(idx)]
  ours = jaxnas_scores(idx)

  workdir = Path(args.workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  pool = data.load_npz(npz)
  images = {}
  for p in PROXIES:
    size = proxies.get(p).batch_size or 1  # as the CLI: shape-only proxies get one image
    images[p] = workdir / f"batch_{size}.npz"
    if not images[p].exists():
      batch = data.select(pool, size, seed=0)  # correlation.py's `--batch-size ref --seed 0` batch
      np.savez(images[p], x=np.asarray(batch.x, np.float32), y=np.asarray(batch.y, np.int64))
  ref, torch_version = torch_scores(args, archs, idx, images, workdir)

  truth = data.load_table(table)
  acc = {c: truth.lookup(idx, c) for c in COLUMNS}
  rows = []
  for p in PROXIES:
    up = proxies.get(p).higher_is_better
    row = {"proxy": p, "batch": int(proxies.get(p).batch_size or 1),
           "nonfinite_reference": int(np.sum(~np.isfinite(ref[p]))),
           "nonfinite_jaxnas": int(np.sum(~np.isfinite(ours[p])))}
    both = np.isfinite(ref[p]) & np.isfinite(ours[p])
    row["rho_reference_jaxnas"] = evaluate.rank_correlation(ref[p][both], ours[p][both]).spearman
    for c in COLUMNS:
      for side, s in (("reference", ref[p]), ("jaxnas", ours[p])):
        r = evaluate.rank_correlation(s, acc[c], higher_is_better=up)
        row[f"rho_{c}_{side}"], row[f"tau_{c}_{side}"] = r.spearman, r.kendall
    rows.append(row)

  out = Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  with open(out.with_suffix(".csv"), "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
  with open(out.parent / f"{out.name}_scores.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["index", "arch"] + list(PROXIES))
    for i, (ix, arch) in enumerate(zip(idx, archs)):
      w.writerow([int(ix), arch] + [repr(float(ref[p][i])) for p in PROXIES])
  cmd = " ".join(["python benchmarks/correlation_reference.py"] + sys.argv[1:])
  lines = [
      f"# Reference code on the correlation benchmark's cells: {len(idx)} of {ARCHS}, real CIFAR-10", "",
      f"Command: `{cmd}` (torch {torch_version}, CPU).", "",
      "Reference: zero-cost-nas's `calc_measure` on its `nasbench2` model (PyTorch default init, "
      "`torch.manual_seed(NB201 index)`, train mode; C10 head) for grad_norm, snip, grasp, fisher, "
      "synflow, jacob_cov; NASWOT as BayesWatch/nas-without-training's scoring loop runs it, on the "
      "same model. jaxnas: `correlation_nb201.md`'s scores of the same cells (xautodl network, its "
      "own weight draws). Both sides see the same images: `data.select(cifar10_5000, batch, "
      "seed=0)`. Spearman rho / Kendall tau against NB201's 200-epoch test accuracy "
      "(`nb201_cifar.csv`), non-finite scores ranked worst, each proxy oriented as its registry "
      "entry says (higher or lower is better).", "",
      "| proxy | batch | rho C10 reference | rho C10 jaxnas | rho C100 reference | rho C100 jaxnas "
      "| tau C10 reference / jaxnas | rho(reference, jaxnas) per cell | non-finite reference / jaxnas |",
      "|---|---|---|---|---|---|---|---|---|",
  ]
  for r in rows:
    lines.append(
        f"| {r['proxy']} | {r['batch']} | {r['rho_cifar10_test_acc_reference']:.3f} | "
        f"{r['rho_cifar10_test_acc_jaxnas']:.3f} | {r['rho_cifar100_test_acc_reference']:.3f} | "
        f"{r['rho_cifar100_test_acc_jaxnas']:.3f} | {r['tau_cifar10_test_acc_reference']:.3f} / "
        f"{r['tau_cifar10_test_acc_jaxnas']:.3f} | {r['rho_reference_jaxnas']:.3f} | "
        f"{r['nonfinite_reference']} / {r['nonfinite_jaxnas']} |")
  lines += [
      "",
      "The two sides use different networks (zero-cost-nas's cell BatchNorms have no affine "
      "parameters; jaxnas builds xautodl's TinyNetwork, the network NB201 trained) and independent "
      "weight draws, so per-cell scores agree in rank, not in value; equality for identical weights "
      "and batch is measured separately (README, 'Networks and proxies').",
  ]
  out.with_suffix(".md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
