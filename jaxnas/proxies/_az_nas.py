"""AZ-NAS (Lee & Ham, CVPR 2024, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture
Search"): expressivity, progressivity and trainability of the cell-level feature maps.

The fourth component, complexity, is the network's FLOPs (the ``flops`` proxy). The paper's
assembled score is a population-level rank aggregate: :func:`jaxnas.evaluate.log_rank_aggregate`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxnas._tree import key_name
from jaxnas.protocol import Capability, layout, require

from ._base import Proxy, SharedPass, check_batch, require_key, resolve_dtype

AZ_NAS_REF = ("cvlab-yonsei/AZ-NAS@d41d524 NB201/ZeroShotProxy/compute_az_nas_score.py "
              "(compute_nas_score; scores aggregated in NB201/tss_general.ipynb)")



class CellFeatures(NamedTuple):
  """The shared pass of the AZ-NAS components.

  Attributes:
    features: the stem's output and every cell's and ResNet block's output, in order
      (f_0, ..., f_L), each (N, H, W, C).
    block_vjp: ``block_vjp(cotangents) -> input gradients``: for cotangents g_1..g_L shaped like
      f_1..f_L, the list of ``J_i^T g_i`` (block i's own vector-Jacobian product at its input
      f_{i-1}), all blocks in one backward pass.
  """

  features: tuple
  block_vjp: Callable


def _ordered_probe_grads(tree, blocks) -> list:
  """Probe gradients in block order: the network's Layout names, for every top-level probe key,
  the block it belongs to (:class:`jaxnas.protocol.BlockRef`); a stacked key holds blocks
  ``position, position + 1, ...`` on axis 0."""
  refs = {b.key: b for b in blocks}
  found = []
  for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
    ref = refs.get(key_name(path[0]))
    if ref is None:
      raise ValueError(f"az_nas: probe {jax.tree_util.keystr(path)} is not in the network's Layout "
                       f"(its probe keys: {sorted(refs)}).")
    if ref.stacked:
      found.extend((ref.position + j, leaf[j]) for j in range(leaf.shape[0]))
    else:
      found.append((ref.position, leaf))
  found.sort(key=lambda t: t[0])
  return [g for _, g in found]


def cell_features(apply_fn, variables, batch) -> CellFeatures:
  """One train-mode forward pass recording the cell-level features and their block-wise VJPs."""
  batch = check_batch(batch, needs_labels=False, name="az_nas")
  for cap in (Capability.PROBES, Capability.CELLS):
    require(apply_fn, cap, proxy="az_nas", why="cell-input probes and capture='cells'")
  blocks = layout(apply_fn, proxy="az_nas").probes
  probes = apply_fn.probes(variables, batch.x)

  def features(p):
    return apply_fn({**variables, "probes": p}, batch.x, train=True, capture="cells")[1]

  feats, vjp = jax.vjp(features, probes)

  def block_vjp(cotangents):
    cotangents = tuple(cotangents)
    if len(cotangents) != len(feats) - 1:
      raise ValueError(f"block_vjp: expected {len(feats) - 1} cotangents (one per block output), "
                       f"got {len(cotangents)}.")
    (grads,) = vjp((jnp.zeros_like(feats[0]),) + cotangents)
    return _ordered_probe_grads(grads, blocks)

  return CellFeatures(tuple(feats), block_vjp)


def spectral_entropy(feature, dtype):
  """Entropy of the normalised eigenvalues of a feature map's channel covariance (AZ-NAS's
  per-layer expressivity): positions and samples are the observations."""
  x = feature.reshape(-1, feature.shape[-1]).astype(dtype)
  x = x - jnp.mean(x, axis=0, keepdims=True)
  sigma = x.T @ x / x.shape[0]
  s = jnp.linalg.eigvalsh(sigma)
  p = s / jnp.sum(s)
  return jnp.sum(-p * jnp.log(p + 1e-8))


def _nan_to_worst(v):
  return jnp.where(jnp.isnan(v), -jnp.inf, v)


def _expressivity_scores(result: CellFeatures, dtype):
  return jnp.stack([spectral_entropy(f, dtype) for f in result.features])


def _expressivity_from(result, apply_fn, variables, batch, key, *, dtype=None):
  del apply_fn, variables, batch, key
  dt = resolve_dtype(dtype, "az_expressivity")
  return _nan_to_worst(jnp.sum(_expressivity_scores(result, dt)))


def _progressivity_from(result, apply_fn, variables, batch, key, *, dtype=None):
  del apply_fn, variables, batch, key
  dt = resolve_dtype(dtype, "az_progressivity")
  scores = _expressivity_scores(result, dt)
  return _nan_to_worst(jnp.min(scores[1:] - scores[:-1]))


def pixel_unshuffle(x, factor: int):
  """NHWC space-to-depth in PyTorch's ``PixelUnshuffle`` channel order: output channel
  ``c * factor**2 + i * factor + j`` holds input pixel ``(h * factor + i, w * factor + j)``."""
  n, h, w, c = x.shape
  x = x.reshape(n, h // factor, factor, w // factor, factor, c)
  return x.transpose(0, 1, 3, 5, 2, 4).reshape(n, h // factor, w // factor, c * factor * factor)


def block_trainability(g_out, g_in, dtype):
  """One block's score ``-s - 1/(s + 1e-6) + 2``, s the largest singular value of the
  channel cross-covariance of input and output gradients; -inf when the block is the identity
  (``g_in == g_out``)."""
  g_out = g_out.astype(dtype)
  g_in = g_in.astype(dtype)
  identity = None
  if g_in.shape == g_out.shape:
    identity = jnp.all(g_in == g_out)
  elif g_in.shape[1:3] != g_out.shape[1:3]:
    g_in = pixel_unshuffle(g_in, g_in.shape[1] // g_out.shape[1])
  rows = g_out.shape[0] * g_out.shape[1] * g_out.shape[2]
  mat = g_in.reshape(rows, -1).T @ g_out.reshape(rows, -1) / rows
  s = jnp.max(jnp.linalg.svd(mat, compute_uv=False))
  score = -s - 1.0 / (s + 1e-6) + 2.0
  return score if identity is None else jnp.where(identity, -jnp.inf, score)


_KEY_WHY = "draws random +-1 output gradients"


def _trainability_from(result, apply_fn, variables, batch, key, *, dtype=None):
  del apply_fn, variables, batch
  dt = resolve_dtype(dtype, "az_trainability")
  require_key(key, "az_trainability", _KEY_WHY)
  outs = result.features[1:]
  keys = jax.random.split(key, len(outs))
  g_outs = [jax.random.rademacher(k, f.shape, f.dtype) for k, f in zip(keys, outs)]
  g_ins = result.block_vjp(g_outs)
  scores = jnp.stack([block_trainability(go, gi, dt) for go, gi in zip(g_outs, g_ins)])
  return _nan_to_worst(jnp.mean(scores))


def az_expressivity(apply_fn, variables, batch, key, *, dtype=None):
  """AZ-NAS expressivity: the summed spectral entropy of every cell-level feature map. Higher =
  better.

  .. math:: s^{\\mathcal{E}} = \\sum_{l=0}^{L} H(f_l), \\quad
     H(f) = -\\sum_c p_c \\log(p_c + 10^{-8}), \\; p = \\lambda / \\textstyle\\sum \\lambda

  with :math:`\\lambda` the eigenvalues of the channel covariance of f (samples and positions are
  the observations, mean removed, divided by their number).

  Follows cvlab-yonsei/AZ-NAS @ d41d524 ``NB201/ZeroShotProxy/compute_az_nas_score.py``: the
  features are the stem's output and the output of each of xautodl ``TinyNetwork``'s cells and
  ResNet blocks (``extract_cell_features``: 18 maps for C=16, N=5), one train-mode forward pass.
  Reference protocol (``tss_general.ipynb``): xautodl's network (the default
  ``variant='xautodl'``), re-initialised with ``kaiming_normal_(mode='fan_in')`` (use
  ``Network.init(key, init='kaiming_normal')``), fed ``torch.randn(64, 3, 32, 32)`` (pass a batch
  of 64 standard-normal images; the images are the batch's, no labels).

  A NaN (a zero feature map: the 341 NB201 cells whose output is zero) gives -inf, as the reference
  maps NaN to -inf. The reference computes in float32; its eigenvalues of rank-deficient
  covariances can be slightly negative, which can make a log NaN; ``dtype`` (default: float64 when
  x64 is on) chooses the precision here.

  Args:
    apply_fn: a :class:`jaxnas.models.Network` (``capture='cells'`` and ``.probes()``).
    variables: the network's variables.
    batch: images (N, H, W, 3); reference N = 64 standard-normal images.
    key: unused.
    dtype: dtype of the covariance and its eigenvalues (None: the default float).

  Returns:
    Scalar.
  """
  return _expressivity_from(cell_features(apply_fn, variables, batch), apply_fn, variables, batch,
                            key, dtype=dtype)


def az_progressivity(apply_fn, variables, batch, key, *, dtype=None):
  """AZ-NAS progressivity: the smallest increase of expressivity from one cell-level feature map to
  the next. Higher = better.

  .. math:: s^{\\mathcal{P}} = \\min_{l \\ge 1} \\big( H(f_l) - H(f_{l-1}) \\big)

  Same reference, pass and protocol as :func:`az_expressivity` (H defined there); NaN gives -inf.
  """
  return _progressivity_from(cell_features(apply_fn, variables, batch), apply_fn, variables, batch,
                             key, dtype=dtype)


def az_trainability(apply_fn, variables, batch, key, *, dtype=None):
  """AZ-NAS trainability: how close every block's input-output Jacobian is to an isometry, from
  one random backward pass. Higher = better.

  For every block i (cell or ResNet block, last to first in the reference, which does not change
  the mean): draw g_out with i.i.d. +-1 entries shaped like the block's output f_i, take the
  block's own vector-Jacobian product g_in = J_i^T g_out at its input f_{i-1} (through train-mode
  BatchNorm); if the resolutions differ, ``PixelUnshuffle`` g_in to the output's resolution; M =
  g_in^T g_out / (N H W) over samples and positions (C_in x C_out); with s the largest singular
  value of M,

  .. math:: s^{\\mathcal{T}} = \\frac{1}{L} \\sum_{i=1}^{L} \\Big( -s_i - \\frac{1}{s_i + 10^{-6}}
     + 2 \\Big)

  and a block whose g_in equals g_out exactly scores -inf, so the whole network does: an identity
  cell, whose one path from input to output that avoids 'none' edges is made of skip connections
  (22 of the 1,000 cells of ``benchmarks/az_nas.py``'s sample, exactly its -inf cases). Same reference and protocol as
  :func:`az_expressivity`. All block VJPs come from one backward pass through cell-input probes
  (:meth:`jaxnas.models.Network.probes`). NaN gives -inf. Zero-output cells give finite, very low
  scores (s = 0: about -1e6).

  Args:
    key: draws the +-1 output gradients (the reference's ``torch.bernoulli``).
    Others as :func:`az_expressivity`; ``dtype`` is the dtype of M and its singular values.
  """
  batch = check_batch(batch, needs_labels=False, name="az_trainability")
  require_key(key, "az_trainability", _KEY_WHY)
  return _trainability_from(cell_features(apply_fn, variables, batch), apply_fn, variables, batch,
                            key, dtype=dtype)


_COMMON = dict(higher_is_better=True, needs_labels=False, reference=AZ_NAS_REF, batch_size=64,
               init="kaiming_normal")
az_expressivity_proxy = Proxy(
    fn=az_expressivity, name="az_expressivity", needs_grad=False,
    shared=SharedPass(cell_features, _expressivity_from), **_COMMON)
az_progressivity_proxy = Proxy(
    fn=az_progressivity, name="az_progressivity", needs_grad=False,
    shared=SharedPass(cell_features, _progressivity_from), **_COMMON)
az_trainability_proxy = Proxy(
    fn=az_trainability, name="az_trainability", needs_grad=True,
    shared=SharedPass(cell_features, _trainability_from), **_COMMON)
