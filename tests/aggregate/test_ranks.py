"""Rank transforms against scipy's definitions; soft ranks -> hard ranks as regularization -> 0."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxnas import aggregate
from tests.conftest import TOL


def test_rank_matches_scipy_average_ranks_with_ties_and_non_finite(rng):
  x = rng.integers(0, 6, size=50).astype(float)
  x[[3, 7]] = np.nan
  x[[9]] = np.inf
  x[[11]] = -np.inf
  worst_first = np.where(np.isfinite(x), x, -np.inf)
  np.testing.assert_array_equal(aggregate.rank(x), stats.rankdata(worst_first))
  # lower is better: the negated finite scores, non-finite still worst
  np.testing.assert_array_equal(aggregate.rank(x, higher_is_better=False),
                                stats.rankdata(np.where(np.isfinite(x), -x, -np.inf)))
  assert jax.jit(aggregate.rank)(x).shape == (50,)


def test_oriented_is_the_non_finite_policy():
  s = np.array([1.0, np.nan, -np.inf, np.inf, -2.0])
  np.testing.assert_array_equal(aggregate.oriented(s), [1, -np.inf, -np.inf, -np.inf, -2])
  np.testing.assert_array_equal(aggregate.oriented(s, higher_is_better=False),
                                [-1, -np.inf, -np.inf, -np.inf, 2])


def test_dense_rank_of_pairs_matches_a_naive_sort(rng):
  a = rng.integers(0, 4, size=30).astype(float)
  b = rng.integers(0, 3, size=30).astype(float)
  b[5] = np.nan
  pairs = sorted(set(zip(a, np.where(np.isnan(b), -np.inf, b))))
  want = [pairs.index((ai, bi)) + 1 for ai, bi in zip(a, np.where(np.isnan(b), -np.inf, b))]
  np.testing.assert_array_equal(aggregate.dense_rank(a, b), want)


@pytest.mark.parametrize("ties", [False, True])
def test_soft_rank_tends_to_hard_rank(rng, ties):
  x = rng.normal(size=40)
  if ties:
    x = np.round(x * 2) / 2
  x[4] = np.nan
  with jax.enable_x64(True):
    hard = np.asarray(aggregate.rank(x))
    errs = [np.max(np.abs(np.asarray(aggregate.soft_rank(x, regularization=r)) - hard))
            for r in (1.0, 1e-1, 1e-2, 1e-7)]
  assert errs[0] > errs[1] >= errs[2] >= errs[3] and errs[3] < 1e-9
  soft = aggregate.soft_rank(x, regularization=0.3)
  np.testing.assert_allclose(float(jnp.sum(soft)), 40 * 41 / 2, **TOL["float32"])


def test_soft_rank_is_differentiable_in_scores_and_regularization(rng):
  x = jnp.asarray(rng.normal(size=10), jnp.float32)
  g = jax.grad(lambda s: jnp.sum(aggregate.soft_rank(s, regularization=0.5) * jnp.arange(10.0)))(x)
  assert np.all(np.isfinite(g)) and np.any(g != 0)
  ge = jax.grad(lambda e: aggregate.soft_rank(x, regularization=e)[0])(0.5)
  assert np.isfinite(ge) and ge != 0


def test_soft_rank_agrees_with_ott_at_small_regularization(rng):
  soft_sort = pytest.importorskip("ott.tools.soft_sort", reason="ott-jax is an optional extra")
  x = jnp.asarray(rng.normal(size=12), jnp.float32)
  ott = np.asarray(soft_sort.ranks(x, epsilon=1e-4)) + 1  # ott: 0-based, entropic OT
  ours = np.asarray(aggregate.soft_rank(x, regularization=1e-3))
  np.testing.assert_allclose(ours, ott, atol=0.01)
  np.testing.assert_array_equal(np.argsort(ours), np.argsort(ott))


def test_soft_sort_tends_to_the_sort(rng):
  x = rng.normal(size=30)
  with jax.enable_x64(True):
    errs = [np.max(np.abs(np.asarray(aggregate.soft_sort(x, regularization=r)) - np.sort(x)))
            for r in (1.0, 0.1, 1e-3, 1e-6)]
  assert errs[0] > errs[1] > errs[2] >= errs[3] and errs[3] < 1e-9
  g = jax.grad(lambda s: aggregate.soft_sort(s, regularization=0.5)[-1])(jnp.asarray(x, jnp.float32))
  assert np.all(np.isfinite(g)) and float(jnp.sum(g)) == pytest.approx(1.0, abs=1e-5)


def test_soft_sort_agrees_with_ott_at_small_regularization(rng):
  soft_sort = pytest.importorskip("ott.tools.soft_sort", reason="ott-jax is an optional extra")
  x = jnp.asarray(rng.normal(size=12), jnp.float32)
  np.testing.assert_allclose(aggregate.soft_sort(x, regularization=1e-3),
                             soft_sort.sort(x, epsilon=1e-4), atol=0.01)


def test_normalised_ranks_and_errors():
  x = np.array([[1.0, 5.0], [2.0, 4.0], [3.0, np.nan]])
  np.testing.assert_allclose(aggregate.normalised_ranks(x, [True, False]),
                             [[1 / 3, 2 / 3], [2 / 3, 1.0], [1.0, 1 / 3]], **TOL["float32"])
  with pytest.raises(ValueError, match="higher_is_better"):
    aggregate.normalised_ranks(x, [True])
  with pytest.raises(ValueError, match="`scores` must be a non-empty 1-D"):
    aggregate.rank(np.zeros((2, 2)))
