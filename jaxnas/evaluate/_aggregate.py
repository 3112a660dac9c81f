"""Rank aggregation of several proxies' scores over a population (NumPy float64 front ends).

The computations live in :mod:`jaxnas.aggregate` (pure JAX); these functions keep their NumPy
signatures and float64 results by running them with 64-bit JAX enabled for the call (scoped,
nothing global).
"""

from __future__ import annotations

from typing import Optional, Sequence

import jax
import numpy as np

from jaxnas import aggregate


def _f64(fn, *columns, **kwargs) -> np.ndarray:
  with jax.enable_x64(True):
    return np.asarray(fn(*(np.asarray(c, np.float64) for c in columns), **kwargs), np.float64)


def log_rank_aggregate(columns, higher_is_better: Optional[Sequence[bool]] = None) -> np.ndarray:
  """AZ-NAS's non-linear rank aggregation: ``sum_k log(rank_k / P)`` per architecture. Higher =
  better.

  Each column (one proxy's scores over the same P architectures) is ranked on its own, 1 = worst,
  P = best, ties sharing their average rank; the logs of the normalised ranks are summed, so an
  architecture must rank well on every proxy to score well. Follows cvlab-yonsei/AZ-NAS @ d41d524
  ``NB201/tss_general.ipynb`` (columns: FLOPs, expressivity, progressivity, trainability).
  Non-finite scores rank worst. Computed by :func:`jaxnas.aggregate.log_rank` in float64.

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
  return _f64(aggregate.log_rank, np.stack(cols, axis=1), higher_is_better=higher_is_better)


def _column(values, name: str, p: Optional[int] = None) -> np.ndarray:
  c = np.asarray(values, np.float64).ravel()
  if c.size == 0 or (p is not None and c.size != p):
    want = "non-empty" if p is None else f"of length {p} (one score per architecture, like `dim`)"
    raise ValueError(f"`{name}` must be {want}, got length {c.size}.")
  return c


def vkdnw_single(dim, entropy) -> np.ndarray:
  """VKDNW_single: architectures ranked by network size first, then by VKDNW. Higher = better.

  The dense rank (1 = worst) of the pairs ``(dim, entropy)`` in lexicographic order: ``dim`` is
  the number of parameter tensors (:func:`jaxnas.proxies.num_param_tensors`, the paper's aleph),
  ``entropy`` the VKDNW score (:func:`jaxnas.proxies.vkdnw`). Follows ondratybl/VKDNW @ beb332b
  ``NB201/paper_preparation.ipynb``. Computed by :func:`jaxnas.aggregate.vkdnw_single`.

  Args:
    dim: (P,) tensor counts.
    entropy: (P,) VKDNW scores.

  Returns:
    (P,) float64 dense ranks in 1..P.
  """
  d = _column(dim, "dim")
  e = _column(entropy, "entropy", d.size)
  return _f64(aggregate.vkdnw_single, d, e)


def vkdnw_aggregate(dim, entropy, flops, expressivity, trainability, jacov) -> np.ndarray:
  """VKDNW_agg: VKDNW_single combined with FLOPs, AZ-NAS expressivity and trainability and jacov by
  log-rank aggregation. Higher = better.

  Follows ondratybl/VKDNW @ beb332b ``NB201/paper_preparation.ipynb`` ("Ablation: add
  components"); the formula, the NaN-jacov rule and the reference inputs are documented at
  :func:`jaxnas.aggregate.vkdnw_agg`, which computes it. Reference inputs: FLOPs of the benchmark
  (:func:`jaxnas.proxies.flops`); :func:`jaxnas.proxies.az_expressivity` and
  :func:`jaxnas.proxies.az_trainability` (64 standard-normal images, Kaiming fan-in init); jacov of
  VKDNW's ``compute_jacov_score.py`` (:func:`jaxnas.proxies.jacob_cov` on a real batch of 64 with
  Kaiming fan-in init, train-mode BN); ``dim`` and ``entropy`` as for :func:`vkdnw_single`.

  Args:
    dim, entropy, flops, expressivity, trainability, jacov: (P,) scores of the same architectures.

  Returns:
    (P,) float64 aggregate scores.
  """
  d = _column(dim, "dim")
  p = d.size
  named = (("entropy", entropy), ("flops", flops), ("expressivity", expressivity),
           ("trainability", trainability), ("jacov", jacov))
  cols = [_column(c, n, p) for n, c in named]
  return _f64(aggregate.vkdnw_agg, d, *cols)


def te_nas_aggregate(ntk_cond, linear_regions) -> np.ndarray:
  """TE-NAS's per-architecture ranking: the rank of -kappa plus the rank of the number of linear
  regions. Higher = better.

  .. math:: S = r(-\\kappa_{NTK}) + r(R_{LR})

  Average ranks, 1 = worst. Follows cvlab-yonsei/AZ-NAS @ d41d524 ``NB201/tss_general.ipynb``
  ('te_nas'), after TE-NAS ``prune_tenas.py``'s rank sum; a NaN condition number counts as
  kappa = 100000 as there. Computed by :func:`jaxnas.aggregate.te_nas`.

  Args:
    ntk_cond: (P,) condition numbers (:func:`jaxnas.proxies.ntk_cond`, lower = better).
    linear_regions: (P,) counts (:func:`jaxnas.proxies.linear_regions`, higher = better).

  Returns:
    (P,) float64 rank sums in 2..2P.
  """
  kappa = _column(ntk_cond, "ntk_cond")
  regions = _column(linear_regions, "linear_regions", kappa.size)
  return _f64(aggregate.te_nas, kappa, regions)
