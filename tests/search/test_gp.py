"""The GP against a closed form in float64 NumPy, and against scikit-learn where installed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import search

_fit = jax.jit(lambda x, y, m: search.gp_fit(x, y, m, alpha=1e-6))
_predict = jax.jit(search.gp_predict)


def _matern(a, b, ls):
  d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
  s = np.sqrt(5.0) * d / ls
  return (1 + s + s ** 2 / 3) * np.exp(-s)


def _closed_form(x, y, xq, ls, alpha):
  mu, sd = y.mean(), y.std()
  yn = (y - mu) / sd
  K = _matern(x, x, ls) + alpha * np.eye(len(x))
  Ks = _matern(xq, x, ls)
  mean = Ks @ np.linalg.solve(K, yn)
  var = 1.0 - np.einsum("ij,ji->i", Ks, np.linalg.solve(K, Ks.T))
  _, logdet = np.linalg.slogdet(K)
  lml = -0.5 * yn @ np.linalg.solve(K, yn) - 0.5 * logdet - 0.5 * len(x) * np.log(2 * np.pi)
  return mean * sd + mu, np.sqrt(np.maximum(var, 0)) * sd, lml


def _data(n=12, d=3, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.uniform(-1, 1, (n, d))
  y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 + 0.1 * rng.normal(size=n) + 80.0
  return x, y, rng.uniform(-1, 1, (40, d))


def test_posterior_matches_closed_form_float64():
  x, y, xq = _data()
  with jax.enable_x64(True):
    post = jax.jit(lambda a, b: search.gp_fit(a, b, lengthscale=0.7, alpha=1e-6))(
        jnp.asarray(x), jnp.asarray(y))
    mean, std = _predict(post, jnp.asarray(xq))
    lml = jax.jit(lambda a, b: search.log_marginal_likelihood(
        a, b, jnp.ones(len(y), bool), lengthscale=0.7, alpha=1e-6))(jnp.asarray(x), jnp.asarray(y))
  m0, s0, l0 = _closed_form(x, y, xq, 0.7, 1e-6)
  np.testing.assert_allclose(np.asarray(mean), m0, rtol=1e-10, atol=1e-9)
  np.testing.assert_allclose(np.asarray(std), s0, rtol=1e-7, atol=1e-9)
  np.testing.assert_allclose(float(lml), l0, rtol=1e-10)


def test_padding_is_ignored():
  x, y, xq = _data()
  xp = np.concatenate([x, np.full((5, 3), 0.3)])
  yp = np.concatenate([y, np.full(5, -1e3)])
  mask = np.arange(len(yp)) < len(y)
  with jax.enable_x64(True):
    a = _predict(_fit(jnp.asarray(xp), jnp.asarray(yp), jnp.asarray(mask)), jnp.asarray(xq))
    b = _predict(_fit(jnp.asarray(x), jnp.asarray(y), jnp.ones(len(y), bool)), jnp.asarray(xq))
  np.testing.assert_allclose(np.asarray(a[0]), np.asarray(b[0]), rtol=1e-9)
  np.testing.assert_allclose(np.asarray(a[1]), np.asarray(b[1]), rtol=1e-7, atol=1e-10)


def test_fitted_lengthscale_maximises_likelihood():
  x, y, _ = _data()
  with jax.enable_x64(True):
    ls = float(jax.jit(search.fit_lengthscale)(jnp.asarray(x), jnp.asarray(y),
                                               jnp.ones(len(y), bool)))
  lml = lambda l: _closed_form(x, y, x[:1], l, 1e-6)[2]
  # a local maximum to 1e-3 relative, and at least as good as a dense independent grid
  assert lml(ls) >= max(lml(ls * 1.001), lml(ls / 1.001)) - 1e-9
  assert lml(ls) >= max(lml(l) for l in np.logspace(-3, 3, 601)) - 1e-6


def test_against_sklearn():
  gp_mod = pytest.importorskip("sklearn.gaussian_process")
  kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
  x, y, xq = _data(15, 4, seed=3)
  ref = gp_mod.GaussianProcessRegressor(kernel=kernels.Matern(nu=2.5), alpha=1e-6,
                                        normalize_y=True, n_restarts_optimizer=5,
                                        random_state=0).fit(x, y)
  m0, s0 = ref.predict(xq, return_std=True)
  with jax.enable_x64(True):
    post = _fit(jnp.asarray(x), jnp.asarray(y), jnp.ones(len(y), bool))
    mean, std = _predict(post, jnp.asarray(xq))
  np.testing.assert_allclose(float(post.lengthscale), ref.kernel_.length_scale, rtol=1e-3)
  np.testing.assert_allclose(np.asarray(mean), m0, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(np.asarray(std), s0, rtol=1e-3, atol=1e-4)


def test_bad_shapes_are_named():
  with pytest.raises(ValueError, match="`x` must be"):
    search.gp_fit(jnp.zeros(3), jnp.zeros(3))
