"""NB201 / NATS networks (xautodl ``TinyNetwork``): their :class:`Network` with declared
capabilities, Layout and cost counts, and the builders the registry names."""

from __future__ import annotations

import functools
import re
from typing import Optional

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import protocol
from jaxnas._tree import STACK_SUFFIX
from jaxnas.protocol import BlockRef, Capability, Layout
from jaxnas.spaces._nb201 import EDGES, OPS

from ._cost import macro_cost
from ._network import Network
from ._tiny import TinyNetwork, nb201_widths

_EDGE_OP = re.compile(r"edge_(\d)_(\d)_(" + "|".join(OPS) + r")$")
_EDGE = re.compile(r"edge_(\d)_(\d)_")
_LAYER = re.compile(r"layer(\d+)_(.+)$")
_RESBLOCK_PARTS = ("conv_a", "conv_b", "downsample")
_HEAD = 10**6  # after every cell: lastact BN, then the classifier

XAUTODL_REF = "D-X-Y/AutoDL-Projects xautodl/models/cell_infers/tiny_network.py (TinyNetwork)"


def xautodl_param_rank(names: tuple, cell: Optional[int]):
  """Position of a jaxnas TinyNetwork module in xautodl ``TinyNetwork.named_parameters()`` order:
  stem, then block by block (a cell edge by edge in ``InferCell.layers`` order, a ResNet block
  conv_a, conv_b, downsample), the last BN, the classifier; None for other names."""
  top = names[0]
  if top == "stem":
    return (-1, 0, 0)
  if top == "lastact_bn":
    return (_HEAD, 0, 0)
  if top == "classifier":
    return (_HEAD + 1, 0, 0)
  m = _LAYER.match(top)
  if not m:
    return None
  block, part = int(m.group(1)), m.group(2)
  if part in ("cells", "cell"):
    edge = next((_EDGE.match(n) for n in names[1:] if _EDGE.match(n)), None)
    if edge is None:
      return None
    pos = EDGES.index((int(edge.group(1)), int(edge.group(2))))
    return (block + (cell or 0), pos, 0)
  if part in _RESBLOCK_PARTS:
    return (block, _RESBLOCK_PARTS.index(part), 0)
  return None


@functools.lru_cache(maxsize=None)
def tiny_layout(widths: tuple[int, ...]) -> Layout:
  """The Layout of a TinyNetwork with these widths: a BlockRef per probe key (stacked runs of
  identical cells, width-changing cells, ResNet blocks), MeCo's 3 modules per tensor at most
  (a ReLU-conv-BN block's BN, its Sequential and the block), xautodl's parameter order."""
  n = len(widths) // 3
  reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
  refs = []
  prev, stage, i = widths[0], 0, 0
  while i < len(widths):
    width = widths[i]
    if reductions[i]:
      stage += 1
      refs.append(BlockRef(f"layer{i}_input", i + 1, 1, stage, "reduction", False))
      i, prev = i + 1, width
      continue
    if prev != width:
      refs.append(BlockRef(f"layer{i}_cell", i + 1, 1, stage, "cell", False))
      i, prev = i + 1, width
      continue
    run = 1
    while i + run < len(widths) and not reductions[i + run] and widths[i + run] == width:
      run += 1
    refs.append(BlockRef(f"layer{i}{STACK_SUFFIX}", i + 1, run, stage, "cell", True))
    i, prev = i + run, width
  return Layout(probes=tuple(refs), max_modules=3, param_order=xautodl_param_rank,
                reference=XAUTODL_REF)


@flax.struct.dataclass
class NB201Network(Network):
  """A TinyNetwork (NB201 cell; NATS size-space widths), exact or masked supernet.

  Declares every :class:`jaxnas.protocol.Capability`: captured ReLU inputs, module outputs and
  cell outputs, gates, deltas, probes, active-parameter masks, parameter and FLOP counts, forward
  mode, xautodl's parameter order and its :class:`jaxnas.protocol.Layout`."""

  arch_length = len(EDGES)

  @property
  def capabilities(self) -> frozenset:
    return protocol.declare(*Capability)

  @property
  def layout(self) -> Layout:
    return tiny_layout(tuple(self.module.widths))

  def active(self, variables):
    """Pytree like `variables` of bool scalars: True where the architecture uses that variable."""
    def leaf_active(path, _):
      if not self.is_supernet:
        return jnp.asarray(True)
      for p in path:
        m = _EDGE_OP.match(str(getattr(p, "key", p)))
        if m:
          pos = EDGES.index((int(m.group(1)), int(m.group(2))))
          return jnp.asarray(self.arch)[pos] == OPS.index(m.group(3))
      return jnp.asarray(True)
    return jax.tree_util.tree_map_with_path(leaf_active, variables)

  def _cost_tables(self, image_size: int):
    m = self.module
    return _additive_cost_tables(m.widths, m.num_classes, image_size, m.variant)

  def num_params(self):
    """Trainable parameters the architecture uses (xautodl counting: BN affine included)."""
    if not self.is_supernet:
      shapes = self.variable_shapes()["params"]
      return jnp.asarray(sum(int(np.prod(l.shape)) for l in jax.tree.leaves(shapes)))
    base, table = self._cost_tables(32)[0]
    return base + jnp.sum(table[jnp.arange(len(EDGES)), jnp.asarray(self.arch)])

  def flops(self, image_size: int = 32):
    """Multiply-accumulates per image of conv/linear layers (xautodl ``get_model_infos``)."""
    if not self.is_supernet:
      return jnp.asarray(macro_cost(self.module.arch, self.module.widths, self.module.num_classes,
                                    image_size, self.module.variant)[1])
    base, table = self._cost_tables(image_size)[1]
    return base + jnp.sum(table[jnp.arange(len(EDGES)), jnp.asarray(self.arch)])


