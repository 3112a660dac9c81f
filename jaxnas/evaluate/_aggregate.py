"""Rank aggregation of several proxies' scores over a population."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from scipy import stats

from ._correlate import oriented_scores


def log_rank_aggregate(columns, higher_is_better: Optional[Sequence[bool]] = None) -> np.ndarray:
  """AZ-NAS's non-linear rank aggregation: ``sum_k log(rank_k / P)`` per architecture. Higher =
  better.

  Each column (one proxy's scores over the same P architectures) is ranked on its own, 1 = worst,
  P = best, ties sharing their average rank (``scipy.stats.rankdata``); the logs of the normalised
  ranks are summed, so an architecture must rank well on every proxy to score well (one bad rank
  costs more than a good rank gains). Follows cvlab-yonsei/AZ-NAS @ d41d524
  ``NB201/tss_general.ipynb`` (columns: FLOPs, expressivity, progressivity, trainability).
  Non-finite scores rank worst (:func:`oriented_scores`).

  Args:
    columns: (K, P) array-like, or a sequence of K length-P score columns.
    higher_is_better: per column (default: all True).

  Returns:
    (P,) float64 aggregate scores.
  """
  cols = [np.asarray(c, np.float64).ravel() for c in columns]
  if not cols:
    raise ValueError("`columns` is empty: pass at least one column of scores.")
  p = cols[0].size
  if p == 0 or any(c.size != p for c in cols):
    raise ValueError(f"Every column must have the same, non-zero length; got lengths "
                     f"{[c.size for c in cols]}.")
  directions = [True] * len(cols) if higher_is_better is None else list(higher_is_better)
  if len(directions) != len(cols):
    raise ValueError(f"`higher_is_better` must have one entry per column ({len(cols)}), got "
                     f"{len(directions)}.")
  total = np.zeros(p)
  for c, d in zip(cols, directions):
    total += np.log(stats.rankdata(oriented_scores(c, higher_is_better=d)) / p)
  return total
