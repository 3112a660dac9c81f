"""Correlation benchmark: every registered proxy on 1,000 NB201 cells, real CIFAR-10 images.

The acceptance figure of the proxy library. It runs the user-facing commands, one `jaxnas score` per
group of proxies that share passes (so a group can be re-run alone, and an interrupted run resumes
where it stopped), then `jaxnas correlate` against CIFAR-10 and CIFAR-100 test accuracy:

  jaxnas score --space nb201 --archs random:1000:0 --proxies <group> \
      --data npz:../shared/data/cifar10_5000.npz --batch-size ref --seed 0 --out <group csv>
  jaxnas correlate --scores <group csv> --truth ../shared/data/nb201_cifar.csv --column <acc>

Sample: ``random:1000:0`` = ``np.random.default_rng(0).choice(15625, 1000, replace=False)`` official
indices. Batches: each proxy's reference batch size (--batch-size ref) of real CIFAR-10 training
images with their labels, seed 0 (for RBFleX and TE-NAS cropped and flipped, `--augment`, as their
references' training loaders do). Weights: PyTorch default init, key fold_in(seed, index), so every
group sees the same weights. Writes ``benchmarks/results/correlation_nb201.{md,csv,png}``.

Run from the repository root:  python benchmarks/correlation.py  [--archs random:1000:0]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

# group -> (proxies, extra `jaxnas score` arguments; None: a flag). Cheapest first; grasp (a Hessian-vector
# product, ~4 passes) alone. Each group follows its proxies' reference protocol: batch size
# (--batch-size ref = Proxy.batch_size unless given) and weight initialisation.
GROUPS = {
    "classic": ("synflow,nwot,params,flops", {}),
    "jacobian": ("jacob_cov,epe_nas", {}),
    "saliency": ("grad_norm,snip,fisher,plain,l2_norm", {}),
    "grasp": ("grasp", {}),
    "meco": ("meco,meco_opt", {}),  # one real image, PyTorch default init (MeCo NB201 script)
    "swap": ("swap,reg_swap", {"--init": "normal"}),  # 16 real images, N(0, 1) re-init
    "zico": ("zico", {}),  # 128 real images split into two batches of 64
    # 3 real images, cropped and flipped as the reference's training loader does; alone.
    "rbflex": ("rbflex", {"--augment": None}),
    # AZ-NAS's per-architecture TE-NAS (the VKDNW table's row): NTK of 64 real images, cropped and
    # flipped as xautodl's training loader does; linear regions of 64 N(0, 1) images drawn by the
    # proxy itself. 64 backward passes per cell: freed host memory is kept for the next cell.
    "tenas": ("ntk_cond,linear_regions",
              {"--batch-size": "64", "--augment": None, "--host-memory": "reuse"}),
}
# Published Spearman rho (C10, C100; None = not published) of the implementation each proxy
# follows (../shared/docs/proxies.md C1).
ZCN = "zero-cost-nas Table 1 (absolute rho, all 15,625 cells, batch 64)"
NBSZ = "NAS-Bench-Suite-Zero Fig. 2 (1,000 cells, validation accuracy, batch 64)"
VKDNW = "VKDNW CVPR 2025 Table 1 (all 15,625 cells, validation accuracy, mean of 5 runs)"
REFERENCE = {
    "grad_norm": (0.594, 0.637, ZCN),
    "snip": (0.596, 0.637, ZCN),
    "grasp": (0.514, 0.547, ZCN),
    "fisher": (0.360, 0.385, ZCN),
    "synflow": (0.737, 0.763, ZCN),
    "jacob_cov": (0.731, 0.704, ZCN),
    "plain": (-0.26, -0.21, NBSZ),
    "l2_norm": (0.68, 0.72, NBSZ),
    "epe_nas": (0.70, 0.60, NBSZ),
    "nwot": (0.77, 0.80, NBSZ),
    "params": (0.72, 0.73, NBSZ),
    "flops": (0.69, 0.71, NBSZ + "; another FLOP counter"),
    "meco": (0.894, 0.883, "MeCo NeurIPS 2023 Table 1 (NATS-TSS, test accuracy, mean of runs)"),
    "meco_opt": (None, None, "MeCo_opt: no NB201 figure published"),
    "zico": (0.802, 0.809, VKDNW),
    "swap": (None, None, "SWAP ICLR 2024 publishes the regularised score only"),
    "reg_swap": (None, 0.90, "SWAP ICLR 2024 abstract (C100 validation accuracy; mu, sigma unstated; "
                 "jaxnas's chosen on other cells: reg_swap_prior.md)"),
    "rbflex": (None, None, "RBFleX-NAS TNNLS 2025 Table I gives Kendall tau 0.569 (C10) and Pearson "
               "0.898, no Spearman rho"),
    "ntk_cond": (None, None, "TE-NAS uses it inside its pruning search only"),
    "linear_regions": (None, None, "TE-NAS uses it inside its pruning search only"),
    "te_nas": (0.722, 0.723, VKDNW + "; rank(-ntk_cond) + rank(linear_regions)"),
}
# Aggregates of a group's score columns: name -> (group, jaxnas.evaluate function, its columns).
AGGREGATES = {"te_nas": ("tenas", "te_nas_aggregate", ("ntk_cond", "linear_regions"))}
TOLERANCE = 0.03
VERDICT = {True: "yes", False: "NO", None: "n/a"}  # within TOLERANCE; None: nothing to compare
PROTOCOL_NOTE = (
    "How the protocols differ (why a gap need not be an implementation difference): zero-cost-nas "
    "correlates C10 scores with the test accuracy of the net trained on the 25k `cifar10-valid` "
    "split and reports |rho| over all 15,625 cells; NAS-Bench-Suite-Zero uses validation accuracy "
    "on its own 1,000 cells; both score C100 on CIFAR-100 images with a 100-class head. Here every "
    "proxy scores CIFAR-10 images and is correlated with `nb201_cifar.csv`'s 200-epoch test "
    "accuracy of the net trained on all 50k images, on one fixed 1,000-cell sample.")


def run(cmd):
  print("$", " ".join(cmd), flush=True)
  return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--archs", default="random:1000:0")
  ap.add_argument("--groups", default=",".join(GROUPS), help="which proxy groups to (re)score")
  args = ap.parse_args()
  npz, table = SHARED / "cifar10_5000.npz", SHARED / "nb201_cifar.csv"
  if not npz.exists() or not table.exists():
    print(f"skipped: reference data not found under {SHARED} (see ../shared/data/README.md)")
    return 0
  RESULTS.mkdir(parents=True, exist_ok=True)
  tag = "correlation_nb201"
  summaries, corr = {}, {"cifar10_test_acc": {}, "cifar100_test_acc": {}}
  commands = []
  for group, (names, extra) in GROUPS.items():
    out = RESULTS / f"{tag}_{group}_scores.csv"
    options = {"--batch-size": "ref", **extra}
    cmd = ["jaxnas", "score", "--space", "nb201", "--archs", args.archs, "--proxies", names,
           "--data", f"npz:{npz}", *(a for kv in options.items() for a in kv if a is not None),
           "--seed", "0", "--out", str(out), "--no-progress"]
    commands.append(" ".join(cmd))
    summary_path = RESULTS / f"{tag}_{group}_summary.json"
    if group in args.groups.split(","):
      summary_path.write_text(run(cmd))
    if not summary_path.exists():
      print(f"group {group!r} has not been scored yet: run with --groups {group}")
      continue
    summaries[group] = json.loads(summary_path.read_text())
    for column in corr:
      js = RESULTS / f"{tag}_{group}_{column}.json"
      cmd = ["jaxnas", "correlate", "--scores", str(out), "--truth", str(table), "--column", column,
             "--json", str(js)]
      if column == "cifar10_test_acc":
        cmd += ["--plot", str(RESULTS / f"{tag}_{group}.png")]
      run(cmd)
      corr[column].update(json.loads(js.read_text()))
      js.unlink()

  from jaxnas import data, evaluate, spaces
  truth = data.load_table(table)
  for name, (group, function, columns) in AGGREGATES.items():
    if group not in summaries:
      continue
    scores = data.load_table(RESULTS / f"{tag}_{group}_scores.csv")  # index, arch, one column each
    agg = getattr(evaluate, function)(*(scores.column(c) for c in columns))
    for column in corr:
      r = evaluate.rank_correlation(agg, truth.lookup(scores.index, column))
      corr[column][name] = r._asdict()

  # Calibration with a proxy that has no randomness and no implementation choices: the parameter
  # count, on this sample and on all 15,625 cells.
  sample = spaces.parse_archs(spaces.nb201, args.archs)
  position = {int(i): k for k, i in enumerate(truth.index)}
  rows_in_sample = np.asarray([position[int(i)] for i in sample])
  n_params = np.asarray([spaces.nb201.num_params(spaces.nb201.encoding_of(int(i)))
                         for i in truth.index], np.float64)
  calibration = {}
  for column in corr:
    acc = truth.column(column)
    calibration[column] = (evaluate.rank_correlation(n_params[rows_in_sample], acc[rows_in_sample]).spearman,
                           evaluate.rank_correlation(n_params, acc).spearman)

  rows, ok_all = [], True
  for name, (r10, r100, src) in REFERENCE.items():
    if name not in corr["cifar10_test_acc"]:
      continue
    c10, c100 = corr["cifar10_test_acc"][name], corr["cifar100_test_acc"][name]
    gap10 = None if r10 is None else round(abs(c10["spearman"] - r10), 3)
    gap100 = None if r100 is None else round(abs(c100["spearman"] - r100), 3)
    gap = gap10 if gap10 is not None else gap100  # C10 where published, else C100
    ok = None if gap is None else gap <= TOLERANCE
    ok_all &= ok is not False
    rows.append(dict(proxy=name, rho_c10=round(c10["spearman"], 3), tau_c10=round(c10["kendall"], 3),
                     rho_c100=round(c100["spearman"], 3), tau_c100=round(c100["kendall"], 3),
                     n=c10["n"], nonfinite=c10["n_nonfinite"], ref_c10=r10, ref_c100=r100,
                     gap_c10=gap10, gap_c100=gap100, within=ok, source=src))
  # The reference code's own rho on these cells and images (benchmarks/correlation_reference.py).
  refcode_path = RESULTS / f"{tag}_reference.csv"
  refcode = {}
  if refcode_path.exists():
    for r in csv.DictReader(open(refcode_path)):
      refcode[r["proxy"]] = (float(r["rho_cifar10_test_acc_reference"]),
                             float(r["rho_cifar100_test_acc_reference"]))
  for r in rows:
    code = refcode.get(r["proxy"])
    r["code_c10"], r["code_c100"] = (round(code[0], 3), round(code[1], 3)) if code else (None, None)
    r["within_code"] = (None if code is None else
                        bool(abs(r["rho_c10"] - code[0]) <= TOLERANCE
                             and abs(r["rho_c100"] - code[1]) <= TOLERANCE))
  with open(RESULTS / f"{tag}.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
  shown = [c.replace(str(npz), "../shared/data/cifar10_5000.npz").replace(str(RESULTS), "benchmarks/results")
           for c in commands]
  lines = [f"# Proxy correlations on NB201: {args.archs} cells, real CIFAR-10", "",
           "Produced by `python benchmarks/correlation.py` (repository root, `../shared` beside it), "
           "which runs:", "", "```", *shown,
           "jaxnas correlate --scores <group csv> --truth ../shared/data/nb201_cifar.csv "
           "--column cifar10_test_acc|cifar100_test_acc", "```", "",
           "| group | proxies | compile s | s/arch (group together) | batch sizes |",
           "|---|---|---|---|---|"]
  for group, s in summaries.items():
    lines.append(f"| {group} | {GROUPS[group][0]} | {s.get('compile_s')} | {s.get('s_per_arch')} | "
                 f"{s.get('batch_sizes')} |")
  lines += ["", "Compile and per-architecture times are those of the group's last `jaxnas score` "
            "command: a resumed command loads its program from the compilation cache and times the "
            "rest of the sample only."]
  lines += ["", "Spearman rho / Kendall tau vs NB201 200-epoch test accuracy (`nb201_cifar.csv`); "
            "non-finite scores ranked worst (`jaxnas.evaluate.oriented_scores`).", "",
            "| proxy | rho C10 | tau C10 | rho C100 | tau C100 | non-finite | published rho C10 / C100 "
            "| gap C10 / C100 | within 0.03 (C10, else C100) | source | reference code, these cells: "
            "rho C10 / C100 | within 0.03 of it (both) |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
  def show(v):
    return "–" if v is None else f"{v}"

  def show3(v):
    return "–" if v is None else f"{v:.3f}"

  for r in rows:
    within = VERDICT[r["within"]]
    lines.append(f"| {r['proxy']} | {r['rho_c10']:.3f} | {r['tau_c10']:.3f} | {r['rho_c100']:.3f} | "
                 f"{r['tau_c100']:.3f} | {r['nonfinite']} | {show(r['ref_c10'])} / "
                 f"{show(r['ref_c100'])} | {show(r['gap_c10'])} / {show(r['gap_c100'])} | {within} | "
                 f"{r['source']} | {show3(r['code_c10'])} / {show3(r['code_c100'])} | "
                 f"{VERDICT[r['within_code']]} |")
  (c10_s, c10_all), (c100_s, c100_all) = calibration["cifar10_test_acc"], calibration["cifar100_test_acc"]
  lines += ["", PROTOCOL_NOTE, "",
            f"Sample calibration (parameter count, deterministic): rho on {args.archs} = "
            f"{c10_s:.3f} (C10) / {c100_s:.3f} (C100); on all 15,625 cells = {c10_all:.3f} / "
            f"{c100_all:.3f}. This sample sits {c10_s - c10_all:+.3f} / {c100_s - c100_all:+.3f} "
            "above the whole space for a size-like proxy, and NAS-Bench-Suite-Zero's params figure "
            f"({REFERENCE['params'][0]} / {REFERENCE['params'][1]}) differs from the whole-space value "
            f"against this accuracy column by {abs(REFERENCE['params'][0] - c10_all):.3f} / "
            f"{abs(REFERENCE['params'][1] - c100_all):.3f} with no implementation involved.",
            "",
            "Same cells, same images, same accuracy column: the last column is the reference code "
            "itself (zero-cost-nas's measures on its own NB201 model; NASWOT as "
            "nas-without-training runs it) on this sample and these batches, from "
            f"`benchmarks/correlation_reference.py` (`{tag}_reference.md`; '–' where that script "
            "has not been run or does not cover the proxy). A published figure that the reference "
            "code misses by as much as jaxnas does on these cells is a matter of sample and "
            "protocol, not of implementation. proxies.md E ran the reference code on "
            "`random:200:0` too; `benchmarks/results/foundation_nb201_200.md` scores those cells "
            "with jaxnas (synflow 0.685 vs the reference's 0.686, NWOT 0.810 vs 0.803, C10).", ""]
  (RESULTS / f"{tag}.md").write_text("\n".join(lines))
  print("\n".join(lines))
  return 0 if ok_all else 1


if __name__ == "__main__":
  sys.exit(main())
