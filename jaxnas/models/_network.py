"""`Network`: a Flax module bound to an architecture, with the apply_fn(params, x) convention and the
declared capabilities of :mod:`jaxnas.protocol` (what proxies may ask of it)."""

from __future__ import annotations

from typing import Any, Optional

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from jaxnas import protocol
from jaxnas.protocol import Capability

from ._init import init_variables, variable_shapes
from ._layers import DELTAS, GATES, PROBES


@flax.struct.dataclass
class Network:
  """A network of a search space, callable as ``net(variables, x, *, train=True, capture=False)``
  (``capture``: False, True / "relu" for activation inputs, "outputs" for module outputs, "cells"
  for the stem's and every block's output).

  This is the ``apply_fn`` every proxy takes. For an exact network ``arch`` is None (the
  architecture is baked into ``module``, whose own ``arch`` is set); for a masked supernet
  (``module.arch is None``) ``arch`` is the traced int encoding, so a ``Network`` can be built
  inside ``jit``/``vmap`` and one compiled program serves every architecture.

  The base class provides what only the Flax collections decide (``init``, ``gates``, ``deltas``,
  ``probes``); a space's subclass (e.g. ``models._nb201.NB201Network``) declares its
  ``capabilities`` and ``layout`` (:mod:`jaxnas.protocol`) and implements ``active``,
  ``num_params`` and ``flops`` where it declares them.
  """

  module: nn.Module = flax.struct.field(pytree_node=False)
  arch: Optional[jax.Array] = None

  #: Length of the supernet's encoding argument (set by each space's subclass).
  arch_length = None

  def __call__(self, variables, x, *, train: bool = True, capture=False, mutable=False):
    """Logits; with ``capture`` also the captured tensors (see the module's ``__call__``). With
    ``mutable`` (e.g. ``["batch_stats"]``) the result is ``(output, updated collections)`` as
    Flax's ``apply`` gives it: train-mode BatchNorm layers with running statistics update them
    (momentum 0.1, unbiased batch variance, as PyTorch)."""
    args = (x,) if not self.is_supernet else (x, self.arch)
    return self.module.apply(variables, *args, train=train, capture=capture, mutable=mutable)

  @property
  def is_supernet(self) -> bool:
    return self.module.arch is None

  @property
  def capabilities(self) -> frozenset:
    """What this network provides (:class:`jaxnas.protocol.Capability`); the base class: logits."""
    return protocol.declare(Capability.LOGITS)

  @property
  def layout(self) -> protocol.Layout:
    raise NotImplementedError(f"{type(self).__name__} declares no Layout.")

  def variable_shapes(self, input_shape=(1, 32, 32, 3)):
    return variable_shapes(self.module, tuple(input_shape), self.arch_length if self.is_supernet else None)

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
    """All-zero probes at the input of every block, for a batch shaped like `x`.

    Pass them back as the ``'probes'`` collection (``{**variables, 'probes': p}``): the forward
    pass is unchanged, each block computes on ``stop_gradient(input) + probe``, so the gradient of
    ``sum_i <g_i, output_i>`` (outputs from ``capture="cells"``) with respect to block i's probe is
    that block's own vector-Jacobian product ``J_i^T g_i``, all blocks in one backward pass. Which
    block each top-level key holds is the Layout's ``probes`` (:class:`jaxnas.protocol.BlockRef`);
    dtype as for :meth:`gates`. Shapes only are traced; nothing runs.
    """
    return self._filled_collection(variables, x, PROBES, jnp.zeros)

  def _filled_collection(self, variables, x, collection: str, fill):
    """`fill(shape, dtype)` for every leaf the network declares in a per-sample `collection` for
    a batch shaped like `x` (traced for shapes only), in the wider of its dtype and `x`'s."""
    arch = () if not self.is_supernet else (self.arch,)

    def shapes(v, x, *arch):
      _, state = self.module.apply(v, x, *arch, train=True, mutable=[collection])
      return state[collection]

    out = jax.eval_shape(shapes, variables, x, *arch)
    return jax.tree.map(lambda s: fill(s.shape, jnp.promote_types(s.dtype, x.dtype)), out)


def with_arch(net: Network, arch: Any) -> Network:
  """Bind a (possibly traced) encoding to a supernet."""
  if not net.is_supernet:
    raise ValueError("`with_arch` needs a supernet (built with arch=None).")
  return net.replace(arch=jnp.asarray(arch, jnp.int32))
