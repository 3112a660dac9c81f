"""DARTS / NAS-Bench-301 networks in Flax: NASLib's nasbench301 graph and DARTS's NetworkCIFAR.

Both are DARTS's macro-architecture (Liu et al. 2019, quark0/darts ``model.py`` ``NetworkCIFAR``):
a 3x3 conv + BN stem with 3C channels, then `layers` cells, the ones at layers // 3 and
2 * layers // 3 reduction cells (stride 2 on the ops that read the cell inputs, channels doubled),
each cell preprocessing its two inputs (the outputs of the cells two back and one back) with
ReLU-conv1x1-BN (FactorizedReduce for the input two back when the previous cell reduced), summing
two operated inputs per intermediate node and concatenating nodes 2-5; then global average pooling
and a linear classifier (no ReLU before it). Data layout is NHWC.

Variants (``variant=``):

* ``'naslib'`` (default): the network NAS-Bench-Suite-Zero scored its NB301 zero-cost proxies on,
  automl/NASLib @ 6639fd15 ``naslib/search_spaces/nasbench301/graph.py`` (C=32, 8 cells; NASLib's
  a4412f18, Oct 2022, after the benchmark data, cut C to 16). It differs from DARTS's network in
  the cell ops: separable/dilated convs and the stride-2 FactorizedReduce skip have non-affine BN,
  and both pooling ops are followed by a non-affine BN (``MaxPool``/``AvgPool`` with
  ``use_bn=True``). Its auxiliary head is only attached by ``prepare_evaluation`` and is absent here.
* ``'darts'``: DARTS's evaluation network (C=36, 20 cells, affine BN everywhere, pooling without
  BN, no auxiliary head, drop-path off as at inference). The DARTS_V2 genotype gives 3,349,342
  parameters, as DARTS's ``count_parameters_in_MB`` reports.

The space's masked supernet is :mod:`jaxnas.models._darts_supernet` (an op switch per slot with a
dynamic input index; it equals these networks in float64); proxies it cannot serve (module
outputs, layout) fall back to these exact networks, one compiled program per architecture
(cost of both: ``benchmarks/results/darts_supernet.md``).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import protocol
from jaxnas.protocol import Capability, Layout
from jaxnas.spaces import _darts as space
from jaxnas.spaces._darts import AVG_POOL, DIL3, DIL5, MAX_POOL, SEP3, SEP5, SKIP

from ._init import init_variables, variable_shapes
from ._layers import (
    Activation,
    BNDecl,
    ConvDecl,
    DenseDecl,
    Output,
    apply_delta,
    apply_gate,
    batch_norm,
    read_stats,
    write_stats,
)
from ._network import Network

CAPTURES = (False, True, "relu", "outputs", "cells")

PROBES_MSG = (
    "darts networks declare no cell-input probes: a DARTS cell reads two inputs (the outputs of the "
    "cells one and two back), so the block-wise Jacobians that AZ-NAS's trainability (and its "
    "shared pass for az_expressivity / az_progressivity) is defined on, J_i at the single input "
    "f_(i-1) of an NB201 cell or ResNet block, do not exist here. Use the az_* proxies on nb201.")
REFERENCE = ("automl/NASLib@6639fd15 naslib/search_spaces/nasbench301/graph.py (variant 'naslib'); "
             "quark0/darts cnn/model.py NetworkCIFAR (variant 'darts')")


def darts_param_rank(names: tuple, cell):
  """Position of a darts module in the reference's ``named_parameters()`` order: the top-level
  variable names sort in that order (``n00_stem_s0_conv`` ... ``n99_classifier``)."""
  return (names[0],)


LAYOUT = Layout(probes=(), max_modules=3, param_order=darts_param_rank, reference=REFERENCE)


def _conv(x, kernel, *, stride=1, padding=0, dilation=1, groups=1):
  """NHWC/HWIO convolution with PyTorch's symmetric padding, dilation and groups."""
  return jax.lax.conv_general_dilated(
      x, kernel.astype(x.dtype), (stride, stride), [(padding, padding)] * 2,
      rhs_dilation=(dilation, dilation), dimension_numbers=("NHWC", "HWIO", "NHWC"),
      feature_group_count=groups)


