"""Tune a proxy's own hyperparameter by gradient descent on a rank loss: jacob_cov's regulariser k.

jacob_cov (:func:`jaxnas.proxies.jacob_cov`, zero-cost-nas ``jacob_cov.py``) scores a cell by
``-sum_i [log(v_i + k) + 1 / (v_i + k)]`` over the eigenvalues v of the correlation matrix of its
input Jacobians, with k = 1e-5 in the reference. The eigenvalues do not depend on k, so they are
computed once per cell, exactly as the correlation benchmark's jacob_cov does (NB201 supernet,
PyTorch default init from ``fold_in(fold_in(key(0), index), 0)``, the 64 real CIFAR-10 images of
``data.select(cifar10_5000, 64, 0)``, train-mode BN, float64), and checked against the committed
scores (``correlation_nb201_jacobian_scores.csv``) at k = 1e-5. Then ``log k`` is tuned with
:func:`jaxnas.aggregate.tune`: soft Spearman (epsilon 0.1) of the standardised scores against C10
test accuracy of N labelled cells, Adam (0.1), 200 steps, from k = 1e-5; reported: Spearman rho
on the other cells (C10 and C100) before and after, and rho over a grid of k for comparison.
Cells whose output ignores the input (NaN score) are left out of the loss and rank worst.

Writes ``benchmarks/results/proxy_tuning_nb201.md``.

Run from the repository root:  python benchmarks/proxy_tuning.py  [--cells 300] [--labels 50]
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas import aggregate, data, evaluate, models, proxies, spaces

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JAXNAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"
NOTE = ("Reading: jacob_cov's order is flat in k up to 0.1 (k only matters once it rivals the "
        "smallest eigenvalues, median 0.5 here) and inverts above 1, where log(v + k) + 1/(v + k) "
        "stops rewarding decorrelated Jacobians. Gradient descent moves k into the upper end of "
        "the flat region; its training loss falls because the standardised scores spread more "
        "evenly (soft ranks nearer the hard ones), not because the order changes, so held-out rho "
        "stays within 0.002 of the reference k = 1e-5. The machinery (a traced hyperparameter, a "
        "gradient through the proxy's formula, a rank loss) works; this proxy has nothing to gain "
        "from it.")


def jacov_from_eigenvalues(log_k, v):
  """jacob_cov's score from the eigenvalues v of one cell, as a function of log k."""
  k = jnp.exp(log_k)
  return -jnp.sum(jnp.log(v + k) + 1.0 / (v + k))


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--cells", type=int, default=300, help="first cells of the committed sample")
  ap.add_argument("--labels", type=int, default=50)
  ap.add_argument("--seeds", type=int, default=5)
  args = ap.parse_args()
  npz, truth = SHARED / "cifar10_5000.npz", SHARED / "nb201_cifar.csv"
  if not npz.exists() or not truth.exists():
    print(f"skipped: reference data not found under {SHARED}")
    return 0
  jax.config.update("jax_enable_x64", True)  # an application script: jacob_cov's float64
  t0 = time.perf_counter()
  table = aggregate.read_scores([(RESULTS / "correlation_nb201_jacobian_scores.csv", ["jacob_cov"])])
  index = table.index[:args.cells]
  committed = table.column("jacob_cov")[:args.cells]
  enc = spaces.nb201.encoding_of(index)
  batch = data.select(data.load_npz(npz), 64, 0)
  net = models.nb201_network(None, num_classes=10)

  @jax.jit
  def eigenvalues(e, i):
    key = jax.random.fold_in(jax.random.key(0), i)
    bound = models.with_arch(net, e)
    variables = bound.init(jax.random.fold_in(key, 0), init="pytorch")
    c = proxies.correlation(proxies.input_jacobians(bound, variables, batch), dtype=jnp.float64)
    finite = jnp.all(jnp.isfinite(c))
    return jnp.linalg.eigvalsh(jnp.where(finite, c, jnp.eye(64))), finite

  eig, ok = map(np.asarray, zip(*[eigenvalues(jnp.asarray(e), jnp.uint32(i))
                                  for e, i in zip(enc, index)]))
  t_eig = time.perf_counter() - t0
  at_ref = np.where(ok, np.asarray(jax.vmap(jacov_from_eigenvalues, (None, 0))(np.log(1e-5), eig)),
                    np.nan)
  agree = np.nanmax(np.abs(at_ref - committed) / np.abs(committed))
  same_nan = bool(np.array_equal(np.isnan(at_ref), np.isnan(committed)))
  gt = data.load_table(truth)
  c10, c100 = gt.lookup(index, "cifar10_test_acc"), gt.lookup(index, "cifar100_test_acc")

  def loss(s, y):
    z = (s - jnp.mean(s)) / jnp.std(s)
    return aggregate.soft_spearman(z, y, regularization=0.1)

  tune = jax.jit(functools.partial(aggregate.tune, jacov_from_eigenvalues, loss=loss,
                                   optimizer=optax.adam(0.1), steps=200))
  score_all = jax.jit(jax.vmap(jacov_from_eigenvalues, (None, 0)))
  rows = []
  live = np.flatnonzero(ok)
  for seed in range(args.seeds):
    fit_pos = live[aggregate.draw_labelled(len(live), args.labels, seed)]
    rest = np.setdiff1d(np.arange(len(index)), fit_pos)
    res = tune(jnp.float64(np.log(1e-5)), eig[fit_pos], c10[fit_pos])
    k = float(np.exp(res.params))
    out = []
    for log_k in (np.log(1e-5), float(res.params)):
      s = np.where(ok, np.asarray(score_all(log_k, eig)), np.nan)
      out += [evaluate.rank_correlation(s[rest], c10[rest]).spearman,
              evaluate.rank_correlation(s[rest], c100[rest]).spearman]
    rows.append((seed, k, float(res.losses[0]), float(res.losses[-1]), *out))
  grid = []
  for k in 10.0 ** np.arange(-8, 2):
    s = np.where(ok, np.asarray(score_all(np.log(k), eig)), np.nan)
    grid.append((k, evaluate.rank_correlation(s, c10).spearman,
                 evaluate.rank_correlation(s, c100).spearman))
  wall = time.perf_counter() - t0
  r = np.asarray([x[4:] for x in rows])
  ks = np.asarray([x[1] for x in rows])
  cmd = "python benchmarks/proxy_tuning.py"
  if (args.cells, args.labels, args.seeds) != (300, 50, 5):
    cmd += f" --cells {args.cells} --labels {args.labels} --seeds {args.seeds}"
  lines = [
      "# Tuning jacob_cov's regulariser k by gradient descent on a rank loss (NB201)", "",
      f"Produced by `{cmd}` (repository root, `../shared` beside it) in {wall:.0f} s "
      f"({t_eig:.0f} s of it computing eigenvalues) on a 2-core CPU shared with other work. "
      "Protocol: the script's docstring.", "",
      f"Cells: the first {len(index)} of the committed 1,000-cell sample ({len(live)} with a "
      f"finite score). Check: the score from the eigenvalues at k = 1e-5 equals the committed "
      f"jacob_cov to a relative {agree:.1e} (NaN cells identical: {same_nan}). Smallest "
      f"eigenvalue per cell: median {np.median(eig[ok, 0]):.2g}, 10th percentile "
      f"{np.percentile(eig[ok, 0], 10):.2g}.", "",
      f"Gradient descent on log k with {args.labels} labelled cells (C10), {args.seeds} draws; "
      f"Spearman rho on the {len(index) - args.labels} other cells:", "",
      "| draw | tuned k | loss start | loss end | rho C10 at k=1e-5 | rho C100 at k=1e-5 | "
      "rho C10 tuned | rho C100 tuned |", "|---|---|---|---|---|---|---|---|",
  ]
  lines += [f"| {s} | {k:.3g} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.3f} | {e:.3f} | {f:.3f} |"
            for s, k, a, b, c, d, e, f in rows]
  lines += [f"| mean | {np.exp(np.mean(np.log(ks))):.3g} (geometric) | | | {r[:, 0].mean():.3f} | "
            f"{r[:, 1].mean():.3f} | {r[:, 2].mean():.3f} | {r[:, 3].mean():.3f} |", "",
            f"For comparison, rho over every one of the {len(index)} cells on a grid of k (uses "
            "all labels; not a fair tuning method):", "", "| k | rho C10 | rho C100 |",
            "|---|---|---|"]
  lines += [f"| {k:.0e} | {a:.3f} | {b:.3f} |" for k, a, b in grid]
  lines += ["", NOTE]
  (RESULTS / "proxy_tuning_nb201.md").write_text("\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
