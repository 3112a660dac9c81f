"""NB201 / NATS-Bench networks in Flax: exact per-architecture networks and the masked supernet.

Layer for layer this is xautodl's ``TinyNetwork`` (NB201, C=16, N=5) and ``DynamicShapeTinyNet``
(NATS size space), with zero-cost-nas's ``NAS201Model`` as a documented variant. Data layout is NHWC.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxnas.spaces._nb201 import AVG_POOL, CONV1X1, CONV3X3, EDGES, NONE, NUM_NODES, OPS, SKIP

from ._layers import (
    DELTAS,
    GATES,
    PROBES,
    STACK_SUFFIX,
    Activation,
    BNDecl,
    Output,
    apply_delta,
    apply_gate,
    ConvBNDecl,
    ConvBNSpec,
    ConvDecl,
    DenseDecl,
    avg_pool_2x2,
    avg_pool_3x3,
    batch_norm,
    conv2d,
    conv_bn,
    conv_bn_outputs,
    probe_input,
    read_stats,
    run_conv_bn,
    write_stats,
)

VARIANTS = ("xautodl", "zero_cost_nas")
#: Values of ``capture``: False (logits only), True or "relu" (every ReLU input,
#: :class:`Activation`), "outputs" (every module output a PyTorch forward hook would see, :class:`Output`),
#: "cells" (the stem's output and every cell's and ResNet block's output, in order).
CAPTURES = (False, True, "relu", "outputs", "cells")
SUPERNET_IMPLS = ("switch", "mask")

_CONV_K = {CONV1X1: 1, CONV3X3: 3}


def _cell_conv_spec(cin: int, cout: int, k: int, variant: str, batch_norm: bool) -> ConvBNSpec:
  """A cell's ReLU-conv-BN. xautodl: affine tracked BN, no conv bias. zero-cost-nas: conv bias,
  non-affine untracked BN (removed entirely when batch_norm=False)."""
  zc = variant == "zero_cost_nas"
  return ConvBNSpec(cin, cout, k, conv_bias=zc, bn=batch_norm, bn_affine=not zc, bn_track=not zc)


def _edge_name(pos: int) -> str:
  target, source = EDGES[pos]
  return f"edge_{target}_{source}"


class Cell(nn.Module):
  """One NB201 cell: node j = sum_{i<j} op_{j<-i}(node i); output node 3.

  With a static `arch` only the chosen ops exist (xautodl ``InferCell``). With ``arch=None`` this is
  the supernet cell: every edge holds both conv candidates and the op codes arrive as a traced
  (6,) int array at call time.
  """

  cin: int
  cout: int
  arch: Optional[tuple[int, ...]]
  variant: str = "xautodl"
  batch_norm: bool = True
  impl: str = "switch"
  dtype: Any = jnp.float32
  outputs: bool = False  # return module outputs (Output) instead of ReLU inputs (Activation)

  @nn.compact
  def __call__(self, x, arch=None, *, train: bool):
    x = probe_input(self, x)
    nodes = [x]
    taps = []
    outs = []
    for target in range(1, NUM_NODES):
      total = None
      for pos, (t, source) in enumerate(EDGES):
        if t != target:
          continue
        if self.arch is not None:
          y = self._exact_edge(pos, int(self.arch[pos]), nodes[source], train, outs)
        else:
          y = self._super_edge(pos, arch[pos], nodes[source], train, outs)
        total = y if total is None else total + y
      nodes.append(total)
    if self.outputs:  # the cell module's own output
      return nodes[-1], tuple(outs) + (Output(nodes[-1], jnp.ones((), jnp.int32)),)
    # ReLU inputs: a conv edge (or a width-changing pool edge) applies ReLU to its source node.
    for source in range(NUM_NODES - 1):
      weight = 0
      for pos, (_, s) in enumerate(EDGES):
        if s != source:
          continue
        ci = self.cin if s == 0 else self.cout
        if self.arch is not None:
          op = int(self.arch[pos])
          weight += int(op in _CONV_K or (op == AVG_POOL and ci != self.cout))
        else:
          weight = weight + ((arch[pos] == CONV1X1) | (arch[pos] == CONV3X3)).astype(jnp.int32)
      if self.arch is None or weight:
        taps.append(Activation(nodes[source], jnp.asarray(weight, jnp.int32), True))
    return nodes[-1], tuple(taps)

  def _exact_edge(self, pos: int, op: int, x, train: bool, outs: list):
    """The edge's output; with ``self.outputs`` its module outputs are appended to `outs` (a
    'none' edge outputs zeros, whose correlation a hook would see as all-NaN: not captured)."""
    source = EDGES[pos][1]
    ci = self.cin if source == 0 else self.cout
    name = f"{_edge_name(pos)}_{OPS[op]}"
    one = jnp.ones((), jnp.int32)
    if op == NONE:
      if ci == self.cout:
        return x * jnp.zeros((), x.dtype)
      return jnp.zeros(x.shape[:-1] + (self.cout,), x.dtype)
    if op == SKIP:
      if ci == self.cout:
        if self.outputs:
          outs.append(Output(x, one))  # Identity
        return x
      spec = ConvBNSpec(ci, self.cout, 1, relu=False)  # FactorizedReduce, stride 1
    elif op in _CONV_K:
      spec = _cell_conv_spec(ci, self.cout, _CONV_K[op], self.variant, self.batch_norm)
    else:
      spec = None
      if ci != self.cout:  # POOLING with a ReLU-conv1x1-BN preprocess
        pre = ConvBNSpec(ci, self.cout, 1)
        x0 = x
        x, z = run_conv_bn(self, pre, x, train=train, name=name, dtype=self.dtype, with_conv=True)
        if self.outputs:
          outs.extend(conv_bn_outputs(pre, x0, z, x))
      y = avg_pool_3x3(x)
      if self.outputs:
        outs.append(Output(y, 2 * one))  # the pooling layer and the POOLING module
      return y
    y, z = run_conv_bn(self, spec, x, train=train, name=name, dtype=self.dtype, with_conv=True)
    if self.outputs:
      outs.extend(conv_bn_outputs(spec, x, z, y))
    return y

  def _super_edge(self, pos: int, op, x, train: bool, outs: list):
    if self.cin != self.cout:
      raise ValueError("The NB201 supernet cell needs cin == cout (true for every NB201 cell).")
    specs = {k: _cell_conv_spec(self.cout, self.cout, kk, self.variant, self.batch_norm)
             for k, kk in _CONV_K.items()}
    decl = {k: ConvBNDecl(sp, self.dtype, name=f"{_edge_name(pos)}_{OPS[k]}")(x.shape[0])
            for k, sp in specs.items()}
    params = {k: d[0] for k, d in decl.items()}
    stats = {k: read_stats(d[1]) for k, d in decl.items()}

    # With self.outputs every branch also returns its conv output before BN (zeros elsewhere).
    def conv_branch(k):
      def run(x):
        y, new, z = conv_bn(specs[k], params[k], stats[k], x, train=train,
                            same_grad_layout=self.impl == "switch", with_conv=True)
        return (y, {**stats, k: new}) + ((z,) if self.outputs else ())
      return run

    def plain(f):
      return lambda x: (f(x), stats) + ((jnp.zeros_like(x),) if self.outputs else ())

    branches = [
        plain(lambda x: x * jnp.zeros((), x.dtype)),
        plain(lambda x: x),
        conv_branch(CONV1X1),
        conv_branch(CONV3X3),
        plain(avg_pool_3x3),
    ]
    if self.impl == "switch":
      res = jax.lax.switch(op, branches, x)
      y, new_stats = res[0], res[1]
    else:
      all_outs = [b(x) for b in branches]
      onehot = jax.nn.one_hot(op, len(OPS), dtype=x.dtype)
      y = sum(onehot[i] * o[0] for i, o in enumerate(all_outs))
      new_stats = {k: jax.tree.map(lambda new, old, k=k: jnp.where(op == k, new, old),
                                   all_outs[k][1][k], stats[k]) for k in _CONV_K}
      res = (y, new_stats) + ((sum(onehot[i] * o[2] for i, o in enumerate(all_outs)),)
                              if self.outputs else ())
    for k, d in decl.items():
      write_stats(self, d[1], new_stats[k])
    if self.outputs:
      is_conv = ((op == CONV1X1) | (op == CONV3X3)).astype(jnp.int32)
      spec = specs[CONV3X3]
      outs.append(Output(jax.nn.relu(x), is_conv))  # the ReLU of a conv op
      if spec.bn:
        outs.append(Output(res[2], is_conv))  # the conv, before BN
      # The edge output: BN (+ Sequential + ReLUConvBN) 3x, Identity 1x, pooling (+ POOLING) 2x.
      mult = 3 * is_conv + (op == SKIP).astype(jnp.int32) + 2 * (op == AVG_POOL).astype(jnp.int32)
      outs.append(Output(y, mult, is_conv))
    return y


class _CellStep(nn.Module):
  """One scan step over identical cells: carry = feature map, output = captured activations."""

  width: int
  arch: Optional[tuple[int, ...]]
  variant: str
  batch_norm: bool
  impl: str
  train: bool
  dtype: Any
  outputs: bool = False
  cells: bool = False  # output the cell's output (capture="cells") instead of its captures

  @nn.compact
  def __call__(self, h, arch):
    cell = Cell(self.width, self.width, self.arch, self.variant, self.batch_norm, self.impl,
                self.dtype, self.outputs, name="cell")
    h, taps = cell(h, None if self.arch is not None else arch, train=self.train)
    return h, (h if self.cells else taps)


class _OneCellStep(_CellStep):
  """:class:`_CellStep` whose output has a length-1 stacking axis, like a one-step scan's."""

  @nn.compact
  def __call__(self, h, arch):
    h, out = super().__call__(h, arch)
    return h, _stack(out)


