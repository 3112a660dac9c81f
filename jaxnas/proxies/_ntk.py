"""NTK-based proxies: TE-NAS's condition number and spectrum, HNAS's trace norm and condition number.

TE-NAS (Chen et al. ICLR 2021): the kernel is built with :func:`jaxnas.ntk.empirical_ntk_fn`
(Jacobian contraction, no ``vmap_axes``: BatchNorm runs in train mode and couples the samples, as in
the reference). HNAS (Shu et al. NeurIPS 2022): the kernel of per-sample gradient contributions
(autograd-hacks' ``grad1``), read through the networks' per-sample weight offsets
(:meth:`jaxnas.models.Network.deltas`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnas import ntk
from jaxnas._tree import is_stacked, leaf_name

from jaxnas.protocol import Capability, require

from ._base import Proxy, SharedPass, check_batch, join_params, require_float64, split_params

TENAS = "VITA-Group/TENAS@9df78ff lib/procedures/ntk.py (get_ntk_n, train_mode=True)"
EIG_X64_WHY = ("condition numbers of the NTK span many orders of magnitude and float32 "
               "eigenvalues of a near-singular kernel are unreliable.")


def tenas_weight(path) -> bool:
  """TE-NAS differentiates the parameters whose PyTorch name contains 'weight': conv and linear
  weights (jaxnas leaves named 'kernel') and BatchNorm gammas ('scale'); no biases."""
  return leaf_name(path) in ("kernel", "scale")


def ntk_matrix(apply_fn, variables, batch, *, select=tenas_weight):
  r"""TE-NAS's NTK of a batch: :math:`\Theta = G G^\top`, G_i = d(sum_c f_c(X)_i)/d(theta).

  G's rows are the gradients of each sample's summed logits through the *batched* forward pass
  (train-mode BatchNorm, so rows carry the batch's cross-sample terms, as in the reference's
  per-sample ``backward`` calls), with respect to the parameters chosen by `select`
  (``select(path) -> bool`` on the params tree; default :func:`tenas_weight`).

  Returns:
    (N, N) array in the network's dtype.
  """
  batch = check_batch(batch, needs_labels=False, name="ntk_matrix")
  params, rest = split_params(variables)
  flat, treedef = jax.tree_util.tree_flatten_with_path(params)
  chosen = [i for i, (p, _) in enumerate(flat) if select(p)]
  leaves = [leaf for _, leaf in flat]

  def summed_logits(sel, x):
    full = list(leaves)
    for i, s in zip(chosen, sel):
      full[i] = s
    v = join_params(jax.tree_util.tree_unflatten(treedef, full), rest, variables)
    return jnp.sum(apply_fn(v, x, train=True), axis=-1)

  kernel_fn = ntk.empirical_ntk_fn(summed_logits, trace_axes=())
  return kernel_fn(batch.x, None, [leaves[i] for i in chosen])


def ntk_spectrum(apply_fn, variables, batch, *, select=tenas_weight, dtype=None):
  """Ascending eigenvalues of :func:`ntk_matrix`, by ``eigvalsh`` in `dtype` (None: float64)."""
  dt = require_float64(dtype, "ntk_spectrum", EIG_X64_WHY)
  return jnp.linalg.eigvalsh(ntk_matrix(apply_fn, variables, batch, select=select).astype(dt))


def ntk_cond(apply_fn, variables, batch, key, *, dtype=None):
  r"""TE-NAS NTK condition number :math:`\kappa = \lambda_{max} / \lambda_{min}`. Lower = better.

  Follows TE-NAS ``get_ntk_n`` as its NB201 search calls it: train-mode BatchNorm, one real batch
  (of xautodl's training loader, so cropped and flipped: ``data.select(..., augmented=True)``),
  the parameters named 'weight' (:func:`tenas_weight`), PyTorch default init (the search's requested
  Kaiming re-init never happens there). Per-architecture use on the xautodl NB201 network. Batch
  size 72 (TE-NAS's NB201 launcher; its paper's appendix says 32).

  Deliberate deviations: eigenvalues by ``eigvalsh`` in float64 (the reference: ``symeig`` in
  float32), and non-finite values are returned as they are (the reference maps NaN to 100000; the
  one place that ranks them worst is :func:`jaxnas.evaluate.oriented_scores`).

  Returns:
    Scalar; NaN for networks whose output does not depend on the chosen weights (the 341
    zero-output NB201 cells: Theta = 0).
  """
  del key
  ev = ntk_spectrum(apply_fn, variables, batch, dtype=dtype)
  return ev[-1] / ev[0]


def ntk_min_eig(apply_fn, variables, batch, key, *, dtype=None):
  """Smallest eigenvalue of TE-NAS's NTK (:func:`ntk_matrix`). Higher = better.

  The trainability term of TE-NAS's analysis on its own (a larger lambda_min means the slowest
  direction of gradient descent is faster). Same network, batch and parameters as :func:`ntk_cond`.

  Returns:
    Scalar; 0 for the zero-output NB201 cells.
  """
  del key
  return ntk_spectrum(apply_fn, variables, batch, dtype=dtype)[0]


def _spectrum_pass(apply_fn, variables, batch):
  return ntk_spectrum(apply_fn, variables, batch)


def _cond_from(ev, apply_fn, variables, batch, key):
  return ev[-1] / ev[0]


def _min_eig_from(ev, apply_fn, variables, batch, key):
  return ev[0]


_TENAS = dict(needs_labels=False, needs_grad=True, reference=TENAS, batch_size=72,
              network=(("variant", "xautodl"),))

# Scored together, both read one NTK and one eigendecomposition (jaxnas.proxies.evaluate).
ntk_cond_proxy = Proxy(fn=ntk_cond, name="ntk_cond", higher_is_better=False,
                       shared=SharedPass(_spectrum_pass, _cond_from), **_TENAS)
ntk_min_eig_proxy = Proxy(fn=ntk_min_eig, name="ntk_min_eig", higher_is_better=True,
                          shared=SharedPass(_spectrum_pass, _min_eig_from), **_TENAS)


# --- HNAS ----------------------------------------------------------------------------------------
HNAS = ("HNAS (Shu et al. NeurIPS 2022) foresight/pruners/measures/ntk_trace.py and condnum.py, "
        "as copied in hzf1174/RoBoT@1202f03")
DELTAS_WHY = ("per-sample gradients of every conv/linear layer, through per-sample weight offsets: "
              "`apply_fn.deltas(variables, x)`, a pytree of zeros that "
              "`apply_fn({**variables, 'deltas': deltas}, x)` adds to each layer's weights, sample "
              "by sample")


def per_sample_gradients(apply_fn, variables, batch, objective, *, train: bool = True,
                         name: str = "per_sample_gradients"):
  """Each sample's contribution to the conv/linear weight and bias gradients of `objective`.

  ``objective(logits, batch) -> scalar`` is differentiated through the *batched* forward pass
  (BatchNorm in train mode unless ``train=False``) with respect to per-sample weight offsets
  (:meth:`jaxnas.models.Network.deltas`), so row n of the result is what autograd-hacks'
  ``compute_grad1`` gives for sample n: the backprop of sample n times its layer input, summed over
  positions. With train-mode BatchNorm these rows carry cross-sample terms; in every mode they sum
  to the ordinary gradient, and in eval mode row n is the gradient of sample n's objective alone.

  Returns:
    A list of (N, D_l) arrays, one per conv/linear kernel or bias leaf (a stacked leaf's cells
    side by side in D_l).
  """
  require(apply_fn, Capability.DELTAS, proxy=name, why=DELTAS_WHY)
  zeros = apply_fn.deltas(variables, batch.x)

  def total(d):
    return objective(apply_fn({**variables, "deltas": d}, batch.x, train=train), batch)

  grads = jax.grad(total)(zeros)
  n = batch.x.shape[0]  # stacked leaves are (cells, N, ...): the sample axis comes first
  return [(jnp.moveaxis(g, 1, 0) if is_stacked(path) else g).reshape(n, -1)
          for path, g in jax.tree_util.tree_leaves_with_path(grads)]


def true_class_logit_sum(logits, batch):
  """HNAS's objective: S = sum_i f_{y_i}(X)_i, the logit of each sample's own label."""
  return jnp.sum(jnp.take_along_axis(logits, batch.y[:, None].astype(jnp.int32), axis=-1))


def hnas_gradients(apply_fn, variables, batch):
  """Per-sample gradients of HNAS's objective (:func:`true_class_logit_sum`): the shared pass."""
  batch = check_batch(batch, needs_labels=True, name="hnas_gradients")
  return per_sample_gradients(apply_fn, variables, batch, true_class_logit_sum, name="hnas_gradients")


