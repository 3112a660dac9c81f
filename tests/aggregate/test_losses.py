"""Rank losses against exact rank statistics (naive float64 loops) as their temperature -> 0."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxnas import aggregate
from tests.conftest import TOL


def naive_tau_a(p, t):
  n = len(p)
  s = sum(np.sign(p[i] - p[j]) * np.sign(t[i] - t[j]) for i, j in itertools.combinations(range(n), 2))
  return s / (n * (n - 1) / 2)


def naive_hinge(p, t):
  terms = [max(0.0, p[j] - p[i]) for i in range(len(p)) for j in range(len(p)) if t[i] > t[j]]
  return np.mean(terms)


def naive_list_limit(p, t):
  order = np.argsort(-t, kind="stable")
  z = p[order]
  return np.mean([np.max(z[i:]) - z[i] for i in range(len(z))])


@pytest.fixture
def data(rng):
  t = rng.normal(size=25)
  t[3] = t[7]  # a tie in the truth
  p = t + rng.normal(size=25)
  return p, t


def test_exact_statistics_match_scipy(data):
  p, t = data
  with jax.enable_x64(True):
    np.testing.assert_allclose(float(aggregate.kendall_tau(p, t)), naive_tau_a(p, t),
                               **TOL["float64"])
    np.testing.assert_allclose(float(aggregate.spearman_rho(p, t)),
                               stats.spearmanr(p, t).statistic, **TOL["float64"])


def test_diff_kendall_tends_to_minus_twice_tau(data):
  p, t = data
  with jax.enable_x64(True):
    vals = [float(aggregate.diff_kendall(p, t, alpha=a)) for a in (0.5, 5.0, 1e3, 1e6)]
  gaps = [abs(v + 2 * naive_tau_a(p, t)) for v in vals]
  assert gaps[0] > gaps[1] > gaps[2] and gaps[3] < 1e-9


def test_diff_kendall_matches_the_reference_sigmoid_form(data):
  p, t = data  # pprp/PicoNAS diffkd.py, written with sigmoids as there
  s = lambda z: 1 / (1 + np.exp(-z))
  dx, dy = p[:, None] - p[None, :], t[:, None] - t[None, :]
  num = (s(0.5 * dx) - s(-0.5 * dx)) * (s(0.5 * dy) - s(-0.5 * dy))
  num = num - np.diag(np.diag(num))
  ref = -num.sum() / (len(p) * (len(p) - 1) / 2)
  with jax.enable_x64(True):
    np.testing.assert_allclose(float(aggregate.diff_kendall(p, t)), ref, **TOL["float64"])


def test_soft_spearman_tends_to_minus_rho(data):
  p, t = data
  rho = stats.spearmanr(p, t).statistic
  with jax.enable_x64(True):
    gaps = [abs(float(aggregate.soft_spearman(p, t, regularization=r)) + rho)
            for r in (1.0, 0.1, 1e-8)]
  assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-9


def test_pairwise_logistic_tends_to_pairwise_hinge(data):
  p, t = data
  with jax.enable_x64(True):
    gaps = [abs(float(aggregate.pairwise_logistic(p, t, temperature=T)) - naive_hinge(p, t))
            for T in (1.0, 0.1, 1e-6)]
  assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-6


def test_list_mle_tends_to_its_max_gap_limit(data):
  p, t = data
  with jax.enable_x64(True):
    gaps = [abs(float(aggregate.list_mle(p, t, temperature=T)) - naive_list_limit(p, t))
            for T in (1.0, 0.1, 1e-6)]
    # T = 1: the Plackett-Luce negative log-likelihood per item, written out.
    z = p[np.argsort(-t, kind="stable")]
    nll = np.mean([np.log(np.sum(np.exp(z[i:]))) - z[i] for i in range(len(z))])
    np.testing.assert_allclose(float(aggregate.list_mle(p, t)), nll, **TOL["float64"])
  assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-5


@pytest.mark.parametrize("loss", [aggregate.diff_kendall, aggregate.soft_spearman,
                                  aggregate.pairwise_logistic, aggregate.list_mle])
def test_losses_are_lower_for_better_orders_and_differentiable(loss, data):
  p, t = data
  t32 = jnp.asarray(t, jnp.float32)
  good, bad = loss(t32, t32), loss(-t32, t32)
  assert float(good) < float(bad)
  g = jax.jit(jax.grad(loss))(jnp.asarray(p, jnp.float32), t32)
  assert g.shape == (25,) and np.all(np.isfinite(g)) and np.any(g != 0)
  with pytest.raises(ValueError, match="`pred` and `truth`"):
    loss(jnp.zeros(3), jnp.zeros(4))
