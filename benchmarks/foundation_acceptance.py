"""Acceptance figure of the foundation issue: NB201 proxies vs accuracy on 200 cells, real CIFAR-10.

Runs the two user-facing commands exactly as a user would and writes
``benchmarks/results/foundation_nb201_200.{md,csv,png}``:

  jaxnas score --space nb201 --archs random:200:0 --proxies params,flops,synflow,nwot \
      --data npz:../shared/data/cifar10_5000.npz --batch-size ref --seed 0 --out <csv>
  jaxnas correlate --scores <csv> --truth ../shared/data/nb201_cifar.csv --column cifar10_test_acc

(--batch-size ref: NWOT 128 real training images; params/flops/synflow read only the image shape.)
Run from the repository root:  python benchmarks/foundation_acceptance.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
# Published Spearman rho vs CIFAR-10 test accuracy (../shared/docs/proxies.md C1 and E).
REFERENCE = {
    "synflow": (0.737, "zero-cost-nas Table 1 (all 15,625 cells)"),
    "nwot": (0.77, "NAS-Bench-Suite-Zero Fig. 2 (0.76-0.79 across papers)"),
    "params": (0.72, "NAS-Bench-Suite-Zero Fig. 2 (~0.73)"),
}
# Reported, not part of the acceptance: on NB201 every stage has the same H*W*C^2, so xautodl's
# FLOPs and the parameter count rank cells identically; NBSZ's 0.69 comes from another counter.
INFORMATIONAL = {"flops": (0.69, "NAS-Bench-Suite-Zero Fig. 2 (different FLOP counter)")}
TOLERANCE = 0.07


def main() -> int:
  npz, table = SHARED / "cifar10_5000.npz", SHARED / "nb201_cifar.csv"
  if not npz.exists() or not table.exists():
    print(f"skipped: reference data not found under {SHARED} (see ../shared/data/README.md)")
    return 0
  RESULTS.mkdir(parents=True, exist_ok=True)
  csv_path = RESULTS / "foundation_nb201_200_scores.csv"
  score_cmd = ["jaxnas", "score", "--space", "nb201", "--archs", "random:200:0",
               "--proxies", "params,flops,synflow,nwot", "--data", f"npz:{npz}",
               "--batch-size", "ref", "--seed", "0", "--out", str(csv_path), "--overwrite",
               "--no-progress"]
  summary = json.loads(subprocess.run(score_cmd, check=True, capture_output=True, text=True).stdout)
  rows = {}
  for column in ("cifar10_test_acc", "cifar100_test_acc"):
    json_path = RESULTS / f"foundation_nb201_200_{column}.json"
    cmd = ["jaxnas", "correlate", "--scores", str(csv_path), "--truth", str(table),
           "--column", column, "--json", str(json_path)]
    if column == "cifar10_test_acc":
      cmd += ["--plot", str(RESULTS / "foundation_nb201_200.png")]
    print(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    rows[column] = json.loads(json_path.read_text())
    json_path.unlink()
  lines = [
      "# Foundation acceptance: NB201, 200 cells (random:200:0), real CIFAR-10", "",
      "Commands (repository root, `../shared` beside it):", "", "```",
      " ".join(score_cmd[:-2]).replace(str(npz), "../shared/data/cifar10_5000.npz")
      .replace(str(csv_path), "benchmarks/results/foundation_nb201_200_scores.csv"),
      "jaxnas correlate --scores benchmarks/results/foundation_nb201_200_scores.csv "
      "--truth ../shared/data/nb201_cifar.csv --column cifar10_test_acc "
      "--plot benchmarks/results/foundation_nb201_200.png",
      "python benchmarks/foundation_acceptance.py   # runs both and writes this file", "```", "",
      f"Batch sizes: {summary['batch_sizes']}; seed {summary['seed']}; weights: PyTorch default "
      "init per architecture (key = fold_in(seed, official index)); train-mode BN.",
      f"Timing on this machine (2-core CPU): compile {summary['compile_s']} s once, then "
      f"{summary['s_per_arch']} s per architecture for all four proxies together.", "",
      "| proxy | rho C10 | tau C10 | rho C100 | tau C100 | non-finite | reference rho C10 | "
      "|rho - ref| | within 0.07 |",
      "|---|---|---|---|---|---|---|---|---|",
  ]
  ok_all = True
  for name, (ref, src) in {**REFERENCE, **INFORMATIONAL}.items():
    c10, c100 = rows["cifar10_test_acc"][name], rows["cifar100_test_acc"][name]
    gap = abs(c10["spearman"] - ref)
    ok = gap <= TOLERANCE
    if name in REFERENCE:
      ok_all &= ok
      verdict = "yes" if ok else "NO"
    else:
      verdict = "n/a (informational)"
    lines.append(f"| {name} | {c10['spearman']:.3f} | {c10['kendall']:.3f} | {c100['spearman']:.3f} | "
                 f"{c100['kendall']:.3f} | {c10['n_nonfinite']} | {ref} ({src}) | {gap:.3f} | "
                 f"{verdict} |")
  lines += ["", "Non-finite scores are ranked worst (`jaxnas.evaluate.oriented_scores`); the NWOT "
            "ones are zero-output cells (K singular, -inf). At n = 200 the 95% bootstrap interval "
            "of rho is about +-0.08 (proxies.md E). For comparison, proxies.md E ran the PyTorch "
            "reference code on another 200-cell sample: synflow 0.686, NASWOT 0.803 (C10).",
            "FLOPs is informational: on NB201 every stage has the same H*W*C^2, so xautodl's FLOPs "
            "and the parameter count order cells identically (same rho); NAS-Bench-Suite-Zero's "
            "0.69 comes from a different FLOP counter.", ""]
  (RESULTS / "foundation_nb201_200.md").write_text("\n".join(lines))
  print("\n".join(lines))
  return 0 if ok_all else 1


if __name__ == "__main__":
  sys.exit(main())
