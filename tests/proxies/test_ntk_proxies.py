"""TE-NAS NTK proxies against a naive float64 loop: one backward per sample, NumPy eigenvalues."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, proxies
from jaxnas._tree import is_stacked
from jaxnas.proxies import Batch
from tests.conftest import TOL, fast_jit


def test_ntk_cond_and_min_eig_match_per_sample_backward_loops():
  with jax.enable_x64(True):
    net = models.nb201_network((3, 2, 4, 3, 1, 3), C=4, N=1, dtype=jnp.float64)
    v = jax.tree.map(lambda a: a.astype(jnp.float64),
                     net.init(jax.random.key(0), input_shape=(1, 8, 8, 3)))
    x = jax.random.normal(jax.random.key(1), (6, 8, 8, 3), jnp.float64)
    # TE-NAS: logit[i].backward(ones) through the batched, train-mode forward, one i at a time.
    grad_i = fast_jit(lambda p, i: jax.grad(
        lambda q: jnp.sum(net({**v, "params": q}, x, train=True)[i]))(p))
    rows = []
    for i in range(6):
      g = grad_i(v["params"], jnp.asarray(i))
      leaves = jax.tree_util.tree_leaves_with_path(g)
      rows.append(np.concatenate([np.asarray(a).ravel() for p, a in leaves
                                  if proxies.tenas_weight(p)]))
    G = np.stack(rows)
    ev = np.linalg.eigvalsh(G @ G.T)
    batch = Batch(x)
    spectrum = fast_jit(lambda v, b: proxies.evaluate(
        [proxies.get("ntk_cond"), proxies.get("ntk_min_eig")], net, v, [b, b], [None, None]))
    cond, min_eig = spectrum(v, batch)
    np.testing.assert_allclose(cond, ev[-1] / ev[0], **TOL["logdet_float64"])
    np.testing.assert_allclose(min_eig, ev[0], **TOL["logdet_float64"])
    # Biases are excluded, BatchNorm gammas included (PyTorch names containing 'weight').
    names = {str(getattr(p[-1], "key", p[-1])) for p, _ in jax.tree_util.tree_leaves_with_path(v)
             if proxies.tenas_weight(p)}
    assert names == {"kernel", "scale"}


def test_ntk_cond_matches_the_reference_code():
  """Golden values: AZ-NAS@d41d524 NB201/ZeroShotProxy/compute_te_nas_score.py ``get_ntk_n``
  (train_mode=True, num_batch=1; its per-sample backward loop, 'weight' parameters, einsum and
  ``torch.linalg.eigh``, with only the device moves removed) on VKDNW@6901b65's
  ``TinyNetwork(4, 1, genotype, 10)`` loaded with these weights, on these 16 images, float64,
  PyTorch 2.13 CPU. Regenerate only if the weights or images change."""
  with jax.enable_x64(True):
    net = models.nb201_network((3, 2, 4, 3, 1, 3), C=4, N=1, dtype=jnp.float64)
    v = jax.tree.map(lambda a: a.astype(jnp.float64),
                     net.init(jax.random.key(0), input_shape=(1, 8, 8, 3)))
    batch = Batch(jax.random.normal(jax.random.key(1), (16, 8, 8, 3), jnp.float64))
    cond, min_eig = fast_jit(lambda v, b: proxies.evaluate(
        [proxies.get("ntk_cond"), proxies.get("ntk_min_eig")], net, v, [b, b], [None, None]))(v, batch)
  np.testing.assert_allclose(cond, 4.1596275564458525, rtol=1e-12)
  np.testing.assert_allclose(min_eig, 489.12401414266736, rtol=1e-12)


def _small_net(arch, variant="zero_cost_nas"):
  net = models.nb201_network(arch, C=4, N=1, variant=variant, dtype=jnp.float64)
  v = jax.tree.map(lambda a: a.astype(jnp.float64),
                   net.init(jax.random.key(0), input_shape=(1, 8, 8, 3)))
  x = jax.random.normal(jax.random.key(1), (6, 8, 8, 3), jnp.float64)
  return net, v, Batch(x, jnp.asarray([3, 1, 4, 1, 5, 9]))


def _conv_linear_grads(tree, per_sample=False):
  """Gradient leaves of conv/linear kernels and biases (no BatchNorm), in a fixed order; with
  `per_sample`, the sample axis first (stacked cells carry it second)."""
  out = []
  for p, a in sorted(jax.tree_util.tree_leaves_with_path(tree), key=lambda t: jax.tree_util.keystr(t[0])):
    if proxies._ntk.leaf_name(p) in ("kernel", "bias") and "bn" not in jax.tree_util.keystr(p):
      out.append(np.moveaxis(np.asarray(a), 1, 0) if per_sample and is_stacked(p) else np.asarray(a))
  return out


def test_per_sample_gradients_split_the_gradient_and_are_single_sample_gradients_in_eval_mode():
  with jax.enable_x64(True):
    net, v, batch = _small_net((3, 2, 4, 3, 1, 3))
    obj = proxies._ntk.true_class_logit_sum

    def per_sample(net, v, train):
      return _conv_linear_grads(fast_jit(jax.grad(lambda d: obj(
          net({**v, "deltas": d}, batch.x, train=train), batch)))(net.deltas(v, batch.x)), True)

    def full(net, v, train):
      grad = fast_jit(jax.grad(lambda p, b: obj(net({**v, "params": p}, b.x, train=train), b)))
      return lambda b: _conv_linear_grads(grad(v["params"], b))

    # Train mode (BatchNorm couples the samples): the rows sum to the batch gradient.
    rows = per_sample(net, v, True)
    want = full(net, v, True)(batch)
    assert len(rows) == len(want) == 33  # every conv/linear kernel and bias
    for r, w in zip(rows, want):
      np.testing.assert_allclose(r.sum(axis=0), w, **TOL["float64"])
    # Eval mode with running statistics everywhere (the xautodl network; zero-cost-nas's cell BNs
    # have none and normalise by the batch in both modes): samples are independent, so row n is
    # sample n's own gradient, one backward per sample.
    net, v, _ = _small_net((3, 2, 4, 3, 1, 3), variant="xautodl")
    rows = per_sample(net, v, False)
    alone = full(net, v, False)  # one compilation for the six single-sample batches
    for n in range(6):
      for r, w in zip(rows, alone(Batch(batch.x[n:n + 1], batch.y[n:n + 1]))):
        np.testing.assert_allclose(r[n], w, **TOL["float64"])


def test_hnas_trace_norm_and_cond_match_naive_float64_from_per_sample_loops():
  """HNAS's formulas (ntk_trace.py, condnum.py) on rows computed one sample at a time."""
  with jax.enable_x64(True):
    net, v, batch = _small_net((3, 2, 4, 3, 1, 3))
    obj = proxies._ntk.true_class_logit_sum
    # Sample n's contribution: the batched train-mode forward, weights offset for sample n only.
    deltas = net.deltas(v, batch.x)

    @fast_jit
    def row(n):  # stacked cells carry the cell axis before the sample axis
      at = lambda path: (slice(None), n) if is_stacked(path) else (n,)

      def s(eps):
        d = jax.tree_util.tree_map_with_path(lambda p, z, e: z.at[at(p)].set(e), deltas, eps)
        return obj(net({**v, "deltas": d}, batch.x, train=True), batch)

      g = jax.grad(s)(jax.tree_util.tree_map_with_path(lambda p, z: z[at(p)], deltas))
      return jnp.concatenate([a.ravel() for a in jax.tree.leaves(g)])

    G = np.stack([np.asarray(row(jnp.asarray(n))) for n in range(6)])
    theta = G @ G.T
    ev = np.linalg.eigvalsh(theta)
    both = fast_jit(lambda v, b: (*proxies.evaluate(
        [proxies.get("ntk_trace_norm"), proxies.get("hnas_cond")], net, v, [b, b], [None, None]),
        proxies.hnas_ntk_matrix(net, v, b)))
    trace_norm, cond, matrix = both(v, batch)
    np.testing.assert_allclose(trace_norm, np.sqrt(np.sum(ev) / 6), **TOL["float64"])
    np.testing.assert_allclose(trace_norm, np.sqrt(np.mean(np.sum(G ** 2, axis=1))), **TOL["float64"])
    np.testing.assert_allclose(cond, ev[-1] / ev[0], **TOL["logdet_float64"])
    np.testing.assert_allclose(matrix, theta, **TOL["float64"])


