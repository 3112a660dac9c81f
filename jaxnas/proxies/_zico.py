"""ZiCo (Li et al., ICLR 2023, "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on
Gradients")."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnas._tree import is_stacked

from ._base import Proxy, check_batch, is_kernel, join_params, split_params
from ._saliency import cross_entropy

ZICO = "SLDGroup/ZiCo@b0fec65 ZeroShotProxy/compute_zico.py (getzico, caculate_zico)"


def split_gradients(apply_fn, variables, batch, *, num_batches: int = 2):
  """Loss gradients of `num_batches` consecutive equal slices of the batch, one pass per slice.

  Slice b holds samples ``[b*M, (b+1)*M)`` with ``M = N // num_batches``; each slice gets its own
  forward and backward pass of its mean cross-entropy with train-mode BatchNorm over that slice
  only (the reference's separate loader batches, zeroing gradients before each).

  Returns:
    A params-like tree whose leaves carry a leading (num_batches,) axis.
  """
  batch = check_batch(batch, needs_labels=True, name="zico")
  if not isinstance(num_batches, int) or num_batches < 2:
    raise ValueError(f"zico: `num_batches` must be an int >= 2, got {num_batches!r}.")
  n = batch.x.shape[0]
  if n % num_batches:
    raise ValueError(f"zico splits the batch into num_batches={num_batches} equal batches (the "
                     f"reference's separate loader batches); the batch size {n} is not divisible "
                     f"by {num_batches}. Pass a batch of num_batches * per-batch images.")
  params, rest = split_params(variables)
  xs = batch.x.reshape((num_batches, n // num_batches) + tuple(batch.x.shape[1:]))
  ys = jnp.asarray(batch.y).reshape(num_batches, n // num_batches)

  def grad_of(xy):
    x, y = xy
    loss = lambda p: cross_entropy(apply_fn(join_params(p, rest, variables), x, train=True), y)
    return jax.grad(loss)(params)

  # A Python loop, not lax.map: XLA:CPU runs a rolled loop of convolution backward passes many
  # times slower than the unrolled passes (README, "masked supernet").
  grads = [grad_of((xs[b], ys[b])) for b in range(num_batches)]
  return jax.tree.map(lambda *g: jnp.stack(g), *grads)


def _layer_terms(g, stacked: bool):
  """log(sum over weights with std != 0 of mean|g| / std) of each layer in `g` (S, ...), 0 where
  that sum is 0 (the layer is skipped), summed over the layers of a stacked leaf."""
  mean_abs = jnp.mean(jnp.abs(g), axis=0)
  std = jnp.std(g, axis=0)  # population std over the batches (NumPy's ddof=0)
  nz = std != 0
  ratio = jnp.where(nz, mean_abs / jnp.where(nz, std, 1), 0)
  axes = tuple(range(1, ratio.ndim)) if stacked else tuple(range(ratio.ndim))
  s = jnp.sum(ratio, axis=axes)
  return jnp.sum(jnp.where(s == 0, 0, jnp.log(jnp.where(s == 0, 1, s))))


def zico_from_gradients(grads):
  """The ZiCo score of per-batch gradients (leaves with a leading batch axis, as
  :func:`split_gradients` returns them); conv/linear kernels only."""
  terms = [_layer_terms(g, is_stacked(p)) for p, g in jax.tree_util.tree_leaves_with_path(grads)
           if is_kernel(p)]
  return sum(terms, jnp.zeros((), terms[0].dtype if terms else jnp.float32))


def zico(apply_fn, variables, batch, key, *, num_batches: int = 2):
  """ZiCo: sum over layers of the log of the summed inverse coefficients of variation of the
  weight gradients across batches. Higher = better.

  .. math:: \\mu_\\theta = \\mathrm{mean}_b |g_{b,\\theta}|, \\quad
     \\sigma_\\theta = \\mathrm{std}_b \\, g_{b,\\theta}, \\quad
     S = \\sum_{l:\\, s_l \\neq 0} \\log s_l, \\quad
     s_l = \\sum_{\\theta \\in l,\\, \\sigma_\\theta \\neq 0} \\mu_\\theta / \\sigma_\\theta

  Follows SLDGroup/ZiCo @ b0fec65 ``ZeroShotProxy/compute_zico.py``: g_b is the gradient of the
  mean cross-entropy of batch b alone (gradients zeroed before each batch; MeCo's re-implementation
  omits that and is not followed), the std is NumPy's population std over the batches, weights
  with zero std are dropped, a layer whose sum is 0 is skipped, and only conv/linear *weights*
  (leaves named ``kernel``; each slice of a stacked leaf is one layer) count. BatchNorm in train
  mode with each batch's own statistics. With two batches mu/sigma = (|g1|+|g2|)/|g1-g2|.

  **How the batches arrive.** The reference draws ``--maxbatch 2`` loader batches; here `batch` is
  cut into `num_batches` consecutive equal slices (first half, second half), as MeCo's port of
  ZiCo splits its one batch. Reference batch size: 128 images per batch in the authors' ImageNet
  scripts; no NB201 script is published, and ``Proxy.batch_size`` (128) gives two batches of 64,
  zero-cost-nas's NB201 batch. The score is invariant to permuting samples within a slice or
  permuting the slices, not to moving samples between slices.

  Network: xautodl's NB201 ``TinyNetwork`` (the reference reads ``weight.grad`` of every
  conv/linear module and fails on zero-cost-nas's NB201 model, whose unselected ops have no
  gradient). In the masked supernet unselected ops get zero gradients in every batch and are
  skipped, as if absent.

  Zero-output NB201 cells (341 cells whose logits do not depend on the weights of any
  conv/linear layer) get exactly 0.0: every kernel gradient is 0 in both batches, every layer is
  skipped, and the empty sum is 0, as in the reference. Every network with a live layer scores
  higher in practice (each live layer adds log of a sum of ratios >= 1 with two batches).

  Args:
    apply_fn: ``apply_fn(variables, x, train=True)`` -> logits.
    variables: the network's variables.
    batch: ``Batch(x, y)`` with integer labels; N divisible by `num_batches`.
    key: unused.
    num_batches: number of batches the batch is cut into (static; the reference uses 2).

  Returns:
    Scalar in the gradients' dtype.
  """
  del key
  return zico_from_gradients(split_gradients(apply_fn, variables, batch, num_batches=num_batches))


zico_proxy = Proxy(
    fn=zico, name="zico", higher_is_better=True, needs_labels=True, needs_grad=True,
    reference=ZICO, batch_size=128,
)
