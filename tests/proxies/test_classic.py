"""The classic proxies against naive float64 NumPy re-implementations (per-sample loops, explicit
backprop) on a small MLP, plus their shared passes and NB201-specific behaviour."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, proxies
from jaxnas.proxies import Batch
from jaxnas.protocol import Capability, declare

from ..conftest import TOL, fast_jit
from .test_proxies import SMALL, mlp_params

K = 1e-5


class GatedMLP:
  """An MLP apply_fn with the gate convention fisher needs: gates multiply every layer output."""

  capabilities = declare(Capability.GATES, Capability.JVP)

  def __call__(self, variables, x, *, train=True, capture=False):
    del train, capture
    p, g = variables["params"], variables.get("gates")
    h = x.reshape(x.shape[0], -1)
    layers = list(p["hidden"]) + [p["head"]]
    gates = None if g is None else list(g["hidden"]) + [g["head"]]
    for i, layer in enumerate(layers):
      z = h @ layer["kernel"] + layer["bias"]
      if gates is not None:
        z = z * gates[i]["gate"]
      h = jax.nn.relu(z) if i < len(layers) - 1 else z
    return h

  def gates(self, variables, x):
    """Ones at the path of every layer's kernel (the convention jaxnas networks follow)."""
    ones = lambda l: {"gate": jnp.ones((x.shape[0], l["bias"].shape[0]), x.dtype)}
    p = variables["params"]
    return {"hidden": [ones(l) for l in p["hidden"]], "head": ones(p["head"])}


def _layers(params):
  return [(np.asarray(l["kernel"], np.float64), np.asarray(l["bias"], np.float64))
          for l in list(params["hidden"]) + [params["head"]]]


def naive_forward_backward(layers, x, y):
  """Per-sample loop: pre-activations z_n, dL/dz_n and dL/dW for L = mean_n CE(f(x_n), y_n)."""
  n = x.shape[0]
  grads = [np.zeros_like(w) for w, _ in layers]
  zs, deltas = [], []
  for i in range(n):
    hs, z_i = [x[i].reshape(-1)], []
    for j, (w, b) in enumerate(layers):
      z = hs[-1] @ w + b
      z_i.append(z)
      hs.append(np.maximum(z, 0) if j < len(layers) - 1 else z)
    logits = hs[-1]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    d = p.copy()
    d[y[i]] -= 1.0
    d /= n  # mean reduction
    d_i = [None] * len(layers)
    for j in reversed(range(len(layers))):
      d_i[j] = d
      grads[j] += np.outer(hs[j], d)
      if j:
        d = (layers[j][0] @ d) * (z_i[j - 1] > 0)
    zs.append(z_i)
    deltas.append(d_i)
  return zs, deltas, grads


def naive_loss_grads(layers, x, y):
  return naive_forward_backward(layers, x, y)[2]


def naive_input_jacobian(layers, x):
  """Row n: d(sum_c f_c(x_n))/dx_n by explicit backprop (no batch coupling in an MLP)."""
  rows = []
  for i in range(x.shape[0]):
    h, masks = x[i].reshape(-1), []
    for j, (w, b) in enumerate(layers[:-1]):
      z = h @ w + b
      masks.append(z > 0)
      h = np.maximum(z, 0)
    g = layers[-1][0] @ np.ones(layers[-1][0].shape[1])
    for j in reversed(range(len(layers) - 1)):
      g = layers[j][0] @ (g * masks[j])
    rows.append(g)
  return np.array(rows)


@pytest.fixture(scope="module")
def mlp():
  rng = np.random.default_rng(0)
  params = mlp_params(rng, sizes=(12, 9, 7, 4))
  x = rng.normal(size=(10, 12))
  y = np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 0])
  return params, x, y


def _score(fn, params, x, y, net=None, **kw):
  with jax.enable_x64(True):
    v = {"params": jax.tree.map(jnp.asarray, params)}
    return float(fn((net or GatedMLP)(), v, Batch(jnp.asarray(x), jnp.asarray(y)), None, **kw))


def test_grad_norm_snip_plain_l2_match_naive(mlp):
  params, x, y = mlp
  layers = _layers(params)
  grads = naive_loss_grads(layers, x, y)
  ws = [w for w, _ in layers]
  np.testing.assert_allclose(_score(proxies.grad_norm, params, x, y),
                             sum(np.sqrt(np.sum(g * g)) for g in grads), **TOL["float64"])
  np.testing.assert_allclose(_score(proxies.snip, params, x, y),
                             sum(np.sum(np.abs(w * g)) for w, g in zip(ws, grads)), **TOL["float64"])
  np.testing.assert_allclose(_score(proxies.plain, params, x, y),
                             sum(np.sum(w * g) for w, g in zip(ws, grads)), **TOL["float64"])
  np.testing.assert_allclose(_score(proxies.l2_norm, params, x, y),
                             sum(np.sqrt(np.sum(w * w)) for w in ws), **TOL["float64"])


