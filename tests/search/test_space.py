"""Traceable space moves agree with the NumPy space API."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import search, spaces


@pytest.fixture(scope="module")
def ts():
  return search.traceable(spaces.nb201)


def test_index_lookups_match_numpy_on_whole_space(ts):
  enc = spaces.nb201.all_encodings()
  np.testing.assert_array_equal(np.asarray(ts.index_of(jnp.asarray(enc))), np.arange(15625))
  np.testing.assert_array_equal(np.asarray(ts.encoding_of(jnp.arange(15625))), enc)
  assert int(jax.jit(ts.index_of)(jnp.asarray(spaces.nb201.encode(
      spaces.nb201.decode(spaces.nb201.encoding_of(9930)))))) == 9930


def test_sample_and_mutate(ts):
  enc = np.asarray(jax.jit(ts.sample, static_argnums=1)(jax.random.key(0), 2000))
  assert enc.shape == (2000, 6) and enc.min() == 0 and enc.max() == 4
  # every op appears on every edge with roughly equal frequency (binomial sd ~ 18 of 400)
  counts = np.stack([np.bincount(enc[:, p], minlength=5) for p in range(6)])
  assert np.all(np.abs(counts - 400) < 100)
  parent = jnp.asarray(spaces.nb201.encoding_of(123), jnp.int32)
  keys = jax.random.split(jax.random.key(1), 500)
  kids = np.asarray(jax.jit(jax.vmap(ts.mutate, (0, None)))(keys, parent))
  diff = kids != np.asarray(parent)
  np.testing.assert_array_equal(diff.sum(1), 1)          # exactly one edge changes
  assert set(np.argmax(diff, 1)) == set(range(6))        # every edge can change


def test_random_unvisited_never_returns_visited():
  ts = search.TraceableSpace.product((3, 3))
  visited = jnp.asarray([True] * 8 + [False])
  keys = jax.random.split(jax.random.key(0), 50)
  picks = jax.jit(jax.vmap(ts.random_unvisited, (0, None)))(keys, visited)
  np.testing.assert_array_equal(np.asarray(picks), 8)


def test_traceable_rejects_non_spaces():
  with pytest.raises(TypeError, match="space"):
    search.traceable("nb201")