def _run_conv(p, x, **kw):
  """A declared conv (``ConvDecl`` params ``p``) on `x`, with its per-sample weight offsets
  (``deltas``) and output gates (``gates``) when the caller passed those collections."""
  y = _conv(x, p["kernel"], **kw)
  if "delta" in p:
    if kw.get("groups", 1) == 1 and kw.get("dilation", 1) == 1:
      y = apply_delta(y, x, p, stride=kw.get("stride", 1), padding=kw.get("padding", 0))
    else:  # depthwise / dilated: sample n convolved with its own offset
      d = p["delta"]["kernel"].astype(y.dtype)
      y = y + jax.vmap(lambda xi, ki: _conv(xi[None], ki, **kw)[0])(x.astype(y.dtype), d)
  return apply_gate(y, p)


def _max_pool(x, stride):
  """MaxPool2d(3, stride, padding=1) (padding never wins: -inf)."""
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 3, 3, 1),
                               (1, stride, stride, 1), [(0, 0), (1, 1), (1, 1), (0, 0)])


def _avg_pool(x, stride):
  """AvgPool2d(3, stride, padding=1, count_include_pad=False)."""
  pads = [(0, 0), (1, 1), (1, 1), (0, 0)]
  window, strides = (1, 3, 3, 1), (1, stride, stride, 1)
  summed = jax.lax.reduce_window(x, np.zeros((), x.dtype), jax.lax.add, window, strides, pads)
  h, w = x.shape[1], x.shape[2]
  ones = np.pad(np.ones((h, w)), 1)
  counts = sum(ones[a:a + h:stride, b:b + w:stride] for a in range(3) for b in range(3))
  return summed / jnp.asarray(counts[None, :, :, None], x.dtype)


class _Recorder:
  """Collects the captured records of one forward pass."""

  def __init__(self, mode):
    self.mode = mode
    self.acts: list = []
    self.outs: list = []
    self.cells: list = []

  def relu(self, x, weight: int, wrapped: bool):
    if self.mode in (True, "relu") and weight:
      self.acts.append(Activation(x, jnp.asarray(weight, jnp.int32), wrapped))

  def out(self, x, weight: int, block: int = 0):
    if self.mode == "outputs":
      self.outs.append(Output(x, jnp.asarray(weight, jnp.int32), jnp.asarray(block, jnp.int32)))