def test_fisher_matches_naive(mlp):
  params, x, y = mlp
  layers = _layers(params)
  zs, deltas, _ = naive_forward_backward(layers, x, y)
  want = 0.0
  for j, (w, _) in enumerate(layers):
    per_sample = np.array([zs[n][j] * deltas[n][j] for n in range(len(x))])  # (N, C)
    want += w.shape[0] * np.sum(np.abs(0.5 * np.mean(per_sample ** 2, axis=0)))
  np.testing.assert_allclose(_score(proxies.fisher, params, x, y), want, **TOL["float64"])


@jax.custom_vjp
def _reverse_only_identity(x):
  return x


# Its backward pass calls it again, so a jvp of its gradient is not defined.
_reverse_only_identity.defvjp(lambda x: (x, None), lambda _, g: (_reverse_only_identity(g),))


class _ReverseOnlyMLP(GatedMLP):
  """The same network through an identity without forward-mode derivatives, declaring so (as a
  user's network with ``custom_vjp`` layers would): GraSP must take its reverse-over-reverse
  Hessian-vector product."""
  capabilities = declare(Capability.GATES)

  def __call__(self, variables, x, **kwargs):
    return _reverse_only_identity(super().__call__(variables, x, **kwargs))


@pytest.mark.parametrize("net", [GatedMLP, _ReverseOnlyMLP])
def test_grasp_matches_central_differences_of_naive_gradient(mlp, net):
  params, x, y = mlp
  layers = _layers(params)
  g = naive_loss_grads(layers, x, y)
  eps = 1e-5
  plus = naive_loss_grads([(w + eps * gi, b) for (w, b), gi in zip(layers, g)], x, y)
  minus = naive_loss_grads([(w - eps * gi, b) for (w, b), gi in zip(layers, g)], x, y)
  hg = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
  want = sum(np.sum(-w * h) for (w, _), h in zip(layers, hg))
  np.testing.assert_allclose(_score(proxies.grasp, params, x, y, net=net), want, rtol=1e-6)
  # Scored with fisher and grad_norm, grasp reduces their (gated, linearised) pass.
  names = ("fisher", "grasp", "grad_norm")
  with jax.enable_x64(True):
    v = {"params": jax.tree.map(jnp.asarray, params)}
    b = Batch(jnp.asarray(x), jnp.asarray(y))
    together = proxies.evaluate([proxies.get(n) for n in names], net(), v, [b] * 3, [None] * 3)
  np.testing.assert_allclose(together[1], want, rtol=1e-6)
  for n, t in zip(names, together):
    np.testing.assert_allclose(t, _score(getattr(proxies, n), params, x, y, net=net), rtol=1e-12,
                               err_msg=n)


def test_jacob_cov_matches_naive_numpy_eig(mlp):
  params, x, y = mlp
  jac = naive_input_jacobian(_layers(params), x)
  v = np.linalg.eig(np.corrcoef(jac))[0].real  # the reference's general solver
  want = -np.sum(np.log(v + K) + 1.0 / (v + K))
  np.testing.assert_allclose(_score(proxies.jacob_cov, params, x, y), want, rtol=1e-7)


def test_epe_nas_matches_naive_per_class_loops(mlp):
  params, x, y = mlp
  jac = naive_input_jacobian(_layers(params), x)

  def naive(labels, n_classes):
    per = {}
    for c in sorted(set(labels.tolist())):
      rows = jac[labels == c]
      corr = np.corrcoef(rows) if len(rows) > 1 else np.array(1.0)
      if n_classes > 100:
        if len(rows) < 2:
          continue  # len() of a 0-d array raises in the reference: the class is skipped
        per[c] = np.sum(np.log(np.abs(corr) + K)) / len(corr)
      else:
        per[c] = np.sum(np.log(np.abs(corr) + K))
    if n_classes <= 100:
      return sum(abs(s) for s in per.values())
    return sum(abs(per[a] - per[b]) for a in per for b in per) / max(len(per), 1)

  np.testing.assert_allclose(_score(proxies.epe_nas, params, x, y), naive(y, 4), rtol=1e-9)
  many = np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 7])  # 7: a single-sample class
  np.testing.assert_allclose(_score(proxies.epe_nas, params, x, many, num_classes=120),
                             naive(many, 120), rtol=1e-9)


