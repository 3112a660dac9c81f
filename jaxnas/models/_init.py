"""Parameter initialisation from shapes (no forward trace is compiled)."""

from __future__ import annotations

import functools
import math
import zlib

import jax
import jax.numpy as jnp

from jaxnas._tree import is_stacked

from ._layers import fan_in

INITS = ("pytorch", "normal")


def _leaf_name(path) -> tuple[str, str | None]:
  keys = [getattr(p, "key", str(p)) for p in path]
  return keys[-1], (keys[-2] if len(keys) > 1 else None)


def _sibling_kernel(variables, path):
  """The 'kernel' leaf that sits beside `path` (a conv/dense bias's weight), if any."""
  node = variables
  for p in path[:-1]:
    node = node[getattr(p, "key", p)]
  return node.get("kernel") if isinstance(node, dict) else None


def init_from_shapes(shapes, key: jax.Array, *, init: str = "pytorch", dtype=None):
  """Initialise a variables pytree (of ShapeDtypeStructs) leaf by leaf, by Flax naming.

  Variables of ``nn.scan``-ned cells (scopes ending in ``_cells``) have a leading stacking axis
  that is not part of the fan-in. Rules (PyTorch defaults, ``init='pytorch'``): ``kernel`` ~ U(+-1/sqrt(fan_in)) (kaiming_uniform
  with a=sqrt(5)); a ``bias`` beside a ``kernel`` ~ U(+-1/sqrt(fan_in)); BatchNorm ``scale`` = 1,
  ``bias`` = 0; running ``mean`` = 0, ``var`` = 1. ``init='normal'`` is the Gaussian
  re-initialisation of Zen-NAS and SWAP: kernels ~ N(0, 1), biases 0, BN 1/0.

  Args:
    shapes: pytree of objects with ``.shape``/``.dtype`` (e.g. from ``jax.eval_shape``).
    key: a JAX PRNG key. Each leaf uses ``fold_in(key, crc32(path))``, so a variable's value
      depends only on its name: an exact network receives exactly the masked supernet's values
      for the ops it contains.
    init: 'pytorch' or 'normal'.
    dtype: cast every leaf to this float dtype (default: keep the declared dtype).
  """
  if init not in INITS:
    raise ValueError(f"`init` must be one of {INITS}, got {init!r}.")
  leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
  out = []
  for path, leaf in leaves:
    k = jax.random.fold_in(key, zlib.crc32(jax.tree_util.keystr(path).encode()) & 0x7FFFFFFF)
    name, _ = _leaf_name(path)
    dt = dtype or leaf.dtype
    shape = leaf.shape
    stacked = is_stacked(path)
    if name == "kernel":
      if init == "pytorch":
        b = 1.0 / math.sqrt(fan_in(shape[1:] if stacked else shape))
        v = jax.random.uniform(k, shape, dt, -b, b)
      else:
        v = jax.random.normal(k, shape, dt)
    elif name == "bias":
      kern = _sibling_kernel(shapes, path)
      if kern is not None and init == "pytorch":
        b = 1.0 / math.sqrt(fan_in(kern.shape[1:] if stacked else kern.shape))
        v = jax.random.uniform(k, shape, dt, -b, b)
      else:
        v = jnp.zeros(shape, dt)
    elif name in ("scale", "var"):
      v = jnp.ones(shape, dt)
    elif name == "mean":
      v = jnp.zeros(shape, dt)
    else:
      raise ValueError(f"No initialisation rule for variable {jax.tree_util.keystr(path)}.")
    out.append(v)
  return jax.tree_util.tree_unflatten(treedef, out)


#: The collections a network's variables consist of. 'gates' (per-sample multipliers on every
#: conv/linear output, used by fisher) exist only when a caller asks for them.
INIT_COLLECTIONS = ("params", "batch_stats")


@functools.lru_cache(maxsize=64)
def variable_shapes(module, input_shape: tuple[int, ...], arch_len: int | None):
  """Shapes of `module`'s variables for a given input shape (traced once, never compiled)."""
  args = (jnp.zeros(input_shape, jnp.float32),)
  if arch_len is not None:
    args += (jnp.zeros((arch_len,), jnp.int32),)
  return jax.eval_shape(lambda k: module.init(k, *args, mutable=INIT_COLLECTIONS), jax.random.key(0))
