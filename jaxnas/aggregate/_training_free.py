"""Training-free aggregators: thin compositions of the rank transforms (pure JAX).

Each takes (P, K) score columns (or named columns for the paper-specific ones) over one population
and returns (P,) aggregate scores, higher = better. They compute in the float dtype of their inputs:
pass float64 with x64 enabled to reproduce the float64 values of :mod:`jaxnas.evaluate`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._ranks import _directions, _vector, dense_rank, oriented, rank


def _columns(columns: ArrayLike) -> jax.Array:
  x = jnp.asarray(columns)
  if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
    raise ValueError(f"`columns` must be a (P, K) array with P, K >= 1 (architectures x proxies), "
                     f"got shape {x.shape}.")
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  return x


def _ranks(columns: ArrayLike, higher_is_better) -> jax.Array:
  x = _columns(columns)
  dirs = _directions(higher_is_better, x.shape[1])
  return jnp.stack([rank(x[:, k], higher_is_better=d) for k, d in enumerate(dirs)], axis=1)


def rank_mean(columns: ArrayLike, higher_is_better=None) -> jax.Array:
  """Mean rank over proxies (Borda count): ``mean_k r_k``. Higher = better.

  Args:
    columns: (P, K) scores, one column per proxy (non-finite rank worst, :func:`oriented`).
    higher_is_better: K static booleans (default: all True).

  Returns:
    (P,) mean average-ranks in [1, P].
  """
  return jnp.mean(_ranks(columns, higher_is_better), axis=1)


def log_rank(columns: ArrayLike, higher_is_better=None) -> jax.Array:
  """AZ-NAS's non-linear rank aggregation: ``sum_k log(r_k / P)``. Higher = better.

  Each column is ranked on its own (average ranks, :func:`rank`) and the logs of the normalised
  ranks are summed, so an architecture must rank well on every proxy to score well (one bad rank
  costs more than a good rank gains). Follows cvlab-yonsei/AZ-NAS @ d41d524
  ``NB201/tss_general.ipynb`` (there over FLOPs, expressivity, progressivity, trainability).

  Args:
    columns: (P, K) scores.
    higher_is_better: K static booleans (default: all True).

  Returns:
    (P,) sums of log normalised ranks (<= 0).
  """
  r = _ranks(columns, higher_is_better)
  return jnp.sum(jnp.log(r / r.shape[0]), axis=1)


def geometric_mean(columns: ArrayLike, higher_is_better=None, *, eps: ArrayLike = 1e-3) -> jax.Array:
  """Geometric mean of min-max normalised scores: ``exp(mean_k log(n_k + eps))``. Higher = better.

  Each oriented column is min-max normalised over its finite values to [0, 1] (non-finite scores
  -> 0, the worst); ``eps`` keeps one zero from deciding the product. Unlike :func:`log_rank`
  it sees score *gaps*, so heavy-tailed proxies (synflow, ranges of 1e40) should be log-transformed
  first.

  Args:
    columns: (P, K) scores.
    higher_is_better: K static booleans (default: all True).
    eps: traced offset > 0.

  Returns:
    (P,) scores in [eps, 1 + eps].
  """
  x = _columns(columns)
  dirs = _directions(higher_is_better, x.shape[1])
  o = jnp.stack([oriented(x[:, k], higher_is_better=d) for k, d in enumerate(dirs)], axis=1)
  ok = jnp.isfinite(o)
  lo = jnp.min(jnp.where(ok, o, jnp.inf), axis=0)
  hi = jnp.max(jnp.where(ok, o, -jnp.inf), axis=0)
  span = jnp.where(hi > lo, hi - lo, 1.0)
  n = jnp.where(ok, (jnp.where(ok, o, lo) - lo) / span, 0.0)
  return jnp.exp(jnp.mean(jnp.log(n + jnp.asarray(eps, x.dtype)), axis=1))


def te_nas(ntk_cond: ArrayLike, linear_regions: ArrayLike) -> jax.Array:
  """TE-NAS's ranking: the rank of -kappa plus the rank of the number of linear regions.

  .. math:: S = r(-\\kappa_{NTK}) + r(R_{LR})

  Average ranks, 1 = worst. Follows cvlab-yonsei/AZ-NAS @ d41d524 ``NB201/tss_general.ipynb``
  ('te_nas', the TE-NAS row of the AZ-NAS and VKDNW tables), after TE-NAS ``prune_tenas.py``'s
  rank sum. As there, a NaN condition number counts as kappa = 100000
  (``np.nan_to_num(..., nan=100000.0)``); other values enter :func:`oriented` as they are (+inf
  ranks worst).

  Args:
    ntk_cond: (P,) condition numbers (lower = better).
    linear_regions: (P,) counts (higher = better).

  Returns:
    (P,) rank sums in [2, 2P].
  """
  kappa = _vector(ntk_cond, "ntk_cond")
  regions = _vector(linear_regions, "linear_regions")
  if regions.shape != kappa.shape:
    raise ValueError(f"`linear_regions` must have the length of `ntk_cond` ({kappa.shape[0]}), got "
                     f"{regions.shape[0]}.")
  kappa = jnp.where(jnp.isnan(kappa), 100000.0, kappa)
  return rank(kappa, higher_is_better=False) + rank(regions).astype(kappa.dtype)


def vkdnw_single(dim: ArrayLike, entropy: ArrayLike) -> jax.Array:
  """VKDNW_single: architectures ranked by network size first, then by VKDNW. Higher = better.

  The dense rank (:func:`dense_rank`) of the pairs ``(dim, entropy)``: ``dim`` is the number of
  parameter tensors (the paper's aleph), ``entropy`` the VKDNW score, which only orders
  architectures of equal size. Follows ondratybl/VKDNW @ beb332b ``NB201/paper_preparation.ipynb``
  (``run[['vkdnw_dim', 'vkdnw_entropy']].apply(tuple, axis=1).rank(method='dense')``).
  Non-finite entropies rank worst within their size.

  Args:
    dim: (P,) finite tensor counts.
    entropy: (P,) VKDNW scores.

  Returns:
    (P,) dense ranks in 1..P.
  """
  d = _vector(dim, "dim")
  e = _vector(entropy, "entropy")
  if e.shape != d.shape:
    raise ValueError(f"`entropy` must have the length of `dim` ({d.shape[0]}), got {e.shape[0]}.")
  if not isinstance(d, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(d))):
    raise ValueError("`dim` must hold finite tensor counts; got non-finite values.")
  return dense_rank(d, e.astype(d.dtype))


def vkdnw_agg(dim: ArrayLike, entropy: ArrayLike, flops: ArrayLike, expressivity: ArrayLike,
              trainability: ArrayLike, jacov: ArrayLike, extra: ArrayLike | None = None,
              extra_higher_is_better=None) -> jax.Array:
  """VKDNW_agg: :func:`vkdnw_single` plus FLOPs, AZ-NAS expressivity, trainability and jacov by
  log-rank aggregation. Higher = better.

  .. math:: S = \\log\\frac{r_{single}}{P} + \\log\\frac{r(\\mathrm{FLOPs})}{P}
     + \\log\\frac{r(s^{\\mathcal{E}})}{P} + \\log\\frac{r(s^{\\mathcal{T}})}{P}
     + \\log\\frac{r(\\mathrm{jacov})}{P}

  r_single is a dense rank, the others average ranks, 1 = worst. Follows ondratybl/VKDNW @ beb332b
  ``NB201/paper_preparation.ipynb`` ("Ablation: add components",
  ``flops_expressivity_trainability_jacov_vkdnw_``), whose scores are ``log(rank)`` without the
  division by P (the same order). A NaN jacov is replaced by the smallest jacov of the population,
  as there; other non-finite scores rank worst (:func:`oriented`).

  ``extra`` columns, if given, add their log normalised ranks to the sum (this library's
  extension, e.g. MeCo and SWAP-reg; not in the paper).

  Args:
    dim, entropy, flops, expressivity, trainability, jacov: (P,) scores of the same architectures.
    extra: optional (P, E) further score columns.
    extra_higher_is_better: E static booleans for ``extra`` (default: all True).

  Returns:
    (P,) aggregate scores (<= 0).
  """
  d = _vector(dim, "dim")
  p = d.shape[0]
  named = {"flops": flops, "expressivity": expressivity, "trainability": trainability,
           "jacov": jacov}
  cols = {n: _vector(c, n) for n, c in named.items()}
  bad = {n: c.shape[0] for n, c in cols.items() if c.shape[0] != p}
  if bad:
    raise ValueError(f"Every column must have the length of `dim` ({p}); got {bad}.")
  jac = cols["jacov"]
  nan = jnp.isnan(jac)
  fill = jnp.min(jnp.where(nan, jnp.inf, jac))
  cols["jacov"] = jnp.where(nan & ~jnp.all(nan), fill, jac)
  single = vkdnw_single(d, entropy)
  stacked = jnp.stack([c.astype(d.dtype) for c in cols.values()], axis=1)
  total = jnp.log(single / p) + log_rank(stacked)
  if extra is None:
    return total
  x = _columns(extra)
  if x.shape[0] != p:
    raise ValueError(f"`extra` must have one row per architecture ({p}), got shape {x.shape}.")
  return total + log_rank(x.astype(d.dtype), extra_higher_is_better)
