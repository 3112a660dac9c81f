"""Rank correlation of proxy scores with benchmark accuracy."""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import jax
import numpy as np
from scipy import stats

from jaxnas import aggregate


class Correlation(NamedTuple):
  """Spearman rho and Kendall tau (tau-b) of one proxy against ground truth."""

  spearman: float
  kendall: float
  n: int
  n_nonfinite: int


def oriented_scores(scores, *, higher_is_better: bool = True) -> np.ndarray:
  """Scores oriented so that larger = better, with every non-finite score mapped to worst.

  A float64 NumPy front end of :func:`jaxnas.aggregate.oriented`, the one place where jaxnas
  decides what NaN/+-inf mean: proxies return them as they are (a singular kernel gives -inf, a
  network whose output ignores its input gives NaN), and ranking treats all of them as the worst
  possible score (-inf after orientation, ties among themselves).
  """
  with jax.enable_x64(True):  # scoped: float64 scores (synflow's exceed float32) stay float64
    return np.asarray(aggregate.oriented(np.asarray(scores, np.float64),
                                         higher_is_better=higher_is_better), np.float64)


def rank_correlation(scores, truth, *, higher_is_better: bool = True) -> Correlation:
  """Spearman's rho and Kendall's tau-b of (oriented) `scores` vs `truth` (e.g. test accuracy)."""
  s = np.asarray(scores, np.float64).ravel()
  t = np.asarray(truth, np.float64).ravel()
  if s.shape != t.shape:
    raise ValueError(f"`scores` and `truth` must have the same length, got {s.size} and {t.size}.")
  if s.size < 3:
    raise ValueError(f"Need at least 3 architectures to correlate, got {s.size}.")
  o = oriented_scores(s, higher_is_better=higher_is_better)
  ranks = stats.rankdata(o)  # -inf ties at the bottom
  rho = stats.spearmanr(ranks, t).statistic
  tau = stats.kendalltau(ranks, t).statistic
  return Correlation(float(rho), float(tau), int(s.size), int((~np.isfinite(s)).sum()))


def correlation_table(names: Sequence[str], score_columns, truth, directions) -> dict:
  """{proxy: Correlation} for several score columns against one truth column."""
  return {n: rank_correlation(c, truth, higher_is_better=d)
          for n, c, d in zip(names, score_columns, directions)}


def scatter_grid(names: Sequence[str], score_columns, truth, out_path, *,
                 truth_label: str = "accuracy", title: Optional[str] = None,
                 directions: Optional[Sequence[bool]] = None):
  """Save a grid of proxy-vs-accuracy scatter plots (one panel per proxy) to `out_path`.

  Non-negative scores spanning more than three decades are drawn on a log10 axis, with exact
  zeros marked at its left edge; non-finite scores are drawn at the left edge in red (they rank
  worst). Needs matplotlib
  (``pip install 'jaxnas[plot]'``).
  """
  try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
  except ImportError:
    raise ImportError("Plotting needs matplotlib: pip install 'jaxnas[plot]'.") from None
  k = len(names)
  cols = min(k, 3)
  rows = (k + cols - 1) // cols
  fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
  t = np.asarray(truth, np.float64)
  directions = directions or [True] * k
  for ax, name, col, d in zip(axes.ravel(), names, score_columns, directions):
    s = np.asarray(col, np.float64)
    ok = np.isfinite(s)
    c = rank_correlation(s, t, higher_is_better=d)
    x = s.copy()
    pos = ok & (s > 0)
    zero = ok & (s == 0)
    heavy = ok.any() and np.all(s[ok] >= 0) and pos.any() and s[pos].max() > 1e3 * s[pos].min()
    if heavy:  # decided from the data, never from the proxy's name
      x[pos] = np.log10(s[pos])
      name_shown = f"log10 {name}"
    else:
      name_shown = name
      zero = np.zeros_like(ok)
    body = pos if heavy else ok
    ax.scatter(x[body], t[body], s=6, alpha=0.6)
    lo = np.min(x[body]) if body.any() else 0.0
    if zero.any():
      ax.scatter(np.full(zero.sum(), lo), t[zero], s=10, c="orange", marker="|", label="score 0")
    if (~ok).any():
      ax.scatter(np.full((~ok).sum(), lo), t[~ok], s=10, c="red", marker="x", label="non-finite")
    if zero.any() or (~ok).any():
      ax.legend(loc="lower right", fontsize=7)
    ax.set_xlabel(name_shown)
    ax.set_ylabel(truth_label)
    ax.set_title(f"{name}: rho={c.spearman:.3f}, tau={c.kendall:.3f} (n={c.n})", fontsize=9)
  for ax in axes.ravel()[k:]:
    ax.axis("off")
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  fig.savefig(out_path, dpi=110)
  plt.close(fig)
  return out_path
