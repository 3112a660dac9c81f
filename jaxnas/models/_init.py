"""Parameter initialisation from shapes (no forward trace is compiled)."""

from __future__ import annotations

import functools
import math
import zlib

import jax
import jax.numpy as jnp

from jaxnas._tree import is_stacked

from ._layers import fan_in

INITS = ("pytorch", "normal", "kaiming_normal")


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
  ``init='kaiming_normal'`` is PyTorch's ``kaiming_normal_(mode='fan_in', nonlinearity='relu')``
  that AZ-NAS applies: kernels ~ N(0, 2 / fan_in), biases 0, BN 1/0.

  Args:
    shapes: pytree of objects with ``.shape``/``.dtype`` (e.g. from ``jax.eval_shape``).
    key: a JAX PRNG key. Each leaf uses ``fold_in(key, crc32(path))``, so a variable's value
      depends only on its name: an exact network receives exactly the masked supernet's values
      for the ops it contains.
    init: 'pytorch', 'normal' or 'kaiming_normal'.
    dtype: cast every leaf to this float dtype (default: keep the declared dtype).
  """
  return _init_from_shapes(shapes, key, init, dtype, pad_budget=0)


def _init_from_shapes(shapes, key, init, dtype, *, pad_budget: int):
  """:func:`init_from_shapes`. Random leaves of one shape and rule are drawn by one vmapped call
  over their keys (the same numbers as one call per leaf), so the program holds one PRNG
  computation per distinct shape, not per leaf. With ``pad_budget > 0`` leaves of different shapes
  share one call too: each draws ``max size`` numbers (flat) and keeps its first ``size``, which are
  the numbers of its own shape (the threefry bits of element i depend on the key and i only,
  ``jax_threefry_partitionable``, JAX's default), while the padded draws stay within `pad_budget`
  elements per rule (else one call per power-of-8 size class). The stand-alone init program
  compiles several times faster that way; inside a user's trace (vmapped over a population) the
  padding would cost memory, so there leaves are grouped by shape only."""
  if init not in INITS:
    raise ValueError(f"`init` must be one of {INITS}, got {init!r}.")
  if not jax.config.jax_threefry_partitionable:
    pad_budget = 0  # the prefix property needs the partitionable bit layout
  leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
  out: list = [None] * len(leaves)
  draws: dict = {}
  for i, (path, leaf) in enumerate(leaves):
    tag = zlib.crc32(jax.tree_util.keystr(path).encode()) & 0x7FFFFFFF
    name, _ = _leaf_name(path)
    dt = jnp.dtype(dtype or leaf.dtype)
    shape = tuple(leaf.shape)
    stacked = is_stacked(path)
    if name == "kernel":
      if init == "pytorch":
        bound = 1.0 / math.sqrt(fan_in(shape[1:] if stacked else shape))
        draws.setdefault(("uniform", shape, dt), []).append((i, tag, bound))
      elif init == "normal":
        draws.setdefault(("normal", shape, dt), []).append((i, tag, None))
      else:
        std = math.sqrt(2.0 / fan_in(shape[1:] if stacked else shape))
        draws.setdefault(("scaled_normal", shape, dt), []).append((i, tag, std))
    elif name == "bias":
      kern = _sibling_kernel(shapes, path)
      if kern is not None and init == "pytorch":
        bound = 1.0 / math.sqrt(fan_in(kern.shape[1:] if stacked else kern.shape))
        draws.setdefault(("uniform", shape, dt), []).append((i, tag, bound))
      else:
        out[i] = jnp.zeros(shape, dt)
    elif name in ("scale", "var"):
      out[i] = jnp.ones(shape, dt)
    elif name == "mean":
      out[i] = jnp.zeros(shape, dt)
    else:
      raise ValueError(f"No initialisation rule for variable {jax.tree_util.keystr(path)}.")
  if pad_budget > 0:
    draws = _padded_groups(draws, leaves, pad_budget)
  for (rule, shape, dt), items in draws.items():
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.asarray([t for _, t, _ in items],
                                                                            jnp.uint32))
    if rule == "uniform":
      bounds = jnp.asarray([b for _, _, b in items], dt)
      values = jax.vmap(lambda k, b: jax.random.uniform(k, shape, dt, -b, b))(keys, bounds)
    elif rule == "scaled_normal":
      stds = jnp.asarray([b for _, _, b in items], dt)
      values = jax.vmap(lambda k, s: s * jax.random.normal(k, shape, dt))(keys, stds)
    else:
      values = jax.vmap(lambda k: jax.random.normal(k, shape, dt))(keys)
    for j, (i, _, _) in enumerate(items):
      want = tuple(leaves[i][1].shape)
      out[i] = values[j] if values.shape[1:] == want else values[j, :math.prod(want)].reshape(want)
  return jax.tree_util.tree_unflatten(treedef, out)


def _padded_groups(draws: dict, leaves, pad_budget: int) -> dict:
  """Regroups `draws` ({(rule, shape, dtype): items}) into flat draws of a common length."""
  by_rule: dict = {}
  for (rule, shape, dt), items in draws.items():
    by_rule.setdefault((rule, dt), []).extend(items)
  out: dict = {}
  for (rule, dt), items in by_rule.items():
    sizes = [math.prod(leaves[it[0]][1].shape) for it in items]
    one_length = len(items) * max(sizes) <= pad_budget
    for it, n in zip(items, sizes):
      out.setdefault((rule, (max(sizes) if one_length else _power_of_8_at_least(n),), dt),
                     []).append(it)
  return out


def _power_of_8_at_least(n: int) -> int:
  length = 1
  while length < n:
    length *= 8
  return length


#: XLA options for the stand-alone initialisation program. Its PRNG code takes XLA:CPU's default
#: backend optimisation ~1.4 s per distinct shape to compile (measured: 26 s for a small NB201
#: network); level 1 takes ~3 s in all and gives the same bits as the default (checked leaf by
#: leaf on NB201, supernet and NATS networks, both rules, float32 and float64), while level 0
#: does not (it changes the last bit of ~1/3 of the uniform draws: no fused multiply-add).
_INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}
#: Elements per rule the stand-alone init program may draw when it pads every random leaf to the
#: longest (4M: 16 MB of float32, e.g. any C=4 NB201 network or supernet; C=16 exact networks
#: fall back to power-of-8 size classes). Compile time of a C=4 NB201 init: 3.4 s -> 0.8 s.
_INIT_PAD_BUDGET = 4_000_000


def init_variables(shapes, key: jax.Array, *, init: str = "pytorch", dtype=None):
  """:func:`init_from_shapes`; called outside a trace, as one program compiled once per variable
  layout with cheap XLA passes (eager initialisation would compile every PRNG call on its own)."""
  if isinstance(key, jax.core.Tracer):
    return init_from_shapes(shapes, key, init=init, dtype=dtype)
  leaves, treedef = jax.tree.flatten(shapes)
  layout = tuple((tuple(l.shape), jnp.dtype(l.dtype).name) for l in leaves)
  dt = None if dtype is None else jnp.dtype(dtype).name
  return _compiled_init(treedef, layout, init, dt, jax.typeof(key), bool(jax.config.jax_enable_x64))(key)


@functools.lru_cache(maxsize=128)
def _compiled_init(treedef, layout, init, dtype, key_type, x64):
  del x64  # part of the cache key: the program's dtypes depend on it
  shapes = jax.tree.unflatten(treedef, [jax.ShapeDtypeStruct(s, d) for s, d in layout])
  fn = jax.jit(functools.partial(_init_from_shapes, shapes, init=init, dtype=dtype,
                                 pad_budget=_INIT_PAD_BUDGET))
  key_spec = jax.ShapeDtypeStruct(key_type.shape, key_type.dtype)
  return fn.lower(key_spec).compile(compiler_options=_INIT_COMPILER_OPTIONS)


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