_STACKED = ("params", "batch_stats", GATES, DELTAS, PROBES)


def _unstack(tree):
  return jax.tree.map(lambda a: a.reshape(a.shape[1:]), tree)


def _stack(tree):
  return jax.tree.map(lambda a: a.reshape((1,) + a.shape), tree)


@functools.lru_cache(maxsize=None)
def _scanned_cells(length: int):
  """`length` identical cells as one ``nn.scan`` (compiled once, variables stacked on axis 0).

  One cell is called directly, its variables seen through a length-1 stacking axis: the names,
  shapes (hence values) and outputs of the scan's layout without JAX's linearisation of a ``scan``,
  which costs seconds of tracing per gradient even at length 1.
  """
  if length == 1:
    return nn.map_variables(_OneCellStep, _STACKED, trans_in_fn=_unstack, trans_out_fn=_stack,
                            mutable=True)
  return nn.scan(_CellStep, variable_axes={c: 0 for c in _STACKED},
                 split_rngs={"params": True}, in_axes=nn.broadcast, length=length,
                 unroll=length)


class TinyNetwork(nn.Module):
  """xautodl's TinyNetwork / DynamicShapeTinyNet macro skeleton around an NB201 cell.

  Layout for ``widths = [c]*N + [r1] + [c2]*N + [r2] + [c3]*N``: stem conv3x3 + BN ->
  N cells -> ResNet block (stride 2) -> N cells -> ResNet block (stride 2) -> N cells ->
  BN -> ReLU -> global average pool -> Linear.

  Attributes:
    widths: output channels of every cell / ResNet block (static).
    arch: NB201 cell encoding as a tuple (exact network) or None (masked supernet: pass the
      encoding to ``__call__`` as a (6,) int array; one compiled program serves every cell).
    num_classes: classifier outputs (NASWOT's reference uses 1).
    variant: 'xautodl' (official network) or 'zero_cost_nas' (cell convs with bias, non-affine
      untracked cell BN: the network zero-cost-nas's proxy numbers were computed on).
    batch_norm: False removes BN from stem, cells and head and keeps it in the two ResNet blocks,
      exactly as zero-cost-nas's ``use_bn=False`` copy used by synflow.
    supernet_impl: 'switch' (``lax.switch`` per edge: only the chosen op runs when the network is
      not vmapped) or 'mask' (every candidate runs, outputs combined with one-hot weights).
  """

  widths: tuple[int, ...]
  arch: Optional[tuple[int, ...]] = None
  num_classes: int = 10
  variant: str = "xautodl"
  batch_norm: bool = True
  supernet_impl: str = "switch"
  dtype: Any = jnp.float32

  def _check(self):
    if self.variant not in VARIANTS:
      raise ValueError(f"`variant` must be one of {VARIANTS}, got {self.variant!r}.")
    if self.supernet_impl not in SUPERNET_IMPLS:
      raise ValueError(f"`supernet_impl` must be one of {SUPERNET_IMPLS}, got {self.supernet_impl!r}.")
    if len(self.widths) % 3 != 2 or len(self.widths) < 5:
      raise ValueError(f"`widths` must have 3N+2 entries (N >= 1), got {len(self.widths)}.")
    if int(self.num_classes) < 1:
      raise ValueError(f"`num_classes` must be >= 1, got {self.num_classes}.")
    if self.arch is not None:
      if len(self.arch) != len(EDGES) or any(not 0 <= int(o) < len(OPS) for o in self.arch):
        raise ValueError(f"`arch` must be 6 op codes in 0..4, got {self.arch!r}.")

  @property
  def same_grad_layout(self) -> bool:
    """Whether every convolution runs through ``_layers.conv2d_same_grad_layout``: the 'switch'
    supernet's do, inside the switch (where XLA:CPU would otherwise run their derivatives as slow
    loops) and outside it (faster reverse-over-reverse derivatives)."""
    return self.arch is None and self.supernet_impl == "switch"

  @nn.compact
  def __call__(self, x, arch=None, *, train: bool = True, capture=False):
    """Logits of images `x` (N, H, W, 3); with ``capture`` also intermediate tensors.

    Args:
      x: float images, NHWC.
      arch: the (6,) int cell encoding; required for the supernet (``self.arch is None``), must be
        None for an exact network.
      train: BatchNorm mode (True = batch statistics, as every zero-cost proxy reference uses).
      capture: False: logits only. True or "relu": also a tuple of :class:`Activation` (every ReLU
        input with its multiplicity). "outputs": also a tuple of :class:`Output`, every module
        output that forward hooks on all modules of the reference PyTorch network would see
        (zero-cost-nas ``NAS201Model`` for ``variant='zero_cost_nas'``, xautodl ``TinyNetwork``
        otherwise), with the number of modules that output it; MeCo reads these. "cells": also
        a tuple of feature maps: the stem's output and the output of every cell and ResNet block,
        in order (xautodl ``TinyNetwork``'s ``self.cells``; AZ-NAS reads these).
    """
    self._check()
    if capture not in CAPTURES:
      raise ValueError(f"`capture` must be one of {CAPTURES}, got {capture!r}.")
    outputs = capture == "outputs"
    cells = capture == "cells"
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"`x` must be NHWC images with 3 channels, got shape {x.shape}.")
    if self.arch is None:
      if arch is None:
        raise ValueError("This is a supernet (arch=None at construction): pass `arch`, a (6,) int "
                         "array of op codes, to __call__.")
      arch = jnp.asarray(arch)
      if arch.shape != (len(EDGES),) or not jnp.issubdtype(arch.dtype, jnp.integer):
        raise ValueError(f"`arch` must be a (6,) integer array, got {arch.shape} {arch.dtype}.")
    elif arch is not None:
      raise ValueError("This network has a fixed `arch`; do not pass one to __call__.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
      raise TypeError(f"`x` must be floating point, got {x.dtype}.")
    zc = self.variant == "zero_cost_nas"
    one = jnp.ones((), jnp.int32)
    n = len(self.widths) // 3
    reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
    taps = []
    outs = []
    cell_outs = []
    stem = ConvBNSpec(3, self.widths[0], 3, bn=self.batch_norm, relu=False)
    same_layout = self.same_grad_layout
    h, z = run_conv_bn(self, stem, x, train=train, name="stem", dtype=self.dtype, with_conv=True,
                       same_grad_layout=same_layout)
    cell_outs.append(h)
    if outputs:
      # zero-cost-nas: stem(Sequential(conv, BN)) -> BN out 3x; xautodl: Sequential(conv, BN) -> 2x.
      wrappers = 2 if zc else 1
      if self.batch_norm:
        outs += [Output(z, one), Output(h, (1 + wrappers) * one)]
      else:
        outs.append(Output(h, (1 + wrappers) * one))
    prev = self.widths[0]
    i = 0
    while i < len(self.widths):
      width = self.widths[i]
      if reductions[i]:
        h = probe_input(self, h, f"layer{i}_input")
        a = ConvBNSpec(prev, width, 3, stride=2)
        b = ConvBNSpec(width, width, 3)
        taps.append(Activation(h, jnp.ones((), jnp.int32), True))
        ya, za = run_conv_bn(self, a, h, train=train, name=f"layer{i}_conv_a", dtype=self.dtype,
                             with_conv=True, same_grad_layout=same_layout)
        taps.append(Activation(ya, jnp.ones((), jnp.int32), True))
        y, zb = run_conv_bn(self, b, ya, train=train, name=f"layer{i}_conv_b", dtype=self.dtype,
                            with_conv=True, same_grad_layout=same_layout)
        down = ConvDecl(prev, width, 1, False, self.dtype, name=f"layer{i}_downsample")(x.shape[0])
        pooled = avg_pool_2x2(h)
        short = conv2d(pooled, down["kernel"], same_grad_layout=same_layout)
        short = apply_gate(apply_delta(short, pooled, down), down)
        if outputs:
          outs += conv_bn_outputs(a, h, za, ya) + conv_bn_outputs(b, ya, zb, y)
          # shortcut Sequential(AvgPool, Conv1x1): pool 1x, conv (+ Sequential) 2x
          outs += [Output(pooled, one), Output(short, 2 * one)]
        h = y + short
        cell_outs.append(h)
        if outputs:
          outs.append(Output(h, one))  # the block
        i += 1
        prev = width
        continue
      if prev != width:  # width-changing cell (NATS size space): not scanned
        cell = Cell(prev, width, self.arch, self.variant, self.batch_norm, self.supernet_impl,
                    self.dtype, outputs, name=f"layer{i}_cell")
        h, cell_taps = cell(h, arch, train=train)
        cell_outs.append(h)
        (outs if outputs else taps).extend(cell_taps)
        i += 1
        prev = width
        continue
      run = 1  # identical cells in a row: one nn.scan (compiled once)
      while i + run < len(self.widths) and not reductions[i + run] and self.widths[i + run] == width:
        run += 1
      step = _scanned_cells(run)(width, self.arch, self.variant, self.batch_norm,
                                 self.supernet_impl, train, self.dtype, outputs, cells,
                                 name=f"layer{i}{STACK_SUFFIX}")
      h, stacked = step(h, arch if arch is not None else jnp.zeros((len(EDGES),), jnp.int32))
      for j in range(run):
        if cells:
          cell_outs.append(stacked[j])
        elif outputs:
          outs.extend(Output(t.value[j], t.weight[j], t.block[j]) for t in stacked)
        else:
          taps.extend(Activation(t.pre[j], t.weight[j], t.wrapped, t.kind) for t in stacked)
      if outputs and zc:  # zero-cost-nas wraps each stage's cells in an nn.Sequential
        outs.append(Output(h, one))
      i += run
      prev = width
    if self.batch_norm:
      bp, bs = BNDecl(prev, dtype=self.dtype, name="lastact_bn")()
      h, new = batch_norm(h, bp, read_stats(bs), train=train)
      write_stats(self, bs, new)
      if outputs:  # lastact = Sequential(BN, ReLU): BN 1x, ReLU (+ Sequential) 2x
        outs += [Output(h, one), Output(jax.nn.relu(h), 2 * one)]
    elif outputs:  # zero-cost-nas use_bn=False: lastact = ReLU
      outs.append(Output(jax.nn.relu(h), one))
    taps.append(Activation(h, 1, False))
    feats = jnp.mean(jax.nn.relu(h), axis=(1, 2))
    dense = DenseDecl(prev, self.num_classes, self.dtype, name="classifier")(x.shape[0])
    logits = feats @ dense["kernel"].astype(feats.dtype) + dense["bias"].astype(feats.dtype)
    logits = apply_gate(apply_delta(logits, feats, dense), dense)
    if outputs:
      return logits, tuple(outs)
    if cells:
      return logits, tuple(cell_outs)
    if capture:
      return logits, tuple(taps)
    return logits


def nb201_widths(C: int = 16, N: int = 5) -> tuple[int, ...]:
  """Widths of NB201's TinyNetwork: ``[C]*N + [2C] + [2C]*N + [4C] + [4C]*N``."""
  return tuple([C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N)
