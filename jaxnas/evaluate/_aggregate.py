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


def _column(values, name: str, p: Optional[int] = None) -> np.ndarray:
  c = np.asarray(values, np.float64).ravel()
  if c.size == 0 or (p is not None and c.size != p):
    want = "non-empty" if p is None else f"of length {p} (one score per architecture, like `dim`)"
    raise ValueError(f"`{name}` must be {want}, got length {c.size}.")
  return c


def vkdnw_single(dim, entropy) -> np.ndarray:
  """VKDNW_single: architectures ranked by network size first, then by VKDNW. Higher = better.

  The dense rank (1 = worst; equal pairs share a rank, the next pair gets the next integer) of the
  pairs ``(dim, entropy)`` in lexicographic order: ``dim`` is the number of parameter tensors
  (:func:`jaxnas.proxies.num_param_tensors`, the paper's aleph), ``entropy`` the VKDNW score
  (:func:`jaxnas.proxies.vkdnw`), which only orders architectures of equal size. Follows
  ondratybl/VKDNW @ beb332b ``NB201/paper_preparation.ipynb`` (``run[['vkdnw_dim',
  'vkdnw_entropy']].apply(tuple, axis=1).rank(method='dense', ascending=True)``). Non-finite
  entropies rank worst within their size (:func:`oriented_scores`; the reference's scores are
  never NaN: a failed SVD gives 0).

  Args:
    dim: (P,) tensor counts.
    entropy: (P,) VKDNW scores.

  Returns:
    (P,) float64 dense ranks in 1..P.
  """
  d = _column(dim, "dim")
  e = oriented_scores(_column(entropy, "entropy", d.size))
  if not np.all(np.isfinite(d)):
    raise ValueError("`dim` must hold finite tensor counts; got non-finite values.")
  order = np.lexsort((e, d))
  pairs = np.stack([d[order], e[order]], axis=1)
  new = np.ones(d.size, bool)
  new[1:] = np.any(pairs[1:] != pairs[:-1], axis=1)
  ranks = np.empty(d.size)
  ranks[order] = np.cumsum(new)
  return ranks


def vkdnw_aggregate(dim, entropy, flops, expressivity, trainability, jacov) -> np.ndarray:
  """VKDNW_agg: VKDNW_single combined with FLOPs, AZ-NAS expressivity and trainability and jacov by
  log-rank aggregation. Higher = better.

  .. math:: S = \\log\\frac{r_{single}}{P} + \\log\\frac{r(\\mathrm{FLOPs})}{P}
     + \\log\\frac{r(s^{\\mathcal{E}})}{P} + \\log\\frac{r(s^{\\mathcal{T}})}{P}
     + \\log\\frac{r(\\mathrm{jacov})}{P}

  r_single is :func:`vkdnw_single` (a dense rank); the other ranks are average ranks (ties share
  the mean rank, pandas' and scipy's default), 1 = worst. Follows ondratybl/VKDNW @ beb332b
  ``NB201/paper_preparation.ipynb`` ("Ablation: add components", the run behind the paper's
  VKDNW_agg numbers, ``flops_expressivity_trainability_jacov_vkdnw_``), whose scores are
  ``log(rank)`` without the division by P (a constant shift: the same order). A missing (NaN)
  jacov is replaced by the smallest jacov of the population, as there; other non-finite scores
  rank worst (:func:`oriented_scores`; AZ-NAS's scores are -inf rather than NaN).

  Reference inputs: FLOPs of the benchmark (:func:`jaxnas.proxies.flops`); expressivity and
  trainability of AZ-NAS (:func:`jaxnas.proxies.az_expressivity`,
  :func:`jaxnas.proxies.az_trainability`: 64 standard-normal images, Kaiming fan-in init); jacov
  of VKDNW's ``compute_jacov_score.py`` (:func:`jaxnas.proxies.jacob_cov` on a real batch of 64
  with Kaiming fan-in init, train-mode BN); ``dim`` and ``entropy`` as for :func:`vkdnw_single`.

  Args:
    dim, entropy, flops, expressivity, trainability, jacov: (P,) scores of the same architectures.

  Returns:
    (P,) float64 aggregate scores.
  """
  d = _column(dim, "dim")
  p = d.size
  named = (("flops", flops), ("expressivity", expressivity), ("trainability", trainability),
           ("jacov", jacov))
  cols = {n: _column(c, n, p) for n, c in named}
  jac = cols["jacov"]
  if np.any(~np.isnan(jac)):
    cols["jacov"] = np.where(np.isnan(jac), np.nanmin(jac), jac)
  single = vkdnw_single(d, _column(entropy, "entropy", p))
  return np.log(single / p) + log_rank_aggregate(list(cols.values()))


def te_nas_aggregate(ntk_cond, linear_regions) -> np.ndarray:
  """TE-NAS's per-architecture ranking: the rank of -kappa plus the rank of the number of linear
  regions. Higher = better.

  .. math:: S = r(-\\kappa_{NTK}) + r(R_{LR})

  Ranks are average ranks over the population (``scipy.stats.rankdata``: ties share their mean rank),
  1 = worst. Follows cvlab-yonsei/AZ-NAS @ d41d524 ``NB201/tss_general.ipynb`` ('te_nas': the
  ranks of ``compute_te_nas_score.py``'s 'ntk' = -kappa and 'linear_region' summed, the TE-NAS row
  of the AZ-NAS and VKDNW tables), after TE-NAS ``prune_tenas.py``'s rank sum. As there, a NaN
  condition number (:func:`jaxnas.proxies.ntk_cond` of a network whose output ignores the chosen
  weights) counts as kappa = 100000 (``np.nan_to_num(..., nan=100000.0)``); other values enter as
  they are (+inf ranks worst).

  Args:
    ntk_cond: (P,) condition numbers (:func:`jaxnas.proxies.ntk_cond`, lower = better).
    linear_regions: (P,) counts (:func:`jaxnas.proxies.linear_regions`, higher = better).

  Returns:
    (P,) float64 rank sums in 2..2P.
  """
  kappa = _column(ntk_cond, "ntk_cond")
  regions = _column(linear_regions, "linear_regions", kappa.size)
  ntk = -np.where(np.isnan(kappa), 100000.0, kappa)
  return stats.rankdata(ntk) + stats.rankdata(oriented_scores(regions))
