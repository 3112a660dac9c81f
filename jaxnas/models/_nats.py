"""The channel-masked supernet of the NATS-Bench size space (xautodl ``DynamicShapeTinyNet``).

Every layer holds its widest (64-channel) parameters; the five stage widths arrive as a traced
(5,) encoding, so one compiled program serves all 32,768 members. A member's channels beyond its
width are zero everywhere: each conv/BN/linear output is multiplied by its channel mask, so dead
channels carry zeros into the next layer (they add nothing to a convolution), BatchNorm statistics
are per channel (a live channel's statistics never see a dead one) and the classifier reads zeros
from dead features. Hence logits, ReLU codes and gradients equal those of the exact network
``nats_size_network(widths)`` (float64 test: ``tests/models/test_nats_supernet.py``), and every
parameter outside the member gets exactly zero gradient.

Two layout facts of the exact network are reproduced with masks: a cell whose width differs from
its input's (stage 2 or 3 when the ResNet block before it changed the width) turns its
``skip_connect`` edge out of node 0 into a stride-1 FactorizedReduce (conv1x1 + BN), selected
here by ``where(c_in == c_out, x, reduce(x))``; and :meth:`NATSSupernet.init` draws, for every
parameter, exactly the numbers the exact network's initialisation draws (same variable names, hence
same keys; the leading prefix of one flat draw is the exact shape's draw under JAX's partitionable
threefry), placed in the first channels, zeros elsewhere.
"""

from __future__ import annotations

import functools
import math
import zlib
from typing import Any, Mapping, Optional

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas._tree import key_name
from jaxnas.protocol import Capability, declare
from jaxnas.spaces._nats import CHANNELS, NUM_LAYERS
from jaxnas.spaces._nb201 import EDGES, NUM_NODES, OPS

from ._init import INITS
from ._layers import (
    DELTAS,
    GATES,
    STACK_SUFFIX,
    Activation,
    BNDecl,
    ConvBNSpec,
    ConvDecl,
    DenseDecl,
    apply_delta,
    apply_gate,
    avg_pool_2x2,
    batch_norm,
    conv2d,
    read_stats,
    run_conv_bn,
    write_stats,
)
from ._tiny import VARIANTS, _cell_conv_spec

#: The widest channel choice: every supernet layer holds this many channels.
MAX_WIDTH = max(CHANNELS)
_CELL_LAYERS = (0, 2, 4)
_RESNET_LAYERS = (1, 3)
_CAPTURES = (False, True, "relu")

#: Proxies whose value the masked supernet cannot reproduce, with the reason; the population
#: engine scores them with exact networks (``score_exact``).
EXACT_ONLY: Mapping[str, str] = {
    "meco": "reads module outputs (capture='outputs'); its per-layer channel correlation would see "
            "the dead channels",
    "meco_opt": "as meco: module outputs (capture='outputs')",
    "fisher": "weights each layer by its fan-in read from the kernel's shape, which is 64 channels "
              "wide in the supernet",
    "zen": "reads module outputs and BN running variances averaged over all channels",
    "rbflex": "reads module outputs (capture='outputs') and its kernel's bandwidth depends on the "
              "feature dimension, which dead channels change",
    "az_expressivity": "reads cell feature maps (capture='cells'): dead channels add zero eigenvalues "
                       "to the channel covariance",
    "az_progressivity": "as az_expressivity: cell feature maps (capture='cells')",
    "az_trainability": "needs cell-input probes (`probes`) and cell feature maps (capture='cells')",
    "vkdnw": "reads the first 128 weight tensors one weight each in the reference's parameter "
             "order, and eval-mode BN: a layout the masks do not reproduce",
    "vkdnw_dim": "as vkdnw: a parameter layout the masks do not reproduce",
}


def _conv_spec(cin_fixed: Optional[int], k: int, stride: int = 1, relu: bool = True) -> ConvBNSpec:
  return ConvBNSpec(MAX_WIDTH if cin_fixed is None else cin_fixed, MAX_WIDTH, k, stride=stride,
                    relu=relu)


