"""MeCo (Jiang et al., NeurIPS 2023, "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via
Minimum Eigenvalue of Correlation") and its MeCo_opt variant."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxnas.protocol import layout

from ._base import Proxy, captured, check_batch, require_key, resolve_dtype

MECO = "HamsterMimi/MeCo@0d830dd correlation/NAS_Bench_201.py (get_score)"

#: Channels MeCo_opt samples per module output.
OPT_CHANNELS = 8


def channel_correlation(feature, *, dtype=None):
  """Pearson correlation across the channels of one sample's feature map, as MeCo takes it.

  `feature` (H, W, C) is read as C rows of H*W values (``torch.corrcoef(fea.reshape(C, -1))``):
  entries are clipped to [-1, 1] as torch does, and NaN/inf entries (a channel with zero variance)
  are set to 0, as the reference does.

  Returns:
    (C, C) matrix in `dtype` (None: the default float, float64 with x64 enabled).
  """
  dt = resolve_dtype(dtype, "channel_correlation")
  rows = jnp.asarray(feature, dt).reshape(-1, feature.shape[-1]).T
  rows = rows - jnp.mean(rows, axis=1, keepdims=True)
  cov = rows @ rows.T
  d = jnp.sqrt(jnp.diag(cov))
  c = jnp.clip(cov / d[:, None] / d[None, :], -1, 1)
  return jnp.where(jnp.isfinite(c), c, 0)


def _min_eigs(corr):
  """Smallest eigenvalue of each matrix of a (..., C, C) stack, NaN/inf dropped (as 0)."""
  lam = jnp.linalg.eigvalsh(corr)[..., 0]
  return jnp.where(jnp.isfinite(lam), lam, 0)


def _by_shape(outs):
  """{(H, W, C): [outputs]}: outputs of one shape are stacked and handled by one batched op."""
  groups: dict = {}
  for o in outs:
    groups.setdefault(tuple(o.value.shape[1:]), []).append(o)
  return groups


def _outputs(apply_fn, variables, x, name):
  return [o for o in captured(apply_fn, variables, x, "outputs", name) if o.value.ndim == 4]


def meco(apply_fn, variables, batch, key, *, dtype=None):
  """MeCo: sum over module outputs of the minimum eigenvalue of their channel correlation.
  Higher = better (on NB201 / NATS-TSS).

  .. math:: S = \\sum_{m} \\lambda_{\\min}\\big(\\mathrm{corr}(F_m)\\big), \\quad
     F_m = \\text{output of module } m \\text{ for sample 0, as } C \\times HW

  Follows HamsterMimi/MeCo @ 0d830dd ``correlation/NAS_Bench_201.py`` (``get_score``, measure
  'meco'): a forward hook on every module (``named_modules()``: the root, containers, cells,
  ReLUs, convs, BNs, poolings) takes sample 0 of the module's output, reshapes it to channels x
  positions, forms the Pearson correlation across channels (NaN/inf entries set to 0) and adds
  its smallest eigenvalue. A tensor that several modules output (a block's BN output is also the
  output of its ``nn.Sequential`` and of the block) is counted once per module, as the hooks do.
  Module outputs that are vectors per sample (global pooling, classifier, logits) and the outputs
  of 'none' ops (zeros) give an all-NaN, hence all-zero, matrix and add exactly 0 in the
  reference; they are not evaluated here.

  Reference settings: TSS networks built with zero-cost-nas's ``nasbench2`` model
  (``Proxy.network``: ``variant='zero_cost_nas'``), default PyTorch init, the network in train
  mode, **one** real training image (``--batch_size 1``; BatchNorm over the positions of that
  image). With a larger batch the score still reads sample 0 only, the other samples entering
  through the BatchNorm statistics, as the reference does with ``--batch_size > 1``. (The
  ``meco`` *measure* of MeCo's Zero-Cost-PT search feeds one Gaussian 1x3x64x64 image instead;
  pass such a batch to get it.)

  Deliberate deviation: the reference calls the general eigen-solver ``torch.linalg.eig`` on the
  symmetric matrix and keeps the real part; this uses ``eigvalsh`` (same eigenvalues). The
  reference drops NaN/inf eigenvalues; eigvalsh of a finite matrix gives none.

  Zero-output NB201 cells get a finite score: the stem and the cells' ops that still read the
  stem's output contribute, every module after the first all-zero tensor adds 0 (constant
  channels give all-zero correlation matrices).

  Args:
    apply_fn: ``apply_fn(variables, x, train=True, capture='outputs')`` -> (logits, outputs).
    variables: the network's variables.
    batch: images (N, H, W, 3), labels unused; the reference uses N = 1.
    key: unused.
    dtype: dtype of the correlations and eigenvalues (None: the default float; the reference
      computes in float32).

  Returns:
    Scalar.
  """
  del key
  batch = check_batch(batch, needs_labels=False, name="meco")
  dt = resolve_dtype(dtype, "meco")
  corr = jax.vmap(functools.partial(channel_correlation, dtype=dt))
  total = jnp.zeros((), dt)
  for members in _by_shape(_outputs(apply_fn, variables, batch.x, "meco")).values():
    lam = _min_eigs(corr(jnp.stack([o.value[0] for o in members])))
    weights = jnp.stack([jnp.asarray(o.weight, dt) for o in members])
    total = total + jnp.sum(weights * lam)
  return total


def meco_opt(apply_fn, variables, batch, key, *, channels: int = OPT_CHANNELS, dtype=None):
  """MeCo_opt: as :func:`meco`, but each module's correlation is over a random subset of
  `channels` channels and its smallest eigenvalue is weighted by C / `channels`. Higher = better.

  .. math:: S = \\sum_{m} \\frac{C_m}{8} \\, \\lambda_{\\min}\\big(\\mathrm{corr}(F_m[I_m])\\big),
     \\quad I_m \\subset \\{1..C_m\\},\\ |I_m| = 8 \\text{ uniformly at random}

  Follows HamsterMimi/MeCo @ 0d830dd ``correlation/NAS_Bench_201.py`` (measure 'meco_opt'), the
  paper's fix for the negative correlation of MeCo on NATS-SSS. Every hook call draws its own
  subset (``random.sample``), so a tensor output by k modules gets k independent subsets here too,
  drawn from `key`. Everything else as :func:`meco` (network, train mode, sample 0, batch 1).

  Deviation where the reference fails: a module with fewer than `channels` channels makes
  ``random.sample`` raise; here all its channels are used with weight 1.

  Args:
    key: PRNG key for the channel subsets (the score depends on it).
    channels: channels per subset (static; 8 in the reference).

  Returns:
    Scalar.
  """
  batch = check_batch(batch, needs_labels=False, name="meco_opt")
  if not isinstance(channels, int) or channels < 2:
    raise ValueError(f"meco_opt: `channels` must be an int >= 2, got {channels!r}.")
  dt = resolve_dtype(dtype, "meco_opt")
  corr = jax.vmap(jax.vmap(functools.partial(channel_correlation, dtype=dt)))
  total = jnp.zeros((), dt)
  groups = _by_shape(_outputs(apply_fn, variables, batch.x, "meco_opt"))
  require_key(key, "meco_opt", "samples channels at random")
  # The most modules that output one tensor (the network's Layout: 3 in xautodl networks, a
  # ReLU-conv-BN block's BN output): this many channel subsets per tensor, the first `weight` used.
  max_modules = layout(apply_fn, proxy="meco_opt").max_modules
  for g, ((_, _, c), members) in enumerate(groups.items()):
    k = min(channels, c)
    # One independent uniform subset per module that outputs a tensor (max_modules per tensor):
    # the first k of a random permutation (argsort of iid uniforms), drawn for a group at once.
    keys = jax.random.split(jax.random.fold_in(key, g), len(members) * max_modules)
    u = jax.vmap(lambda kk, c=c: jax.random.uniform(kk, (c,)))(keys)
    idx = jnp.argsort(u, axis=1)[:, :k].reshape(len(members), max_modules, 1, 1, k)
    vals = jnp.stack([o.value[0] for o in members])[:, None]  # (K, 1, H, W, C)
    lam = _min_eigs(corr(jnp.take_along_axis(vals, idx, axis=-1)))  # (K, max_modules)
    weight = jnp.stack([jnp.asarray(o.weight, jnp.int32) for o in members])[:, None]
    j = jnp.arange(max_modules)[None, :]
    # the last subset also stands for any further modules beyond max_modules
    count = jnp.where(j < max_modules - 1, jnp.clip(weight - j, 0, 1), jnp.maximum(weight - j, 0))
    total = total + jnp.sum(count.astype(dt) * (c / k) * lam)
  return total


meco_proxy = Proxy(
    fn=meco, name="meco", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference=MECO + ", measure 'meco'", batch_size=1, network=(("variant", "zero_cost_nas"),),
)
meco_opt_proxy = Proxy(
    fn=meco_opt, name="meco_opt", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference=MECO + ", measure 'meco_opt'", batch_size=1, network=(("variant", "zero_cost_nas"),),
)
