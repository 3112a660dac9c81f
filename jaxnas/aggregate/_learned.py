"""Learned aggregators (per-proxy linear weights, a small MLP) and their optax fit loop, in pure JAX.

A :class:`Model` is a pair of pure functions, ``init(key, num_features) -> params`` and
``apply(params, features) -> scores`` (features (P, K) -> scores (P,), higher = better). The
features are typically :func:`jaxnas.aggregate.normalised_ranks` of the proxy columns, optionally
beside :func:`jaxnas.aggregate.nb201_cell_features`. No Flax: a hand-written two-layer network.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike


class Model(NamedTuple):
  """A learned aggregator: ``init(key, num_features, dtype) -> params``, ``apply(params, x) -> (P,)``.

  ``init`` creates parameters of ``dtype`` (:func:`fit` passes the features' dtype), so a fit gives
  the same numbers whether or not 64-bit JAX is enabled.
  """

  init: Callable
  apply: Callable
  name: str


class FitResult(NamedTuple):
  """Output of :func:`fit`: the fitted ``params`` and the (steps,) training ``losses``."""

  params: object
  losses: jax.Array


def linear() -> Model:
  """Per-proxy linear weights: ``score = x @ w``; starts at equal weights ``w = 1/K``.

  On normalised ranks the starting point is :func:`jaxnas.aggregate.rank_mean`'s order, so a
  rank loss with few labels moves away from the training-free aggregate only as far as the labels
  ask. A bias would not change any ranking and is omitted. The key is not used.
  """

  def init(key, num_features: int, dtype=jnp.float32):
    del key
    return {"w": jnp.full((num_features,), 1.0 / num_features, dtype)}

  def apply(params, x):
    return jnp.asarray(x) @ params["w"]

  return Model(init, apply, "linear")


def mlp(hidden: Sequence[int] = (32,), activation: Callable = jax.nn.gelu) -> Model:
  """A small MLP over the feature vector, beside a linear path: ``x @ w + MLP(x)``.

  The linear path starts at equal weights (as :func:`linear`) and the MLP's last layer at zero, so
  fitting starts from the rank-mean order and the MLP adds the interactions the labels support.
  Hidden layers use LeCun-normal weights (``1/sqrt(fan_in)``) drawn from ``key``.

  Args:
    hidden: static widths of the hidden layers.
    activation: static elementwise non-linearity.
  """
  hidden = tuple(int(h) for h in hidden)
  if not hidden or min(hidden) < 1:
    raise ValueError(f"`hidden` must be a non-empty sequence of positive widths, got {hidden}.")

  def init(key, num_features: int, dtype=jnp.float32):
    widths = (num_features,) + hidden
    keys = jax.random.split(key, len(hidden))
    layers = [{"w": jax.random.normal(k, (a, b), dtype) / jnp.sqrt(jnp.asarray(a, dtype)),
               "b": jnp.zeros(b, dtype)} for k, a, b in zip(keys, widths[:-1], widths[1:])]
    return {"w": jnp.full((num_features,), 1.0 / num_features, dtype), "layers": layers,
            "out": jnp.zeros(hidden[-1], dtype)}

  def apply(params, x):
    x = jnp.asarray(x)
    h = x
    for layer in params["layers"]:
      h = activation(h @ layer["w"].astype(x.dtype) + layer["b"].astype(x.dtype))
    return x @ params["w"].astype(x.dtype) + h @ params["out"].astype(x.dtype)

  return Model(init, apply, "mlp")


def fit(model: Model, features: ArrayLike, accuracy: ArrayLike, *, loss: Callable,
        optimizer: optax.GradientTransformation, steps: int, key: jax.Array) -> FitResult:
  """Fit ``model`` on labelled architectures by full-batch gradient descent on a rank loss.

  ``loss(model.apply(params, features), accuracy)`` is minimised for ``steps`` optax updates in
  one ``lax.scan``. Pure: the same key gives the same parameters, and the function can be jitted
  (close over ``model``, ``loss``, ``optimizer`` and ``steps``) and vmapped over keys and label
  sets.

  Args:
    model: a :class:`Model` (:func:`linear`, :func:`mlp`).
    features: (N, K) features of the labelled architectures.
    accuracy: (N,) their ground truth (higher = better).
    loss: ``loss(pred, truth) -> scalar``, e.g. :func:`jaxnas.aggregate.diff_kendall` or a
      ``functools.partial`` of a loss with its temperature.
    optimizer: an optax transformation, e.g. ``optax.adam(1e-2)``.
    steps: static number of updates (>= 1).
    key: PRNG key for ``model.init``.

  Returns:
    :class:`FitResult` (params, (steps,) losses before each update).

  Example:
    >>> import optax, jax, jax.numpy as jnp
    >>> from jaxnas import aggregate
    >>> x = jnp.array([[0.1, 0.9], [0.5, 0.5], [0.9, 0.2]]); acc = jnp.array([1.0, 2.0, 3.0])
    >>> res = aggregate.fit(aggregate.linear(), x, acc, loss=aggregate.diff_kendall,
    ...                     optimizer=optax.adam(0.1), steps=50, key=jax.random.key(0))
    >>> bool(res.losses[-1] < res.losses[0])
    True
  """
  x = jnp.asarray(features)
  y = jnp.asarray(accuracy)
  if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
    raise ValueError(f"`features` must be (N, K) and `accuracy` (N,) with the same N >= 2, got "
                     f"shapes {x.shape} and {y.shape}.")
  if not isinstance(steps, int) or steps < 1:
    raise ValueError(f"`steps` must be a positive int, got {steps!r}.")
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"`features` must be floating point, got dtype {x.dtype}.")
  y = y.astype(x.dtype)
  params = model.init(key, x.shape[1], x.dtype)
  return _descend(lambda p: loss(model.apply(p, x), y), params, optimizer, steps)


def _descend(objective, params, optimizer, steps: int) -> FitResult:
  """``steps`` optax updates of ``params`` on ``objective`` in one ``lax.scan``."""

  def step(carry, _):
    p, state = carry
    value, grads = jax.value_and_grad(objective)(p)
    updates, state = optimizer.update(grads, state, p)
    return (optax.apply_updates(p, updates), state), value

  (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
  return FitResult(params, losses)


def tune(score_fn: Callable, hyper, inputs, accuracy: ArrayLike, *, loss: Callable,
         optimizer: optax.GradientTransformation, steps: int) -> FitResult:
  """Tune a proxy's own hyperparameters by gradient descent on a rank loss over a population.

  ``score_fn(hyper, input) -> scalar`` is a pure proxy (or the part of one that depends on the
  hyperparameters, e.g. jacob_cov's regulariser k given the cell's eigenvalues, RBFleX's widths
  given its distance matrices); it is vmapped over the leading axis of ``inputs`` and
  ``loss(scores, accuracy)`` is minimised over ``hyper`` (traced: any pytree of float arrays, e.g.
  a log-width) for ``steps`` optax updates. Non-finite scores should be masked by the caller
  (they have no gradient).

  Args:
    score_fn: ``(hyper, input) -> scalar`` score, higher = better.
    hyper: initial hyperparameters (pytree).
    inputs: pytree of (N, ...) per-architecture inputs.
    accuracy: (N,) ground truth of those architectures.
    loss: ``loss(scores, accuracy) -> scalar``.
    optimizer: an optax transformation.
    steps: static number of updates (>= 1).

  Returns:
    :class:`FitResult` (tuned hyperparameters, (steps,) losses before each update).
  """
  if not isinstance(steps, int) or steps < 1:
    raise ValueError(f"`steps` must be a positive int, got {steps!r}.")
  y = jnp.asarray(accuracy)
  sizes = {leaf.shape[0] if jnp.ndim(leaf) else None for leaf in jax.tree.leaves(inputs)}
  if sizes != {y.shape[0]} or y.ndim != 1:
    raise ValueError(f"Every leaf of `inputs` must have a leading axis of length N = len(accuracy) "
                     f"({y.shape}); got leading lengths {sorted(map(str, sizes))}.")
  scores = jax.vmap(score_fn, in_axes=(None, 0))
  return _descend(lambda h: loss(scores(h, inputs), y), hyper, optimizer, steps)