def _masked_conv_bn(module: nn.Module, spec: ConvBNSpec, x, mask, *, train: bool, name: str,
                    dtype, stats_mask=None):
  """A (ReLU ->) conv -> BN block whose output channels outside `mask` are zero."""
  y = run_conv_bn(module, spec, x, train=train, name=name, dtype=dtype,
                  mask=mask if stats_mask is None else stats_mask)
  return y * mask.astype(y.dtype)


class _MaskedCell(nn.Module):
  """The NATS cell (NB201 cell 9930) at width 64; live channels `in_mask` in, `out_mask` out.

  `reduces` (static): the cell may change width (stages 2 and 3), so its ``skip_connect`` edge out
  of node 0 is a FactorizedReduce whenever the traced widths differ."""

  cell: tuple[int, ...]
  reduces: bool
  variant: str
  batch_norm: bool
  dtype: Any

  @nn.compact
  def __call__(self, x, in_mask, out_mask, same, *, train: bool):
    nodes = [x]
    for target in range(1, NUM_NODES):
      total = None
      for pos, (t, source) in enumerate(EDGES):
        if t != target:
          continue
        op = OPS[self.cell[pos]]
        name = f"edge_{t}_{source}_{op}"
        h = nodes[source]
        if op in ("nor_conv_1x1", "nor_conv_3x3"):
          k = 1 if op == "nor_conv_1x1" else 3
          spec = _cell_conv_spec(MAX_WIDTH, MAX_WIDTH, k, self.variant, self.batch_norm)
          y = _masked_conv_bn(self, spec, h, out_mask, train=train, name=name, dtype=self.dtype)
        elif op == "skip_connect" and source == 0 and self.reduces:
          fr = _masked_conv_bn(self, _conv_spec(None, 1, relu=False), h, out_mask, train=train,
                               name=name, dtype=self.dtype, stats_mask=out_mask & ~same)
          y = jnp.where(same, h, fr)
        elif op == "skip_connect":
          y = h
        else:
          raise ValueError(f"The NATS supernet cell has no masked form of op {op!r}.")
        total = y if total is None else total + y
      nodes.append(total)
    # ReLU inputs, as the exact cell records them: a conv edge applies ReLU to its source node.
    taps = []
    for source in range(NUM_NODES - 1):
      weight = sum(int(OPS[self.cell[pos]] in ("nor_conv_1x1", "nor_conv_3x3"))
                   for pos, (_, s) in enumerate(EDGES) if s == source)
      if weight:
        taps.append(Activation(nodes[source], jnp.asarray(weight, jnp.int32), True,
                               mask=in_mask if source == 0 else out_mask))
    return nodes[-1], tuple(taps)