def test_correlation_equals_numpy_corrcoef(getkey):
  rows = np.asarray(jax.random.normal(getkey(), (6, 40)), np.float64)
  with jax.enable_x64(True):
    np.testing.assert_allclose(proxies.correlation(jnp.asarray(rows)), np.corrcoef(rows),
                               **TOL["float64"])


def test_float64_proxies_refuse_silent_float32():
  params = mlp_params(np.random.default_rng(3), sizes=(12, 5, 4))
  v = {"params": jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params)}
  b = Batch(jnp.ones((4, 12)), jnp.arange(4))
  with jax.enable_x64(False):
    for fn in (proxies.jacob_cov, proxies.epe_nas):
      with pytest.raises(ValueError, match="JAX_ENABLE_X64=1"):
        fn(GatedMLP(), v, b, None)
      assert np.shape(fn(GatedMLP(), v, b, None, dtype=jnp.float32)) == ()


def test_fisher_needs_gates_and_says_so(mlp):
  params, x, y = mlp

  def plain_apply(v, x, **kw):
    return GatedMLP()(v, x)

  with pytest.raises(TypeError, match="gates"):
    with jax.enable_x64(True):
      proxies.fisher(plain_apply, {"params": params}, Batch(jnp.asarray(x), jnp.asarray(y)), None)


def test_labelled_proxies_require_labels():
  for name, p in proxies.REGISTRY.items():
    if not p.needs_labels:
      continue
    net = models.nb201_network((3, 2, 4, 3, 1, 3), **SMALL, **dict(p.network))
    v = net.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
    with pytest.raises(ValueError, match="needs labels"):
      with jax.enable_x64(True):
        p.fn(net, v, Batch(jnp.ones((4, 8, 8, 3))), None)


def test_shared_passes_equal_separate_calls_on_nb201(getkey):
  """evaluate() shares one backward among the loss-gradient proxies and one Jacobian pass between
  jacob_cov and epe_nas: same numbers as separate calls. (grasp, whose double backward dominates
  compilation, reduces the same shared pass: its ``fn`` is that reduction of that pass; the
  supernet's shared passes, grasp's included, are checked against exact networks in
  tests/population: the classic suite test.)"""
  names = ["grad_norm", "snip", "plain", "fisher", "jacob_cov", "epe_nas", "l2_norm"]
  ps = [proxies.get(n) for n in names]
  arch = (3, 2, 4, 3, 1, 3)
  x = jax.random.normal(getkey(), (6, 8, 8, 3))
  b = Batch(x, jnp.array([0, 1, 2, 0, 1, 2]))
  keys = [jax.random.key(0)] * len(ps)
  with jax.enable_x64(True):
    exact = models.nb201_network(arch, **SMALL, variant="zero_cost_nas")
    v = exact.init(jax.random.key(1), input_shape=(1, 8, 8, 3))
    together = fast_jit(lambda v: proxies.evaluate(ps, exact, v, [b] * len(ps), keys))(v)
    apart = fast_jit(lambda v: [p.fn(exact, v, b, None) for p in ps])(v)
  for n, t, a in zip(names, together, apart):
    np.testing.assert_allclose(t, a, **TOL["float32"], err_msg=n)  # float32 networks


def test_gates_leave_the_network_unchanged_and_give_conv_output_gradients(getkey):
  net = models.nb201_network((3, 2, 4, 3, 1, 3), **SMALL)
  v = net.init(getkey(), input_shape=(1, 8, 8, 3))
  x = jax.random.normal(getkey(), (3, 8, 8, 3))
  g = net.gates(v, x)
  assert "gates" not in v
  logits = fast_jit(lambda v, x: net(v, x))(v, x)
  gated = fast_jit(lambda g: net({**v, "gates": g}, x))
  np.testing.assert_allclose(gated(g), logits, **TOL["float32"])
  # d(sum logits)/d(classifier gate) = logits, per sample and class.
  dg = fast_jit(jax.grad(lambda g: jnp.sum(net({**v, "gates": g}, x))))(g)
  np.testing.assert_allclose(dg["classifier"]["gate"], logits, **TOL["float32"])
  # Gates follow float64 images, so fisher's gate gradients are not rounded to float32.
  assert {leaf.dtype for leaf in jax.tree.leaves(g)} == {jnp.dtype("float32")}
  with jax.enable_x64(True):
    g64 = net.gates(v, x.astype(jnp.float64))
  assert {leaf.dtype for leaf in jax.tree.leaves(g64)} == {jnp.dtype("float64")}
