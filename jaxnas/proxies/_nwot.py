"""NASWOT (Mellor et al., ICML 2021, "Neural Architecture Search without Training", v2)."""

from __future__ import annotations

import jax.numpy as jnp

from ._base import Proxy, captured, check_batch, live_units, resolve_dtype


def activation_kernel(codes, *, valid=None, dtype=jnp.float32):
  """Agreement kernel of binary activation codes: K_ij = #units where codes i and j agree.

  Equals ``c c^T + (1 - c)(1 - c)^T`` for c in {0, 1}^(N x D), i.e. D - Hamming(c_i, c_j).

  Args:
    codes: (N, D) boolean or {0, 1} array.
    valid: None, or (D,) bool: count only these units (the others are absent from the network).
    dtype: accumulation dtype. In float32 the result is exact while D < 2**24 (entries are
      integers and every partial sum is bounded by D).
  """
  dt = resolve_dtype(dtype, "activation_kernel")
  if dt == jnp.float32 and codes.shape[-1] >= 2**24:
    raise ValueError(f"activation_kernel: D={codes.shape[-1]} units is too many for exact float32 "
                     "accumulation; pass dtype=jnp.float64 (with 64-bit JAX enabled).")
  s = 2 * jnp.asarray(codes, dt) - 1  # +-1 signs: s_i . s_j = agreements - disagreements
  d = s.shape[-1]
  if valid is not None:
    live = jnp.asarray(valid, dt)
    s = s * live
    d = jnp.sum(live)
  return (s @ s.T + d) / 2


def naswot_kernel(apply_fn, variables, batch, *, duplicate_wrapped: bool = True, dtype=None):
  """NASWOT's K: sum over ReLUs of the agreement kernel of their binary codes (input > 0).

  `duplicate_wrapped=True` reproduces the reference hook set: modules whose type name contains
  'ReLU' are both nn.ReLU and xautodl's ReLUConvBN wrapper, so every ReLU inside a ReLU-conv-BN
  block is counted twice and the head ReLU once.
  """
  batch = check_batch(batch, needs_labels=False, name="nwot")
  acts = captured(apply_fn, variables, batch.x, True, "nwot")
  dt = resolve_dtype(dtype, "nwot")
  n = batch.x.shape[0]
  k = jnp.zeros((n, n), dt)
  for a in acts:
    mult = jnp.asarray(a.weight, dt) * (2 if (a.wrapped and duplicate_wrapped) else 1)
    k = k + mult * activation_kernel(a.pre.reshape(n, -1) > 0, valid=live_units(a)).astype(dt)
  return k


def nwot(apply_fn, variables, batch, key, *, duplicate_wrapped: bool = True, dtype=None):
  """NASWOT score log|det K| of the binary ReLU-code kernel. Higher = better.

  .. math:: K = \\sum_{\\text{ReLU } r} c_r c_r^\\top + (1 - c_r)(1 - c_r)^\\top, \\quad
     S = \\log |\\det K|, \\quad c_r = [x_r > 0] \\in \\{0, 1\\}^{N \\times D_r}

  Follows BayesWatch/nas-without-training @ b3a82a6 (v2, ``score_networks.py`` ``hook_logdet``):
  train-mode BatchNorm, default init, the network built with ``num_classes=1`` (the population
  engine builds that network, see ``Proxy.network``), reference batch 128. Codes are taken from
  every ReLU input; see :func:`naswot_kernel` for the reference's double counting of
  ReLU-conv-BN blocks (``duplicate_wrapped``).

  Precision: each ReLU's agreement counts are exact (float32 integers below 2**24); they are
  summed and log|det| is taken in `dtype` (None: float64 with x64 enabled, else float32; the tests
  bound the float32 error against float64).

  Returns:
    Scalar; -inf when two samples share a code vector and K is singular, e.g. networks in which
    no ReLU sees an input-dependent value (the all-``none`` NB201 cell). A zero-output cell whose
    first cell still convolves the stem output gets a finite score.
  """
  del key
  k = naswot_kernel(apply_fn, variables, batch, duplicate_wrapped=duplicate_wrapped, dtype=dtype)
  return jnp.linalg.slogdet(k)[1]


nwot_proxy = Proxy(
    fn=nwot, name="nwot", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference="BayesWatch/nas-without-training@b3a82a6 score_networks.py (hook_logdet, v2)",
    batch_size=128, network=(("num_classes", 1),),
)