class NATSSuperModule(nn.Module):
  """Flax module of :class:`NATSSupernet`: ``apply(variables, x, arch, train=..., capture=...)``
  with `arch` the (5,) int NATS size encoding (width ``8 * (arch + 1)`` per layer)."""

  num_classes: int = 10
  variant: str = "xautodl"
  batch_norm: bool = True
  dtype: Any = jnp.float32

  def _check(self):
    if self.variant not in VARIANTS:
      raise ValueError(f"`variant` must be one of {VARIANTS}, got {self.variant!r}.")
    if isinstance(self.num_classes, bool) or int(self.num_classes) < 1:
      raise ValueError(f"`num_classes` must be >= 1, got {self.num_classes!r}.")

  @nn.compact
  def __call__(self, x, arch, *, train: bool = True, capture=False):
    """Logits (and with ``capture=True`` / ``"relu"`` the ReLU inputs, each with its live-channel
    ``mask``) of the member `arch` on images `x` (N, H, W, 3)."""
    from jaxnas.spaces import nats_sss

    self._check()
    if capture not in _CAPTURES:
      raise ValueError(f"The NATS supernet captures ReLU inputs only (`capture` in {_CAPTURES}), got "
                       f"{capture!r}; use the exact network (jaxnas.models.nats_size_network).")
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"`x` must be NHWC images with 3 channels, got shape {x.shape}.")
    arch = jnp.asarray(arch)
    if arch.shape != (NUM_LAYERS,) or not jnp.issubdtype(arch.dtype, jnp.integer):
      raise ValueError(f"`arch` must be a ({NUM_LAYERS},) integer NATS size encoding, got "
                       f"{arch.shape} {arch.dtype}.")
    widths = jnp.asarray(CHANNELS, jnp.int32)[arch]
    masks = [jnp.arange(MAX_WIDTH) < widths[i] for i in range(NUM_LAYERS)]
    cell = tuple(int(o) for o in nats_sss.cell)
    taps = []
    stem = ConvBNSpec(3, MAX_WIDTH, 3, bn=self.batch_norm, relu=False)
    h = _masked_conv_bn(self, stem, x, masks[0], train=train, name="stem", dtype=self.dtype)
    for i in range(NUM_LAYERS):
      prev = masks[i - 1] if i else masks[0]
      if i in _RESNET_LAYERS:
        taps.append(Activation(h, jnp.ones((), jnp.int32), True, mask=prev))
        ya = _masked_conv_bn(self, _conv_spec(None, 3, stride=2), h, masks[i], train=train,
                             name=f"layer{i}_conv_a", dtype=self.dtype)
        taps.append(Activation(ya, jnp.ones((), jnp.int32), True, mask=masks[i]))
        y = _masked_conv_bn(self, _conv_spec(None, 3), ya, masks[i], train=train,
                            name=f"layer{i}_conv_b", dtype=self.dtype)
        down = ConvDecl(MAX_WIDTH, MAX_WIDTH, 1, False, self.dtype, name=f"layer{i}_downsample")(
            x.shape[0])
        pooled = avg_pool_2x2(h)
        short = apply_gate(apply_delta(conv2d(pooled, down["kernel"]), pooled, down), down)
        h = y + short * masks[i].astype(short.dtype)
      else:
        same = widths[i] == (widths[i - 1] if i else widths[0])
        c = _MaskedCell(cell, i > 0, self.variant, self.batch_norm, self.dtype,
                        name=f"layer{i}_cell")
        h, cell_taps = c(h, prev, masks[i], same, train=train)
        taps.extend(cell_taps)
    if self.batch_norm:
      bp, bs = BNDecl(MAX_WIDTH, dtype=self.dtype, name="lastact_bn")()
      h, new = batch_norm(h, bp, read_stats(bs), train=train, mask=masks[-1])
      write_stats(self, bs, new)
      h = h * masks[-1].astype(h.dtype)
    taps.append(Activation(h, 1, False, mask=masks[-1]))
    feats = jnp.mean(jax.nn.relu(h), axis=(1, 2))
    dense = DenseDecl(MAX_WIDTH, self.num_classes, self.dtype, name="classifier")(x.shape[0])
    logits = feats @ dense["kernel"].astype(feats.dtype) + dense["bias"].astype(feats.dtype)
    logits = apply_gate(apply_delta(logits, feats, dense), dense)
    if capture:
      return logits, tuple(taps)
    return logits


# ---------------------------------------------------------------------------------------------
# Variable layout: every supernet leaf, its exact network's name(s) and its channel axes
# ---------------------------------------------------------------------------------------------
class _Leaf(flax.struct.PyTreeNode):
  """Static facts of one supernet variable (see :func:`_leaf_facts`)."""

  names: tuple = flax.struct.field(pytree_node=False)  # exact keystr when the layer keeps / changes width
  axes: tuple = flax.struct.field(pytree_node=False)  # per axis: layer whose width it has, or None
  fan_in: Optional[tuple] = flax.struct.field(pytree_node=False)  # (k*k, layer or None) of its kernel
  stage: int = flax.struct.field(pytree_node=False)  # cell layer whose width change decides the name, or -1
  hw_div: int = flax.struct.field(pytree_node=False)  # spatial size divisor (1, 4, 16) for MACs


def _keystr(keys) -> str:
  return "".join(f"[{k!r}]" for k in keys)


