"""The proxy contract: a pure function (apply_fn, variables, batch, key) -> scalar, plus metadata."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas._tree import leaf_name
from jaxnas.protocol import Batch as Batch
from jaxnas.protocol import Capability, require


class ApplyFn(Protocol):
  """``apply_fn(variables, x, *, train=True, capture=False)`` -> logits (or (logits, activations)).

  Any Flax ``module.apply``-style function works for proxies that only need logits; ``capture`` is
  needed by activation-based proxies (``capture=True``: ReLU inputs, for NWOT and SWAP;
  ``capture="outputs"``: every module output, for MeCo) and is provided by
  :class:`jaxnas.models.Network`.
  """

  def __call__(self, variables, x, **kwargs) -> Any: ...


#: What each ``capture`` mode of :class:`ApplyFn` returns and the capability that declares it.
_CAPTURES = {True: (Capability.ACTIVATIONS, "ReLU inputs"),
             "outputs": (Capability.OUTPUTS, "module outputs")}


def captured(apply_fn, variables, x, capture, name: str) -> tuple:
  """The records of ``apply_fn(variables, x, train=True, capture=capture)``: activation inputs
  (``capture=True``, :class:`jaxnas.models.Activation`) or module outputs (``'outputs'``,
  :class:`jaxnas.models.Output`). A network that does not declare the capability (e.g. a plain
  Flax ``apply``) gets a :class:`jaxnas.protocol.CapabilityError` (a TypeError) naming proxy
  `name`."""
  cap, what = _CAPTURES[capture]
  require(apply_fn, cap, proxy=name,
          why=f"its {what}, `apply_fn(variables, x, train=True, capture={capture!r})`")
  return apply_fn(variables, x, train=True, capture=capture)[1]


def live_units(record) -> jax.Array:
  """(D,) bool over the units of one sample of a captured record (``record.pre[0]`` flattened):
  True where the architecture has the unit. A record with ``weight`` 0 (a ReLU absent from the
  selected architecture) has none; a record's ``mask`` (channel-masked supernets, e.g. the NATS
  size supernet, set one over the last axis) marks the channels it has; no mask: all of them.
  Activation-statistics proxies read only live units, so a member of a masked supernet scores as
  its exact network."""
  value = record.pre
  live = jnp.broadcast_to(jnp.asarray(record.weight) > 0, value.shape[1:])
  mask = getattr(record, "mask", None)
  if mask is not None:
    live = live & jnp.asarray(mask, bool)
  return live.reshape(-1)


class ProxyFn(Protocol):
  """``fn(apply_fn, variables, batch, key) -> scalar``: the signature every proxy function has."""

  def __call__(self, apply_fn: ApplyFn, variables, batch: Batch, key: jax.Array) -> jax.Array: ...


class SharedPass(NamedTuple):
  """A computation several proxies start from, run once when they are scored together.

  ``compute(apply_fn, variables, batch, **options) -> result`` is the expensive part (e.g. one
  forward and backward pass of the loss); ``reduce(result, apply_fn, variables, batch, key) ->
  scalar`` turns it into one proxy's score. Proxies whose ``shared.compute`` is the same function
  and that are given the same batch share one ``compute`` call (:func:`evaluate`); the boolean
  ``options`` of the group are OR-ed (e.g. fisher asks the gradient pass for gate gradients too).
  """

  compute: Callable[..., Any]
  reduce: Callable[..., Any]
  options: tuple[tuple[str, bool], ...] = ()


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
    shared: how this proxy splits into a pass it can share with other proxies and its own
      reduction (None: ``fn`` is run on its own). ``fn`` always equals
      ``shared.reduce(shared.compute(...), ...)``.
    init: the weight initialisation the reference scores networks with ('pytorch': PyTorch's
      defaults; 'normal': N(0, 1) re-initialisation, Zen-NAS and SWAP; 'kaiming_normal': AZ-NAS,
      VKDNW); the population engine initialises this proxy's network so unless told otherwise.
  """

  fn: ProxyFn
  name: str
  higher_is_better: bool
  needs_labels: bool
  needs_grad: bool
  reference: str
  batch_size: Optional[int] = None
  network: tuple[tuple[str, Any], ...] = ()
  shared: Optional[SharedPass] = None
  init: str = "pytorch"

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
  return leaf_name(path) == "kernel"


def require_float64(dtype, name: str, why: str):
  """`dtype=None` -> float64, which needs 64-bit JAX: raise with `why` and the fix otherwise."""
  if dtype is None and not jax.config.jax_enable_x64:
    raise ValueError(f"{name} computes in float64 like its reference: {why} Enable 64-bit JAX "
                     "(JAX_ENABLE_X64=1, the jax_enable_x64 option, or `with jax.enable_x64(True):` "
                     "around the call), or pass dtype=jnp.float32 to accept the loss of precision. "
                     "The jaxnas CLI does the former.")
  return resolve_dtype(jnp.float64 if dtype is None else dtype, name)


def require_key(key, name: str, why: str):
  """ValueError naming the proxy and why it needs randomness when `key` is None."""
  if key is None:
    raise ValueError(f"{name} {why}: pass a PRNG `key` (jax.random.key(seed)).")


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


def evaluate(proxies: Sequence[Proxy], apply_fn, variables, batches: Sequence, keys: Sequence):
  """Scores of several proxies on one network, sharing passes where they can.

  Proxies with the same ``shared.compute`` and the *same* batch object run that pass once (e.g.
  grad_norm, snip, plain, fisher and grasp share one backward pass of the loss; jacob_cov and
  epe_nas one input-Jacobian pass). Each proxy still gets its own key. The result equals calling
  every ``proxy.fn`` separately.

  Args:
    proxies: the proxies to score.
    apply_fn, variables: the network.
    batches: one batch per proxy (pass the same object to let proxies share a pass).
    keys: one PRNG key per proxy.

  Returns:
    A list of scalars, one per proxy.
  """
  if not (len(proxies) == len(batches) == len(keys)):
    raise ValueError(f"`proxies`, `batches` and `keys` must have equal lengths, got "
                     f"{len(proxies)}, {len(batches)} and {len(keys)}.")
  groups: dict[tuple, list[int]] = {}
  out: list = [None] * len(proxies)
  for j, p in enumerate(proxies):
    if p.shared is None:
      out[j] = p.fn(apply_fn, variables, batches[j], keys[j])
    else:
      groups.setdefault((p.shared.compute, id(batches[j])), []).append(j)
  for (compute, _), idx in groups.items():
    options: dict[str, bool] = {}
    for j in idx:
      for name, value in proxies[j].shared.options:
        options[name] = options.get(name, False) or bool(value)
    result = compute(apply_fn, variables, batches[idx[0]], **options)
    for j in idx:
      out[j] = proxies[j].shared.reduce(result, apply_fn, variables, batches[j], keys[j])
  return out
