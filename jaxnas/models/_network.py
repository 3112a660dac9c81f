"""`Network`: a Flax module bound to an architecture, with the apply_fn(params, x) convention."""

from __future__ import annotations

import re
from typing import Optional

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.spaces._nb201 import EDGES, OPS, macro_cost

from ._init import init_variables, variable_shapes
from ._layers import DELTAS, GATES, PROBES
from ._tiny import TinyNetwork, nb201_widths

_EDGE_OP = re.compile(r"edge_(\d)_(\d)_(" + "|".join(OPS) + r")$")


@flax.struct.dataclass
class Network:
  """A network of a search space, callable as ``net(variables, x, *, train=True, capture=False)``
  (``capture``: False, True / "relu" for ReLU inputs, "outputs" for module outputs, "cells" for
  the stem's, every cell's and every ResNet block's output).

  This is the ``apply_fn`` every proxy takes. For an exact network ``arch`` is None (the cell is
  baked into ``module``); for the masked supernet ``arch`` is the traced (6,) int encoding, so a
  ``Network`` can be built inside ``jit``/``vmap`` and one compiled program serves every cell.

  Besides being callable it reports what proxies such as ``params`` and ``flops`` need:
  :meth:`active` (which variables the architecture uses), :meth:`num_params` and :meth:`flops`.
  """

  module: TinyNetwork = flax.struct.field(pytree_node=False)
  arch: Optional[jax.Array] = None

  def __call__(self, variables, x, *, train: bool = True, capture=False, mutable=False):
    """Logits; with ``capture`` (True/"relu", "outputs" or "cells") also the captured tensors, see
    :meth:`TinyNetwork.__call__`. With ``mutable`` (e.g. ``["batch_stats"]``) the result is
    ``(output, updated collections)`` as Flax's ``apply`` gives it: train-mode BatchNorm layers
    with running statistics update them (momentum 0.1, unbiased batch variance, as PyTorch)."""
    args = (x,) if self.module.arch is not None else (x, self.arch)
    return self.module.apply(variables, *args, train=train, capture=capture, mutable=mutable)

  @property
  def is_supernet(self) -> bool:
    return self.module.arch is None

  def variable_shapes(self, input_shape=(1, 32, 32, 3)):
    return variable_shapes(self.module, tuple(input_shape), 6 if self.is_supernet else None)

  def init(self, key: jax.Array, *, init: str = "pytorch", dtype=None, input_shape=(1, 32, 32, 3)):
    """Fresh variables ({'params', 'batch_stats'}) with PyTorch's default init (or N(0,1)).

    Built leaf by leaf from the variable shapes (no forward pass is traced or compiled); cheap
    under jit/vmap, and called eagerly one small program compiled once per network layout.
    """
    return init_variables(self.variable_shapes(input_shape), key, init=init, dtype=dtype)

  def gates(self, variables, x):
    """All-ones per-sample gates for every conv/linear output, for a batch shaped like `x`.

    Pass them back as the ``'gates'`` collection (``{**variables, 'gates': g}``): the network is
    unchanged (every output is multiplied by 1), and the gradient of a loss with respect to a gate
    of shape (batch, C) is ``sum_{h,w} z * dL/dz`` for that layer's output z, per sample and
    channel (what :func:`jaxnas.proxies.fisher` needs). Shapes only are traced; nothing runs.
    Leaves sit at the path of the layer's ``kernel`` with the name ``gate`` (stacked cells carry
    the stacking axis first); their dtype is the wider of the network's and `x`'s.
    """
    return self._filled_collection(variables, x, GATES, jnp.ones)

  def deltas(self, variables, x):
    """All-zero per-sample weight offsets for every conv/linear layer, for a batch shaped like `x`.

    Pass them back as the ``'deltas'`` collection (``{**variables, 'deltas': d}``): the network is
    unchanged, and the gradient of an objective with respect to ``d`` holds, for every sample n,
    sample n's contribution to the gradient of each conv/linear kernel and bias (per-sample
    gradients through the batched forward pass, as :func:`jaxnas.proxies.per_sample_gradients`
    takes them). Leaves sit at ``<layer path>/delta/kernel`` (and ``.../bias``) with shape
    ``(batch, *param.shape)``; stacked cells carry the stacking axis first; dtype as for
    :meth:`gates`. Shapes only are traced; nothing runs.
    """
    return self._filled_collection(variables, x, DELTAS, jnp.zeros)

  def probes(self, variables, x):
    """All-zero probes at the input of every cell and ResNet block, for a batch shaped like `x`.

    Pass them back as the ``'probes'`` collection (``{**variables, 'probes': p}``): the forward
    pass is unchanged, each block computes on ``stop_gradient(input) + probe``, so the gradient of
    ``sum_i <g_i, output_i>`` (outputs from ``capture="cells"``) with respect to block i's probe is
    that block's own vector-Jacobian product ``J_i^T g_i``, all blocks in one backward pass. A
    cell's leaf sits at ``<cell path>/input`` (stacked cells carry the stacking axis first), ResNet
    block i's at ``layer<i>_input``; dtype as for :meth:`gates`. Shapes only are traced; nothing
    runs.
    """
    return self._filled_collection(variables, x, PROBES, jnp.zeros)

  def _filled_collection(self, variables, x, collection: str, fill):
    """`fill(shape, dtype)` for every leaf the network declares in a per-sample `collection` for
    a batch shaped like `x` (traced for shapes only), in the wider of its dtype and `x`'s."""
    arch = () if self.arch is None else (self.arch,)

    def shapes(v, x, *arch):
      _, state = self.module.apply(v, x, *arch, train=True, mutable=[collection])
      return state[collection]

    out = jax.eval_shape(shapes, variables, x, *arch)
    return jax.tree.map(lambda s: fill(s.shape, jnp.promote_types(s.dtype, x.dtype)), out)

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
    return base + jnp.sum(table[jnp.arange(6), jnp.asarray(self.arch)])

  def flops(self, image_size: int = 32):
    """Multiply-accumulates per image of conv/linear layers (xautodl ``get_model_infos``)."""
    if not self.is_supernet:
      return jnp.asarray(macro_cost(self.module.arch, self.module.widths, self.module.num_classes,
                                    image_size, self.module.variant)[1])
    base, table = self._cost_tables(image_size)[1]
    return base + jnp.sum(table[jnp.arange(6), jnp.asarray(self.arch)])


