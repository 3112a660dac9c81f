"""Rank transforms: the non-finite policy, hard (average, dense) and soft ranks, soft sort, in JAX.

Every rank in jaxnas runs 1 = worst .. P = best over a population of P architectures, after
:func:`oriented` has turned a score column into "larger = better" with every non-finite value worst.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def _vector(x: ArrayLike, name: str) -> jax.Array:
  a = jnp.asarray(x)
  if a.ndim != 1 or a.shape[0] == 0:
    raise ValueError(f"`{name}` must be a non-empty 1-D array of scores (one per architecture), "
                     f"got shape {a.shape}.")
  if not jnp.issubdtype(a.dtype, jnp.floating):
    a = a.astype(jnp.promote_types(a.dtype, jnp.float32))
  return a


def oriented(scores: ArrayLike, *, higher_is_better: bool = True) -> jax.Array:
  """Scores oriented so that larger = better, with every non-finite score mapped to worst.

  This is the one place where jaxnas decides what NaN and +-inf mean: proxies return them as they
  are (a singular kernel gives -inf, a network whose output ignores its input gives NaN), and every
  ranking, aggregator and correlation treats all of them as the worst possible score (-inf after
  orientation, tied among themselves). :func:`jaxnas.evaluate.oriented_scores` calls this.

  Args:
    scores: (...,) scores; integers are promoted to float. Computed in their float dtype (pass
      float64 with x64 enabled for scores beyond float32's range, such as synflow's).
    higher_is_better: static direction of the score.

  Returns:
    (...,) floats: ``scores`` (or ``-scores``) where finite, ``-inf`` elsewhere.
  """
  s = jnp.asarray(scores)
  if not jnp.issubdtype(s.dtype, jnp.floating):
    s = s.astype(jnp.promote_types(s.dtype, jnp.float32))
  s = s if higher_is_better else -s
  return jnp.where(jnp.isfinite(s), s, -jnp.inf)


def rank(scores: ArrayLike, *, higher_is_better: bool = True) -> jax.Array:
  """Average ranks of one score column, 1 = worst, P = best; ties share their mean rank.

  .. math:: r_i = \\tfrac12\\,(\\#\\{j: s_j < s_i\\} + \\#\\{j: s_j \\le s_i\\} + 1)

  the definition of ``scipy.stats.rankdata(method='average')`` (and pandas' default), computed
  from one sort and two binary searches (O(P log P), jit/vmap-able). Scores go through
  :func:`oriented` first, so every non-finite score ties at the bottom.

  Args:
    scores: (P,) scores.
    higher_is_better: static direction.

  Returns:
    (P,) ranks in the float dtype of ``scores`` (exact: halves of integers below 2^24 in float32).
  """
  s = oriented(_vector(scores, "scores"), higher_is_better=higher_is_better)
  srt = jnp.sort(s)
  lo = jnp.searchsorted(srt, s, side="left")
  hi = jnp.searchsorted(srt, s, side="right")
  return ((lo + hi + 1) / 2).astype(s.dtype)


def dense_rank(*keys: ArrayLike) -> jax.Array:
  """Dense ranks of architectures ordered lexicographically by several keys, 1 = worst.

  Equal key tuples share a rank and the next distinct tuple gets the next integer (pandas'
  ``rank(method='dense')`` of tuples), as VKDNW ranks (size, entropy) pairs. Each key goes through
  :func:`oriented` (larger = better, non-finite worst); the first key is the most significant.

  Args:
    *keys: one or more (P,) columns.

  Returns:
    (P,) dense ranks in 1..P, in the float dtype of the first key.
  """
  if not keys:
    raise ValueError("`dense_rank` needs at least one key column.")
  cols = [oriented(_vector(k, f"keys[{i}]")) for i, k in enumerate(keys)]
  p = cols[0].shape[0]
  if any(c.shape[0] != p for c in cols):
    raise ValueError(f"Every key must have the same length; got {[c.shape[0] for c in cols]}.")
  order = jnp.lexsort(tuple(reversed(cols)))  # lexsort: the last key is the primary one
  srt = jnp.stack([c[order] for c in cols], axis=1)
  new = jnp.concatenate([jnp.ones(1, bool), jnp.any(srt[1:] != srt[:-1], axis=1)])
  return jnp.zeros(p, cols[0].dtype).at[order].set(jnp.cumsum(new).astype(cols[0].dtype))


def soft_rank(scores: ArrayLike, *, regularization: ArrayLike = 0.1,
              higher_is_better: bool = True) -> jax.Array:
  """Differentiable ranks: each pairwise comparison replaced by a sigmoid of the difference.

  .. math:: \\tilde r_i = \\tfrac12 + \\sum_j \\sigma\\big((s_i - s_j) / \\varepsilon\\big)

  As ``regularization`` (epsilon) -> 0 every sigmoid tends to the step function (1/2 at a tie), so
  the soft ranks tend to :func:`rank`'s average ranks exactly, ties included; for epsilon > 0 they
  are smooth in the scores and in epsilon. Chosen over ott-jax's optimal-transport soft ranks
  (``ott.tools.soft_sort.ranks``, Cuturi et al. 2019; an optional extra, ``jaxnas[ott]``, that the
  tests compare against) and Blondel et al.'s (2020) isotonic soft ranks because it needs no
  solver or iteration count, is exact at ties, and its gradient is the closed form of a sigmoid.
  Its cost is O(P^2) time and memory, fine for fitting on a few thousand architectures. Scores
  should be on a common scale (e.g. standardised) for a given epsilon to mean the same thing.
  Non-finite scores are mapped by :func:`oriented` to -inf and rank worst (their sigmoids are
  exact 0 / 1; the gradient there is zero).

  Args:
    scores: (P,) scores.
    regularization: epsilon > 0, traced (a float or a scalar array).
    higher_is_better: static direction.

  Returns:
    (P,) soft ranks in [1, P] (sum P(P+1)/2 exactly, like hard ranks).
  """
  s = oriented(_vector(scores, "scores"), higher_is_better=higher_is_better)
  eps = jnp.asarray(regularization, s.dtype)
  d = s[:, None] - s[None, :]
  # inf - inf is NaN: two non-finite scores tie (difference 0), as in `rank`.
  d = jnp.where(jnp.isneginf(s)[:, None] & jnp.isneginf(s)[None, :], 0.0, d)
  return 0.5 + jnp.sum(jax.nn.sigmoid(d / eps), axis=1)


def soft_sort(scores: ArrayLike, *, regularization: ArrayLike = 0.1) -> jax.Array:
  """Differentiable ascending sort: NeuralSort's relaxed permutation applied to the scores.

  .. math:: \\hat P_{i\\cdot} = \\mathrm{softmax}\\big(((P + 1 - 2i)\\,s - A_s \\mathbf 1) /
     \\varepsilon\\big), \\quad (A_s)_{jk} = |s_j - s_k|

  gives the scores in descending order as ``P_hat @ s`` (Grover et al. 2019, NeuralSort, Eq. 5;
  row i of P_hat is a softmax that tends to the indicator of the i-th largest score); the result is
  reversed to ascending order, like ``jnp.sort``. As ``regularization`` -> 0 it tends to the exact
  sort (ties give the tied value). O(P^2). Scores must be finite (pass them through
  :func:`oriented` and handle the non-finite ones first: a -inf makes every output NaN).

  Args:
    scores: (P,) finite scores.
    regularization: epsilon > 0, traced.

  Returns:
    (P,) softly sorted scores, ascending.
  """
  s = _vector(scores, "scores")
  p = s.shape[0]
  eps = jnp.asarray(regularization, s.dtype)
  b = jnp.sum(jnp.abs(s[:, None] - s[None, :]), axis=1)
  scale = (p + 1 - 2 * jnp.arange(1, p + 1)).astype(s.dtype)
  perm = jax.nn.softmax((scale[:, None] * s[None, :] - b[None, :]) / eps, axis=1)
  return (perm @ s)[::-1]


def normalised_ranks(columns: ArrayLike, higher_is_better=None) -> jax.Array:
  """Per-column average ranks divided by P: (P, K) features in (0, 1], 1 = best, non-finite worst.

  The scale-free input of the learned aggregators and of :func:`jaxnas.aggregate.log_rank` (whose
  summand is ``log`` of this). Computed over every row given (no labels are read).

  Args:
    columns: (P, K) scores, one column per proxy.
    higher_is_better: K static booleans (default: all True).

  Returns:
    (P, K) floats.
  """
  x = jnp.asarray(columns)
  if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
    raise ValueError(f"`columns` must be a (P, K) array with P, K >= 1 (architectures x proxies), "
                     f"got shape {x.shape}.")
  dirs = _directions(higher_is_better, x.shape[1])
  p = x.shape[0]
  return jnp.stack([rank(x[:, k], higher_is_better=d) / p for k, d in enumerate(dirs)], axis=1)


def _directions(higher_is_better, k: int) -> tuple[bool, ...]:
  if higher_is_better is None:
    return (True,) * k
  dirs = tuple(bool(d) for d in higher_is_better)
  if len(dirs) != k:
    raise ValueError(f"`higher_is_better` must have one entry per column ({k}), got {len(dirs)}.")
  return dirs
