"""Pruning-at-initialisation proxies: grad_norm, snip, grasp, fisher, plain, and l2_norm.

All follow zero-cost-nas (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021;
SamsungLabs/zero-cost-nas @ a43bfbc, ``foresight/pruners/measures/``), which NASLib and
NAS-Bench-Suite-Zero copy: one batch with its labels, mean cross-entropy, BatchNorm in train mode,
saliencies of conv/linear *weights* only (the leaves named ``kernel``; no biases, no BN), and the
network score is the plain sum of the per-weight (or per-layer) saliencies.

grad_norm, snip, plain, fisher and grasp start from the same forward and backward pass of the
loss; scored together (:func:`jaxnas.proxies.evaluate`, the population engine) they share it.

Precision. At initialisation the float32 loss gradient of an NB201 network with many convolutions
is ill-conditioned: on the all-3x3 cell (batch 64) every conv layer's float32 gradient is 0.6-1.4%
(PyTorch 2.13, CPU) or about 2% (jaxnas, XLA:CPU) away from the float64 gradient, while the logits
agree to 1e-5. The summed scores inherit part of that: against a float64 reference, PyTorch's own
float32 scores are off by up to 7e-5 (grad_norm), 3e-4 (snip), 6e-4 (fisher), 3e-3 (grasp) and 2e-2
(plain) on such cells, jaxnas's by up to 2e-3, 2e-3, 1e-3, 2e-2 and 2e-2. In float64 (float64
variables and images) jaxnas and zero-cost-nas agree to 1e-12 or better. Rankings are unaffected at
this level; pass float64 inputs when scores must be reproducible to many digits. GraSP can be far
worse: on the first three cells of ``random:200:0`` (one init each, batch 64), jaxnas's float32
GraSP is 0.5%, 38% (67.1 against 108.1) and 0.3% away from float64, where its two
Hessian-vector-product orders agree to 1e-12 (the reference's float32 was not measured there).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnas._tree import is_stacked

from jaxnas.protocol import Capability, has, require

from ._base import Proxy, SharedPass, check_batch, is_kernel, join_params, split_params

ZERO_COST_NAS = "SamsungLabs/zero-cost-nas@a43bfbc foresight/pruners/measures/"

GATES_WHY = ("the output of every conv/linear layer and its gradient, through per-sample output "
             "gates: `apply_fn.gates(variables, x)`, a pytree of ones that "
             "`apply_fn({**variables, 'gates': gates}, x)` multiplies into each layer's output, "
             "each gate at the path of its layer's 'kernel'")


def cross_entropy(logits, labels):
  """Mean softmax cross-entropy of integer `labels` (``F.cross_entropy``, mean reduction)."""
  logp = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.mean(jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1))


class LossGradients(NamedTuple):
  """What one forward and backward pass of the loss yields (the shared pass of this family).

  Attributes:
    params: the parameters the gradient was taken at.
    grads: dL/dparams, a tree like `params`.
    gate_grads: dL/dgate for every conv/linear output gate (``sum_{h,w} z * dL/dz`` per sample and
      channel), or None when gates were not requested.
    hessian_grads: H g as a tree like `params` (zero off the conv/linear kernels): H the Hessian of
      L with respect to the conv/linear kernels (other parameters fixed), g the kernels' gradient
      (GraSP's product), or None when not requested.
  """

  params: Any
  grads: Any
  gate_grads: Any = None
  hessian_grads: Any = None


def loss_gradients(apply_fn, variables, batch, *, gates: bool = False,
                   hessian: bool = False) -> LossGradients:
  """One forward and backward pass of the mean cross-entropy at `variables` (train-mode BN).

  Args:
    apply_fn: ``apply_fn(variables, x, train=True)`` -> logits.
    variables: the network's variables (``{'params': ..., ...}`` or a bare params tree).
    batch: ``Batch(x, y)`` with integer labels.
    gates: also differentiate with respect to per-sample output gates (for fisher).
    hessian: also the Hessian-vector product H g of GraSP (``hessian_grads``). The gradient pass
      is then linearised (``jax.linearize`` of ``grad L``: the gradient is its primal output and
      H g its tangent along g, so the forward and backward pass are not run twice); reverse over
      reverse when the network does not declare ``Capability.JVP`` (``custom_vjp`` layers).
  """
  batch = check_batch(batch, needs_labels=True, name="loss_gradients")
  params, rest = split_params(variables)
  gate_ones = None
  if gates:
    require(apply_fn, Capability.GATES, proxy="fisher", why=GATES_WHY)
    gate_ones = apply_fn.gates(variables, batch.x)

  def loss(p, g):
    v = join_params(p, rest, variables)
    if g is not None:
      v = {**v, "gates": g}
    return cross_entropy(apply_fn(v, batch.x, train=True), batch.y)

  grad = jax.grad(loss, argnums=(0, 1))
  if not hessian:
    return LossGradients(params, *grad(params, gate_ones))
  along = lambda gp: jax.lax.stop_gradient(_only_kernels(gp))
  if has(apply_fn, Capability.JVP):  # H g: the tangent of the linearised gradient
    (gp, gg), hvp = jax.linearize(grad, params, gate_ones)
    hg = hvp(along(gp), jax.tree.map(jnp.zeros_like, gate_ones))[0]
  else:  # H g = d/dtheta <g, dL/dtheta>: reverse over reverse
    gp, gg = grad(params, gate_ones)
    g = along(gp)
    hg = jax.grad(lambda p: _tree_vdot(g, grad(p, gate_ones)[0]))(params)
  return LossGradients(params, gp, gg, _only_kernels(hg))


def _only_kernels(tree):
  """`tree` with its non-kernel leaves zeroed (H and g restricted to the conv/linear kernels)."""
  return jax.tree_util.tree_map_with_path(lambda p, v: v if is_kernel(p) else jnp.zeros_like(v),
                                          tree)


def _tree_vdot(a, b):
  return _sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _kernels(tree):
  """[(path, leaf)] of the conv/linear weights of a params tree."""
  return [(p, l) for p, l in jax.tree_util.tree_leaves_with_path(tree) if is_kernel(p)]


def _sum(values):
  return sum(values, jnp.zeros((), jnp.float32))


def _layer_norms(path, leaf):
  """Frobenius norm of each layer in `leaf` (one per slice of a stacked leaf, summed)."""
  if is_stacked(path):
    return jnp.sum(jnp.sqrt(jnp.sum(jnp.square(leaf), axis=tuple(range(1, leaf.ndim)))))
  return jnp.sqrt(jnp.sum(jnp.square(leaf)))


def _check(result, name):
  if not isinstance(result, LossGradients):
    raise TypeError(f"{name}: expected the LossGradients of loss_gradients, got {type(result).__name__}.")


# --- reductions of the shared pass --------------------------------------------------------------
def _grad_norm_from(result, apply_fn, variables, batch, key):
  _check(result, "grad_norm")
  return _sum(_layer_norms(p, g) for p, g in _kernels(result.grads))


def _snip_from(result, apply_fn, variables, batch, key):
  _check(result, "snip")
  grads = dict(_kernels(result.grads))
  return _sum(jnp.sum(jnp.abs(w * grads[p])) for p, w in _kernels(result.params))


def _plain_from(result, apply_fn, variables, batch, key):
  _check(result, "plain")
  grads = dict(_kernels(result.grads))
  return _sum(jnp.sum(w * grads[p]) for p, w in _kernels(result.params))


def _fisher_from(result, apply_fn, variables, batch, key):
  _check(result, "fisher")
  if result.gate_grads is None:
    raise ValueError("fisher: the gradient pass was run without gates (loss_gradients(gates=True)).")
  kernels = {tuple(map(str, p[:-1])): w for p, w in _kernels(result.params)}
  total = []
  for path, s in jax.tree_util.tree_leaves_with_path(result.gate_grads):
    w = kernels.get(tuple(map(str, path[:-1])))
    if w is None:
      raise ValueError(f"fisher: gate {jax.tree_util.keystr(path)} has no kernel beside it.")
    lead = 1 if is_stacked(path) else 0
    fan_in = math.prod(w.shape[lead:-1])  # conv HWIO: k*k*C_in; dense (in, out): in
    per_channel = 0.5 * jnp.mean(jnp.square(s), axis=lead)  # mean over the batch axis
    total.append(fan_in * jnp.sum(jnp.abs(per_channel)))
  return _sum(total)


def _grasp_from(result, apply_fn, variables, batch, key):
  _check(result, "grasp")
  if result.hessian_grads is None:
    raise ValueError("grasp: the LossGradients carry no Hessian-vector product; compute them with "
                     "loss_gradients(..., hessian=True).")
  return _sum(jnp.sum(-w * h) for (_, w), (_, h) in zip(_kernels(result.params),
                                                       _kernels(result.hessian_grads)))


# --- the proxies -----------------------------------------------------------------------------------
def grad_norm(apply_fn, variables, batch, key):
  """Gradient norm: sum over conv/linear layers of ||dL/dW||_F. Higher = better.

  .. math:: S = \\sum_{l} \\lVert \\partial L / \\partial W_l \\rVert_F

  Follows zero-cost-nas ``grad_norm.py`` (identical in NASLib): one forward/backward of the mean
  cross-entropy on a labelled batch (reference batch 64) with train-mode BatchNorm; the sum of
  per-layer norms, not the norm of the concatenated gradient. Stacked cells count as separate
  layers. Reference network: zero-cost-nas's NB201 model (``Proxy.network``).

  Args:
    apply_fn: ``apply_fn(variables, x, train=True)`` -> logits.
    variables: the network's variables.
    batch: ``Batch(x, y)``, y integer labels.
    key: unused (deterministic given weights and batch).

  Returns:
    Scalar, >= 0.
  """
  del key
  return _grad_norm_from(loss_gradients(apply_fn, variables, batch), apply_fn, variables, batch, None)


def snip(apply_fn, variables, batch, key):
  """SNIP (Lee et al., ICLR 2019): sum over conv/linear weights of |W * dL/dW|. Higher = better.

  .. math:: S = \\sum_{w \\in W} |w \\, \\partial L / \\partial w|

  Follows zero-cost-nas ``snip.py``: the gradient with respect to a multiplicative mask at 1, which
  equals ``W * dL/dW``; mean cross-entropy, train-mode BN, reference batch 64.
  """
  del key
  return _snip_from(loss_gradients(apply_fn, variables, batch), apply_fn, variables, batch, None)


def plain(apply_fn, variables, batch, key):
  """Plain saliency: sum over conv/linear weights of W * dL/dW (signed). Higher = better.

  Follows zero-cost-nas / NASLib ``plain.py`` (mean cross-entropy, train-mode BN, batch 64).
  NAS-Bench-Suite-Zero reports it anti-correlated with accuracy on NB201 (rho about -0.26); the
  direction here is the reference's, the ranking code does not flip it.
  """
  del key
  return _plain_from(loss_gradients(apply_fn, variables, batch), apply_fn, variables, batch, None)


def fisher(apply_fn, variables, batch, key):
  """Fisher (Theis et al. 2018; Turner et al. 2020), channel-level, as in zero-cost-nas. Higher = better.

  .. math:: s_{n,c} = \\sum_{h,w} z_{n,c,h,w} \\, \\partial L / \\partial z_{n,c,h,w}, \\quad
     F_{l,c} = \\tfrac12 \\, \\mathrm{mean}_n \\, s_{n,c}^2, \\quad
     S = \\sum_l \\sum_c |F_{l,c}| \\cdot \\mathrm{fan\\_in}_l

  z is each conv/linear layer's output (after its bias, before BN), from one forward/backward of the
  mean cross-entropy with train-mode BN (reference batch 64). zero-cost-nas broadcasts each channel's
  value to the shape of that channel's weights before summing, which weights it by the layer's
  fan-in (C_in * k * k); that weighting is reproduced. Layers that do not run (unselected supernet
  ops) contribute 0, as their ``fisher`` stays None in the reference.

  `apply_fn` must provide per-sample output gates (``apply_fn.gates``; jaxnas networks do), through
  which ``s`` is the gradient with respect to a gate of ones.
  """
  del key
  result = loss_gradients(apply_fn, variables, batch, gates=True)
  return _fisher_from(result, apply_fn, variables, batch, None)


def grasp(apply_fn, variables, batch, key):
  """GraSP (Wang et al., ICLR 2020) as in zero-cost-nas: sum over conv/linear weights of -W * (H g).

  .. math:: g = \\partial L / \\partial W, \\quad S = \\sum_{w \\in W} -w \\, (H g)_w

  H is the Hessian of the mean cross-entropy with respect to the conv/linear weights (other
  parameters fixed), g the (constant) gradient from the same batch, temperature 1, one iteration,
  train-mode BN, reference batch 64. The minus sign is zero-cost-nas's (added so that the score
  correlates positively). Higher = better.

  The Hessian-vector product is forward over reverse: ``jax.linearize`` of ``grad L`` gives g as
  its primal output and H g as its tangent along g, one forward and backward pass plus their
  tangents (the reference runs the forward and backward pass twice, then differentiates the
  second). It is reverse over reverse (``grad`` of ``<g, grad L>``, as the reference) when
  the network does not declare ``Capability.JVP`` (a network with ``custom_vjp`` layers; every
  jaxnas network declares it, and a plain function is taken to support it); both are exact. The costliest of the classic proxies, as in the
  reference; scored with grad_norm, snip or fisher it shares their pass.
  """
  del key
  result = loss_gradients(apply_fn, variables, batch, hessian=True)
  return _grasp_from(result, apply_fn, variables, batch, None)


def l2_norm(apply_fn, variables, batch, key):
  """Weight norm: sum over the conv/linear layers the architecture uses of ||W||_F. Higher = better.

  Follows NASLib ``l2_norm.py`` (``sum_l ||W_l||``, NAS-Bench-Suite-Zero), where the network holds
  only the selected ops. zero-cost-nas's own NB201 model also holds every unselected candidate op
  (whose weights it would count too); here weights the architecture does not use (whole layers, or
  channels of a channel-masked supernet) are excluded via ``apply_fn.active`` when the network
  declares it (``Capability.ACTIVE``; jaxnas supernets do). Data independent.
  """
  del batch, key
  params, _ = split_params(variables)
  active = None
  if has(apply_fn, Capability.ACTIVE):
    active = dict(jax.tree_util.tree_leaves_with_path(split_params(apply_fn.active(variables))[0]))
  terms = []
  for p, w in _kernels(params):
    # `active` holds a bool per leaf (op supernets) or per entry (channel-masked supernets).
    terms.append(_layer_norms(p, w if active is None else jnp.where(active[p], w, 0.0)))
  return _sum(terms)


_LABELS = dict(needs_labels=True, needs_grad=True, batch_size=64,
               network=(("variant", "zero_cost_nas"),))

grad_norm_proxy = Proxy(
    fn=grad_norm, name="grad_norm", higher_is_better=True, reference=ZERO_COST_NAS + "grad_norm.py",
    shared=SharedPass(loss_gradients, _grad_norm_from), **_LABELS)
snip_proxy = Proxy(
    fn=snip, name="snip", higher_is_better=True, reference=ZERO_COST_NAS + "snip.py",
    shared=SharedPass(loss_gradients, _snip_from), **_LABELS)
plain_proxy = Proxy(
    fn=plain, name="plain", higher_is_better=True, reference=ZERO_COST_NAS + "plain.py (= NASLib)",
    shared=SharedPass(loss_gradients, _plain_from), **_LABELS)
fisher_proxy = Proxy(
    fn=fisher, name="fisher", higher_is_better=True, reference=ZERO_COST_NAS + "fisher.py",
    shared=SharedPass(loss_gradients, _fisher_from, (("gates", True),)), **_LABELS)
grasp_proxy = Proxy(
    fn=grasp, name="grasp", higher_is_better=True, reference=ZERO_COST_NAS + "grasp.py",
    shared=SharedPass(loss_gradients, _grasp_from, (("hessian", True),)), **_LABELS)
l2_norm_proxy = Proxy(
    fn=l2_norm, name="l2_norm", higher_is_better=True, needs_labels=False, needs_grad=False,
    reference="automl/NASLib@0b51bc1 naslib/predictors/utils/pruners/measures/l2_norm.py",
    network=(("variant", "zero_cost_nas"),))