def hnas_ntk_matrix(apply_fn, variables, batch, *, dtype=None):
  r"""HNAS's NTK :math:`\Theta = G G^\top` of per-sample gradient contributions, (N, N) in `dtype`."""
  return _gram(hnas_gradients(apply_fn, variables, batch), dtype)


def _gram(rows, dtype=None):
  dt = rows[0].dtype if dtype is None else dtype
  return sum(jnp.dot(g.astype(dt), g.astype(dt).T) for g in rows)


def ntk_trace_norm(apply_fn, variables, batch, key):
  r"""HNAS NTK trace norm :math:`\sqrt{\mathrm{tr}(\Theta) / N} = \sqrt{\mathrm{mean}_i \|g_i\|^2}`.

  Follows HNAS's ``ntk_trace.py`` (RoBoT copies it verbatim): zero-cost-nas pipeline, one real
  batch of 64 with labels, train-mode BatchNorm, PyTorch default init; objective
  :math:`S = \sum_i f_{y_i}(X)_i`; g_i is sample i's per-sample gradient contribution over every
  conv and linear weight *and bias* (autograd-hacks ``compute_grad1``, ``loss_type='sum'``;
  :func:`per_sample_gradients`); :math:`\Theta = G G^\top`. Scored on the zero-cost-nas NB201
  network, as the reference is. Higher = better in HNAS's use of it as a trainability signal.

  Deliberate deviation: the trace is summed directly (the reference sums the float32 ``symeig``
  eigenvalues of Theta, which equals the trace up to rounding).

  The public autograd-hacks (cybertronai) unfolds a conv's input without the layer's padding and
  stride, which cannot run on NB201's padded 3x3 convolutions, and asserts on the candidate ops the
  zero-cost-nas model builds but never runs; HNAS's own ``tools/autograd_hacks.py`` is not in the
  public RoBoT repository. jaxnas computes the exact per-sample contributions, i.e. autograd-hacks
  with ``unfold(..., padding=, stride=, dilation=)`` and unused layers skipped (the parameters
  without ``grad1`` that ``ntk_trace.py`` filters out). Against that, with identical weights and
  batch on five NB201 cells in float64, jaxnas and PyTorch agree to 6e-13 (trace norm) and 5e-12
  (:func:`hnas_cond`). In float32 both drift from float64 (NB201 gradients at init are
  ill-conditioned; see :mod:`jaxnas.proxies._saliency`): trace norm up to 6e-4 (jaxnas) and 4e-3
  (PyTorch), condition number up to 1e-2 on both sides.

  Returns:
    Scalar; exactly 1 for the zero-output NB201 cells, whose only non-zero per-sample gradient is
    the classifier bias's one-hot label (g_i = e_{y_i}); every other network scores more.
  """
  del key
  return _trace_norm_from(hnas_gradients(apply_fn, variables, batch), apply_fn, variables, batch, None)


