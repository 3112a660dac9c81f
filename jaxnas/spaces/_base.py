"""The search-space contract shared by every space."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class SearchSpace(Protocol):
  """What every jaxnas search space provides.

  An architecture is data: a fixed-length vector of small integers (the *encoding*). Every space
  also has an *arch string* (the benchmark's own spelling) and an *official index* (its position in
  the benchmark's tables). All functions are pure: they return new arrays and never mutate inputs.

  ``official_index`` is False for a space whose benchmark has no index (NAS-Bench-101 looks cells
  up by graph hash): there ``index_of``, ``encoding_of`` and ``all_encodings`` raise ValueError,
  and the CLI numbers the architectures of a FILE by line.
  """

  name: str
  official_index: bool
  size: int
  encoding_length: int
  choices_per_position: Sequence[int]

  def encode(self, arch: str) -> np.ndarray: ...
  def decode(self, encoding) -> str: ...
  def index_of(self, encoding) -> int: ...
  def encoding_of(self, index: int) -> np.ndarray: ...
  def all_encodings(self) -> np.ndarray: ...
  def is_valid(self, encoding) -> bool: ...
  def sample(self, rng, n: int) -> np.ndarray: ...
  def mutate(self, rng, encoding) -> np.ndarray: ...
  def neighbours(self, encoding) -> np.ndarray: ...
  def num_params(self, encoding, *, num_classes: int = 10) -> int: ...
  def flops(self, encoding, *, num_classes: int = 10, image_size: int = 32) -> int: ...


def as_rng(rng) -> np.random.Generator:
  """Turn a NumPy Generator or a JAX key into a NumPy Generator, without global state."""
  if isinstance(rng, np.random.Generator):
    return rng
  try:
    import jax  # local import: spaces stay importable without touching JAX state

    if isinstance(rng, jax.Array):
      data = jax.random.key_data(rng) if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key) else rng
      seed = np.asarray(data, dtype=np.uint32).ravel()
      return np.random.default_rng(seed.tolist())
  except ImportError:  # pragma: no cover - jax is a core dependency
    pass
  raise TypeError(
      f"`rng` must be a numpy.random.Generator or a jax.random key, got {type(rng).__name__}. "
      "Use np.random.default_rng(seed) or jax.random.key(seed)."
  )


class EncodedSpace:
  """Space-independent moves over fixed-length integer encodings.

  Subclasses set ``name``, ``size`` and ``choices_per_position``; sampling, mutation,
  neighbourhoods and validity then follow from them alone.
  """

  name: str
  size: int
  choices_per_position: Sequence[int]

  def _check(self, encoding) -> np.ndarray:
    return check_encoding(encoding, self.choices_per_position, self.name)

  def is_valid(self, encoding) -> bool:
    """True for one well-formed encoding of this space (never raises)."""
    try:
      enc = self._check(encoding)
    except (TypeError, ValueError):
      return False
    return enc.ndim == 1

  def sample(self, rng, n: int) -> np.ndarray:
    """`n` uniform random encodings (with replacement), shape (n, L)."""
    if int(n) != n or n < 0:
      raise ValueError(f"`n` must be a non-negative integer, got {n!r}.")
    hi = np.asarray(self.choices_per_position)
    return as_rng(rng).integers(0, hi, size=(int(n), len(hi)), dtype=np.int64)

  def sample_indices(self, rng, n: int) -> np.ndarray:
    """`n` distinct official indices drawn uniformly without replacement, sorted."""
    if int(n) != n or not 0 <= n <= self.size:
      raise ValueError(f"`n` must be an integer in [0, {self.size}], got {n!r}.")
    return np.sort(as_rng(rng).choice(self.size, size=int(n), replace=False))

  def mutate(self, rng, encoding) -> np.ndarray:
    """A copy of `encoding` with one position changed to a different, uniformly chosen value."""
    enc = self._check(encoding).copy()
    gen = as_rng(rng)
    pos = int(gen.integers(len(enc)))
    base = self.choices_per_position[pos]
    enc[pos] = (enc[pos] + int(gen.integers(1, base))) % base
    return enc

  def neighbours(self, encoding) -> np.ndarray:
    """All encodings at Hamming distance one, in position-major order."""
    return single_mutations(self._check(encoding), self.choices_per_position)


def check_encoding(encoding, choices: Sequence[int], space: str) -> np.ndarray:
  """Validate one encoding (or a batch, last axis = positions); return it as an int64 array."""
  arr = np.asarray(encoding)
  if arr.dtype.kind not in "iu":
    if arr.dtype.kind == "f" and arr.size and np.all(np.equal(np.mod(arr, 1), 0)):
      arr = arr.astype(np.int64)
    else:
      raise TypeError(f"`encoding` for {space} must hold integers, got dtype {arr.dtype}.")
  if arr.ndim == 0 or arr.shape[-1] != len(choices):
    raise ValueError(
        f"`encoding` for {space} must have {len(choices)} entries on its last axis, got shape "
        f"{arr.shape}."
    )
  hi = np.asarray(choices)
  bad = (arr < 0) | (arr >= hi)
  if np.any(bad):
    where = np.argwhere(bad)[0]
    pos = int(where[-1])
    raise ValueError(
        f"`encoding` for {space} has value {int(arr[tuple(where)])} at position {pos}; valid values "
        f"there are 0..{choices[pos] - 1}."
    )
  return arr.astype(np.int64)


def mixed_radix_index(enc: np.ndarray, choices: Sequence[int]) -> np.ndarray:
  """Product-order index (first position most significant) of encodings (last axis)."""
  idx = np.zeros(enc.shape[:-1], dtype=np.int64)
  for pos, base in enumerate(choices):
    idx = idx * base + enc[..., pos]
  return idx


def mixed_radix_digits(index: np.ndarray, choices: Sequence[int]) -> np.ndarray:
  """Inverse of :func:`mixed_radix_index`."""
  index = np.asarray(index, dtype=np.int64)
  out = np.zeros(index.shape + (len(choices),), dtype=np.int64)
  rest = index.copy()
  for pos in range(len(choices) - 1, -1, -1):
    out[..., pos] = rest % choices[pos]
    rest = rest // choices[pos]
  return out


def single_mutations(encoding: np.ndarray, choices: Sequence[int]) -> np.ndarray:
  """All encodings that differ from `encoding` in exactly one position, in position-major order."""
  out = []
  for pos, base in enumerate(choices):
    for v in range(base):
      if v != encoding[pos]:
        e = encoding.copy()
        e[pos] = v
        out.append(e)
  return np.stack(out)


def check_index(index, size: int, space: str) -> np.ndarray:
  arr = np.asarray(index)
  if arr.dtype.kind not in "iu":
    raise TypeError(f"`index` for {space} must be an integer, got {arr.dtype} ({index!r}).")
  if np.any((arr < 0) | (arr >= size)):
    bad = arr[(arr < 0) | (arr >= size)].ravel()[0]
    raise ValueError(f"`index` for {space} must be in [0, {size}), got {int(bad)}.")
  return arr.astype(np.int64)
