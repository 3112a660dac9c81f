"""The proxy contract: a pure function (apply_fn, variables, batch, key) -> scalar, plus metadata."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Protocol

import jax
import jax.numpy as jnp
import numpy as np


class Batch(NamedTuple):
  """One batch of images (NHWC float) and optional integer labels (N,)."""

  x: Any
  y: Any = None


class ApplyFn(Protocol):
  """``apply_fn(variables, x, *, train=True, capture=False)`` -> logits (or (logits, activations)).

  Any Flax ``module.apply``-style function works for proxies that only need logits; ``capture`` is
  needed by activation-based proxies (NWOT) and is provided by :class:`jaxnas.models.Network`.
  """

  def __call__(self, variables, x, **kwargs) -> Any: ...


class ProxyFn(Protocol):
  """``fn(apply_fn, variables, batch, key) -> scalar``: the signature every proxy function has."""

  def __call__(self, apply_fn: ApplyFn, variables, batch: Batch, key: jax.Array) -> jax.Array: ...


class Proxy(NamedTuple):
  """A zero-cost proxy: the function and what a caller must know to use it faithfully.

  Attributes:
    fn: ``fn(apply_fn, variables, batch, key) -> scalar`` (pure; jit/vmap-able).
    name: registry name, also the CLI column name.
    higher_is_better: direction of the score (no hidden sign flips anywhere else).
    needs_labels: whether ``batch.y`` is read.
    needs_grad: whether the proxy differentiates the network.
    reference: the implementation this proxy follows (repository @ commit, file).
    batch_size: the reference's batch size (None: the proxy does not read image content).
    network: keyword overrides of the network the reference scored (e.g. synflow removes BN,
      NASWOT uses one output); the population engine builds that network for this proxy.
  """

  fn: ProxyFn
  name: str
  higher_is_better: bool
  needs_labels: bool
  needs_grad: bool
  reference: str
  batch_size: Optional[int] = None
  network: tuple[tuple[str, Any], ...] = ()

  def __call__(self, apply_fn, variables, batch, key):
    return self.fn(apply_fn, variables, batch, key)


def as_batch(batch) -> Batch:
  """A :class:`Batch` from a Batch, an ``(x, y)`` pair or a bare image array."""
  if isinstance(batch, Batch):
    return batch
  if isinstance(batch, tuple) and len(batch) == 2:
    return Batch(*batch)
  return Batch(batch)


def check_batch(batch, *, needs_labels: bool, name: str) -> Batch:
  """Validate a batch eagerly (shapes/dtypes are static, so this also works while tracing)."""
  x, y = as_batch(batch)
  if not hasattr(x, "shape") or not hasattr(x, "dtype"):
    raise TypeError(f"{name}: `batch.x` must be an array of images, got {type(x).__name__}.")
  if len(x.shape) < 2:
    raise ValueError(f"{name}: `batch.x` must have a leading batch axis, (N, ...) e.g. NHWC images; "
                     f"got shape {tuple(x.shape)}.")
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{name}: `batch.x` must be floating point (normalised images), got {x.dtype}. "
                    "Use jaxnas.data.normalise for uint8 images.")
  if x.shape[0] < 1:
    raise ValueError(f"{name}: `batch.x` is empty.")
  if needs_labels:
    if y is None:
      raise ValueError(f"{name} needs labels: pass Batch(x, y) with y of shape ({x.shape[0]},).")
    if not jnp.issubdtype(jnp.asarray(y).dtype, jnp.integer):
      raise TypeError(f"{name}: `batch.y` must hold integer class labels, got {jnp.asarray(y).dtype}.")
    if tuple(jnp.shape(y)) != (x.shape[0],):
      raise ValueError(f"{name}: `batch.y` must have shape ({x.shape[0]},), got {tuple(jnp.shape(y))}.")
  return Batch(x, y)


def default_float():
  """float64 when the caller enabled x64 (JAX_ENABLE_X64 / jax.config), else float32. Never set."""
  return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def resolve_dtype(dtype, name: str):
  """`dtype=None` -> :func:`default_float`; float64 without x64 is an error, not a silent downcast."""
  if dtype is None:
    return default_float()
  dt = np.dtype(dtype)
  if dt == np.float64 and not jax.config.jax_enable_x64:
    raise ValueError(f"{name}: dtype=float64 needs 64-bit JAX. Set JAX_ENABLE_X64=1 in the "
                     "environment, enable the jax_enable_x64 option in your program, or wrap the "
                     "call in `with jax.enable_x64(True):`.")
  if dt.kind != "f":
    raise TypeError(f"{name}: `dtype` must be a floating dtype, got {dt}.")
  return dt


def is_kernel(path) -> bool:
  """Conv/linear weights are the leaves named 'kernel' (zero-cost-nas: Conv2d/Linear .weight)."""
  return str(getattr(path[-1], "key", path[-1])) == "kernel"


def split_params(variables):
  """(params, rest) of a Flax variables dict (or (variables, {}) for a bare params pytree)."""
  if isinstance(variables, dict) and "params" in variables:
    rest = {k: v for k, v in variables.items() if k != "params"}
    return variables["params"], rest
  return variables, {}


def join_params(params, rest, like):
  if isinstance(like, dict) and "params" in like:
    return {"params": params, **rest}
  return params