def hnas_cond(apply_fn, variables, batch, key, *, dtype=None):
  r"""HNAS condition number :math:`\lambda_{max} / \lambda_{min}` of the trace norm's Theta. Lower = better.

  HNAS's ``condnum.py``: the same per-sample gradients and kernel as :func:`ntk_trace_norm`
  (weights and biases, true-class logit objective), unlike TE-NAS's :func:`ntk_cond` (rows of the
  Jacobian of summed logits, weights and BN gammas). Eigenvalues by ``eigvalsh`` in `dtype` (None:
  float64; the reference: ``symeig`` in float32); non-finite values are returned as they are (the
  reference maps NaN to 100000; ranking maps them to worst in :func:`jaxnas.evaluate.oriented_scores`).

  Returns:
    Scalar; ``inf`` when Theta is singular (lambda_min <= 0 in floating point). On the zero-output
    NB201 cells only the classifier bias moves the objective, Theta_ij = [y_i = y_j], so the value
    is 1 when the batch's labels are all distinct and ``inf`` otherwise (any batch of 64 CIFAR
    images).
  """
  del key
  return _hnas_cond_from(hnas_gradients(apply_fn, variables, batch), apply_fn, variables, batch,
                         None, dtype=dtype)


def _trace_norm_from(rows, apply_fn, variables, batch, key):
  n = rows[0].shape[0]
  return jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in rows) / n)


def _hnas_cond_from(rows, apply_fn, variables, batch, key, *, dtype=None):
  dt = require_float64(dtype, "hnas_cond", EIG_X64_WHY)
  ev = jnp.linalg.eigvalsh(_gram(rows, dt))
  # Theta is positive semi-definite: a non-positive lambda_min is a singular kernel seen through
  # rounding, whose condition number is infinite (not the sign rounding happened to give it).
  return jnp.where(ev[0] > 0, ev[-1] / ev[0], jnp.inf)


_HNAS = dict(needs_labels=True, needs_grad=True, reference=HNAS, batch_size=64,
             network=(("variant", "zero_cost_nas"),))

# Scored together, both read one pass of per-sample gradients (jaxnas.proxies.evaluate).
ntk_trace_norm_proxy = Proxy(fn=ntk_trace_norm, name="ntk_trace_norm", higher_is_better=True,
                             shared=SharedPass(hnas_gradients, _trace_norm_from), **_HNAS)
hnas_cond_proxy = Proxy(fn=hnas_cond, name="hnas_cond", higher_is_better=False,
                        shared=SharedPass(hnas_gradients, _hnas_cond_from), **_HNAS)
