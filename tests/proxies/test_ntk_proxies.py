"""TE-NAS NTK proxies against a naive float64 loop: one backward per sample, NumPy eigenvalues."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import models, proxies
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
