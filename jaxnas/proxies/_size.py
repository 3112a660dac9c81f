"""Architecture-size proxies: parameter count and FLOPs."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.protocol import Capability, has

from ._base import Proxy, check_batch, default_float, split_params


def num_params(apply_fn, variables, batch, key):
  """Number of trainable parameters the architecture uses. Higher = better (NAS-Bench-Suite-Zero).

  Networks that declare their counts (``Capability.COUNTS``: :class:`jaxnas.models.Network`, whose
  masked supernet holds parameters for unselected ops too) are asked via ``apply_fn.num_params()``;
  for any other
  ``apply_fn`` every leaf of ``variables['params']`` is counted. Reference: xautodl
  ``count_parameters`` (all ``nn.Parameter``s, BN affine included), as in NASLib's ``params``.
  """
  del batch, key
  if has(apply_fn, Capability.COUNTS):
    return jnp.asarray(apply_fn.num_params(), default_float())
  params, _ = split_params(variables)
  return jnp.asarray(sum(math.prod(np.shape(l)) for l in jax.tree.leaves(params)), default_float())


def flops(apply_fn, variables, batch, key):
  """Multiply-accumulates per image of conv and linear layers. Higher = better.

  Follows xautodl's ``get_model_infos`` (NAS-Bench-201's own counter): Conv2d and Linear incl. bias
  adds; BN, ReLU and pooling are not counted. Networks that declare their counts are asked via
  ``apply_fn.flops(image_size)``; otherwise XLA's cost analysis of one image's forward pass is used
  (half its FLOP count): an estimate, since XLA also counts elementwise work and does not count
  the zero-padded taps of a convolution.

  Counts are returned as floats (float64 when 64-bit JAX is enabled, so they are exact; float32
  rounds counts above 2**24 to 8 significant digits).
  """
  del key
  batch = check_batch(batch, needs_labels=False, name="flops")
  h = batch.x.shape[1]
  if has(apply_fn, Capability.COUNTS):
    return jnp.asarray(apply_fn.flops(h), default_float())
  spec = jax.ShapeDtypeStruct((1,) + tuple(batch.x.shape[1:]), batch.x.dtype)
  vspec = jax.tree.map(lambda l: jax.ShapeDtypeStruct(np.shape(l), l.dtype), variables)
  cost = jax.jit(lambda v, x: apply_fn(v, x)).lower(vspec, spec).cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0]
  return jnp.asarray(float(cost.get("flops", float("nan"))) / 2, default_float())


params = Proxy(
    fn=num_params, name="params", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference="xautodl count_parameters (NASLib 'params', NAS-Bench-Suite-Zero)",
)
flops_proxy = Proxy(
    fn=flops, name="flops", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference="xautodl get_model_infos (NASLib 'flops', NAS-Bench-Suite-Zero)",
)