def _leaf_facts(path, shape) -> _Leaf:
  """Where a supernet variable sits in the exact network and which axes carry which layer's width.

  Names: the exact network stacks a cell that keeps its input's width (``layer<i>_cells/cell/...``
  with a leading axis of 1) and names a width-changing one ``layer<i>_cell`` (the supernet's own
  name); its FactorizedReduce exists only then.
  """
  keys = [key_name(p) for p in path]
  top = keys[1]
  leaf = keys[-1]
  stage = -1
  if top == "stem":
    cin, cout, hw_div = None, 0, 1
  elif top in ("lastact_bn", "classifier"):
    cin, cout, hw_div = 4, (None if top == "classifier" else 4), 16
  else:
    layer = int(top[len("layer"):].split("_")[0])
    hw_div = 1 if layer < 1 else (4 if layer < 3 else 16)
    if layer in _RESNET_LAYERS:
      cin, cout = (layer if top.endswith("conv_b") else layer - 1), layer
    else:
      stage = layer
      edge = keys[2]
      cin, cout = (max(layer - 1, 0) if edge.split("_")[2] == "0" else layer), layer
  same = _keystr(keys[:1] + [keys[1].replace("_cell", STACK_SUFFIX), "cell"] + keys[2:]) \
      if stage >= 0 else _keystr(keys)
  names = (same, _keystr(keys))
  if stage == 0:
    names = (same, same)
  if leaf == "kernel" and len(shape) == 4:
    axes = (None, None, cin, cout)
    fan = (shape[0] * shape[1], cin if top != "stem" else None)
  elif leaf == "kernel":
    axes = (cin, None)
    fan = (1, cin)
  elif top == "classifier":  # its bias: the class axis; bound from the kernel's fan-in
    axes = (None,)
    fan = (1, cin)
  else:
    axes = (cout,)
    fan = None
    if leaf == "bias" and keys[-2] == "conv":  # a conv bias (zero-cost-nas cells)
      fan = (9 if keys[2].endswith("conv_3x3") else 1, cin)
  return _Leaf(names, axes, fan, stage, hw_div)


def _fan_in(fan, widths) -> jax.Array:
  taps, layer = fan
  return taps * (3 if layer is None else widths[layer])


def _leaf_mask(facts: _Leaf, widths, shape) -> jax.Array:
  """Bool array of `shape`: True on the entries the member with `widths` uses."""
  mask = jnp.ones(shape, bool)
  for ax, layer in enumerate(facts.axes):
    if layer is None:
      continue
    live = jnp.arange(shape[ax]) < widths[layer]
    mask = mask & live.reshape((1,) * ax + (-1,) + (1,) * (len(shape) - ax - 1))
  return mask


def _member_mask(path, facts: _Leaf, widths, same, shape) -> jax.Array:
  """:func:`_leaf_mask`, and False throughout a cell's FactorizedReduce where the cell keeps its
  input's width (the exact network has none there)."""
  mask = _leaf_mask(facts, widths, shape)
  if facts.stage > 0 and key_name(path[2]).endswith("skip_connect"):
    mask = mask & ~same[facts.stage]
  return mask


def _exact_dims(facts: _Leaf, widths, shape) -> list:
  return [shape[ax] if layer is None else widths[layer] for ax, layer in enumerate(facts.axes)]


def _flat_index(dims, shape) -> jax.Array:
  """Row-major index into an array of (traced) shape `dims` of every entry of `shape`."""
  idx = jnp.zeros(shape, jnp.int32)
  for ax in range(len(shape)):
    coord = jnp.arange(shape[ax], dtype=jnp.int32).reshape((1,) * ax + (-1,) + (1,) * (len(shape) - ax - 1))
    idx = idx * jnp.asarray(dims[ax], jnp.int32) + coord
  return idx


def _tags(facts: _Leaf) -> tuple[int, int]:
  return tuple(zlib.crc32(n.encode()) & 0x7FFFFFFF for n in facts.names)


def _bound_table(fan_taps: int, rule: str, fixed_layer: bool) -> list[float]:
  """Per width choice (or the single RGB fan-in), the bound / std the exact init computes."""
  fans = [fan_taps * 3] if fixed_layer else [fan_taps * c for c in CHANNELS]
  if rule == "pytorch":
    return [1.0 / math.sqrt(f) for f in fans]
  return [math.sqrt(2.0 / f) for f in fans]


