"""AZ-NAS, VKDNW and Zen on NB201 (proxies scored on standard-normal inputs) vs 200-epoch test accuracy.

Protocol of the reference (cvlab-yonsei/AZ-NAS @ d41d524, ``NB201/tss_general.ipynb`` and
``NB201/ZeroShotProxy/compute_az_nas_score.py``): xautodl's TinyNetwork (C=16, N=5, 10 classes),
``kaiming_normal_(mode='fan_in')`` weights, one batch of 64 standard-normal 32x32 images
(``torch.randn``; no real data), train-mode BatchNorm; complexity = the benchmark's FLOPs; the
assembled score is ``sum_k log(rank_k / P)`` over FLOPs, expressivity, progressivity and
trainability (:func:`jaxnas.evaluate.log_rank_aggregate`). Here: weights from
``fold_in(key(seed), index)``, one N(0, 1) batch for every cell (``jaxnas.data.synthetic_batch``),
components in float64.

Zen (ZenNAS ``compute_zen_score.py`` as AZ-NAS's NB201 copy runs it): the same network and N(0, 1)
batch of 64, weights re-initialised N(0, 1) (``init='normal'``), one repeat, perturbation drawn from
the member's key.

VKDNW (ondratybl/VKDNW, ``NB201/tss_general_.py`` @ beb332b as :func:`jaxnas.proxies.vkdnw`
documents it): the same network, Kaiming fan-in init and N(0, 1) batch of 64, eval-mode BN, the
entropy of the Fisher spectrum and the number of parameter tensors (``vkdnw_dim``); VKDNW_single
ranks by size, then entropy (:func:`jaxnas.evaluate.vkdnw_single`), VKDNW_agg adds the ranks of
FLOPs, AZ-NAS expressivity and trainability (the az_nas group's scores) and jacov
(:func:`jaxnas.evaluate.vkdnw_aggregate`). jacov as VKDNW's ``compute_jacov_score.py`` runs it:
jacob_cov with Kaiming fan-in init on 64 real CIFAR-10 images (``data.select(cifar10_5000, 64,
seed)``), train-mode BN.

Scores go to ``benchmarks/results/az_nas_nb201_scores.csv`` (and ``..._zen_scores.csv``,
``..._vkdnw_scores.csv``, ``..._jacov_scores.csv``) as they are computed; an interrupted run
resumes from them. Writes ``benchmarks/results/az_nas_nb201.{md,csv}`` and each group's timing
(``az_nas_nb201_timing.json``, from the run that scored it).

Run from the repository root:  python benchmarks/az_nas.py  [--archs random:1000:0]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
NAMES = ("az_expressivity", "az_progressivity", "az_trainability")
GROUPS = {  # name: (proxies, init, scores file, images: N(0, 1) or real CIFAR-10)
    "az_nas": (NAMES, "kaiming_normal", "az_nas_nb201_scores.csv", "normal"),
    "zen": (("zen",), "normal", "az_nas_nb201_zen_scores.csv", "normal"),
    "jacov": (("jacob_cov",), "kaiming_normal", "az_nas_nb201_jacov_scores.csv", "cifar10"),
    "vkdnw": (("vkdnw", "vkdnw_dim"), "kaiming_normal", "az_nas_nb201_vkdnw_scores.csv", "normal"),
}
# Published Spearman rho, C10 / C100 (proxies.md C1).
VKDNW = "VKDNW (CVPR 2025) Table 1: all 15,625 cells, validation accuracies"
PUBLISHED = {"az_nas (log-rank sum of the four)": f"0.892 / 0.880 ({VKDNW})",
             "zen": f"0.103 / 0.072 ({VKDNW}); 0.35 / 0.35 (NAS-Bench-Suite-Zero Fig. 2: 1,000 cells, "
                    "validation accuracy, NASLib's Zen)",
             "jacov (VKDNW's: Kaiming init, real images)": f"0.800 / 0.820 ({VKDNW}); 0.731 / 0.704 "
                 "(zero-cost-nas Table 1: the same definition, PyTorch default init, all cells)",
             "VKDNW_single (size, then entropy)": f"0.815 / 0.829 ({VKDNW})",
             "VKDNW_agg (+ FLOPs, expressivity, trainability, jacov)": f"0.919 / 0.919 ({VKDNW})"}


def score_group(names, init, out, sample, seed, chunk_size, images):
  """Scores `sample` with `names` into the CSV `out` (resuming it); returns ({index: scores}, timing)."""
  from jaxnas import data, population, proxies, spaces

  done: dict[int, list[float]] = {}
  if out.exists():
    with open(out, newline="") as fh:
      for row in csv.DictReader(fh):
        done[int(row["index"])] = [float(row[n]) for n in names]
  else:
    with open(out, "w", newline="") as fh:
      csv.writer(fh).writerow(["index", "arch", *names])
  todo = np.asarray([i for i in sample if int(i) not in done], np.int64)
  enc = spaces.nb201.encoding_of(todo)
  if images == "normal":
    batch = data.synthetic_batch(jax.random.key(seed), 64)
  else:
    batch = data.select(data.load_npz(SHARED / "cifar10_5000.npz"), 64, seed)

  def on_chunk(start, stop, scores):
    with open(out, "a", newline="") as fh:
      w = csv.writer(fh)
      for i, e, row in zip(todo[start:stop], enc[start:stop], np.asarray(scores)):
        w.writerow([int(i), spaces.nb201.decode(e), *[repr(float(v)) for v in row]])
        done[int(i)] = [float(v) for v in row]

  timing: list = []
  if len(todo):
    population.score_population(enc, [proxies.get(n) for n in names], batch, jax.random.key(seed),
                                init=init, chunk_size=chunk_size, progress=True, on_chunk=on_chunk,
                                timing=timing)
  return done, (timing[0], len(todo)) if timing else None


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--archs", default="random:1000:0")
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--chunk-size", type=int, default=None)
  args = ap.parse_args()
  table = SHARED / "nb201_cifar.csv"
  if not table.exists() or not (SHARED / "cifar10_5000.npz").exists():
    print(f"skipped: reference data not found under {SHARED} (see ../shared/data/README.md)")
    return 0
  jax.config.update("jax_enable_x64", True)  # this script is the application: float64 spectra
  from jaxnas import data, evaluate, spaces

  RESULTS.mkdir(parents=True, exist_ok=True)
  sample = np.asarray(spaces.parse_archs(spaces.nb201, args.archs), np.int64)
  results, timings = {}, {}
  for group, (names, init, fname, images) in GROUPS.items():
    results[group], timings[group] = score_group(names, init, RESULTS / fname, sample, args.seed,
                                                 args.chunk_size, images)

  truth = data.load_table(table)
  position = {int(i): k for k, i in enumerate(truth.index)}
  rows = np.asarray([position[int(i)] for i in sample])
  scores = np.asarray([results["az_nas"][int(i)] for i in sample])
  flops = np.asarray([spaces.nb201.flops(spaces.nb201.encoding_of(int(i))) for i in sample], np.float64)
  columns = {"flops (complexity)": flops, **{n: scores[:, j] for j, n in enumerate(NAMES)}}
  columns["az_nas (log-rank sum of the four)"] = evaluate.log_rank_aggregate(list(columns.values()))
  columns["three components, no FLOPs"] = evaluate.log_rank_aggregate([scores[:, j] for j in range(3)])
  columns["zen"] = np.asarray([results["zen"][int(i)][0] for i in sample])
  vk = np.asarray([results["vkdnw"][int(i)] for i in sample])
  jacov = np.asarray([results["jacov"][int(i)][0] for i in sample])
  columns["vkdnw (entropy)"] = vk[:, 0]
  columns["vkdnw_dim (number of parameter tensors)"] = vk[:, 1]
  columns["VKDNW_single (size, then entropy)"] = evaluate.vkdnw_single(vk[:, 1], vk[:, 0])
  columns["jacov (VKDNW's: Kaiming init, real images)"] = jacov
  columns["VKDNW_agg (+ FLOPs, expressivity, trainability, jacov)"] = evaluate.vkdnw_aggregate(
      vk[:, 1], vk[:, 0], flops, scores[:, 0], scores[:, 2], jacov)
  lines = [f"# AZ-NAS, VKDNW and Zen on NB201: {args.archs} cells, N(0, 1) inputs", "",
           "Produced by `python benchmarks/az_nas.py --archs " + args.archs + "` (repository root, "
           "`../shared` beside it). Protocol: see the script's docstring (the reference's: xautodl "
           "network, kaiming_normal fan-in init (Zen: N(0, 1) init), 64 standard-normal images, "
           "train-mode BN; VKDNW: eval-mode BN; jacov: 64 real CIFAR-10 images).", "",
           "Spearman rho / Kendall tau vs NB201 200-epoch test accuracy (`nb201_cifar.csv`); "
           "non-finite scores ranked worst.", "",
           "| score | rho C10 | tau C10 | rho C100 | tau C100 | non-finite | published rho C10 / C100 |",
           "|---|---|---|---|---|---|---|"]
  csv_rows = []
  for name, col in columns.items():
    c10 = evaluate.rank_correlation(col, truth.column("cifar10_test_acc")[rows])
    c100 = evaluate.rank_correlation(col, truth.column("cifar100_test_acc")[rows])
    pub = PUBLISHED.get(name)
    lines.append(f"| {name} | {c10.spearman:.3f} | {c10.kendall:.3f} | {c100.spearman:.3f} | "
                 f"{c100.kendall:.3f} | {c10.n_nonfinite} | "
                 f"{pub or '-'} |")
    csv_rows.append(dict(score=name, rho_c10=round(c10.spearman, 4), tau_c10=round(c10.kendall, 4),
                         rho_c100=round(c100.spearman, 4), tau_c100=round(c100.kendall, 4),
                         nonfinite=c10.n_nonfinite))
  lines += ["", "Here: the 200-epoch test accuracy on this sample (the published figures use other "
            "accuracy columns and samples, see the table).", ""]
  # Each group's timing is kept from the run that scored it (a resumed run times its part only).
  timing_path = RESULTS / "az_nas_nb201_timing.json"
  kept = json.loads(timing_path.read_text()) if timing_path.exists() else {}
  for group, t in timings.items():
    if t is not None:
      kept[group] = {"cells": t[1], "devices": t[0].num_devices, "compile_s": round(t[0].compile_s, 1),
                     "s_per_cell": round(t[0].run_s / max(t[1], 1), 3)}
  timing_path.write_text(json.dumps(kept, indent=1))
  for group, t in kept.items():
    lines += [f"Timing of {group} (its last scoring run: {t['cells']} cells, {t['devices']} CPU "
              f"device(s) of a 2-core machine, possibly shared with other work): compile "
              f"{t['compile_s']} s, {t['s_per_cell']} s per cell.", ""]
  with open(RESULTS / "az_nas_nb201.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(csv_rows[0]))
    w.writeheader()
    w.writerows(csv_rows)
  (RESULTS / "az_nas_nb201.md").write_text("\n".join(lines))
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