def _additive_cost_tables(widths, num_classes, image_size, variant):
  """Per-edge (params, MACs) tables: NB201 costs are additive over edges, so
  cost(arch) = cost(all none) + sum_pos table[pos, arch[pos]] exactly."""
  out = []
  n = len(EDGES)
  for which in (0, 1):
    zero = np.zeros(n, np.int64)
    base = macro_cost(zero, widths, num_classes, image_size, variant)[which]
    table = np.zeros((n, len(OPS)), np.int64)
    for pos in range(n):
      for op in range(len(OPS)):
        e = zero.copy()
        e[pos] = op
        table[pos, op] = macro_cost(e, widths, num_classes, image_size, variant)[which] - base
    out.append((jnp.asarray(base), jnp.asarray(table)))
  return out


def nb201_network(arch=None, *, num_classes: int = 10, variant: str = "xautodl",
                  batch_norm: bool = True, supernet_impl: str = "switch", C: int = 16, N: int = 5,
                  dtype=jnp.float32) -> NB201Network:
  """An NB201 network (xautodl ``TinyNetwork``), exact or masked supernet.

  Args:
    arch: an encoding (sequence of 6 ints) for the exact network, or None for the supernet whose
      cell is chosen per call; use :meth:`Network.replace` (``net.replace(arch=enc)``) or
      :func:`with_arch` to bind a traced encoding.
    num_classes: classifier width (NASWOT's reference uses 1).
    variant: 'xautodl' (official) or 'zero_cost_nas' (cell convs with bias, non-affine untracked BN).
    batch_norm: False removes BN from stem, cells and head (reduction blocks keep theirs), as
      zero-cost-nas's synflow does.
    supernet_impl: 'switch' or 'mask' (see :class:`TinyNetwork`).

  Example:
    >>> import jax
    >>> from jaxnas import models
    >>> net = models.nb201_network((3, 3, 3, 1, 3, 3), C=4, N=1)  # NB201's own: C=16, N=5
    >>> variables = net.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
    >>> net(variables, jax.numpy.ones((2, 8, 8, 3))).shape
    (2, 10)
  """
  static = None if arch is None else tuple(int(a) for a in np.asarray(arch).reshape(-1))
  module = TinyNetwork(nb201_widths(C, N), static, num_classes, variant, batch_norm, supernet_impl,
                       dtype)
  module._check()
  return NB201Network(module)


def nats_size_network(widths, *, num_classes: int = 10, variant: str = "xautodl",
                      batch_norm: bool = True, dtype=jnp.float32) -> NB201Network:
  """Exact NATS-Bench size-space network (xautodl ``DynamicShapeTinyNet``, N=1, cell 9930).

  Args:
    widths: 5 channel widths (e.g. ``(16, 32, 32, 64, 64)``) or a 'c1:c2:c3:c4:c5' string.
    variant, batch_norm: as :func:`nb201_network` (the proxies' reference network options).
  """
  from jaxnas.spaces import nats_sss

  if isinstance(widths, str):
    widths = nats_sss.widths(nats_sss.encode(widths))
  widths = tuple(int(w) for w in widths)
  nats_sss.encode(":".join(map(str, widths)))  # validates
  module = TinyNetwork(widths, tuple(int(o) for o in nats_sss.cell), num_classes, variant, batch_norm,
                       dtype=dtype)
  module._check()
  return NB201Network(module)


def nats_sss_network(encoding, **kwargs) -> NB201Network:
  """The exact NATS size-space network of an encoding (5 width choices)."""
  from jaxnas.spaces import nats_sss

  return nats_size_network(nats_sss.widths(encoding), **kwargs)


def nb201_costs(encoding, *, num_classes: int = 10, image_size: int = 32, variant: str = "xautodl",
                C: int = 16, N: int = 5) -> tuple[int, int]:
  """(parameters, MACs per image) of the exact NB201 network of `encoding`."""
  from jaxnas.spaces import nb201

  enc = nb201.encode(encoding) if isinstance(encoding, str) else np.asarray(encoding)
  return macro_cost(enc, nb201_widths(C, N), num_classes, image_size, variant)


def nats_sss_costs(encoding, *, num_classes: int = 10, image_size: int = 32) -> tuple[int, int]:
  """(parameters, MACs per image) of the exact NATS size-space network of `encoding`."""
  from jaxnas.spaces import nats_sss

  enc = nats_sss.encode(encoding) if isinstance(encoding, str) else np.asarray(encoding)
  return macro_cost(nats_sss.cell, nats_sss.widths(enc), num_classes, image_size, "xautodl")


def nb201_supernet(**kwargs) -> NB201Network:
  """The masked NB201 supernet (``nb201_network(None, ...)``)."""
  return nb201_network(None, **kwargs)
