"""The strategy contract: a pair of pure functions over a state pytree (optax / evosax style)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

State = Any


class Strategy(NamedTuple):
  """A search strategy: pure ``init`` / ``ask`` / ``tell`` over a state pytree.

  Attributes:
    init: ``init(key) -> state``.
    ask: ``ask(key, state) -> (encodings (batch, L) int32, state)``: the architectures to evaluate
      next.
    tell: ``tell(state, encodings, fitness (batch,)) -> state``: their fitness, higher is better,
      non-finite meaning worst (see :func:`finite_or_worst`).
    name: the strategy's name (recorded in results).
    batch: encodings per ``ask`` (static).
    fitness: what the driver feeds ``tell``: ``'query'`` (the training-based query, counted
      against the budget) or ``'proxy'`` (a zero-cost proxy; the search makes no query).
    settings: the factory's static options, for the record.
    space: the :class:`~jaxnas.search.TraceableSpace` the encodings belong to.

  Every static option is closed over by the factory that builds the strategy, so ``ask`` and
  ``tell`` can be ``jax.jit``-ed as they are and a whole search can run under ``lax.scan`` when
  the fitness is a table lookup.
  """

  init: Callable[[jax.Array], State]
  ask: Callable[[jax.Array, State], tuple[jax.Array, State]]
  tell: Callable[[State, jax.Array, jax.Array], State]
  name: str
  batch: int
  fitness: str
  settings: dict
  space: Any


def finite_or_worst(values: jax.Array) -> jax.Array:
  """Fitness with every non-finite value (NaN, +-inf) mapped to -inf, the worst.

  The jnp twin of :func:`jaxnas.evaluate.oriented_scores` (the one NaN policy of jaxnas).
  """
  values = jnp.asarray(values)
  return jnp.where(jnp.isfinite(values), values, -jnp.inf)


def check_positive_int(value, name: str, minimum: int = 1) -> int:
  if isinstance(value, bool) or int(value) != value or value < minimum:
    raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
  return int(value)