def _additive_cost_tables(widths, num_classes, image_size, variant):
  """Per-edge (params, MACs) tables: NB201 costs are additive over edges, so
  cost(arch) = cost(all none) + sum_pos table[pos, arch[pos]] exactly."""
  out = []
  for which in (0, 1):
    zero = np.zeros(6, np.int64)
    base = macro_cost(zero, widths, num_classes, image_size, variant)[which]
    table = np.zeros((6, len(OPS)), np.int64)
    for pos in range(6):
      for op in range(len(OPS)):
        e = zero.copy()
        e[pos] = op
        table[pos, op] = macro_cost(e, widths, num_classes, image_size, variant)[which] - base
    out.append((jnp.asarray(base), jnp.asarray(table)))
  return out


def nb201_network(arch=None, *, num_classes: int = 10, variant: str = "xautodl",
                  batch_norm: bool = True, supernet_impl: str = "switch", C: int = 16, N: int = 5,
                  dtype=jnp.float32) -> Network:
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
  return Network(module)


def nats_size_network(widths, *, num_classes: int = 10, dtype=jnp.float32) -> Network:
  """Exact NATS-Bench size-space network (xautodl ``DynamicShapeTinyNet``, N=1, cell 9930).

  Args:
    widths: 5 channel widths (e.g. ``(16, 32, 32, 64, 64)``) or a 'c1:c2:c3:c4:c5' string.
  """
  from jaxnas.spaces import nats_sss

  if isinstance(widths, str):
    widths = nats_sss.widths(nats_sss.encode(widths))
  widths = tuple(int(w) for w in widths)
  nats_sss.encode(":".join(map(str, widths)))  # validates
  module = TinyNetwork(widths, tuple(int(o) for o in nats_sss.cell), num_classes, dtype=dtype)
  module._check()
  return Network(module)


def with_arch(net: Network, arch) -> Network:
  """Bind a (possibly traced) (6,) encoding to a supernet."""
  if not net.is_supernet:
    raise ValueError("`with_arch` needs a supernet (built with arch=None).")
  return net.replace(arch=jnp.asarray(arch, jnp.int32))


def supernet(space: str, **kwargs) -> Optional[Network]:
  """The masked supernet of a search space ('nb201'), or None where only exact networks exist."""
  if space == "nb201":
    return nb201_network(None, **kwargs)
  if space in ("nats_sss", "darts"):
    return None
  raise ValueError(f"Unknown search space {space!r}; valid: 'nb201', 'nats_sss', 'darts'.")


def network(space: str, encoding, **kwargs) -> Network:
  """The exact network of one encoding of a search space."""
  if space == "nb201":
    return nb201_network(encoding, **kwargs)
  if space == "nats_sss":
    from jaxnas.spaces import nats_sss

    return nats_size_network(nats_sss.widths(encoding), **kwargs)
  if space == "darts":
    from ._darts import darts_network

    return darts_network(encoding, **kwargs)
  raise ValueError(f"Unknown search space {space!r}; valid: 'nb201', 'nats_sss', 'darts'.")
