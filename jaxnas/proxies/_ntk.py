"""NTK-based proxies (TE-NAS, Chen et al. ICLR 2021): the NTK condition number and its spectrum.

The kernel is built with :func:`jaxnas.ntk.empirical_ntk_fn` (Jacobian contraction, no
``vmap_axes``: BatchNorm runs in train mode and couples the samples, as in the reference).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnas import ntk
from jaxnas._tree import leaf_name

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

  Follows TE-NAS ``get_ntk_n`` as its NB201 search calls it: train-mode BatchNorm, one real batch,
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
