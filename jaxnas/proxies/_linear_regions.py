"""TE-NAS number of linear regions (Chen et al., ICLR 2021, "Neural Architecture Search on ImageNet
in Four GPU Hours: A Theoretically Inspired Perspective"), per architecture."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._base import Batch, Proxy, check_batch, require_key, resolve_dtype
from ._swap import activation_patterns, pack_columns

LR_REF = ("cvlab-yonsei/AZ-NAS@d41d524 NB201/ZeroShotProxy/compute_te_nas_score.py (compute_RN_score, "
          "LinearRegionCount.calc_LR), the per-architecture copy of VITA-Group/TENAS@9df78ff "
          "lib/procedures/linear_region_counter.py")


def count_distinct_rows(codes, valid=None):
  """Number of distinct rows of the (N, V) binary `codes`, reading only the columns where `valid`
  (V,) holds.

  Each row is packed into ceil(V / 32) uint32 words and compared with every other row word by
  word, an (N, N) equality that XLA reduces without materialising N x N x words. Exact for any V
  (the reference's half-precision matmul counts the same thing: a pair of rows differs iff some
  column is 1 in one and 0 in the other). Returns an int32 count in 1..N.
  """
  codes = jnp.asarray(codes, bool)
  if valid is not None:
    codes = codes & jnp.asarray(valid, bool)[None, :]
  words = pack_columns(codes.T)  # (W, N): row n of `codes` is column n
  same = jnp.all(words[:, :, None] == words[:, None, :], axis=0)
  n = same.shape[0]
  earlier = jnp.arange(n)[None, :] < jnp.arange(n)[:, None]
  first = ~jnp.any(same & earlier, axis=1)  # no earlier row with this pattern
  return jnp.sum(first, dtype=jnp.int32)


def linear_regions(apply_fn, variables, batch, key, *, gaussian_inputs: bool = True,
                   conv_only: bool = True, dtype=None):
  """Number of linear regions the batch falls into: distinct ReLU activation patterns across the
  samples. Higher = better.

  .. math:: R = \\big|\\{\\, (\\mathrm{sign}\\,\\mathrm{ReLU}(z_{n,1}), \\dots,
     \\mathrm{sign}\\,\\mathrm{ReLU}(z_{n,V})) : n = 1..N \\,\\}\\big| \\le N

  Variant: the per-architecture TE-NAS score of AZ-NAS's NB201 evaluation (``compute_RN_score``,
  the TE-NAS row of the AZ-NAS and VKDNW tables), not TE-NAS's own supernet-pruning counter (which
  feeds 3 x 1000 random 3x3 crops of one colour channel to a 1-channel supernet). Forward hooks on
  every ``nn.ReLU`` whose input is 4-D take the ReLU *output*; per sample they are flattened and
  concatenated (N samples x V neurons) and binarised with ``sign``; the reference counts distinct
  rows as :math:`\\sum_i 1 / \\#\\{j : a_j = a_i\\}` (a half-precision matmul), which is exactly
  the number of distinct rows returned here (:func:`count_distinct_rows`). Inputs: N standard-normal
  images (``torch.randn`` of the batch's shape, N = 64 in AZ-NAS's run), drawn here from `key` when
  `gaussian_inputs` (the default; only the batch's shape is read); the network in train mode, PyTorch
  default init, no gradients. ReLUs absent from the selected architecture (weight 0 in the masked
  supernet) are excluded; a tensor read by several ReLU modules repeats the same neurons, which
  changes no pattern.

  The TE-NAS ranking combines this with :func:`ntk_cond`:
  :func:`jaxnas.evaluate.te_nas_aggregate`.

  Zero-output NB201 cells: the ReLUs that read the stem's output (conv edges out of node 0) still
  separate the samples; the all-'none' cell, where every ReLU reads zeros, has a single region (1).

  Args:
    apply_fn: ``apply_fn(variables, x, train=True, capture=True)`` -> (logits, ReLU inputs).
    variables: the network's variables.
    batch: images (N, H, W, 3); with `gaussian_inputs` only their shape and dtype are read.
    key: draws the standard-normal inputs (unused when `gaussian_inputs` is False).
    gaussian_inputs: feed N(0, 1) images of the batch's shape, as the reference (False: the batch).
    conv_only: count only ReLUs with 4-D inputs, as the reference (False: every captured ReLU).
    dtype: dtype of the returned count (None: the default float).

  Returns:
    Scalar count in 1..N (as a float).
  """
  dt = resolve_dtype(dtype, "linear_regions")
  batch = check_batch(batch, needs_labels=False, name="linear_regions")
  if gaussian_inputs:
    require_key(key, "linear_regions", "draws its standard-normal inputs (gaussian_inputs=True)")
    batch = Batch(jax.random.normal(key, batch.x.shape, batch.x.dtype))
  codes, valid = activation_patterns(apply_fn, variables, batch, conv_only=conv_only,
                                     name="linear_regions")
  return count_distinct_rows(codes, valid).astype(dt)


linear_regions_proxy = Proxy(
    fn=linear_regions, name="linear_regions", higher_is_better=True, needs_labels=False,
    needs_grad=False, reference=LR_REF, batch_size=64,
)
