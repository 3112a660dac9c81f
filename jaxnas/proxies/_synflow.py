"""SynFlow (Tanaka et al., NeurIPS 2020), as scored by zero-cost-nas (Abdelfattah et al., ICLR 2021)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._base import Proxy, check_batch, is_kernel, join_params, resolve_dtype, split_params

SYNFLOW_X64_MSG = (
    "synflow computes in float64 like its reference: NB201 scores reach ~1e47 and intermediate "
    "activations ~1e43, beyond float32's 3.4e38, and no exact float32 rescaling exists for networks "
    "with train-mode BatchNorm. Enable 64-bit JAX in your program (JAX_ENABLE_X64=1, "
    "the jax_enable_x64 option in your program, or `with jax.enable_x64(True):` around the call), "
    "or pass dtype=jnp.float32 to accept inf/NaN for large networks. The jaxnas CLI does the former."
)


def synflow_per_weight(apply_fn, variables, batch, *, dtype=None):
  """Per-weight synaptic saliency |theta * dR/dtheta| (a pytree like the params; 0 off kernels).

  Every variable is replaced by its absolute value (weights, biases, BN affine and running stats,
  as ``state_dict().abs_()`` does), the network runs in `dtype` on one all-ones image shaped like
  ``batch.x[0]``, and R is the sum of all outputs.
  """
  batch = check_batch(batch, needs_labels=False, name="synflow")
  if dtype is None and not jax.config.jax_enable_x64:
    raise ValueError(SYNFLOW_X64_MSG)
  dt = resolve_dtype(dtype, "synflow")
  variables = jax.tree.map(lambda v: jnp.abs(jnp.asarray(v)).astype(dt), variables)
  params, rest = split_params(variables)
  ones = jnp.ones((1,) + tuple(batch.x.shape[1:]), dt)

  def total(p):
    return jnp.sum(apply_fn(join_params(p, rest, variables), ones, train=True))

  grads = jax.grad(total)(params)
  return jax.tree_util.tree_map_with_path(
      lambda path, p, g: jnp.abs(p * g) if is_kernel(path) else jnp.zeros_like(p), params, grads)


def synflow(apply_fn, variables, batch, key, *, dtype=None):
  """SynFlow score: sum over conv/linear weights of |theta * dR/dtheta|. Higher = better.

  .. math:: S = \\sum_{\\theta \\in W} |\\theta \\odot \\partial R / \\partial \\theta|, \\quad
     R = \\mathbf{1}^\\top f_{|\\theta|}(\\mathbf{1})

  Follows zero-cost-nas ``measures/synflow.py`` (SamsungLabs/zero-cost-nas @ a43bfbc): absolute
  value of every state entry, one all-ones input image (batch 1, data content ignored), train
  mode, sum of the logits, conv/linear weights only. The reference scores zero-cost-nas's
  ``use_bn=False`` copy of the network (BN removed from stem, cells and head; the two reduction
  blocks keep theirs); the population engine builds that network for this proxy (see
  ``Proxy.network``). Called directly, it scores whatever `apply_fn` computes.

  Precision: the reference casts the network to float64, and it has to: on NB201 the score reaches
  8e46 (all-conv3x3 cell) and activations 7e42, which overflow float32. ``dtype=None`` therefore
  means float64 and raises a ValueError when 64-bit JAX is not enabled; ``dtype=jnp.float32`` is
  allowed for small networks (large ones give inf/NaN, which ranking treats as worst).

  Args:
    apply_fn: ``apply_fn(variables, x, train=True)`` -> logits.
    variables: the network's variables.
    batch: only ``batch.x.shape[1:]`` is used.
    key: unused (the score is deterministic given the weights).
    dtype: computation dtype (None: float64, see above).

  Returns:
    Scalar, non-negative; 0 for networks whose output does not depend on the weights' path.
  """
  del key
  saliency = synflow_per_weight(apply_fn, variables, batch, dtype=dtype)
  return sum(jnp.sum(s) for s in jax.tree.leaves(saliency))


synflow_proxy = Proxy(
    fn=synflow, name="synflow", higher_is_better=True, needs_labels=False, needs_grad=True,
    reference="SamsungLabs/zero-cost-nas@a43bfbc foresight/pruners/measures/synflow.py",
    batch_size=None, network=(("variant", "zero_cost_nas"), ("batch_norm", False)),
)