def _init_leaf(path, leaf, key, arch, widths, same, init: str, dtype):
  shape = tuple(leaf.shape)
  dt = jnp.dtype(dtype or leaf.dtype)
  facts = _leaf_facts(path, shape)
  mask = _member_mask(path, facts, widths, same, shape)
  name = key_name(path[-1])
  random = name == "kernel" or (name == "bias" and facts.fan_in is not None and init == "pytorch")
  if not random:
    fill = 1 if name in ("scale", "var") else 0
    return jnp.where(mask, jnp.asarray(fill, dt), jnp.asarray(0, dt))
  same_tag, diff_tag = _tags(facts)
  tag = jnp.uint32(same_tag) if facts.stage <= 0 else jnp.where(
      same[facts.stage], jnp.uint32(same_tag), jnp.uint32(diff_tag))
  k = jax.random.fold_in(key, tag)
  length = int(np.prod(shape))
  taps, layer = facts.fan_in
  choice = 0 if layer is None else arch[layer]
  if init == "normal":
    flat = jax.random.normal(k, (length,), dt)
  else:
    scale = jnp.asarray(_bound_table(taps, init, layer is None), dt)[choice]
    if init == "pytorch":
      flat = jax.random.uniform(k, (length,), dt, -scale, scale)
    else:
      flat = scale * jax.random.normal(k, (length,), dt)
  idx = _flat_index(_exact_dims(facts, widths, shape), shape)
  return jnp.where(mask, flat[jnp.where(mask, idx, 0)], jnp.asarray(0, dt))


def _same_widths(arch) -> jax.Array:
  """(5,) bool: layer i's width equals its input's (layer 0 always; the ResNet layers unused)."""
  widths = jnp.asarray(CHANNELS, jnp.int32)[arch]
  prev = jnp.concatenate([widths[:1], widths[:-1]])
  return widths == prev


def init_supernet_variables(shapes, key, arch, *, init: str = "pytorch", dtype=None):
  """The supernet's variables for member `arch`: on the member's entries exactly the exact
  network's ``init`` values (same key, same variable names), zeros elsewhere."""
  if init not in INITS:
    raise ValueError(f"`init` must be one of {INITS}, got {init!r}.")
  arch = jnp.asarray(arch, jnp.int32)
  widths = jnp.asarray(CHANNELS, jnp.int32)[arch]
  same = _same_widths(arch)
  return jax.tree_util.tree_map_with_path(
      lambda p, l: _init_leaf(p, l, key, arch, widths, same, init, dtype), shapes)


@functools.lru_cache(maxsize=64)
def _compiled_init(module, treedef, layout, init, dtype, key_type, x64):
  del x64
  from ._init import _INIT_COMPILER_OPTIONS

  shapes = jax.tree.unflatten(treedef, [jax.ShapeDtypeStruct(s, d) for s, d in layout])
  fn = jax.jit(lambda k, a: init_supernet_variables(shapes, k, a, init=init, dtype=dtype))
  key_spec = jax.ShapeDtypeStruct(key_type.shape, key_type.dtype)
  return fn.lower(key_spec, jax.ShapeDtypeStruct((NUM_LAYERS,), jnp.int32)).compile(
      compiler_options=_INIT_COMPILER_OPTIONS)


@functools.lru_cache(maxsize=16)
def _variable_shapes(module, input_shape):
  args = (jnp.zeros(input_shape, jnp.float32), jnp.zeros((NUM_LAYERS,), jnp.int32))
  return jax.eval_shape(lambda k: module.init(k, *args, mutable=("params", "batch_stats")),
                        jax.random.key(0))


