"""A small exact Gaussian process in JAX: Matern-5/2 kernel, sklearn's ``normalize_y`` convention.

Why hand-rolled: RoBoT's Bayesian optimisation fits a GP to at most 20 points in at most ~20
dimensions, once per query. That is a 20x20 Cholesky factorisation; a JAX version is a few lines,
runs under ``jit`` with a fixed capacity (padded, masked points) so a whole BO step compiles once,
and needs no extra dependency (GPJax brings its own parameter/optimiser stack for this). Its
posterior is tested against a closed form written in float64 NumPy and, where installed, against
scikit-learn, which is what the reference uses (hzf1174/RoBoT via bayesian-optimization 1.2.0:
``GaussianProcessRegressor(kernel=Matern(nu=2.5), alpha=1e-6, normalize_y=True,
n_restarts_optimizer=5)``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

#: sklearn's default bounds of ``Matern.length_scale``.
LENGTHSCALE_BOUNDS = (1e-5, 1e5)


def matern52(x: jax.Array, y: jax.Array, *, lengthscale) -> jax.Array:
  """Matern kernel with nu = 5/2 and unit amplitude: (1 + s + s^2/3) exp(-s), s = sqrt(5) d / l.

  Args:
    x: (n, d) points.
    y: (m, d) points.
    lengthscale: isotropic lengthscale (traced; tuning it never recompiles).

  Returns:
    (n, m) kernel matrix, in the promoted dtype of the inputs.
  """
  d2 = jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
  d = jnp.sqrt(jnp.maximum(d2, 0.0) + jnp.finfo(d2.dtype).tiny)
  d = jnp.where(d2 > 0, d, 0.0)
  s = jnp.sqrt(5.0) * d / lengthscale
  return (1.0 + s + s * s / 3.0) * jnp.exp(-s)


class GPPosterior(NamedTuple):
  """A fitted GP (a pytree). Padded points (``mask`` False) take no part in the fit.

  Attributes:
    x: (n, d) training inputs (padded rows arbitrary).
    mask: (n,) which rows are data.
    chol: (n, n) lower Cholesky factor of K + alpha I on the data block (identity on padding).
    weights: (n,) (K + alpha I)^-1 y_normalised (zero on padding).
    y_mean, y_std: the normalisation of y (sklearn ``normalize_y=True``).
    lengthscale: the kernel lengthscale used.
  """

  x: jax.Array
  mask: jax.Array
  chol: jax.Array
  weights: jax.Array
  y_mean: jax.Array
  y_std: jax.Array
  lengthscale: jax.Array


def _normalise(y, mask):
  m = mask.astype(y.dtype)
  n = jnp.maximum(m.sum(), 1.0)
  mean = jnp.sum(y * m) / n
  std = jnp.sqrt(jnp.sum(((y - mean) * m) ** 2) / n)
  std = jnp.where(std == 0.0, 1.0, std)  # sklearn's _handle_zeros_in_scale
  return jnp.where(mask, (y - mean) / std, 0.0), mean, std


def _masked_gram(x, mask, lengthscale, alpha):
  k = matern52(x, x, lengthscale=lengthscale)
  both = mask[:, None] & mask[None, :]
  eye = jnp.eye(x.shape[0], dtype=k.dtype)
  return jnp.where(both, k, 0.0) + eye * jnp.where(mask, alpha, 1.0)


def log_marginal_likelihood(x, y, mask, *, lengthscale, alpha=1e-6) -> jax.Array:
  """log p(y_normalised | x) of the masked points (sklearn's ``log_marginal_likelihood``)."""
  yn, _, _ = _normalise(y, mask)
  chol = jnp.linalg.cholesky(_masked_gram(x, mask, lengthscale, alpha))
  w = jax.scipy.linalg.cho_solve((chol, True), yn)
  n = mask.sum()
  return (-0.5 * jnp.dot(yn, w) - jnp.sum(jnp.log(jnp.diagonal(chol)))
          - 0.5 * n * jnp.log(2.0 * jnp.pi))


def fit_lengthscale(x, y, mask, *, alpha=1e-6, bounds=LENGTHSCALE_BOUNDS, grid: int = 401,
                    zoom: int = 3) -> jax.Array:
  """Lengthscale maximising the log marginal likelihood, by a log-spaced grid search with zooms.

  sklearn maximises the same function with L-BFGS-B from 1.0 plus ``n_restarts_optimizer`` random
  starts; for one hyperparameter a dense grid over the whole bounds (401 points, then ``zoom``
  refinements of 41 points between the best point's neighbours) finds the global maximum without
  depending on the restarts, and runs under ``jit``.
  """
  lo, hi = jnp.log(bounds[0]), jnp.log(bounds[1])

  def lml(logl):
    return jax.vmap(lambda t: log_marginal_likelihood(x, y, mask, lengthscale=jnp.exp(t),
                                                      alpha=alpha))(logl)

  pts = jnp.linspace(lo, hi, grid)
  vals = jnp.nan_to_num(lml(pts), nan=-jnp.inf)
  best = pts[jnp.argmax(vals)]
  step = (hi - lo) / (grid - 1)
  for _ in range(zoom):
    pts = jnp.clip(jnp.linspace(best - step, best + step, 41), lo, hi)
    vals = jnp.nan_to_num(lml(pts), nan=-jnp.inf)
    best = pts[jnp.argmax(vals)]
    step = step / 20.0
  return jnp.exp(best)


def gp_fit(x, y, mask=None, *, lengthscale=None, alpha=1e-6) -> GPPosterior:
  """Exact GP regression on the masked points; lengthscale fitted by marginal likelihood if None.

  Args:
    x: (n, d) inputs. y: (n,) targets. mask: (n,) bool, default all True.
    lengthscale: fixed lengthscale, or None to maximise the log marginal likelihood.
    alpha: value added to the kernel diagonal (sklearn's ``alpha``; keyword-only jitter).
  """
  x = jnp.asarray(x)
  y = jnp.asarray(y, x.dtype)
  if x.ndim != 2 or y.shape != x.shape[:1]:
    raise ValueError(f"`x` must be (n, d) and `y` (n,), got shapes {x.shape} and {y.shape}.")
  mask = jnp.ones(y.shape, bool) if mask is None else jnp.asarray(mask, bool)
  if lengthscale is None:
    lengthscale = fit_lengthscale(x, y, mask, alpha=alpha)
  lengthscale = jnp.asarray(lengthscale, x.dtype)
  yn, mean, std = _normalise(y, mask)
  chol = jnp.linalg.cholesky(_masked_gram(x, mask, lengthscale, alpha))
  w = jax.scipy.linalg.cho_solve((chol, True), yn)
  return GPPosterior(x, mask, chol, w, mean, std, lengthscale)


def gp_predict(post: GPPosterior, xq: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Posterior mean and standard deviation at (m, d) points, in y's units (sklearn ``predict``)."""
  kq = jnp.where(post.mask[None, :], matern52(xq, post.x, lengthscale=post.lengthscale), 0.0)
  mean = kq @ post.weights
  v = jax.scipy.linalg.solve_triangular(post.chol, kq.T, lower=True)
  var = jnp.maximum(1.0 - jnp.sum(v * v, axis=0), 0.0)
  return mean * post.y_std + post.y_mean, jnp.sqrt(var) * post.y_std
