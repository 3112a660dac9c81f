"""RBFleX-NAS (Yamasaki et al., IEEE TNNLS 2025, "RBFleX-NAS: Training-Free Neural Architecture
Search Using Radial Basis Function Kernel and Hyperparameter Detection") and its hyperparameter
detection algorithm (HDA)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.protocol import Capability, activate, require

from ._base import Proxy, captured, check_batch, resolve_dtype

RBFLEX_REPO = "tomomasayamasaki/RBFleX-NAS@cd3a57b"
RBFLEX_REF = RBFLEX_REPO + " RBFleX_NAS-Bench-201.py (main: hooks, normalize, Simularity_Mat)"
HDA_REF = RBFLEX_REPO + " HDA.py"

#: The reference's fixed kernel widths for NB201 / NATS-TSS and NATS-SSS (``GAMMA_K``, ``GAMMA_Q``).
GAMMA_K = 2.68690173088039e-12
GAMMA_Q = 1.02460061284506e-11

class RBFleXGammas(NamedTuple):
  """Kernel widths found by :func:`rbflex_hda`: ``k`` for the activation kernel K, ``q`` for the
  final-layer-input kernel Q (scalars, or arrays with a leading axis when vmapped over networks)."""

  k: jax.Array
  q: jax.Array


def _check_gamma(gamma, name: str, arg: str):
  """ValueError for a concrete gamma that is not one positive finite number (traced: no check)."""
  try:
    g = np.asarray(gamma, np.float64)
  except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
    return
  if g.shape != () or not np.isfinite(g) or g <= 0:
    raise ValueError(f"{name}: `{arg}` must be one positive finite number (the RBF kernel "
                     f"exp(-{arg} * ||a - b||^2)), got {gamma!r}.")


def _hooked(apply_fn, variables, x, name):
  """(x tensors, their multiplicities, y) of one forward pass of the batch `x`.

  x tensors: the output of every module whose type name contains 'ReLU', one (N, ...) array per
  distinct tensor with the number of such modules that output it: each captured activation's
  output (times the number of activation modules reading it) and each ReLU-conv-BN block's output
  (the network tags them, ``Output.block``). y (N, C): the spatial mean of the last activation's
  output, the classifier's input.
  """
  acts = captured(apply_fn, variables, x, True, name)
  outs = captured(apply_fn, variables, x, "outputs", name)
  require(apply_fn, Capability.HEAD, proxy=name,
          why="RBFleX's y is the pooled output of the activation the classifier reads")
  if not acts:
    raise ValueError(f"{name}: the network captured no ReLU; the score needs at least the head "
                     "ReLU, whose pooled output is the classifier's input.")
  tensors = [activate(a, proxy=name) for a in acts]
  weights = [jnp.asarray(a.weight, jnp.int32) for a in acts]
  for o in outs:
    tensors.append(o.value)
    weights.append(jnp.asarray(o.block, jnp.int32))
  head = tensors[len(acts) - 1]
  y = jnp.mean(head, axis=tuple(range(1, head.ndim - 1))) if head.ndim > 2 else head
  return tensors, weights, y


def _features(apply_fn, variables, x, *, per_image: bool, name: str):
  """:func:`_hooked` with every image forwarded alone (``per_image``) or the batch together.

  Images are forwarded one after another with ``lax.map`` (the network is traced once, unbatched:
  under ``vmap`` the masked supernet's ``lax.switch`` branches take about twice as long to trace
  and compile). A caller's ``vmap`` over networks batches the whole map as usual.

  Returns (tensors (N, F_t) each, weights (scalars), y (N, C)).
  """
  n = x.shape[0]
  if per_image:
    def one(xi):
      t, w, y = _hooked(apply_fn, variables, xi[None], name)
      return [a[0] for a in t], w, y[0]

    tensors, weights, y = jax.lax.map(one, x)
    weights = [w[0] for w in weights]  # the same for every image (they depend on the cell only)
  else:
    tensors, weights, y = _hooked(apply_fn, variables, x, name)
  return [t.reshape(n, -1) for t in tensors], weights, y.reshape(n, -1)


def _minmax(x):
  """Column-wise min-max normalisation across the samples (rows) of (N, F) `x`.

  The reference's ``normalize(x, axis=0)`` maps a constant column to 0 (to 1 if its value is 1):
  either way it adds nothing to any distance; here constant columns map to 0.
  """
  lo = jnp.min(x, axis=0)
  hi = jnp.max(x, axis=0)
  return (x - lo) / jnp.where(hi > lo, hi - lo, jnp.ones((), x.dtype))


#: Full-precision products (no TF32/bf16 passes on accelerators: float32 must stay float32).
_HIGHEST = jax.lax.Precision.HIGHEST


def _gram(x):
  """Gram matrix of the rows of (N, F) `x` after subtracting their mean (distances are unchanged,
  and the a + b - 2c form of the distance loses no precision to large norms)."""
  c = x - jnp.mean(x, axis=0)
  return jnp.matmul(c, c.T, precision=_HIGHEST)


def _sqdist(gram):
  """Squared distances from a Gram matrix: clipped at 0, exactly 0 on the diagonal."""
  d = jnp.diag(gram)
  sq = jnp.maximum(d[:, None] + d[None, :] - 2 * gram, 0)
  return jnp.where(jnp.eye(gram.shape[0], dtype=bool), 0, sq)


def rbflex_distances(apply_fn, variables, batch, *, dtype=None):
  """The squared-distance matrices RBFleX-NAS's two kernels are built from.

  Every image is forwarded alone (train-mode BatchNorm over that image's positions). x_i is the
  concatenation of the outputs of every module of the reference network whose type name contains
  'ReLU' (xautodl: each ``nn.ReLU``, the head's included, and each ``ReLUConvBN`` block, i.e. the
  BN output of every conv op and of both convs of the ResNet blocks); y_i is the classifier's
  input (the globally pooled head-ReLU output). Both are min-max normalised per column across the
  N images, then ``D_ij = ||x_i - x_j||^2``.

  Args:
    apply_fn: a :class:`jaxnas.models.Network` (``capture=True`` and ``capture='outputs'``).
    variables: the network's variables.
    batch: images (N, H, W, 3); labels unused.
    dtype: dtype of the features and distances (None: float64 with x64 enabled, else float32).

  Returns:
    (D_K, D_Q), each (N, N).
  """
  batch = check_batch(batch, needs_labels=False, name="rbflex")
  dt = resolve_dtype(dtype, "rbflex")
  tensors, weights, y = _features(apply_fn, variables, batch.x, per_image=True, name="rbflex")
  gram = _weighted_gram(tensors, weights, dt)
  return _sqdist(gram), _sqdist(_gram(_minmax(y.astype(dt))))


def _by_size(tensors, weights):
  """{F: (stacked (K, N, F) tensors, (K,) weights)}: one batched op per feature size."""
  groups: dict = {}
  for t, w in zip(tensors, weights):
    groups.setdefault(t.shape[1], []).append((t, w))
  return {f: (jnp.stack([t for t, _ in g]), jnp.stack([w for _, w in g]))
          for f, g in groups.items()}


def _weighted_gram(tensors, weights, dt):
  """sum_t w_t * Gram(minmax(t)): the Gram matrix of the normalised concatenated features, where a
  tensor output by w_t modules appears w_t times."""
  n = tensors[0].shape[0]
  gram = jnp.zeros((n, n), dt)
  for t, w in _by_size(tensors, weights).values():
    g = jax.vmap(lambda a: _gram(_minmax(a)))(t.astype(dt))
    gram = gram + jnp.einsum("k,kij->ij", w.astype(dt), g, precision=_HIGHEST)
  return gram


def rbf_logdet(sqdist, *, gamma):
  """log|det K| of the RBF kernel ``K = exp(-gamma * D)`` of a squared-distance matrix D, stably.

  With the tiny widths RBFleX-NAS uses, K = 11^T + E with entries of E = expm1(-gamma D) of order
  1e-7: K's entries are 1 - O(1e-7), and float32 (and, to about 1e-9, float64) rounding destroys
  E before any determinant is taken. Subtracting row 0 from the other rows and then column 0 from
  the other columns (which keeps the determinant) removes 11^T exactly:

  .. math:: \\det K = \\det \\begin{pmatrix} 1 + E_{00} & E_{0j} - E_{00} \\\\
     E_{i0} - E_{00} & E_{ij} - E_{i0} - E_{0j} + E_{00} \\end{pmatrix}

  whose entries are formed from E alone, computed with ``expm1`` to full relative precision. This
  is exact algebra for any gamma (no small-gamma approximation), so for well-conditioned kernels it
  agrees with ``slogdet(exp(-gamma D))``; for small gamma the lower-right block is about
  ``2 gamma`` times the Gram matrix of ``x_i - x_0``.

  Args:
    sqdist: (N, N) squared distances (symmetric, zero diagonal).
    gamma: kernel width (traced).

  Returns:
    Scalar log|det K| in the dtype of `sqdist`; -inf when K is singular (two identical samples).
  """
  d = jnp.asarray(sqdist)
  e = jnp.expm1(-jnp.asarray(gamma, d.dtype) * d)
  top = jnp.concatenate([1 + e[:1, :1], e[:1, 1:] - e[:1, :1]], axis=1)
  rest = jnp.concatenate([e[1:, :1] - e[:1, :1], e[1:, 1:] - e[1:, :1] - e[:1, 1:] + e[:1, :1]],
                         axis=1)
  return jnp.linalg.slogdet(jnp.concatenate([top, rest], axis=0))[1]


def rbflex(apply_fn, variables, batch, key, *, gamma_k=GAMMA_K, gamma_q=GAMMA_Q, dtype=None):
  """RBFleX-NAS score: log-determinants of RBF kernels of activations and final-layer inputs.
  Higher = better.

  .. math:: S = N \\big(\\log|\\det K| + \\log|\\det Q|\\big) = \\log|\\det (K \\otimes Q)|, \\quad
     K_{ij} = e^{-\\gamma_K \\|x_i - x_j\\|^2}, \\quad Q_{ij} = e^{-\\gamma_Q \\|y_i - y_j\\|^2}

  Follows tomomasayamasaki/RBFleX-NAS @ cd3a57b ``RBFleX_NAS-Bench-201.py``: the network
  (xautodl ``TinyNetwork``, default init) in train mode without gradients; each of the N images
  (``batch_size_NE = 3`` real training images, cropped and flipped: ``data.select(...,
  augmented=True)``, the CLI's ``--augment``) forwarded alone, so BatchNorm normalises
  over that image's positions; forward hooks on every module whose type name contains "ReLU"
  collect x_i, which therefore holds the output of every ``nn.ReLU`` (head included) *and* of every
  ``ReLUConvBN`` block (the BN output of each conv op and of both convs of the ResNet blocks); a
  hook on the last module (the classifier) collects its input y_i, the pooled features. x and y
  are min-max normalised per column across the N images (``normalize``) and the score is
  ``N * (slogdet(K)[1] + slogdet(Q)[1])`` with gamma_K = 2.68690173088039e-12 and gamma_Q =
  1.02460061284506e-11 (the reference's values for NB201 and NATS-SSS; :func:`rbflex_hda` detects
  them). See :func:`rbflex_distances` for the features.

  Deliberate deviations (none changes the definition):

  * log|det| is taken with :func:`rbf_logdet` (exact row/column elimination of 11^T, E via
    ``expm1``) instead of ``slogdet(exp(-gamma D))`` on K. K's entries are 1 - O(1e-7), so the
    reference needs float64 and still loses about 1e-9 relative accuracy in the determinant; this
    form keeps full precision and makes float32 usable (the tests bound it, the direct float64
    form and float32 against 60-digit arithmetic; on C=16, N=5 NB201 networks the reference's
    float64 scores carry relative errors of 2e-10 to 3e-9 from this alone).
  * Distances are summed tensor by tensor from Gram matrices of centred rows instead of one
    ``a + b - 2c`` over the concatenated features (the same numbers up to rounding, no
    concatenation of ~1e6 features per image); a column that is constant across the images maps to
    0 (the reference: 0, or 1 when its value is 1), which adds nothing to any distance.
  * The reference stores float32 network outputs in float64; here features and kernels are in
    `dtype`.

  Implementation: the ReLU outputs come from ``capture=True`` (each activation input with the
  number of activation modules reading it, through the function its record names), the
  ``ReLUConvBN`` outputs from ``capture='outputs'`` as the records the network tags as
  ReLU-conv-BN block outputs (``Output.block``, :mod:`jaxnas.protocol`). Both captures are
  traced; XLA computes the shared forward once.

  Degenerate cells: in the 341 NB201 cells whose output ignores the input (e.g. all-``none``) the
  pooled features are identical for every image, Q is the all-ones matrix, and the reference's
  ``slogdet`` gives -inf: so does this function (score -inf, the worst).

  Args:
    apply_fn: a network declaring captured activations and module outputs (a
      :class:`jaxnas.models.Network`; the reference's is xautodl's, ``variant='xautodl'``).
    variables: the network's variables.
    batch: images (N, H, W, 3), labels unused; the reference uses N = 3.
    key: unused.
    gamma_k, gamma_q: kernel widths (traced; positive).
    dtype: dtype of features, distances and determinants (None: float64 with x64 enabled, else
      float32).

  Returns:
    Scalar; -inf for input-independent outputs or duplicate images.

  References:
    Yamasaki, Wang, Luo, Chen, Wang. RBFleX-NAS: Training-Free Neural Architecture Search Using
    Radial Basis Function Kernel and Hyperparameter Detection. IEEE TNNLS, 2025.
    https://ieeexplore.ieee.org/document/10959729
  """
  del key
  _check_gamma(gamma_k, "rbflex", "gamma_k")
  _check_gamma(gamma_q, "rbflex", "gamma_q")
  dk, dq = rbflex_distances(apply_fn, variables, batch, dtype=dtype)
  n = dk.shape[0]
  return n * (rbf_logdet(dk, gamma=gamma_k) + rbf_logdet(dq, gamma=gamma_q))


def _moments(tensors, weights, dt):
  """Per-sample mean and (population) variance over all features of the weighted tensors."""
  groups = [(t.astype(dt), w.astype(dt)) for t, w in _by_size(tensors, weights).values()]
  count = sum(jnp.sum(w) * t.shape[2] for t, w in groups)
  mean = sum(jnp.einsum("k,kn->n", w, jnp.sum(t, axis=2), precision=_HIGHEST)
             for t, w in groups) / count
  var = sum(jnp.einsum("k,kn->n", w, jnp.sum(jnp.square(t - mean[:, None]), axis=2),
                       precision=_HIGHEST) for t, w in groups) / count
  return mean, var


def hda_gamma(means, variances):
  """HDA's kernel width for one network: the smallest candidate over all sample pairs.

  .. math:: \\gamma = \\min_{i < j,\\ s_i + s_j \\ne 0} \\frac{(m_i - m_j)^2}{2 (s_i + s_j)}

  with m_i, s_i the mean and variance of sample i's feature vector (``HDA.py``). Pairs with
  s_i + s_j = 0 are skipped, as the reference does.

  Args:
    means, variances: (N,) per-sample mean and variance over features.

  Returns:
    Scalar; +inf when every pair is skipped (the reference's ``np.min`` of an empty list raises).
  """
  m = jnp.asarray(means)
  s = jnp.asarray(variances)
  if m.ndim != 1 or s.shape != m.shape:
    raise ValueError(f"hda_gamma: `means` and `variances` must both have shape (N,), got "
                     f"{m.shape} and {s.shape}.")
  i, j = np.triu_indices(m.shape[0], 1)
  den = 2 * (s[i] + s[j])
  cand = jnp.where(den != 0, jnp.square(m[i] - m[j]) / jnp.where(den != 0, den, 1), jnp.inf)
  return jnp.min(cand, initial=jnp.inf)


def rbflex_hda(apply_fn, variables, batch, key=None, *, per_image: bool = False, dtype=None):
  """RBFleX-NAS's hyperparameter detection (HDA) on one network: its (gamma_K, gamma_Q).

  For the features of :func:`rbflex_distances` taken *without* normalisation (x: every output of a
  module whose type name contains 'ReLU'; y: the classifier's input), each sample's mean m and
  variance s over its features give a candidate (m_i - m_j)^2 / (2 (s_i + s_j)) per sample pair
  (:func:`hda_gamma`); the smallest one is this network's gamma. The reference's gamma is the
  minimum over M = 10 random networks of the space, i.e. a ``jnp.min`` over networks of this
  function vmapped over their variables (and encodings, with the masked supernet):

  >>> g = jax.vmap(lambda a, v: rbflex_hda(models.with_arch(sup, a), v, batch))(archs, vs)
  ... # doctest: +SKIP
  >>> gamma_k, gamma_q = jnp.min(g.k), jnp.min(g.q)  # doctest: +SKIP

  Follows tomomasayamasaki/RBFleX-NAS @ cd3a57b ``HDA.py``: the batch of ``batch_size_NE = 3``
  images is forwarded *together* (train-mode BatchNorm over the batch), unlike the scoring pass
  (``per_image=True`` forwards each image alone instead). ``HDA.py`` as published never defines
  the batch ``x`` it forwards (``network(x[0:batch_size_NE])``: a NameError); the intent, as in
  ``RBFleX_NAS-Bench-201.py``, is one batch of the augmented training loader, which is what
  `batch` is here. The reference keeps the features in float32 and reduces them with NumPy in
  float32; here they are reduced in `dtype`.

  The minimum is set by near-degenerate networks: on NB201 (C=16, N=5, 3 CIFAR-10 images) healthy
  cells give gamma_K of 1e-5 to 4e-4, while (3, 0, 0, 0, 0, 0), whose features barely depend on
  the image, gives 5e-9; all-zero networks give +inf (skipped, as the reference skips them).

  Args:
    apply_fn, variables: the network (as :func:`rbflex`).
    batch: images (N, H, W, 3), labels unused; the reference uses N = 3.
    key: unused.
    per_image: forward every image alone (as the scoring pass) instead of the batch together.
    dtype: dtype of the reductions (None: float64 with x64 enabled, else float32).

  Returns:
    :class:`RBFleXGammas` (k, q) of scalars; +inf where every pair of samples has zero variance.
  """
  del key
  batch = check_batch(batch, needs_labels=False, name="rbflex_hda")
  dt = resolve_dtype(dtype, "rbflex_hda")
  tensors, weights, y = _features(apply_fn, variables, batch.x, per_image=per_image,
                                  name="rbflex_hda")
  gk = hda_gamma(*_moments(tensors, weights, dt))
  gq = hda_gamma(*_moments([y], [jnp.ones((), jnp.int32)], dt))
  return RBFleXGammas(gk, gq)


rbflex_proxy = Proxy(
    fn=rbflex, name="rbflex", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference=RBFLEX_REF, batch_size=3,
)
