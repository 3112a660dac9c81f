"""Input-Jacobian proxies: jacob_cov (Mellor et al. v1, as in zero-cost-nas) and EPE-NAS.

Both start from the same pass, the gradient of the summed logits with respect to the input batch,
and share it when scored together (:func:`jaxnas.proxies.evaluate`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._base import Proxy, SharedPass, check_batch, require_float64

CORR_X64_WHY = (
    "the score sums log(v + k) + 1/(v + k) over the eigenvalues v of a correlation matrix with "
    "k = 1e-5, so eigenvalue errors of float32's size (~1e-6 * N) change it at leading order."
)


def input_jacobians(apply_fn, variables, batch):
  """Rows of the Jacobian of the batched network: J_i = d(sum_j sum_c f_c(x)_j) / dx_i, flattened.

  With train-mode BatchNorm the batch is coupled, so row i is the gradient of the *whole batch's*
  summed output with respect to sample i (one backward of ones, as the references do), not a
  single-sample Jacobian.

  Returns:
    (N, D) array, D = prod(x.shape[1:]).
  """
  batch = check_batch(batch, needs_labels=False, name="input_jacobians")
  x = batch.x
  jac = jax.grad(lambda x: jnp.sum(apply_fn(variables, x, train=True)))(x)
  return jac.reshape(x.shape[0], -1)


def correlation(rows, *, dtype=None):
  """Pearson correlation matrix of the rows of `rows` (``np.corrcoef(rows)``), in `dtype`.

  A row with zero variance gives NaN entries (0/0), as NumPy does.
  """
  dt = require_float64(dtype, "correlation", CORR_X64_WHY)
  r = jnp.asarray(rows, dt)
  r = r - jnp.mean(r, axis=1, keepdims=True)
  cov = r @ r.T
  d = jnp.sqrt(jnp.diag(cov))
  return cov / d[:, None] / d[None, :]


def _jacob_cov_from(jac, apply_fn, variables, batch, key, *, k=1e-5, dtype=None):
  dt = require_float64(dtype, "jacob_cov", CORR_X64_WHY)
  c = correlation(jac, dtype=dt)
  # NaN entries (input-independent output) would make eigvalsh return garbage: propagate NaN.
  finite = jnp.all(jnp.isfinite(c))
  v = jnp.linalg.eigvalsh(jnp.where(finite, c, jnp.eye(c.shape[0], dtype=dt)))
  score = -jnp.sum(jnp.log(v + k) + 1.0 / (v + k))
  return jnp.where(finite, score, jnp.nan)


def jacob_cov(apply_fn, variables, batch, key, *, k: float = 1e-5, dtype=None):
  """Jacobian covariance (Mellor et al. 2020, NASWOT v1), as in zero-cost-nas. Higher = better.

  .. math:: C = \\mathrm{corr}(J), \\quad S = -\\sum_i \\left[\\log(\\lambda_i + k) +
     \\frac{1}{\\lambda_i + k}\\right]

  J holds the per-sample input gradients of the summed logits (:func:`input_jacobians`), C their
  Pearson correlation across samples and lambda its eigenvalues. Follows zero-cost-nas
  ``jacob_cov.py`` (identical to NASLib ``jacov``): batch 64, the real number of classes, train-mode
  BN, default init. The original v1 (BayesWatch tag v1.0) used batch 256 and a one-output network;
  choose those with the batch and ``network_kwargs``.

  Deliberate deviation: the reference calls the general solver ``np.linalg.eig`` on the symmetric
  C; this uses ``eigvalsh`` (same eigenvalues, real by construction).

  Args:
    k: the regulariser (traced; 1e-5 in the reference).
    dtype: dtype of the correlation and eigen-decomposition (None: float64, as the reference's NumPy
      code; raises when 64-bit JAX is off, see :func:`jaxnas.proxies._base.require_float64`).

  Returns:
    Scalar; NaN when the output does not depend on the input (e.g. the 341 zero-output NB201
    cells), as the reference's 0/0 correlations give.
  """
  del key
  jac = input_jacobians(apply_fn, variables, batch)
  return _jacob_cov_from(jac, apply_fn, variables, batch, None, k=k, dtype=dtype)


def _epe_nas_from(jac, apply_fn, variables, batch, key, *, k=1e-5, num_classes=None, dtype=None):
  dt = require_float64(dtype, "epe_nas", CORR_X64_WHY)
  batch = check_batch(batch, needs_labels=True, name="epe_nas")
  if num_classes is None:
    num_classes = jax.eval_shape(lambda v, x: apply_fn(v, x, train=True), variables, batch.x).shape[-1]
  c = correlation(jac, dtype=dt)
  labels = jnp.asarray(batch.y)
  classes = jnp.arange(max(int(num_classes), 1))
  member = (labels[None, :] == classes[:, None]).astype(dt)  # (classes, N)
  logs = jnp.log(jnp.abs(c) + k)
  per_class = jnp.einsum("ci,ij,cj->c", member, logs, member)  # sum over the class's block
  counts = jnp.sum(member, axis=1)
  if num_classes <= 100:
    # Every class present counts; a single-sample class adds |log(1 + k)| (np.corrcoef of one row is 1).
    return jnp.sum(jnp.where(counts > 0, jnp.abs(per_class), 0.0))
  seen = counts > 1  # the reference's division by len(corrs) fails for single samples: skipped
  s = jnp.where(seen, per_class / jnp.maximum(counts, 1), 0.0)
  pair = jnp.abs(s[:, None] - s[None, :]) * (seen[:, None] & seen[None, :])
  return jnp.sum(pair) / jnp.maximum(jnp.sum(seen), 1)


def epe_nas(apply_fn, variables, batch, key, *, k: float = 1e-5, num_classes=None, dtype=None):
  """EPE-NAS (Lopes et al., ICANN 2021): per-class Jacobian correlations. Higher = better.

  .. math:: s_c = \\sum_{i,j \\in c} \\log(|C_{ij}| + k), \\quad S = \\sum_c |s_c|

  C is the Pearson correlation of the input Jacobians (:func:`input_jacobians`) and the sum runs over
  pairs of samples sharing label c. With more than 100 classes (ImageNet16-120) the reference
  divides s_c by the class size and scores ``sum_{c,c'} |s_c - s_c'| / #classes``. Follows NASLib
  ``epe_nas.py`` (identical to the authors' ``search.py``; NAS-Bench-Suite-Zero uses batch 64, the
  original paper 256), train-mode BN, default init.

  Args:
    k: the regulariser (1e-5 in the reference).
    num_classes: number of label classes (None: the network's output width, as the reference).
    dtype: see :func:`jacob_cov`.

  Returns:
    Scalar; NaN when the output does not depend on the input.
  """
  del key
  check_batch(batch, needs_labels=True, name="epe_nas")
  jac = input_jacobians(apply_fn, variables, batch)
  return _epe_nas_from(jac, apply_fn, variables, batch, None, k=k, num_classes=num_classes,
                       dtype=dtype)


jacob_cov_proxy = Proxy(
    fn=jacob_cov, name="jacob_cov", higher_is_better=True, needs_labels=False, needs_grad=True,
    reference="SamsungLabs/zero-cost-nas@a43bfbc foresight/pruners/measures/jacob_cov.py",
    batch_size=64, network=(("variant", "zero_cost_nas"),),
    shared=SharedPass(input_jacobians, _jacob_cov_from),
)
epe_nas_proxy = Proxy(
    fn=epe_nas, name="epe_nas", higher_is_better=True, needs_labels=True, needs_grad=True,
    reference="automl/NASLib@0b51bc1 naslib/predictors/utils/pruners/measures/epe_nas.py",
    batch_size=64, network=(("variant", "zero_cost_nas"),),
    shared=SharedPass(input_jacobians, _epe_nas_from),
)