def test_per_sample_gradients_of_the_supernet_equal_the_exact_network():
  with jax.enable_x64(True):
    arch = (3, 2, 4, 3, 1, 3)
    net, v, batch = _small_net(arch)
    exact = fast_jit(lambda v, b: proxies.ntk_trace_norm(net, v, b, None))(v, batch)
    # The population engine's default supernet.
    sup = models.supernet("nb201", C=4, N=1, variant="zero_cost_nas", dtype=jnp.float64,
                          supernet_impl="switch")
    vs = jax.tree.map(lambda a: a.astype(jnp.float64),
                      sup.init(jax.random.key(0), input_shape=(1, 8, 8, 3)))
    got = fast_jit(lambda v, b: proxies.ntk_trace_norm(models.with_arch(sup, arch), v, b, None))(
        vs, batch)
    np.testing.assert_allclose(got, exact, **TOL["float64"])


def test_hnas_proxies_need_labels_and_deltas():
  with jax.enable_x64(True):
    net, v, batch = _small_net((3, 2, 4, 3, 1, 3))
    with pytest.raises(ValueError, match="needs labels"):
      proxies.ntk_trace_norm(net, v, Batch(batch.x), None)
    plain = lambda variables, x, train=True: net(variables, x, train=train)
    with pytest.raises(TypeError, match="per-sample weight offsets"):
      proxies.ntk_trace_norm(plain, v, batch, None)