class DartsNetwork(nn.Module):
  """DARTS's NetworkCIFAR around one (normal, reduce) cell pair (see the module docstring).

  Attributes:
    cells: ``(normal, reduce)``, each 8 ``(input_node, op)`` pairs (NASLib's compact key), static.
    C: channels of the first stage's cells (stem 3C).
    layers: number of cells.
    num_classes: classifier outputs.
    variant: 'naslib' (NAS-Bench-Suite-Zero's network) or 'darts' (DARTS's evaluation network).
    batch_norm: False makes every BatchNorm the identity (no BN variables), as NASLib's
      ``get_prunable_copy(bn=False)`` does for synflow.

  Variables are named so that their ``jax.tree_util`` order is PyTorch's ``named_parameters()``
  order of the reference network (``n00_stem``, ``n01_cell``, ... then, within a cell, the two
  preprocessing blocks and the 8 ops in genotype order).
  """

  cells: tuple
  C: int = 32
  layers: int = 8
  num_classes: int = 10
  variant: str = "naslib"
  batch_norm: bool = True
  dtype: Any = jnp.float32

  def _check(self):
    space.check_variant(self.variant)
    space.darts.from_cells(self.cells)  # validates
    if int(self.C) < 2 or int(self.C) % 2:
      raise ValueError(f"`C` must be an even integer >= 2 (FactorizedReduce halves it), got {self.C}.")
    if int(self.layers) < 3:
      raise ValueError(f"`layers` must be >= 3 (two reduction cells and a normal one), got {self.layers}.")
    if int(self.num_classes) < 1:
      raise ValueError(f"`num_classes` must be >= 1, got {self.num_classes}.")

  # -- blocks ---------------------------------------------------------------------------------------
  def _bn(self, x, c, affine, name, train):
    if not self.batch_norm:  # NASLib's synflow copy: every BatchNorm's forward is a no-op
      return x
    bp, bs = BNDecl(c, affine, True, self.dtype, name=name)()
    y, new = batch_norm(x, bp, read_stats(bs), train=train)
    write_stats(self, bs, new)
    return y

  def _relu_conv_bn(self, x, cin, cout, name, train, rec):
    """ReLUConvBN(cin, cout, 1): the preprocessing of a cell input (affine BN)."""
    p = ConvDecl(cin, cout, 1, False, self.dtype, name=f"{name}_s0_conv")(x.shape[0])
    r = jax.nn.relu(x)
    z = _run_conv(p, r)
    y = self._bn(z, cout, True, f"{name}_s1_bn", train)
    rec.out(r, 1)
    rec.out(z, 1)
    rec.out(y, 3, 1)  # BN, its nn.Sequential and the ReLUConvBN module (a ReLU-conv-BN block)
    return y

  def _factorized_reduce(self, x, cin, cout, affine, name, train, rec):
    """FactorizedReduce: ReLU, two stride-2 1x1 convs (the second on the map shifted by one
    pixel), channel concat, BN."""
    batch = x.shape[0]
    p1 = ConvDecl(cin, cout // 2, 1, False, self.dtype, name=f"{name}_s0_conv1")(batch)
    p2 = ConvDecl(cin, cout // 2, 1, False, self.dtype, name=f"{name}_s1_conv2")(batch)
    r = jax.nn.relu(x)
    a = _run_conv(p1, r, stride=2)
    b = _run_conv(p2, r[:, 1:, 1:, :], stride=2)
    y = self._bn(jnp.concatenate([a, b], axis=-1), cout, affine, f"{name}_s2_bn", train)
    rec.out(r, 1)
    rec.out(a, 1)
    rec.out(b, 1)
    rec.out(y, 2)  # BN and the FactorizedReduce module
    return y

  def _sep_half(self, x, c, k, stride, dil, affine, name, idx, train, rec):
    """ReLU, depthwise kxk conv, pointwise conv, BN (half of a SepConv, or a DilConv)."""
    batch = x.shape[0]
    pad = dil * (k - 1) // 2
    pd = ConvDecl(1, c, k, False, self.dtype, name=f"{name}_s{idx}_dw")(batch)
    pp = ConvDecl(c, c, 1, False, self.dtype, name=f"{name}_s{idx + 1}_pw")(batch)
    r = jax.nn.relu(x)
    d = _run_conv(pd, r, stride=stride, padding=pad, dilation=dil, groups=c)
    z = _run_conv(pp, d)
    y = self._bn(z, c, affine, f"{name}_s{idx + 2}_bn", train)
    rec.out(r, 1)
    rec.out(d, 1)
    rec.out(z, 1)
    return y

  def _op(self, op, x, c, stride, name, train, rec):
    naslib = self.variant == "naslib"
    affine = not naslib
    if op in (MAX_POOL, AVG_POOL):
      y = (_max_pool if op == MAX_POOL else _avg_pool)(x, stride)
      if not naslib:
        rec.out(y, 1)
        return y
      rec.out(y, 1)
      y = self._bn(y, c, False, f"{name}_s0_bn", train)
      rec.out(y, 3)  # BN, nn.Sequential, NASLib's MaxPool/AvgPool module
      return y
    if op == SKIP:
      if stride == 1:
        rec.out(x, 1)  # Identity
        return x
      return self._factorized_reduce(x, c, c, affine, name, train, rec)
    k = 3 if op in (SEP3, DIL3) else 5
    if op in (SEP3, SEP5):
      y = self._sep_half(x, c, k, stride, 1, affine, name, 0, train, rec)
      rec.out(y, 1)
      rec.relu(y, 1, False)  # SepConv's inner ReLU
      y = self._sep_half(y, c, k, 1, 1, affine, name, 3, train, rec)
    else:
      y = self._sep_half(x, c, k, stride, 2, affine, name, 0, train, rec)
    rec.out(y, 3)  # BN, nn.Sequential, SepConv/DilConv module
    return y

  def _cell(self, s0, s1, c_pp, c_p, c, red, red_prev, name, train, rec):
    pairs = self.cells[1 if red else 0]
    if red_prev:
      s0 = self._factorized_reduce(s0, c_pp, c, True, f"{name}_p0_pre0", train, rec)
    else:
      s0 = self._relu_conv_bn(s0, c_pp, c, f"{name}_p0_pre0", train, rec)
    s1 = self._relu_conv_bn(s1, c_p, c, f"{name}_p1_pre1", train, rec)
    states = [s0, s1]
    for node in range(space.NODES):
      # ReLUs of this cell reading state `node` once every node that can read it is known.
      total = None
      for m in range(2):
        j = 2 * node + m
        i, op = pairs[j]
        stride = 2 if red and i < 2 else 1
        h = self._op(op, states[i], c, stride, f"{name}_p{2 + j}_op{j}", train, rec)
        total = h if total is None else total + h
      states.append(total)
    for n in range(2 + space.NODES):
      readers = sum(1 for i, op in pairs if i == n and (
          op in (SEP3, SEP5, DIL3, DIL5) or (op == SKIP and red and n < 2)))
      rec.relu(states[n], readers, False)
    out = jnp.concatenate(states[2:], axis=-1)
    rec.out(out, 1)  # the cell module
    return out

  @nn.compact
  def __call__(self, x, *, train: bool = True, capture=False):
    """Logits of images `x` (N, H, W, 3); with ``capture`` also intermediate tensors.

    ``capture``: True or "relu": every ReLU input (:class:`Activation`, weight = number of ReLU
    modules reading it; ``wrapped`` for the ReLUConvBN preprocessing blocks, whose class name
    contains 'ReLU'); "outputs": every module output a forward hook on all modules of the
    reference network would see (:class:`Output`); "cells": the stem's and every cell's output.
    """
    self._check()
    if capture not in CAPTURES:
      raise ValueError(f"`capture` must be one of {CAPTURES}, got {capture!r}.")
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"`x` must be NHWC images with 3 channels, got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
      raise TypeError(f"`x` must be floating point, got {x.dtype}.")
    rec = _Recorder(capture)
    stem_c = 3 * self.C
    p = ConvDecl(3, stem_c, 3, False, self.dtype, name="n00_stem_s0_conv")(x.shape[0])
    z = _run_conv(p, x, padding=1)
    h = self._bn(z, stem_c, True, "n00_stem_s1_bn", train)
    rec.out(z, 1)
    rec.out(h, 3 if self.variant == "naslib" else 2)  # BN, Sequential (, NASLib's Stem)
    rec.cells.append(h)
    layout = space.macro_layout(self.C, self.layers)
    s0 = s1 = h
    outputs = [h]
    for i, (c_pp, c_p, c, red, red_prev) in enumerate(layout):
      new = self._cell(s0, s1, c_pp, c_p, c, red, red_prev, f"n{i + 1:02d}_cell", train, rec)
      outputs.append(new)
      rec.cells.append(new)
      s0, s1 = s1, new
    # ReLUs reading cell outputs: cell i's output is s1 of cell i+1 (ReLUConvBN) and s0 of cell
    # i+2 (ReLUConvBN, or FactorizedReduce when cell i+1 reduces); the stem feeds cells 0 and 1.
    for t, out in enumerate(outputs):
      wrapped = unwrapped = 0
      for k, (_, _, _, _, red_prev) in enumerate(layout):
        if k == t:  # as s1 (the stem is also s0 of cell 0)
          wrapped += 2 if t == 0 else 1
        elif k == t + 1:  # as s0
          if red_prev:
            unwrapped += 1
          else:
            wrapped += 1
      rec.relu(out, wrapped, True)
      rec.relu(out, unwrapped, False)
    feats = jnp.mean(s1, axis=(1, 2))
    dense = DenseDecl(4 * layout[-1][2], self.num_classes, self.dtype, name="n99_classifier")(
        x.shape[0])
    logits = feats @ dense["kernel"].astype(feats.dtype) + dense["bias"].astype(feats.dtype)
    logits = apply_gate(apply_delta(logits, feats, dense), dense)
    if capture == "outputs":
      return logits, tuple(rec.outs)
    if capture == "cells":
      return logits, tuple(rec.cells)
    if capture:
      return logits, tuple(rec.acts)
    return logits


@flax.struct.dataclass
class DartsNet(Network):
  """A :class:`Network` for the darts space, exact networks only (see the module docstring).

  Declares every :class:`jaxnas.protocol.Capability` but ``PROBES`` (DARTS cells have two inputs,
  so AZ-NAS's block-wise Jacobians are undefined: the az_* proxies raise
  :class:`jaxnas.protocol.CapabilityError`) and ``HEAD`` (no activation before the classifier:
  RBFleX raises); its Layout gives MeCo's 3 modules per tensor at most
  and the reference's parameter order (the variable names sort in it)."""

  module: DartsNetwork = flax.struct.field(pytree_node=False)

  @property
  def capabilities(self) -> frozenset:
    return protocol.declare(*(c for c in Capability
                              if c not in (Capability.PROBES, Capability.HEAD)))

  @property
  def layout(self) -> Layout:
    return LAYOUT

  def __call__(self, variables, x, *, train: bool = True, capture=False, mutable=False):
    return self.module.apply(variables, x, train=train, capture=capture, mutable=mutable)

  @property
  def is_supernet(self) -> bool:
    return False

  def variable_shapes(self, input_shape=(1, 32, 32, 3)):
    return variable_shapes(self.module, tuple(input_shape), None)

  def init(self, key: jax.Array, *, init: str = "pytorch", dtype=None, input_shape=(1, 32, 32, 3)):
    """Fresh variables ({'params', 'batch_stats'}), see :meth:`Network.init`."""
    return init_variables(self.variable_shapes(input_shape), key, init=init, dtype=dtype)

  def probes(self, variables, x):
    raise NotImplementedError(PROBES_MSG)

  def active(self, variables):
    """Every variable of an exact network is used: a pytree of True like `variables`."""
    return jax.tree.map(lambda _: jnp.asarray(True), variables)

  def num_params(self):
    """Trainable parameters (BN affine included), counted from the variable shapes."""
    shapes = self.variable_shapes()["params"]
    return jnp.asarray(sum(int(np.prod(l.shape)) for l in jax.tree.leaves(shapes)))

  def flops(self, image_size: int = 32):
    """Multiply-accumulates per image of conv and linear layers (:func:`spaces._darts.macro_cost`)."""
    m = self.module
    return jnp.asarray(space.macro_cost(m.cells, num_classes=m.num_classes, image_size=image_size,
                                        variant=m.variant, C=m.C, layers=m.layers,
                                        batch_norm=m.batch_norm)[1])


def darts_costs(encoding, *, variant: str = "naslib", C: int | None = None, layers: int | None = None,
                num_classes: int = 10, image_size: int = 32, batch_norm: bool = True,
                dtype=None) -> tuple[int, int]:
  """(parameters, MACs per image) of ``darts_network(encoding, ...)``, counted without building it
  (:func:`jaxnas.spaces._darts.macro_cost`)."""
  del dtype
  if variant in NB201_VARIANTS:
    variant = "naslib"
  enc = space.darts.encode(encoding) if isinstance(encoding, str) else encoding
  return space.macro_cost(space.darts.cells(enc), num_classes=num_classes, image_size=image_size,
                          variant=variant, C=C, layers=layers, batch_norm=batch_norm)


#: NB201's network variants, which proxies name as the network their NB201 reference scored
#: (``Proxy.network``); on darts they select the default variant (see :func:`darts_network`).
NB201_VARIANTS = ("xautodl", "zero_cost_nas")


def darts_network(arch, *, variant: str = "naslib", C: int | None = None, layers: int | None = None,
                  num_classes: int = 10, batch_norm: bool = True, dtype=jnp.float32) -> DartsNet:
  """The exact network of a darts encoding (32 ints), Genotype string or NASLib compact key.

  Args:
    arch: the cell pair.
    variant: 'naslib' (NAS-Bench-Suite-Zero's network, C=32, 8 cells) or 'darts' (DARTS's
      evaluation network, C=36, 20 cells).
      NB201's variant names ('xautodl', 'zero_cost_nas'), which proxies carry as the network
      their NB201 reference used, mean 'naslib': the network NASLib's zero-cost code scored.
    C, layers: override the variant's width and depth (tests use tiny ones).
    batch_norm: False removes every BatchNorm (NASLib's synflow).

  Example:
    >>> import jax
    >>> from jaxnas import models, spaces
    >>> enc = spaces.darts.sample(jax.random.key(0), 1)[0]
    >>> net = models.darts_network(enc, C=4, layers=3)
    >>> variables = net.init(jax.random.key(1), input_shape=(1, 8, 8, 3))
    >>> net(variables, jax.numpy.ones((2, 8, 8, 3))).shape
    (2, 10)
  """
  if variant in NB201_VARIANTS:
    variant = "naslib"
  space.check_variant(variant)
  if isinstance(arch, str):
    arch = space.darts.encode(arch)
  cells = space.darts.cells(arch)
  dc, dl = space.VARIANTS[variant]
  module = DartsNetwork(cells, int(dc if C is None else C), int(dl if layers is None else layers),
                        int(num_classes), variant, bool(batch_norm), dtype)
  module._check()
  return DartsNet(module)
