"""Zen-score (Lin et al., ICCV 2021, "Zen-NAS: A Zero-Shot NAS for High-Performance Image
Recognition")."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnas._tree import is_stacked, leaf_name

from jaxnas.protocol import Capability, require

from ._base import Proxy, check_batch, require_key, resolve_dtype

ZEN_REF = ("idstcv/ZenNAS@ec10755 ZeroShotProxy/compute_zen_score.py (compute_nas_score); NB201 "
           "protocol of cvlab-yonsei/AZ-NAS@d41d524 NB201/ZeroShotProxy/compute_zen_score.py")

STATS_WHY = ("zen reads the BatchNorm running variances after two forward passes: `apply_fn` must "
             "accept capture='outputs' and mutable=['batch_stats'], and say which layers the "
             "architecture uses")


def _pre_gap(apply_fn, variables, x):
  """(feature map before global average pooling, updated batch_stats) of one train-mode pass."""
  (_, outs), updates = apply_fn(variables, x, train=True, capture="outputs", mutable=["batch_stats"])
  f = outs[-1].value
  if f.ndim != 4:
    raise ValueError(f"zen: the last captured output must be the (N, H, W, C) map before global "
                     f"pooling, got shape {f.shape}.")
  return f, updates.get("batch_stats", {})


def zen(apply_fn, variables, batch, key, *, gamma: float = 1e-2, dtype=None):
  """Zen-score: log of the expected feature-map change under a small input perturbation, plus the
  log of every BatchNorm layer's scale. Higher = better.

  .. math:: S = \\log \\mathbb{E}_n \\sum_{h,w,c} |f(x)_n - f(x + \\gamma\\varepsilon)_n|
     + \\sum_{\\text{BN } l} \\log \\sqrt{\\operatorname{mean}_c \\sigma^2_{l,c}}

  Follows ZenNAS ``compute_zen_score.py`` as AZ-NAS's NB201 copy runs it (the copy behind the
  NB201 numbers of the AZ-NAS and VKDNW tables): f is the network's output before global average
  pooling (xautodl ``forward_pre_GAP``: after the head BN + ReLU); both passes in train mode,
  without gradients; ε ~ N(0, I) drawn with `key`, γ = 0.01. σ² is each BN layer's *running*
  variance after the two passes, starting from 1 with momentum 0.1 and the unbiased batch variance
  (PyTorch's update): ``0.81 + 0.09 v(x) + 0.1 v(x + γε)``, not the batch variance the paper
  describes. Every BN layer with running statistics that the architecture uses counts (stacked
  cells count one layer each); BN layers without running statistics (zero-cost-nas's NB201 cells)
  are skipped, as MeCo's copy does.

  Reference protocol: the xautodl network (default ``variant``), every conv/linear weight
  re-initialised N(0, 1), biases 0, BN 1/0 (``Network.init(key, init='normal')``), x a batch of
  standard-normal images (64 in AZ-NAS's NB201 run, 16 in ZenNAS), one repeat (ZenNAS: 32 repeats
  averaged, each with a fresh init and inputs but running statistics carried over).

  Zero-output NB201 cells: f does not depend on the input, the expectation is 0 and the score -inf
  (the reference's ``log(0)``).

  Args:
    apply_fn: a :class:`jaxnas.models.Network` (``capture='outputs'``, ``mutable``).
    variables: the network's variables, with running statistics (``batch_stats``).
    batch: images x (N, H, W, 3); labels unused.
    key: draws ε.
    gamma: the perturbation size.
    dtype: dtype of the reductions (None: the default float).

  Returns:
    Scalar.
  """
  batch = check_batch(batch, needs_labels=False, name="zen")
  require_key(key, "zen", "perturbs its input with Gaussian noise")
  for cap in (Capability.OUTPUTS, Capability.ACTIVE):
    require(apply_fn, cap, proxy="zen", why=STATS_WHY)
  dt = resolve_dtype(dtype, "zen")
  x = batch.x
  eps = jax.random.normal(key, x.shape, x.dtype)
  f1, stats1 = _pre_gap(apply_fn, variables, x)
  f2, stats2 = _pre_gap(apply_fn, {**variables, "batch_stats": stats1}, x + gamma * eps)
  delta = jnp.mean(jnp.sum(jnp.abs(f1.astype(dt) - f2.astype(dt)), axis=(1, 2, 3)))
  active = apply_fn.active({"batch_stats": stats2})
  total = jnp.zeros((), dt)
  for (path, var), (_, used) in zip(jax.tree_util.tree_leaves_with_path(stats2),
                                    jax.tree_util.tree_leaves_with_path(active["batch_stats"])):
    if leaf_name(path) != "var":
      continue
    var = var.astype(dt)
    per_layer = jnp.log(jnp.sqrt(jnp.mean(var, axis=-1)))  # stacked cells: one term per cell
    total = total + jnp.where(used, jnp.sum(per_layer) if is_stacked(path) else per_layer, 0.0)
  return jnp.log(delta) + total


zen_proxy = Proxy(
    fn=zen, name="zen", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference=ZEN_REF, batch_size=64, init="normal",
)
