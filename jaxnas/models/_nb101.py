"""The NAS-Bench-101 network in Flax, layer for layer zero-cost-nas's PyTorch port.

Reference: SamsungLabs/zero-cost-nas ``foresight/models/nasbench1.py`` and ``nasbench1_ops.py``
(the network zero-cost-nas's ``nasbench1_pred.py`` and NAS-Bench-Suite-Zero score; NASLib ships
the same file as ``naslib/search_spaces/nasbench101/models/nasbench1.py``), a port of
google-research/nasbench ``model_builder.py``. NHWC here.

Network: ConvBnRelu 3x3 stem (128 channels) -> 3 stacks of 3 cells, a ``MaxPool2d(2, 2)`` before
stacks 2 and 3 and the cell channels doubled there -> global average pool -> Linear. A cell runs
the *pruned* spec: vertex t sums its predecessors (each truncated to its own channel count) and a
1x1 ConvBnRelu projection of the cell input when the input feeds it, then applies its op
(ConvBnRelu 3x3 / 1x1, or MaxPool2d(3, 1, 1)); the output concatenates the vertices feeding it
(channel order = vertex order) and adds a projection of the input when the input feeds it.
Channels per vertex: :func:`jaxnas.spaces._nb101.vertex_channels`. ConvBnRelu = Conv2d (no bias)
-> BatchNorm2d (PyTorch defaults: eps 1e-5, momentum 0.1) -> ReLU; ``batch_norm=False`` drops
the BN (``get_prunable_copy(bn=False)``, what synflow scores).

No masked supernet: cells differ in their vertex count and per-vertex channel widths (the output's
channels are split over the vertices feeding it), so a supernet would have to hold every width
split of every vertex and gather channels per cell; each cell is scored as its own exact network.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.protocol import BlockRef, Capability, Layout, declare
from jaxnas.spaces import _nb101 as space

from ._init import init_variables, variable_shapes
from ._layers import (
    DELTAS,
    GATES,
    PROBES,
    Activation,
    ConvBNSpec,
    DenseDecl,
    Output,
    apply_delta,
    apply_gate,
    probe_input,
    run_conv_bn,
)

CAPTURES = (False, True, "relu", "outputs", "cells")
_KERNEL = {space.CONV3X3: 3, space.CONV1X1: 1}


def _max_pool(x, k: int, stride: int, padding: int):
  """MaxPool2d(k, stride, padding) on NHWC (padding with -inf, as PyTorch). The initial value is
  a NumPy constant: JAX differentiates a max ``reduce_window`` only when it sees -inf there."""
  init = np.array(-np.inf, x.dtype)
  pads = [(0, 0), (padding, padding), (padding, padding), (0, 0)]
  return jax.lax.reduce_window(x, init, jax.lax.max, (1, k, k, 1), (1, stride, stride, 1), pads)


class NB101Cell(nn.Module):
  """One cell of a pruned spec (static), ``cin`` -> ``cout`` channels.

  Returns (output, relu records, output records): :class:`Activation` for every ReLU input (the BN
  output of each ConvBnRelu, weight 1, ``wrapped=False``: the reference's ``ConvBnRelu`` type name
  does not contain 'ReLU'), and :class:`Output` for every module output a forward hook on every
  module would see (conv 1, BN 1, the ReLU output 4 for an op (ReLU, Sequential, ConvBnRelu,
  Conv{k}x{k}BnRelu) and 3 for a projection, a max-pool op 2, the cell's output 1 more).
  """

  matrix: tuple[tuple[int, ...], ...]
  ops: tuple[int, ...]
  cin: int
  cout: int
  batch_norm: bool = True
  dtype: Any = jnp.float32

  def _conv_bn_relu(self, x, cout, k, name, train, acts, outs, wrappers):
    spec = ConvBNSpec(x.shape[-1], cout, k, bn=self.batch_norm, relu=False)
    pre, z = run_conv_bn(self, spec, x, train=train, name=name, dtype=self.dtype, with_conv=True)
    y = jax.nn.relu(pre)
    one = jnp.ones((), jnp.int32)
    acts.append(Activation(pre, one, False))
    if self.batch_norm:
      outs.append(Output(z, one))
      outs.append(Output(pre, one))
    else:
      outs.append(Output(z, one))
    outs.append(Output(y, (2 + wrappers) * one))
    return y

  @nn.compact
  def __call__(self, x, *, train: bool):
    m = np.asarray(self.matrix)
    n = m.shape[0]
    ch = space.vertex_channels(self.cin, self.cout, m)
    x = probe_input(self, x)
    acts, outs = [], []
    tensors = [x]
    concat = []
    for t in range(1, n - 1):
      fan_in = [tensors[s][..., :ch[t]] for s in range(1, t) if m[s, t]]
      if m[0, t]:
        fan_in.append(self._conv_bn_relu(x, ch[t], 1, f"proj{t}", train, acts, outs, 1))
      h = fan_in[0]
      for f in fan_in[1:]:
        h = h + f
      op = self.ops[t - 1]
      if op == space.MAXPOOL3X3:
        h = _max_pool(h, 3, 1, 1)
        outs.append(Output(h, 2 * jnp.ones((), jnp.int32)))
      else:
        h = self._conv_bn_relu(h, ch[t], _KERNEL[op], f"op{t}", train, acts, outs, 2)
      tensors.append(h)
      if m[t, n - 1]:
        concat.append(h)
    if m[0, n - 1]:
      proj = self._conv_bn_relu(x, self.cout, 1, f"proj{n - 1}", train, acts, outs, 1)
    if not concat:
      out = proj
    else:
      out = concat[0] if len(concat) == 1 else jnp.concatenate(concat, axis=-1)
      if m[0, n - 1]:
        out = out + proj
    if out is outs[-1].value:  # the cell outputs a tensor a module already output
      outs[-1] = Output(out, outs[-1].weight + 1)
    else:
      outs.append(Output(out, jnp.ones((), jnp.int32)))
    return out, tuple(acts), tuple(outs)


class NB101Network(nn.Module):
  """zero-cost-nas's ``nasbench1.Network`` around one pruned cell (static attributes).

  Attributes:
    matrix: the pruned adjacency (n, n) as nested tuples; ops: the n - 2 op codes.
    stem_channels, num_stacks, cells_per_stack: 128, 3, 3 in NAS-Bench-101.
    num_classes: classifier outputs. batch_norm: False removes every BN.
  """

  matrix: tuple[tuple[int, ...], ...]
  ops: tuple[int, ...]
  stem_channels: int = 128
  num_stacks: int = 3
  cells_per_stack: int = 3
  num_classes: int = 10
  batch_norm: bool = True
  dtype: Any = jnp.float32
  #: Which reference network this is (the proxies' network option; one network here).
  variant: str = "zero_cost_nas"

  @nn.compact
  def __call__(self, x, *, train: bool = True, capture=False):
    """Logits of NHWC images `x`; with ``capture`` also the records (see :class:`NB101Cell`):
    True / "relu" ReLU inputs, "outputs" module outputs, "cells" the stem's and every cell's
    output (AZ-NAS's cell-level features; the stack max-pools are not blocks)."""
    if capture not in CAPTURES:
      raise ValueError(f"`capture` must be one of {CAPTURES}, got {capture!r}.")
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"`x` must be NHWC images with 3 channels, got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
      raise TypeError(f"`x` must be floating point, got {x.dtype}.")
    one = jnp.ones((), jnp.int32)
    acts, outs, cells = [], [], []
    stem = ConvBNSpec(3, self.stem_channels, 3, bn=self.batch_norm, relu=False)
    pre, z = run_conv_bn(self, stem, x, train=train, name="stem", dtype=self.dtype, with_conv=True)
    h = jax.nn.relu(pre)
    acts.append(Activation(pre, one, False))
    outs.append(Output(z, one))
    if self.batch_norm:
      outs.append(Output(pre, one))
    outs.append(Output(h, 3 * one))  # ReLU, Sequential, ConvBnRelu
    cells.append(h)
    layer = 1
    cin = cout = self.stem_channels
    for stack in range(self.num_stacks):
      if stack > 0:
        h = _max_pool(h, 2, 2, 0)
        outs.append(Output(h, one))
        layer += 1
        cout *= 2
      for _ in range(self.cells_per_stack):
        cell = NB101Cell(self.matrix, self.ops, cin, cout, self.batch_norm, self.dtype,
                         name=f"layer{layer:02d}")
        h, a, o = cell(h, train=train)
        acts.extend(a)
        outs.extend(o)
        cells.append(h)
        layer += 1
        cin = cout
    feats = jnp.mean(h, axis=(1, 2))
    dense = DenseDecl(cout, self.num_classes, self.dtype, name="classifier")(x.shape[0])
    logits = feats @ dense["kernel"].astype(feats.dtype) + dense["bias"].astype(feats.dtype)
    logits = apply_gate(apply_delta(logits, feats, dense), dense)
    if capture == "outputs":
      return logits, tuple(outs)
    if capture == "cells":
      return logits, tuple(cells)
    if capture:
      return logits, tuple(acts)
    return logits


def _reference_init(variables):
  """nasbench1 ``Network._initialize_weights`` from N(0, 1) draws: conv kernels scaled to
  N(0, 2 / (k * k * C_out)) (He, fan-out), the linear kernel to N(0, 0.01^2); biases 0, BN 1/0."""
  def scale(path, leaf):
    names = [str(getattr(p, "key", p)) for p in path]
    if names[-1] != "kernel" or names[0] != "params":
      return leaf
    if leaf.ndim == 4:
      k, _, _, cout = leaf.shape
      return leaf * jnp.asarray(np.sqrt(2.0 / (k * k * cout)), leaf.dtype)
    return leaf * jnp.asarray(0.01, leaf.dtype)
  return jax.tree_util.tree_map_with_path(scale, variables)


@flax.struct.dataclass
class NB101Net:
  """An exact NAS-Bench-101 network with :class:`jaxnas.models.Network`'s method surface:
  ``net(variables, x, *, train=True, capture=False, mutable=False)``, :meth:`init`,
  :meth:`gates`, :meth:`deltas`, :meth:`probes`, :meth:`active`, :meth:`num_params`,
  :meth:`flops`. ``arch`` is the (26,) encoding it was built from (static)."""

  module: NB101Network = flax.struct.field(pytree_node=False)
  arch: Any = flax.struct.field(pytree_node=False, default=None)

  is_supernet = False

  @property
  def capabilities(self) -> frozenset:
    """Everything but the reference's parameter order (VKDNW then reads leaves in tree order):
    ReLU inputs, module and cell outputs, gates, deltas, probes, active masks, counts, forward
    mode (plain convolutions, no custom_vjp layers) and a :class:`jaxnas.protocol.Layout`."""
    return declare(Capability.ACTIVATIONS, Capability.OUTPUTS, Capability.CELLS, Capability.GATES,
                   Capability.DELTAS, Capability.PROBES, Capability.ACTIVE, Capability.COUNTS,
                   Capability.JVP, Capability.LAYOUT)

  @property
  def layout(self) -> Layout:
    """One probed block per cell (``layer<i>``; the stacks' max-pools are not blocks), a stage
    per stack; at most 5 modules output one tensor (an op's ReLU output is the output of ReLU,
    Sequential, ConvBnRelu and Conv{k}x{k}BnRelu, and of the cell when it is the cell's output)."""
    mod, refs, layer = self.module, [], 1
    for stack in range(mod.num_stacks):
      layer += stack > 0
      for c in range(mod.cells_per_stack):
        refs.append(BlockRef(f"layer{layer:02d}", 1 + stack * mod.cells_per_stack + c, 1, stack))
        layer += 1
    return Layout(probes=tuple(refs), max_modules=5, reference=REFERENCE)

  def __call__(self, variables, x, *, train: bool = True, capture=False, mutable=False):
    return self.module.apply(variables, x, train=train, capture=capture, mutable=mutable)

  def variable_shapes(self, input_shape=(1, 32, 32, 3)):
    return variable_shapes(self.module, tuple(input_shape), None)

  def init(self, key: jax.Array, *, init: str = "pytorch", dtype=None, input_shape=(1, 32, 32, 3)):
    """Fresh variables. ``init='pytorch'``: the PyTorch reference network as constructed, i.e.
    its own ``_initialize_weights`` (conv N(0, 2 / (k^2 C_out)), linear N(0, 0.01^2), biases 0,
    BN 1/0), which zero-cost-nas scores with; 'normal' and 'kaiming_normal' as for every jaxnas
    network (:func:`jaxnas.models.init_from_shapes`)."""
    shapes = self.variable_shapes(input_shape)
    if init == "pytorch":
      return _reference_init(init_variables(shapes, key, init="normal", dtype=dtype))
    return init_variables(shapes, key, init=init, dtype=dtype)

  def _filled_collection(self, variables, x, collection: str, fill):
    def shapes(v, x):
      _, state = self.module.apply(v, x, train=True, mutable=[collection])
      return state[collection]
    out = jax.eval_shape(shapes, variables, x)
    return jax.tree.map(lambda s: fill(s.shape, jnp.promote_types(s.dtype, x.dtype)), out)

  def gates(self, variables, x):
    """All-ones per-sample gates of every conv/linear output (see ``Network.gates``)."""
    return self._filled_collection(variables, x, GATES, jnp.ones)

  def deltas(self, variables, x):
    """All-zero per-sample weight offsets of every conv/linear layer (see ``Network.deltas``)."""
    return self._filled_collection(variables, x, DELTAS, jnp.zeros)

  def probes(self, variables, x):
    """All-zero probes at every cell's input, ``layer<i>/input`` (see ``Network.probes``)."""
    return self._filled_collection(variables, x, PROBES, jnp.zeros)

  def active(self, variables):
    """Every variable is used (an exact network)."""
    return jax.tree.map(lambda _: jnp.asarray(True), variables)

  def _cell(self) -> space.PrunedCell:
    m = np.asarray(self.module.matrix)
    return space.PrunedCell(m, tuple(self.module.ops), ())

  def num_params(self):
    """Trainable parameters (BN affine included), closed form (:func:`spaces._nb101.network_cost`)."""
    mod = self.module
    return jnp.asarray(space.network_cost(self._cell(), mod.num_classes, 32, mod.stem_channels,
                                          mod.num_stacks, mod.cells_per_stack, mod.batch_norm)[0])

  def flops(self, image_size: int = 32):
    """Multiply-accumulates per image of the conv and linear layers."""
    mod = self.module
    return jnp.asarray(space.network_cost(self._cell(), mod.num_classes, image_size,
                                          mod.stem_channels, mod.num_stacks, mod.cells_per_stack,
                                          mod.batch_norm)[1])


REFERENCE = "SamsungLabs/zero-cost-nas foresight/models/nasbench1.py"
_VARIANTS = ("zero_cost_nas", "xautodl")


def nb101_network(arch, *, num_classes: int = 10, batch_norm: bool = True,
                  stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3,
                  variant: str = "zero_cost_nas", dtype=jnp.float32) -> NB101Net:
  """The exact NAS-Bench-101 network of one cell.

  Args:
    arch: a (26,) nb101 encoding, or anything :meth:`jaxnas.spaces.nb101.encode` takes (arch
      string, NASLib key, (matrix, ops)); must be a valid cell.
    num_classes: classifier width. batch_norm: False drops every BN (synflow's copy).
    stem_channels, num_stacks, cells_per_stack: NAS-Bench-101's are 128, 3, 3 (smaller for tests).
    variant: the NB201 proxies' network overrides name 'zero_cost_nas' or 'xautodl'; NB101 has
      one reference network (zero-cost-nas's, the same file in NASLib), built for either.

  Example:
    >>> import jax
    >>> from jaxnas import models
    >>> net = models.nb101_network("000001/00000/0000/000/00/0|conv3x3,conv3x3,conv3x3,conv3x3,"
    ...                            "conv3x3", stem_channels=4, num_stacks=1, cells_per_stack=1)
    >>> variables = net.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
    >>> net(variables, jax.numpy.ones((2, 8, 8, 3))).shape
    (2, 10)
  """
  from jaxnas.spaces import nb101

  if variant not in _VARIANTS:
    raise ValueError(f"`variant` for nb101 must be one of {_VARIANTS} (both build zero-cost-nas's "
                     f"network), got {variant!r}.")
  if isinstance(arch, str) or (isinstance(arch, (tuple, list)) and len(arch) in (2, 56)):
    enc = nb101.encode(arch)
  else:
    enc = np.asarray(arch)
  cell = nb101.check_valid(enc)
  for name, v in (("num_classes", num_classes), ("stem_channels", stem_channels),
                  ("num_stacks", num_stacks), ("cells_per_stack", cells_per_stack)):
    if int(v) != v or v < 1:
      raise ValueError(f"`{name}` must be a positive integer, got {v!r}.")
  space.vertex_channels(int(stem_channels), int(stem_channels), cell.matrix)  # splits >= 1 channel
  matrix = tuple(tuple(int(b) for b in row) for row in cell.matrix)
  module = NB101Network(matrix, tuple(int(o) for o in cell.ops), int(stem_channels),
                        int(num_stacks), int(cells_per_stack), int(num_classes), bool(batch_norm),
                        dtype)
  return NB101Net(module, tuple(int(v) for v in enc))


def nb101_costs(encoding, *, num_classes: int = 10, image_size: int = 32, stem_channels: int = 128,
                num_stacks: int = 3, cells_per_stack: int = 3) -> tuple[int, int]:
  """(parameters, MACs per image) of the exact NB101 network of `encoding` (closed form,
  :func:`jaxnas.spaces._nb101.network_cost`)."""
  cell = space.nb101.check_valid(space.nb101.encode(encoding))
  return space.network_cost(cell, num_classes, image_size, stem_channels, num_stacks, cells_per_stack,
                            True)