@flax.struct.dataclass
class NATSSupernet:
  """The NATS size-space supernet: ``net(variables, x, *, train=True, capture=False)`` once a
  member is bound (``jaxnas.models.with_arch(net, encoding)``, traced or not).

  Holds 64 channels in every layer; see the module docstring for why a member's logits, ReLU
  codes and gradients equal the exact network's. What proxies may ask of it: logits, ReLU inputs
  with their live-channel ``mask`` (``capture=True``), per-sample ``gates`` and ``deltas``,
  :meth:`active` (elementwise: which entries the member uses), :meth:`num_params`,
  :meth:`flops` and jvp. Not available: module outputs, cell outputs and probes
  (``capture='outputs'``/``'cells'``); the proxies that need them or that read a layout the masks
  do not reproduce are listed in :attr:`exact_only`, and the population engine scores those with
  exact networks.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxnas import models
    >>> net = models.with_arch(models.supernet("nats_sss"), jnp.array([0, 1, 2, 3, 7]))
    >>> variables = net.init(jax.random.key(0))
    >>> net(variables, jnp.ones((2, 32, 32, 3))).shape
    (2, 10)
  """

  module: NATSSuperModule = flax.struct.field(pytree_node=False)
  arch: Optional[jax.Array] = None

  is_supernet = True
  #: Proxy name -> why the masks cannot reproduce it (:data:`EXACT_ONLY`).
  exact_only = EXACT_ONLY

  @property
  def capabilities(self) -> frozenset:
    """Logits, ReLU inputs with live-channel masks, gates, deltas, active entries, counts, jvp."""
    return declare(Capability.ACTIVATIONS, Capability.GATES, Capability.DELTAS, Capability.ACTIVE,
                   Capability.COUNTS, Capability.JVP)

  def _arch(self):
    if self.arch is None:
      raise ValueError("Bind a member first: `jaxnas.models.with_arch(net, encoding)` with a (5,) "
                       "NATS size encoding.")
    return self.arch

  def __call__(self, variables, x, *, train: bool = True, capture=False, mutable=False):
    return self.module.apply(variables, x, self._arch(), train=train, capture=capture,
                             mutable=mutable)

  def variable_shapes(self, input_shape=(1, 32, 32, 3)):
    return _variable_shapes(self.module, tuple(input_shape))

  def init(self, key: jax.Array, *, init: str = "pytorch", dtype=None, input_shape=(1, 32, 32, 3)):
    """Variables of the bound member: the exact network's ``init(key, init=init)`` values on the
    member's entries (see :func:`embed`), zeros elsewhere."""
    shapes = self.variable_shapes(input_shape)
    arch = self._arch()
    if isinstance(key, jax.core.Tracer) or isinstance(arch, jax.core.Tracer):
      return init_supernet_variables(shapes, key, arch, init=init, dtype=dtype)
    if init not in INITS:
      raise ValueError(f"`init` must be one of {INITS}, got {init!r}.")
    leaves, treedef = jax.tree.flatten(shapes)
    layout = tuple((tuple(l.shape), jnp.dtype(l.dtype).name) for l in leaves)
    dt = None if dtype is None else jnp.dtype(dtype).name
    exe = _compiled_init(self.module, treedef, layout, init, dt, jax.typeof(key),
                         bool(jax.config.jax_enable_x64))
    return exe(key, jnp.asarray(arch, jnp.int32))

  def gates(self, variables, x):
    """All-ones per-sample gates of every conv/linear output (see ``Network.gates``)."""
    return self._filled_collection(variables, x, GATES, jnp.ones)

  def deltas(self, variables, x):
    """All-zero per-sample weight offsets of every conv/linear layer (see ``Network.deltas``)."""
    return self._filled_collection(variables, x, DELTAS, jnp.zeros)

  def _filled_collection(self, variables, x, collection: str, fill):
    def shapes(v, x, arch):
      _, state = self.module.apply(v, x, arch, train=True, mutable=[collection])
      return state[collection]

    out = jax.eval_shape(shapes, variables, x, self._arch())
    return jax.tree.map(lambda s: fill(s.shape, jnp.promote_types(s.dtype, x.dtype)), out)

  def active(self, variables):
    """Pytree like `variables`: bool arrays of each leaf's shape, True on the entries the member
    uses (its channels; the FactorizedReduce of a cell only where the cell changes width)."""
    arch = jnp.asarray(self._arch(), jnp.int32)
    widths = jnp.asarray(CHANNELS, jnp.int32)[arch]
    same = _same_widths(arch)

    return jax.tree_util.tree_map_with_path(
        lambda p, v: _member_mask(p, _leaf_facts(p, v.shape), widths, same, v.shape), variables)

  def num_params(self):
    """Trainable parameters of the member (the exact network's parameter count)."""
    shapes = {"params": self.variable_shapes()["params"]}
    return sum(jnp.sum(a, dtype=jnp.int64 if jax.config.jax_enable_x64 else jnp.int32)
               for a in jax.tree.leaves(self.active(shapes)))

  def flops(self, image_size: int = 32):
    """Multiply-accumulates per image of the member's conv/linear layers (xautodl
    ``get_model_infos``: output positions x (kernel entries + bias) per output channel)."""
    shapes = {"params": self.variable_shapes()["params"]}
    active = self.active(shapes)
    hw = image_size * image_size
    total = 0
    for path, mask in jax.tree_util.tree_leaves_with_path(active):
      keys = [key_name(p) for p in path]
      if keys[-1] != "kernel" and not (keys[-1] == "bias" and keys[-2] in ("conv", "classifier")):
        continue
      facts = _leaf_facts(path, mask.shape)
      positions = 1 if keys[1] == "classifier" else hw // facts.hw_div
      total = total + positions * jnp.sum(mask, dtype=jnp.int64 if jax.config.jax_enable_x64
                                          else jnp.int32)
    return total


