"""SWAP and regularised SWAP (Peng et al., ICLR 2024, "SWAP-NAS: Sample-Wise Activation Patterns for
Ultra-fast NAS")."""

from __future__ import annotations

import jax.numpy as jnp

from ._base import Proxy, captured, check_batch, live_units, resolve_dtype
from ._size import num_params

SWAP_REF = "pym1024/SWAP@f6049f7 src/metrics/swap.py (SWAP, SampleWiseActivationPatterns)"

#: jaxnas's default size prior of :func:`reg_swap` for NB201: mu in thousands of parameters, sigma
#: (the reference publishes no NB201 values; chosen by ``benchmarks/reg_swap_prior.py`` on cells
#: the correlation benchmark does not use; see :func:`reg_swap`).
NB201_MU = 950.0
NB201_SIGMA = 1.0e6


def pack_columns(codes):
  """Each column of the (N, V) binary `codes` as ceil(N / 32) uint32 words (bit n%32 of word
  n//32 is row n). Returns (words, V) uint32."""
  codes = jnp.asarray(codes).astype(jnp.uint32)
  n, v = codes.shape
  words = -(-n // 32)
  pad = jnp.zeros((words * 32 - n, v), jnp.uint32)
  bits = jnp.concatenate([codes, pad]).reshape(words, 32, v)
  shifts = jnp.arange(32, dtype=jnp.uint32)[None, :, None]
  return jnp.sum(bits << shifts, axis=1, dtype=jnp.uint32)


def count_distinct_columns(codes, valid=None):
  """Number of distinct columns of the (N, V) binary `codes` among those where `valid` (V,) holds.

  Columns are packed into integers (:func:`pack_columns`), sorted lexicographically (invalid
  columns last) and the changes between neighbours counted: one static-shape program for any
  data, any N and traced `valid`.
  """
  words = pack_columns(codes)
  v = words.shape[1]
  if v == 0:
    return jnp.zeros((), jnp.int32)
  valid = jnp.ones((v,), bool) if valid is None else jnp.asarray(valid, bool)
  invalid = (~valid).astype(jnp.uint32)
  order = jnp.lexsort(tuple(words[::-1]) + (invalid,))  # last key is the primary one
  w = words[:, order]
  ok = invalid[order] == 0
  changed = jnp.concatenate([jnp.ones((1,), bool), jnp.any(w[:, 1:] != w[:, :-1], axis=0)])
  return jnp.sum(changed & ok, dtype=jnp.int32)


def activation_patterns(apply_fn, variables, batch, *, conv_only: bool = True,
                        name: str = "swap"):
  """(codes, valid): the binary ReLU outputs sign(ReLU(z)) of every captured ReLU, one column per
  neuron (N, V), and whether each neuron's ReLU runs in the selected architecture (V,).

  `conv_only` keeps ReLUs with 4-D inputs only, as the reference's hook does; `name` is the
  calling proxy, named in error messages.
  """
  batch = check_batch(batch, needs_labels=False, name=name)
  acts = captured(apply_fn, variables, batch.x, True, name)
  n = batch.x.shape[0]
  acts = [a for a in acts if a.pre.ndim == 4 or not conv_only]
  if not acts:
    return jnp.zeros((n, 0), bool), jnp.zeros((0,), bool)
  codes = jnp.concatenate([a.pre.reshape(n, -1) > 0 for a in acts], axis=1)
  valid = jnp.concatenate([live_units(a) for a in acts])
  return codes, valid


def swap(apply_fn, variables, batch, key, *, conv_only: bool = True, dtype=None):
  """SWAP-Score: the number of distinct sample-wise activation patterns. Higher = better.

  .. math:: S = \\big|\\{\\, (\\mathrm{sign}\\,\\mathrm{ReLU}(z_{1,v}), \\dots,
     \\mathrm{sign}\\,\\mathrm{ReLU}(z_{N,v})) : v \\text{ a ReLU neuron} \\,\\}\\big|

  Follows pym1024/SWAP @ f6049f7 ``src/metrics/swap.py``: forward hooks on every ``nn.ReLU``
  whose input is 4-D collect the ReLU *outputs*; per sample they are flattened and concatenated
  (N samples x V neurons) and binarised with ``sign`` (post-ReLU: 0 or 1); the score is the
  number of distinct rows of the transpose (``torch.unique(dim=0)``), i.e. of distinct per-neuron
  patterns across the batch, at most min(V, 2^N). A tensor read by several ReLU modules repeats
  the same neurons, which changes no count, so each captured ReLU input counts once. ReLUs absent
  from the selected architecture (weight 0 in the masked supernet) are excluded.

  Distinct patterns are counted by packing each neuron's N bits into uint32 words and sorting
  (:func:`count_distinct_columns`): one compiled program for any data.

  Reference settings (``correlation.py``, DARTS space; no NB201 script is published): 16 real
  CIFAR-10 training images, the network in train mode, no gradients, and 32 repeats each with a
  fresh Gaussian re-initialisation (conv/linear weights N(0, 1), biases 0, BN 1/0), averaged. This
  function scores the given `variables` once: initialise with ``Network.init(key, init='normal')``
  and average over keys for the reference's protocol. Network: xautodl's NB201 ``TinyNetwork``
  (every ``nn.ReLU``: the cell and reduction-block ReLU-conv-BN ReLUs and the head ReLU).

  Zero-output NB201 cells get a finite score: every ReLU after the first all-zero tensor adds the
  single all-zero pattern, the ReLUs that read the stem's output (if any) their patterns; the
  all-'none' cell scores exactly 1. (The reference returns None when no ReLU is hooked at all;
  here that case gives 0.)

  Args:
    apply_fn: ``apply_fn(variables, x, train=True, capture=True)`` -> (logits, ReLU inputs).
    variables: the network's variables.
    batch: images (N, H, W, 3), labels unused; reference N = 16.
    key: unused.
    conv_only: count only ReLUs with 4-D inputs, as the reference (False: every captured ReLU).
    dtype: dtype of the returned count (None: the default float).

  Returns:
    Scalar count (as a float).
  """
  del key
  dt = resolve_dtype(dtype, "swap")
  codes, valid = activation_patterns(apply_fn, variables, batch, conv_only=conv_only)
  return count_distinct_columns(codes, valid).astype(dt)


def reg_swap(apply_fn, variables, batch, key, *, mu=NB201_MU, sigma=NB201_SIGMA,
             conv_only: bool = True, dtype=None):
  """Regularised SWAP-Score: SWAP times a Gaussian-shaped factor of the parameter count.
  Higher = better.

  .. math:: S' = S \\cdot \\exp\\!\\big(-(P - \\mu)^2 / \\sigma\\big), \\quad
     P = \\#\\text{parameters} / 1000

  Follows pym1024/SWAP @ f6049f7 ``src/metrics/swap.py`` (``cal_regular_factor``;
  ``count_parameters`` in ``src/utils/utilities.py``: all ``named_parameters`` except
  "auxiliary", in thousands, BN affine included). P is ``apply_fn.num_params()`` for jaxnas
  networks (the parameters the architecture uses), else every parameter leaf. Note that sigma
  divides the squared difference directly (it is not a standard deviation).

  Defaults: the reference code takes mu and sigma as user inputs and publishes no NB201 values (the
  paper's 0.90 Spearman on NB201 CIFAR-100 validation accuracy does not state them). jaxnas's
  defaults, mu = 950 (thousand parameters) and sigma = 1e6, are the best point of a grid for the
  mean Spearman rho against NB201's CIFAR-10 and CIFAR-100 test accuracy on 933 cells disjoint from
  the correlation benchmark's (``benchmarks/reg_swap_prior.py``: 16 real images, one N(0, 1)
  weight draw per cell); their held-out rho on the benchmark's own 1,000 cells is in
  ``benchmarks/results/correlation_nb201.md``. The scale matters: log SWAP spans about 2 over NB201, so a
  prior term spanning 20 (e.g. sigma = 1e5) ranks by size alone. Over NB201 the factor stays above
  0.46 (P from 73 to 1,532 thousand), so float32 never underflows. Both are traced (changing them
  does not recompile).

  Zero-output NB201 cells: as :func:`swap`, times their (finite) factor.

  Args:
    mu: the target size in thousands of parameters.
    sigma: the width (divides (P - mu)^2).
    Others as :func:`swap`.
  """
  dt = resolve_dtype(dtype, "reg_swap")
  s = swap(apply_fn, variables, batch, key, conv_only=conv_only, dtype=dt)
  p = jnp.asarray(num_params(apply_fn, variables, batch, key), dt) / 1e3
  return s * jnp.exp(-jnp.square(p - jnp.asarray(mu, dt)) / jnp.asarray(sigma, dt))


swap_proxy = Proxy(
    fn=swap, name="swap", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference=SWAP_REF, batch_size=16, init="normal",
)
reg_swap_proxy = Proxy(
    fn=reg_swap, name="reg_swap", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference=SWAP_REF + " with cal_regular_factor", batch_size=16, init="normal",
)
