"""Differentiable rank losses between predicted scores and ground truth, and exact rank statistics.

Every loss is ``loss(pred, truth, *, <temperature>) -> scalar``, lower = better ranking, pure and
jit/vmap/grad-able in ``pred``; the temperature is traced. Each one tends to an exact
(non-differentiable) rank quantity as its temperature goes to zero, which the tests check.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._ranks import rank, soft_rank


def _pair(pred: ArrayLike, truth: ArrayLike) -> tuple[jax.Array, jax.Array]:
  p = jnp.asarray(pred)
  t = jnp.asarray(truth)
  if p.ndim != 1 or p.shape != t.shape or p.shape[0] < 2:
    raise ValueError(f"`pred` and `truth` must be 1-D arrays of the same length >= 2, got shapes "
                     f"{p.shape} and {t.shape}.")
  if not jnp.issubdtype(p.dtype, jnp.floating):
    p = p.astype(jnp.promote_types(p.dtype, jnp.float32))
  return p, t.astype(p.dtype)


def _pearson(a: jax.Array, b: jax.Array) -> jax.Array:
  a = a - jnp.mean(a)
  b = b - jnp.mean(b)
  return jnp.sum(a * b) / jnp.sqrt(jnp.sum(a * a) * jnp.sum(b * b))


def kendall_tau(pred: ArrayLike, truth: ArrayLike) -> jax.Array:
  """Kendall's tau-a: (concordant - discordant pairs) / (P(P-1)/2); a tied pair counts 0.

  Exact and O(P^2) (a reference for :func:`diff_kendall`; it equals tau-b without ties).
  """
  p, t = _pair(pred, truth)
  n = p.shape[0]
  s = jnp.sign(p[:, None] - p[None, :]) * jnp.sign(t[:, None] - t[None, :])
  return jnp.sum(jnp.triu(s, 1)) / (n * (n - 1) / 2)


def spearman_rho(pred: ArrayLike, truth: ArrayLike) -> jax.Array:
  """Spearman's rho: Pearson correlation of the average ranks (``scipy.stats.spearmanr``)."""
  p, t = _pair(pred, truth)
  return _pearson(rank(p), rank(t))


def diff_kendall(pred: ArrayLike, truth: ArrayLike, *, alpha: ArrayLike = 0.5) -> jax.Array:
  """DiffKendall loss (ParZC): minus a smooth Kendall tau of ``pred`` against ``truth``.

  .. math:: L = -\\frac{\\sum_{i \\ne j} [\\sigma(a\\,\\Delta p_{ij}) - \\sigma(-a\\,\\Delta p_{ij})]
     [\\sigma(a\\,\\Delta t_{ij}) - \\sigma(-a\\,\\Delta t_{ij})]}{P(P-1)/2}

  Follows pprp/PicoNAS @ 4595a23 ``piconas/core/losses/diffkd.py`` (``diffkendall``, alpha = 0.5,
  beta = 1): the same ``alpha`` scales both differences, so ``truth``'s units matter (accuracy in
  percent there). The sum runs over ordered pairs, each pair twice, so L is in [-2, 2]; as
  ``alpha`` -> infinity (temperature 1/alpha -> 0) every bracket tends to the sign of the
  difference and L -> -2 tau-a (:func:`kendall_tau`).

  Args:
    pred: (P,) predicted scores (higher = better).
    truth: (P,) ground truth (e.g. accuracy).
    alpha: traced slope > 0.

  Returns:
    Scalar loss (lower = better).
  """
  p, t = _pair(pred, truth)
  n = p.shape[0]
  a = jnp.asarray(alpha, p.dtype)
  # sigmoid(x) - sigmoid(-x) = tanh(x / 2); the diagonal is tanh(0) = 0.
  sx = jnp.tanh(a * (p[:, None] - p[None, :]) / 2)
  sy = jnp.tanh(a * (t[:, None] - t[None, :]) / 2)
  return -jnp.sum(sx * sy) / (n * (n - 1) / 2)


def soft_spearman(pred: ArrayLike, truth: ArrayLike, *, regularization: ArrayLike = 0.1) -> jax.Array:
  """Minus Spearman's rho with the predictions' ranks replaced by :func:`soft_rank`.

  .. math:: L = -\\mathrm{corr}(\\tilde r(p), r(t))

  As ``regularization`` -> 0 the soft ranks become average ranks and L -> -rho
  (:func:`spearman_rho`). ``pred`` should be on a unit scale (e.g. standardised) for the
  regularization to mean the same for every model.

  Args:
    pred: (P,) predicted scores.
    truth: (P,) ground truth.
    regularization: traced soft-rank epsilon > 0.

  Returns:
    Scalar loss in [-1, 1].
  """
  p, t = _pair(pred, truth)
  return -_pearson(soft_rank(p, regularization=regularization), rank(t))


def pairwise_logistic(pred: ArrayLike, truth: ArrayLike, *, temperature: ArrayLike = 1.0) -> jax.Array:
  """RankNet's pairwise logistic loss, scaled by its temperature so that it has a T -> 0 limit.

  .. math:: L = \\frac{1}{|\\mathcal P|}\\sum_{(i,j): t_i > t_j} T\\,\\log(1 + e^{-(p_i - p_j)/T})

  over the pairs ordered by ``truth`` (ties skipped). As T -> 0 each term tends to the pairwise
  hinge ``max(0, p_j - p_i)``, the exact (non-differentiable) margin-free misorder cost (Burges et
  al. 2005, RankNet).

  Args:
    pred: (P,) predicted scores.
    truth: (P,) ground truth.
    temperature: traced T > 0.

  Returns:
    Scalar loss >= 0.
  """
  p, t = _pair(pred, truth)
  temp = jnp.asarray(temperature, p.dtype)
  better = t[:, None] > t[None, :]
  d = p[:, None] - p[None, :]
  terms = temp * jax.nn.softplus(-d / temp)
  return jnp.sum(jnp.where(better, terms, 0.0)) / jnp.maximum(jnp.sum(better), 1)


def list_mle(pred: ArrayLike, truth: ArrayLike, *, temperature: ArrayLike = 1.0) -> jax.Array:
  """ListMLE: minus the Plackett-Luce log-likelihood of the true order, times T, per item.

  .. math:: L = \\frac{T}{P}\\sum_{i=1}^{P}\\Big[\\log\\sum_{k \\ge i} e^{p_{\\pi_k}/T}
     - p_{\\pi_i}/T\\Big]

  with pi the architectures sorted by ``truth``, best first (ties in a fixed order: the stable
  sort of ``-truth``). As T -> 0 each term tends to ``max_{k >= i} p_{pi_k} - p_{pi_i}``: how far
  the best-scored architecture that is truly worse than ``pi_i`` outranks it (Xia et al. 2008).

  Args:
    pred: (P,) predicted scores.
    truth: (P,) ground truth.
    temperature: traced T > 0.

  Returns:
    Scalar loss >= 0.
  """
  p, t = _pair(pred, truth)
  temp = jnp.asarray(temperature, p.dtype)
  z = p[jnp.argsort(-t, stable=True)] / temp
  # log-sum-exp over each suffix z[i:], computed from the end.
  tail = jax.lax.cumlogsumexp(z, reverse=True)
  return temp * jnp.mean(tail - z)
