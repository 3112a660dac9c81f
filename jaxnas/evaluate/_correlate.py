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


PLOT_SCALES = ("auto", "rank", "log", "linear")


class _Axis(NamedTuple):
  x: np.ndarray  # where each score is drawn (non-finite and zero scores: see the masks)
  label: str
  body: np.ndarray  # drawn as ordinary points
  zero: np.ndarray  # exact zeros drawn at the left edge (auto's log axis only)
  nonfinite: np.ndarray  # drawn in red at the left edge (rank: at the worst ranks)
  symlog: Optional[float]  # linthresh of a symmetric-log axis, or None


def _plot_axis(name: str, scores, scale: str, higher_is_better: bool) -> _Axis:
  """Where one proxy's scores go on its panel's x axis, for :func:`scatter_grid`'s `scale`."""
  s = np.asarray(scores, np.float64)
  ok = np.isfinite(s)
  none = np.zeros_like(ok)
  if scale == "rank":  # the scale the rank correlations see; non-finite scores rank worst
    x = stats.rankdata(oriented_scores(s, higher_is_better=higher_is_better))
    return _Axis(x, f"rank of {name} (1 = worst)", ok, none, ~ok, None)
  if scale == "log":  # symmetric log: any sign, linear within the smallest non-zero |score|
    nonzero = np.abs(s[ok & (s != 0)])
    thresh = float(nonzero.min()) if nonzero.size else 1.0
    return _Axis(s.copy(), f"{name} (symmetric log axis)", ok, none, ~ok, thresh)
  if scale == "linear":
    return _Axis(s.copy(), name, ok, none, ~ok, None)
  x = s.copy()
  pos = ok & (s > 0)
  zero = ok & (s == 0)
  heavy = ok.any() and np.all(s[ok] >= 0) and pos.any() and s[pos].max() > 1e3 * s[pos].min()
  if heavy:  # decided from the data, never from the proxy's name
    x[pos] = np.log10(s[pos])
    return _Axis(x, f"log10 {name}", pos, zero, ~ok, None)
  return _Axis(x, name, ok, none, ~ok, None)


def scatter_grid(names: Sequence[str], score_columns, truth, out_path, *,
                 truth_label: str = "accuracy", title: Optional[str] = None,
                 directions: Optional[Sequence[bool]] = None, scale: str = "auto"):
  """Save a grid of proxy-vs-accuracy scatter plots (one panel per proxy) to `out_path`.

  `scale` sets every panel's x axis: 'auto' (default) draws non-negative scores spanning more
  than three decades on a log10 axis, with exact zeros marked at its left edge, and others
  linearly; 'rank' draws each score's rank (oriented: 1 = worst, non-finite scores rank worst),
  the scale the rank correlations in the titles see, which spreads heavy-tailed proxies of any
  sign (jacob_cov's few very negative scores squash the rest on a linear axis); 'log' is a
  symmetric log axis (any sign; linear within the smallest non-zero absolute score); 'linear'
  the raw scores. Non-finite scores are drawn in red at the left edge (they rank worst). Needs
  matplotlib (``pip install 'jaxnas[plot]'``).
  """
  if scale not in PLOT_SCALES:
    raise ValueError(f"`scale` must be one of {PLOT_SCALES}, got {scale!r}.")
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
    c = rank_correlation(s, t, higher_is_better=d)
    a = _plot_axis(name, s, scale, d)
    ax.scatter(a.x[a.body], t[a.body], s=6, alpha=0.6)
    lo = np.min(a.x[a.body]) if a.body.any() else 0.0
    if a.zero.any():
      ax.scatter(np.full(a.zero.sum(), lo), t[a.zero], s=10, c="orange", marker="|",
                 label="score 0")
    if a.nonfinite.any():
      x_bad = a.x[a.nonfinite] if scale == "rank" else np.full(a.nonfinite.sum(), lo)
      ax.scatter(x_bad, t[a.nonfinite], s=10, c="red", marker="x", label="non-finite")
    if a.zero.any() or a.nonfinite.any():
      ax.legend(loc="lower right", fontsize=7)
    if a.symlog is not None:
      ax.set_xscale("symlog", linthresh=a.symlog)
    ax.set_xlabel(a.label)
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
