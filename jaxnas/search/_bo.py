"""Acquisition functions and their maximiser (bayesian-optimization 1.2.0's ``acq_max`` under jit)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._gp import GPPosterior, gp_predict, matern52

ACQUISITIONS = ("ucb", "ei")


def _predict_smooth(post: GPPosterior, x):
  """Mean and std at one point (d,), with the std made differentiable where it is 0."""
  mean, _ = gp_predict(post, x[None])
  kq = jnp.where(post.mask[None, :], matern52(x[None], post.x, lengthscale=post.lengthscale), 0.0)
  v = jax.scipy.linalg.solve_triangular(post.chol, kq.T, lower=True)
  var = jnp.maximum(1.0 - jnp.sum(v * v), 0.0)
  return mean[0], jnp.sqrt(var + 1e-12) * post.y_std


def acquisition(kind: str, mean, std, *, kappa=2.576, xi=0.0, y_max=0.0):
  """bayes_opt 1.2.0's ``UtilityFunction``: 'ucb' = mean + kappa std; 'ei' = expected improvement
  over ``y_max + xi``, (mean - y_max - xi) Phi(z) + std phi(z), z = (mean - y_max - xi) / std."""
  if kind == "ucb":
    return mean + kappa * std
  if kind == "ei":
    a = mean - y_max - xi
    z = a / std
    out = a * jax.scipy.stats.norm.cdf(z) + std * jax.scipy.stats.norm.pdf(z)
    return jnp.where(std > 0, out, jnp.maximum(a, 0.0))
  raise ValueError(f"`kind` must be one of {ACQUISITIONS}, got {kind!r}.")


def maximise_acquisition(key, post: GPPosterior, lower, upper, *, kind: str = "ucb", kappa=2.576,
                         xi=0.0, y_max=0.0, n_warmup: int = 10000, n_seeds: int = 10,
                         ascent_steps: int = 50):
  """The arg-max of an acquisition over the box [lower, upper].

  bayes_opt's ``acq_max``: the best of `n_warmup` uniform points, then a local optimiser from
  `n_seeds` uniform starts, keeping a refined point if it is at least as good. Here the local
  optimiser is projected normalised gradient ascent with a 1/(1+i) step (a fixed-length loop that
  runs under jit) instead of scipy's L-BFGS-B.
  """
  lower = jnp.asarray(lower, post.x.dtype)
  upper = jnp.asarray(upper, post.x.dtype)
  d = lower.shape[0]
  kw, ks = jax.random.split(key)

  def acq(x):
    mean, std = gp_predict(post, x)
    return acquisition(kind, mean, std, kappa=kappa, xi=xi, y_max=y_max)

  def smooth(x):
    mean, std = _predict_smooth(post, x)
    return acquisition(kind, mean, std, kappa=kappa, xi=xi, y_max=y_max)

  tries = jax.random.uniform(kw, (n_warmup, d), post.x.dtype, lower, upper)
  ys = acq(tries)
  best_x, best_a = tries[jnp.argmax(ys)], jnp.max(ys)
  seeds = jax.random.uniform(ks, (n_seeds, d), post.x.dtype, lower, upper)
  grad = jax.grad(smooth)
  width = upper - lower

  def step(i, x):
    g = jnp.nan_to_num(grad(x)) * width
    lr = 0.1 / (1.0 + i)
    return jnp.clip(x + lr * width * g / (jnp.linalg.norm(g) + 1e-12), lower, upper)

  refined = jax.vmap(lambda x: jax.lax.fori_loop(0, ascent_steps, step, x))(seeds)
  ra = acq(refined)
  j = jnp.argmax(jnp.nan_to_num(ra, nan=-jnp.inf))
  return jnp.where(ra[j] >= best_a, refined[j], best_x)