def nats_supernet(*, num_classes: int = 10, variant: str = "xautodl", batch_norm: bool = True,
                  dtype=jnp.float32) -> NATSSupernet:
  """The channel-masked NATS size-space supernet (options as :func:`nats_size_network`)."""
  module = NATSSuperModule(num_classes, variant, batch_norm, dtype)
  module._check()
  return NATSSupernet(module)


# ---------------------------------------------------------------------------------------------
# Moving variables between an exact network and the supernet
# ---------------------------------------------------------------------------------------------
def _flat_exact(exact_variables) -> dict:
  return {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_leaves_with_path(exact_variables)}


def embed(exact_variables, widths, *, input_shape=(1, 32, 32, 3), **kwargs):
  """Supernet variables holding an exact network's variables: each exact leaf in the first
  channels of its supernet leaf, zeros elsewhere (``kwargs``: :func:`nats_supernet` options).

  `widths`: the exact network's 5 channel widths.
  """
  from jaxnas.spaces import nats_sss

  arch = nats_sss.encode(":".join(str(int(w)) for w in widths))
  net = nats_supernet(**kwargs)
  shapes = net.variable_shapes(input_shape)
  flat = _flat_exact(exact_variables)
  same = np.asarray(_same_widths(arch))
  w = [int(x) for x in widths]
  used = set()

  def leaf(path, s):
    facts = _leaf_facts(path, s.shape)
    name = facts.names[0 if facts.stage < 0 or same[facts.stage] else 1]
    if name not in flat:
      return jnp.zeros(s.shape, s.dtype)
    used.add(name)
    value = np.asarray(flat[name])
    dims = [s.shape[ax] if layer is None else w[layer] for ax, layer in enumerate(facts.axes)]
    value = value.reshape(dims)
    out = np.zeros(s.shape, value.dtype)
    out[tuple(slice(0, d) for d in dims)] = value
    return jnp.asarray(out)

  out = jax.tree_util.tree_map_with_path(leaf, shapes)
  unused = set(flat) - used
  if unused:
    raise ValueError(f"`exact_variables` has leaves the supernet does not hold: {sorted(unused)[:3]}; "
                     f"are `widths` {tuple(w)} and the network options those of the exact network?")
  return out


def restrict(supernet_tree, widths, like):
  """The exact network's pytree (shaped like `like`, e.g. its variables or gradients) cut from a
  supernet pytree (variables or gradients) of the member with `widths`."""
  from jaxnas.spaces import nats_sss

  arch = nats_sss.encode(":".join(str(int(w)) for w in widths))
  same = np.asarray(_same_widths(arch))
  by_name = {}
  for path, v in jax.tree_util.tree_leaves_with_path(supernet_tree):
    facts = _leaf_facts(path, v.shape)
    by_name[facts.names[0 if facts.stage < 0 or same[facts.stage] else 1]] = v

  def leaf(path, l):
    name = jax.tree_util.keystr(path)
    if name not in by_name:
      raise ValueError(f"The supernet tree has no leaf for the exact network's {name}.")
    v = by_name[name]
    return v[tuple(slice(0, d) for d in l.shape[-v.ndim:])].reshape(l.shape)
  return jax.tree_util.tree_map_with_path(leaf, like)
