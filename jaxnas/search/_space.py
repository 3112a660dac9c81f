"""JAX-traceable moves over a space's integer encodings (sample, mutate, index lookups).

The NumPy API of :mod:`jaxnas.spaces` validates and returns host arrays; a search generation that
runs under ``jit`` / ``lax.scan`` needs the same moves as pure ``jnp`` functions of a key. They
live here, built once from a space by :func:`traceable`, and agree with the NumPy versions (tests).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.spaces import SearchSpace
from jaxnas.spaces._base import mixed_radix_index


class TraceableSpace:
  """Encodings as int32 arrays with jit-able moves; the official index via a lookup array.

  Attributes:
    name: the space's name.
    choices: values per position (static).
    size: number of architectures.
    to_official: (size,) official index of each product-order position.
    to_product: (size,) product-order position of each official index.

  Built by :func:`traceable` (from a :class:`~jaxnas.spaces.SearchSpace`) or :meth:`product` (a
  small product space whose official order is the product order, for tests). Instances are closed
  over by strategy factories, never passed through ``jit``.
  """

  def __init__(self, name: str, choices: Sequence[int], to_official: np.ndarray):
    self.name = name
    self.choices = tuple(int(c) for c in choices)
    self.size = int(np.prod(self.choices))
    to_official = np.asarray(to_official, np.int64)
    if to_official.shape != (self.size,) or not np.array_equal(np.sort(to_official),
                                                               np.arange(self.size)):
      raise ValueError(f"`to_official` must be a permutation of range({self.size}), got shape "
                       f"{to_official.shape}.")
    to_product = np.empty_like(to_official)
    to_product[to_official] = np.arange(self.size)
    self.to_official = jnp.asarray(to_official, jnp.int32)
    self.to_product = jnp.asarray(to_product, jnp.int32)
    strides = np.cumprod((1,) + self.choices[::-1])[:-1][::-1]
    self._strides = jnp.asarray(strides, jnp.int32)
    self._choices = jnp.asarray(self.choices, jnp.int32)

  @classmethod
  def product(cls, choices: Sequence[int], name: str = "product") -> "TraceableSpace":
    """A space whose official index is the product-order index (first position most significant)."""
    return cls(name, choices, np.arange(int(np.prod(choices))))

  @property
  def encoding_length(self) -> int:
    return len(self.choices)

  def index_of(self, enc: jax.Array) -> jax.Array:
    """Official index of encoding(s) (..., L), as int32."""
    return self.to_official[jnp.sum(jnp.asarray(enc, jnp.int32) * self._strides, axis=-1)]

  def encoding_of(self, index: jax.Array) -> jax.Array:
    """Encoding(s) (..., L) of official index(es)."""
    p = self.to_product[jnp.asarray(index, jnp.int32)]
    return (p[..., None] // self._strides) % self._choices

  def sample(self, key: jax.Array, n: int) -> jax.Array:
    """`n` uniform random encodings (with replacement), shape (n, L), int32."""
    u = jax.random.uniform(key, (n, len(self.choices)))
    return jnp.minimum((u * self._choices).astype(jnp.int32), self._choices - 1)

  def mutate(self, key: jax.Array, enc: jax.Array) -> jax.Array:
    """A copy of one encoding (L,) with one uniformly chosen position set to a different value.

    The same move as the NumPy ``EncodedSpace.mutate``: position uniform, new value uniform among
    the other ``choices[pos] - 1`` values.
    """
    kpos, kval = jax.random.split(key)
    pos = jax.random.randint(kpos, (), 0, len(self.choices), jnp.int32)
    base = self._choices[pos]
    shift = jax.random.randint(kval, (), 1, base, jnp.int32)
    enc = jnp.asarray(enc, jnp.int32)
    return enc.at[pos].set((enc[pos] + shift) % base)

  def random_unvisited(self, key: jax.Array, visited: jax.Array) -> jax.Array:
    """A uniformly random official index among those with ``visited == False`` (any if none)."""
    logits = jnp.where(visited, -jnp.inf, 0.0)
    logits = jnp.where(jnp.all(visited), 0.0, logits)
    return jax.random.categorical(key, logits).astype(jnp.int32)


def traceable(space: SearchSpace) -> TraceableSpace:
  """The :class:`TraceableSpace` of a jaxnas space (its official order read from ``all_encodings``).

  Args:
    space: e.g. :data:`jaxnas.spaces.nb201`.

  Example:
    >>> from jaxnas import spaces, search
    >>> ts = search.traceable(spaces.nb201)
    >>> int(ts.index_of(ts.encoding_of(9930)))
    9930
  """
  if isinstance(space, TraceableSpace):
    return space
  if not isinstance(space, SearchSpace):
    raise TypeError(f"`space` must be a jaxnas SearchSpace (e.g. jaxnas.spaces.nb201), got "
                    f"{type(space).__name__}.")
  choices = tuple(space.choices_per_position)
  product = mixed_radix_index(np.asarray(space.all_encodings()), choices)  # row i = official i
  to_official = np.empty_like(product)
  to_official[product] = np.arange(product.size)
  return TraceableSpace(space.name, choices, to_official)
