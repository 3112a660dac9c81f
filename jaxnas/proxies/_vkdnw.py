"""VKDNW (Tybl & Neumann, CVPR 2025, "Training-free Neural Architecture Search through Variance of
Knowledge of Deep Network Weights") and its network-size companion, the number of weight tensors.

The population-level rankings of the paper, VKDNW_single and VKDNW_agg, are
:func:`jaxnas.evaluate.vkdnw_single` and :func:`jaxnas.evaluate.vkdnw_aggregate`.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas._tree import is_stacked, key_name, leaf_name

from jaxnas.protocol import Capability, has, layout

from ._base import Proxy, check_batch, default_float, join_params, require_float64, split_params

VKDNW_REF = ("ondratybl/VKDNW@6901b65 NB201/ZeroShotProxy/compute_vkdnw_score.py "
             "(compute_nas_score, get_fisher, get_jacobian_index, cholesky_covariance); "
             "protocol of NB201/tss_general_.py @ beb332b")
DIM_REF = "ondratybl/VKDNW@6901b65 NB201/ZeroShotProxy/compute_vkdnw_score.py (info['vkdnw_dim'])"

#: The quantile levels of the reference (``torch.arange(0.1, 1., 0.1)``).
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: The reference's guard in the normalisation and in the logarithm of the entropy.
ENTROPY_EPS = 1e-10

EIG_X64_WHY = ("the quantiles of the Fisher spectrum span many orders of magnitude, and float32 "
               "eigenvalues of the small ones are mostly rounding.")

class _Slot(NamedTuple):
  """One PyTorch parameter tensor: leaf `leaf` of the params tree (slice `cell` if stacked)."""

  leaf: int
  cell: Optional[int]
  name: str
  kind: str  # the leaf's own name: 'kernel', 'bias', 'scale', ...
  shape: tuple[int, ...]  # of the tensor (without the stacking axis)
  order: tuple


def _within_module(names: list[str]) -> tuple:
  """conv before BN (ReLUConvBN = ReLU, Conv2d, BatchNorm2d); weight before bias in each."""
  sub = 1 if "bn" in names[:-1] else 0
  leaf = names[-1]
  return (sub, 0 if leaf in ("kernel", "scale") else 1 if leaf == "bias" else 2, leaf)


def param_tensors(params, rank_of=None) -> list[_Slot]:
  """The parameter tensors of `params` in the reference network's order.

  `rank_of` is the network's declared ``Layout.param_order`` (:mod:`jaxnas.protocol`; see
  :func:`reference_order`): ``rank_of(names, cell)`` ranks the module owning a leaf. For jaxnas NB201
  networks (exact or supernet) this is xautodl ``TinyNetwork.named_parameters()`` order: stem conv,
  stem BN weight and bias, then cell by cell (each cell edge by edge, in the arch-string order of
  ``InferCell.layers``; conv weight, BN weight, BN bias), the ResNet blocks (conv_a, conv_b,
  downsample) in place, the last BN, the classifier weight and bias. Within a module PyTorch's
  order: the conv before its BN, weight before bias. A stacked leaf (``nn.scan``-ned cells) is one
  tensor per cell. Leaves `rank_of` does not rank (all of them without it) come after, module
  by module in ``jax.tree_util`` order.
  """
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  first_of_module: dict = {}
  slots = []
  for i, (path, leaf) in enumerate(flat):
    names = [key_name(p) for p in path]
    parent = tuple(names[:-1])
    first_of_module.setdefault(parent, i)
    shape = tuple(np.shape(leaf))
    cells = [None] if not is_stacked(path) else list(range(shape[0]))
    for c in cells:
      rank = rank_of(tuple(names), c) if (names and rank_of is not None) else None
      within = _within_module(names)
      order = ((0,) + rank + within) if rank is not None else (1, first_of_module[parent]) + within
      slots.append(_Slot(i, c, jax.tree_util.keystr(path) + ("" if c is None else f"[{c}]"),
                         leaf_name(path), shape[1:] if c is not None else shape, order))
  return sorted(slots, key=lambda s: s.order)


def linspace_indices(n: int, k: int) -> np.ndarray:
  """``torch.linspace(0, n - 1, steps=k).long()`` (float32, as PyTorch computes it)."""
  if k == 1:
    return np.zeros(1, np.int64)
  i = np.arange(k)
  end = np.float32(n - 1)
  step = np.float32(end / np.float32(k - 1))
  fwd = np.float32(0) + step * i.astype(np.float32)
  bwd = end - step * (k - 1 - i).astype(np.float32)
  return np.where(i < k // 2, fwd, bwd).astype(np.float32).astype(np.int64)


def _torch_layout_index(shape: tuple[int, ...], kind: str, flat: np.ndarray) -> tuple:
  """Indices into a jaxnas leaf of the elements at PyTorch flat positions `flat`: conv kernels are
  HWIO here and OIHW in PyTorch, dense kernels (in, out) here and (out, in) there."""
  if kind == "kernel" and len(shape) == 4:
    h, w, i, o = shape
    oo, ii, hh, ww = np.unravel_index(flat, (o, i, h, w))
    return hh, ww, ii, oo
  if kind == "kernel" and len(shape) == 2:
    i, o = shape
    oo, ii = np.unravel_index(flat, (o, i))
    return ii, oo
  return np.unravel_index(flat, shape)


def reference_order(apply_fn):
  """The network's declared parameter order (``Layout.param_order``), or None when it declares
  none (then parameters are taken in tree order)."""
  if not has(apply_fn, Capability.PARAM_ORDER):
    return None
  return layout(apply_fn, proxy="vkdnw").param_order


def _active_flags(apply_fn, variables, slots):
  """(S,) bool: whether the architecture uses each tensor (all True for networks that do not
  declare active-parameter masks, e.g. exact networks)."""
  if not has(apply_fn, Capability.ACTIVE):
    return jnp.ones((len(slots),), bool)
  act, _ = split_params(apply_fn.active(variables))
  leaves = [jnp.asarray(a, bool) for a in jax.tree.leaves(act)]
  return jnp.stack([leaves[s.leaf] for s in slots])


def _check_knobs(name, num_tensors, weights_per_tensor, quantiles, samples_per_step):
  errors = []
  if not isinstance(num_tensors, (int, np.integer)) or isinstance(num_tensors, bool):
    raise TypeError(f"{name}: `num_tensors` must be an int (the reference's params_grad_len), got "
                    f"{type(num_tensors).__name__}.")
  if not isinstance(weights_per_tensor, (int, np.integer)) or isinstance(weights_per_tensor, bool):
    raise TypeError(f"{name}: `weights_per_tensor` must be an int (the reference's p), got "
                    f"{type(weights_per_tensor).__name__}.")
  if num_tensors < 1:
    errors.append(f"`num_tensors` must be >= 1 (the reference uses 128), got {num_tensors}")
  if weights_per_tensor < 1:
    errors.append(f"`weights_per_tensor` must be >= 1 (the paper's runs use 1: the first weight of "
                  f"every tensor), got {weights_per_tensor}")
  if samples_per_step is not None and (
      not isinstance(samples_per_step, (int, np.integer)) or isinstance(samples_per_step, bool)
      or samples_per_step < 1):
    errors.append(f"`samples_per_step` must be None or an int >= 1, got {samples_per_step!r}")
  q = np.asarray(quantiles, np.float64)
  if q.ndim != 1 or q.size == 0 or not np.all((q >= 0) & (q <= 1)):
    errors.append(f"`quantiles` must be a non-empty sequence of levels in [0, 1], got "
                  f"{quantiles!r}")
  if errors:
    raise ValueError(f"{name}: " + "; ".join(errors) + ".")


def vkdnw_fisher(apply_fn, variables, batch, *, num_tensors: int = 128, weights_per_tensor: int = 1,
                 alpha=0.05, smoothing_dtype=jnp.float16, dtype=None,
                 samples_per_step: Optional[int] = 8):
  r"""The reference's Fisher matrix of the chosen weights, and which of its rows are chosen.

  .. math:: F = \frac{1}{N} \sum_n (L_n J_n)^\top (L_n J_n)

  J_n (K x P) is the Jacobian of sample n's logits with respect to P chosen weights (eval-mode
  BatchNorm, one sample at a time); L_n (K x K) is the reference's lower-triangular factor of the
  multinomial covariance :math:`\mathrm{diag}(p) - p p^\top` (Tanabe & Sagae 1992, Theorem 1) of
  the smoothed softmax :math:`p = (1 - \alpha)\,\mathrm{softmax}(f(x_n)) + \alpha / K` (the two
  coefficients formed in `smoothing_dtype`, see :func:`multinomial_cholesky`), with
  :math:`L_{ij} = -p_i d_j / q_j` (i > j), :math:`L_{jj} = d_j`,
  :math:`q_j = 1 - \sum_{i \le j} p_i`, :math:`d_j = \sqrt{p_j q_j / q_{j-1}}` (:math:`q_{-1} = 1`,
  :math:`q_{K-1} = 0`).

  Note the order: the reference multiplies J by L, so F uses :math:`L^\top L`, not the covariance
  :math:`L L^\top` of the textbook Fisher :math:`J^\top (\mathrm{diag}(p) - p p^\top) J`. This is
  kept (it is the reference's score).

  The chosen weights are ``weights_per_tensor`` elements (``torch.linspace`` positions in PyTorch
  layout) of each of the first ``num_tensors`` parameter tensors the architecture uses, in the
  reference network's order (:func:`param_tensors`). Rows and columns of the P_all candidate weights
  that are not chosen (tensors beyond ``num_tensors``; a supernet's unselected ops) are zero, so
  one program serves every architecture of a supernet.

  Arguments as :func:`vkdnw`.

  Returns:
    (F, chosen): (P_all, P_all) array in `dtype` (None: float64) and a (P_all,) bool mask.
  """
  batch = check_batch(batch, needs_labels=False, name="vkdnw")
  _check_knobs("vkdnw", num_tensors, weights_per_tensor, QUANTILES, samples_per_step)
  dt = require_float64(dtype, "vkdnw", EIG_X64_WHY)
  params, rest = split_params(variables)
  leaves, treedef = jax.tree.flatten(params)
  slots = param_tensors(params, reference_order(apply_fn))
  if not slots:
    raise ValueError("vkdnw: `variables` holds no parameters.")
  small = [f"{s.name} ({int(np.prod(s.shape))})" for s in slots
           if int(np.prod(s.shape)) < weights_per_tensor]
  if small:
    raise ValueError(f"vkdnw: `weights_per_tensor`={weights_per_tensor} exceeds the size of "
                     f"parameter tensors {', '.join(small[:4])}{' ...' if len(small) > 4 else ''}; "
                     "the reference would pick duplicated weights there. Use a smaller value.")
  k = weights_per_tensor
  # Static gather/scatter positions of every candidate weight, grouped by leaf.
  by_leaf: dict[int, tuple[list, list]] = {}
  for j, s in enumerate(slots):
    flat_idx = linspace_indices(int(np.prod(s.shape)), k)
    idx = _torch_layout_index(s.shape, s.kind, flat_idx)
    if s.cell is not None:
      idx = (np.full(k, s.cell),) + tuple(idx)
    cols, pos = by_leaf.setdefault(s.leaf, ([], []))
    cols.append(np.arange(j * k, (j + 1) * k))
    pos.append(np.stack(idx))
  groups = [(i, np.concatenate(c), tuple(np.concatenate(p, axis=1)))
            for i, (c, p) in by_leaf.items()]
  n_all = len(slots) * k
  # The chosen weights enter as offsets theta (at 0): d logits / d theta = d logits / d weights.
  theta0 = jnp.zeros((n_all,), jnp.result_type(*leaves))

  def logits_of(theta, x1):
    new = list(leaves)
    for i, cols, idx in groups:
      new[i] = new[i].at[idx].add(theta[cols].astype(new[i].dtype))
    v = join_params(jax.tree.unflatten(treedef, new), rest, variables)
    out = apply_fn(v, x1[None], train=False)[0]
    return out, out

  # Per-sample Jacobians (the reference's vmap(jacrev)), `samples_per_step` samples at a time: each
  # sample's K vector-Jacobian products hold a full weight cotangent before the chosen weights are
  # read off, so vmapping the whole batch needs N K times the parameters in memory.
  per_sample = lambda x1: jax.jacrev(logits_of, has_aux=True)(theta0, x1)
  if samples_per_step is None:
    jac, logits = jax.vmap(per_sample)(batch.x)
  else:
    jac, logits = jax.lax.map(per_sample, batch.x, batch_size=samples_per_step)
  act = _active_flags(apply_fn, variables, slots)
  chosen_tensor = act & (jnp.cumsum(act) <= num_tensors)
  chosen = jnp.repeat(chosen_tensor, k)
  jac = jnp.where(chosen, jac.astype(dt), 0)
  lmat = multinomial_cholesky(logits.astype(dt), alpha=alpha, smoothing_dtype=smoothing_dtype)
  a = jnp.einsum("nij,njp->nip", lmat, jac)
  fisher = jnp.einsum("nkp,nkq->pq", a, a) / a.shape[0]
  return fisher, chosen


def multinomial_cholesky(logits, *, alpha=0.05, smoothing_dtype=jnp.float16):
  r"""The reference's lower-triangular factor L of :math:`\mathrm{diag}(p) - p p^\top` per row of
  `logits` (N, K), for the smoothed softmax p (see :func:`vkdnw_fisher`). Returns (N, K, K).

  The coefficients :math:`1 - \alpha` and :math:`\alpha / K` are formed in `smoothing_dtype`
  (float16, as the reference's ``torch.tensor(0.05, dtype=torch.float16)`` forms them: 0.9501953125
  and 0.00499725341796875 for K = 10, so p sums to 1.00017), or exactly when it is None.
  """
  kk = logits.shape[-1]
  if smoothing_dtype is None:
    scale, shift = 1 - alpha, alpha / kk
  else:
    a = jnp.asarray(alpha, smoothing_dtype)
    scale = (jnp.ones((), smoothing_dtype) - a).astype(logits.dtype)
    shift = (a / jnp.asarray(kk, smoothing_dtype)).astype(logits.dtype)
  p = jax.nn.softmax(logits, axis=-1) * scale + shift
  q = (1 - jnp.cumsum(p, axis=-1)).at[..., -1].set(0)
  q_prev = jnp.concatenate([jnp.ones_like(q[..., :1]), q[..., :-1]], axis=-1)
  d = jnp.sqrt(p * q / q_prev)
  below = np.tril(np.ones((kk, kk), bool), -1)
  q_safe = jnp.where(np.arange(kk) == kk - 1, 1, q)  # column K-1 has no entries below the diagonal
  off = -p[..., :, None] / q_safe[..., None, :]
  lmat = jnp.where(below, off, np.eye(kk, dtype=bool).astype(logits.dtype))
  return lmat * d[..., None, :]


def quantile_entropy(values, count, *, quantiles=QUANTILES):
  r"""Entropy of the normalised quantiles of the last `count` entries of sorted `values`.

  ``torch.quantile`` (linear interpolation, position q (count - 1)) of the `count` largest entries
  of the ascending array `values`; with :math:`t = Q / (\sum_i |Q_i| + 10^{-10})`,
  :math:`H = -\sum_i t_i \log(t_i + 10^{-10})`. `count` may be traced.
  """
  n = values.shape[-1]
  dt = values.dtype
  pos = jnp.asarray(quantiles, dt) * (jnp.asarray(count, dt) - 1)
  lo = jnp.floor(pos)
  w = pos - lo
  base = n - jnp.asarray(count, jnp.int32)
  v_lo = values[base + lo.astype(jnp.int32)]
  v_hi = values[base + jnp.ceil(pos).astype(jnp.int32)]
  # torch.lerp's two-sided formula.
  qv = jnp.where(w < 0.5, v_lo + w * (v_hi - v_lo), v_hi - (v_hi - v_lo) * (1 - w))
  t = qv / (jnp.sum(jnp.abs(qv)) + ENTROPY_EPS)
  return jnp.sum(-t * jnp.log(t + ENTROPY_EPS))  # (-t) first: all-zero quantiles give +0.0


def vkdnw(apply_fn, variables, batch, key, *, num_tensors: int = 128, weights_per_tensor: int = 1,
          alpha=0.05, smoothing_dtype=jnp.float16, quantiles=QUANTILES, dtype=None,
          samples_per_step: Optional[int] = 8):
  r"""VKDNW: the entropy of the quantiles of the Fisher information spectrum of the network's
  weights at initialisation. Higher = better.

  .. math:: S = -\sum_{i=1}^{9} t_i \log(t_i + 10^{-10}), \quad
     t = \frac{Q}{\sum_i |Q_i| + 10^{-10}}, \quad
     Q_i = \mathrm{quantile}_{0.1 i}\big(|\lambda(F)|\big)

  with F the reference's Fisher matrix of the chosen weights (:func:`vkdnw_fisher`: per-sample
  Jacobians of the logits, the smoothed-softmax covariance factor, mean over the batch) and
  :math:`|\lambda|` its singular values (= absolute eigenvalues).

  Follows ondratybl/VKDNW @ 6901b65 ``NB201/ZeroShotProxy/compute_vkdnw_score.py``
  (``compute_nas_score`` -> ``info['vkdnw_entropy']``) as ``NB201/tss_general_.py`` (@ beb332b,
  deleted in 2b67433) runs it for the paper: xautodl ``TinyNetwork`` C=16, N=5 (the default
  network), re-initialised ``kaiming_normal_(mode='fan_in')`` with zero biases and BN 1/0
  (``Network.init(key, init='kaiming_normal')``); BatchNorm in *eval* mode (``get_fisher`` calls
  ``model.eval()``) with the fresh running statistics (mean 0, variance 1: pass freshly initialised
  variables; they are read, never updated); x = ``torch.randn(64, 3, 32, 32)`` (a batch of 64
  standard-normal images; the batch-size and real-vs-random ablations of the paper change little);
  the first weight of each of the first 128 parameter tensors (the paper's runs, 779a3a8's
  ``param_idx=0``; at HEAD this is ``p=1``); alpha = 0.05; quantiles 0.1, ..., 0.9.
  ``len(named_parameters())``, which the paper ranks first (VKDNW_single), is
  :func:`num_param_tensors`.

  Deliberate deviations:

  * HEAD's default ``p=0`` selects no weights (``torch.linspace(..., steps=0)``) and cannot run;
    ``weights_per_tensor`` defaults to 1, which reproduces the paper's runs.
  * Eigenvalues by ``eigvalsh`` of the symmetric F (the reference: ``torch.svd``; their absolute
    values are the singular values), in float64 by default (the reference: float32). A
    non-finite F gives NaN (the reference's SVD raises on it, and it then reports 0).
  * ``params_grad_len <= 0`` (a fraction of the tensors) is not offered.

  Kept on purpose: ``1 - alpha`` and ``alpha / K`` are formed in float16 as in the reference
  (``smoothing_dtype``; p then sums to 1.00017 for K = 10; exact coefficients,
  ``smoothing_dtype=None``, change the score by ~2e-3 relative on NB201 cells), and F is built with
  :math:`L^\top L` where the textbook Fisher has :math:`L L^\top` (:func:`vkdnw_fisher`).

  Precision: the Fisher spectrum of an NB201 network at init spans ~35 decades (e.g. 1e-27 to
  3e8), and the 0.1-0.4 quantiles lie below float32's rounding floor (~1e-7 lambda_max). In float32
  (``dtype=jnp.float32``, the reference's precision) they are rounding noise: the reference's own
  float32 score moves by up to 1.6% when only its ``torch.svd`` is replaced by ``eigvalsh`` of the
  same matrix, and this function's float32 score differs from it by 1e-4 to 2e-2 (C=16, N=5,
  five cells). F is a Gram matrix of the Jacobian, so a float32 network with the default float64 F
  and eigenvalues reproduces the float64 reference to <= 4e-5 on those cells (float64 throughout:
  <= 2e-11); that is the recommended setting.

  Supernets: the first ``num_tensors`` tensors *the architecture uses* are chosen
  (:meth:`jaxnas.models.Network.active`), so a masked supernet bound to an architecture gives the
  exact network's value.

  Zero-output NB201 cells (the output ignores the input, e.g. (0,0,0,0,0,0) or (3,0,0,0,0,0)):
  only the classifier bias moves the logits, so F has at most one non-zero eigenvalue among at
  least 21, every quantile is 0 and the score is exactly 0, the lowest possible value (the
  reference's math). The reference's ``torch.svd`` returns rounding-level singular values for the
  zero block of some of these matrices (PyTorch 2.13 CPU: 1e-17 in float64, ~1e-9 in float32 for
  (3,0,0,0,0,0) at C=16, N=5), which its 1e-10 guards turn into 1.4e-5 (float64) or 2.195 (float32,
  near the maximum log 9); exact zeros here. NaN/inf (a network whose logits overflow) are
  returned as they are.

  Args:
    apply_fn: ``apply_fn(variables, x, train=False)`` -> logits (a :class:`jaxnas.models.Network`
      for supernets).
    variables: the network's variables (with BatchNorm running statistics).
    batch: images (N, H, W, 3); labels unused. Reference: N = 64 standard-normal images.
    key: unused.
    num_tensors: how many parameter tensors (static; reference ``params_grad_len`` = 128).
    weights_per_tensor: weights taken from each tensor (static; reference ``p``, 1 in the paper).
    alpha: softmax smoothing (traced).
    smoothing_dtype: dtype in which ``1 - alpha`` and ``alpha / K`` are formed (static; float16 as
      in the reference, None: exact).
    quantiles: the quantile levels (static).
    dtype: dtype of F, its eigenvalues and the entropy (None: float64; raises when 64-bit JAX is
      off, see :func:`jaxnas.proxies._base.require_float64`). The Jacobian is taken in the
      network's dtype.
    samples_per_step: per-sample Jacobians computed this many samples at a time (static; memory
      grows with samples_per_step x K x the network's parameter count; None: the whole batch at
      once). Does not change the value. 1 is fastest on XLA:CPU, where vmapped per-sample weight
      gradients become grouped convolutions.

  Returns:
    Scalar in [0, log(len(quantiles))].

  References:
    Tybl & Neumann, "Training-free Neural Architecture Search through Variance of Knowledge of
    Deep Network Weights", CVPR 2025. https://github.com/ondratybl/VKDNW
  """
  del key
  _check_knobs("vkdnw", num_tensors, weights_per_tensor, quantiles, samples_per_step)
  fisher, chosen = vkdnw_fisher(apply_fn, variables, batch, num_tensors=num_tensors,
                                weights_per_tensor=weights_per_tensor, alpha=alpha,
                                smoothing_dtype=smoothing_dtype, dtype=dtype,
                                samples_per_step=samples_per_step)
  return spectrum_entropy(fisher, chosen, quantiles=quantiles)


def spectrum_entropy(fisher, chosen, *, quantiles=QUANTILES):
  """:func:`quantile_entropy` of the absolute eigenvalues of the chosen block of `fisher` (the
  rows and columns where `chosen`; the others must be zero), as :func:`vkdnw` takes it."""
  n_all = fisher.shape[0]
  m = jnp.sum(chosen)
  # Unchosen rows/columns are exactly zero: a negative sentinel below every |eigenvalue| keeps
  # their eigenvalues apart from the chosen block's, which then occupy the top m sorted entries.
  sentinel = -(1 + jnp.trace(fisher))
  ev = jnp.linalg.eigvalsh(fisher + jnp.diag(jnp.where(chosen, 0, sentinel)))
  values = jnp.sort(jnp.where(jnp.arange(n_all) < n_all - m, -1, jnp.abs(ev)))
  return quantile_entropy(values, m, quantiles=quantiles)


def num_param_tensors(apply_fn, variables, batch, key):
  """Number of parameter tensors the architecture uses (PyTorch ``len(named_parameters())``).
  Higher = better (the paper's network size, the first key of VKDNW_single).

  Every conv and linear weight and bias and every BatchNorm weight and bias counts once (a stacked
  leaf once per cell); on NB201 (C=16, N=5) this is 21 + 45 x (number of conv edges), 21..291.
  Masked supernets count the tensors of the chosen ops (:meth:`jaxnas.models.Network.active`).
  Reference: VKDNW's ``info['vkdnw_dim']``.

  Returns:
    Scalar float (the default float dtype).
  """
  del batch, key
  params, _ = split_params(variables)
  slots = param_tensors(params, reference_order(apply_fn))
  return jnp.sum(_active_flags(apply_fn, variables, slots)).astype(default_float())


vkdnw_proxy = Proxy(
    fn=vkdnw, name="vkdnw", higher_is_better=True, needs_labels=False, needs_grad=True,
    reference=VKDNW_REF, batch_size=64, network=(("variant", "xautodl"),), init="kaiming_normal",
)
vkdnw_dim_proxy = Proxy(
    fn=num_param_tensors, name="vkdnw_dim", higher_is_better=True, needs_labels=False,
    needs_grad=False, reference=DIM_REF, network=(("variant", "xautodl"),), init="kaiming_normal",
)
