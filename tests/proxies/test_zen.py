"""Zen-score against a naive float64 NumPy re-implementation (explicit BN running-variance update),
the networks' running statistics against PyTorch's update rule, supernet vs exact network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, proxies
from jaxnas.models import Output
from jaxnas.proxies import Batch
from jaxnas.protocol import Capability, declare
from jaxnas.spaces import nb201

from ..conftest import TOL, fast_jit

TINY = dict(C=4, N=1)
ARCH = (3, 2, 4, 3, 1, 3)


class PixelNet:
  """Per-pixel dense 3 -> 4 -> BN -> ReLU -> dense 4 -> 5 -> BN -> ReLU: the pre-pooling map.

  Follows the proxy contract of jaxnas networks (capture='outputs', mutable batch_stats, active),
  with the running-statistics update written out here.
  """

  capabilities = declare(Capability.OUTPUTS, Capability.ACTIVE)

  def __call__(self, variables, x, *, train=True, capture=False, mutable=False):
    p, s = variables["params"], variables["batch_stats"]
    h, new = x, {}
    for name in ("l1", "l2"):
      z = h @ p[name]["kernel"]
      mean, var = z.mean(axis=(0, 1, 2)), z.var(axis=(0, 1, 2))
      n = z.size // z.shape[-1]
      new[name] = {"bn": {"mean": 0.9 * s[name]["bn"]["mean"] + 0.1 * mean,
                          "var": 0.9 * s[name]["bn"]["var"] + 0.1 * var * n / (n - 1)}}
      h = jax.nn.relu((z - mean) / jnp.sqrt(var + 1e-5))
    out = (h.mean(axis=(1, 2)), (Output(h, jnp.ones((), jnp.int32)),))
    return (out, {"batch_stats": new}) if mutable else out

  def active(self, variables):
    return jax.tree.map(lambda _: jnp.asarray(True), variables)


def naive_zen(w1, w2, x, eps, gamma):
  """Two passes with explicit per-channel loops; running var = 0.9 (0.9 * 1 + 0.1 v1) + 0.1 v2."""
  def forward(inp):
    feats, variances = inp, []
    for w in (w1, w2):
      z = feats @ w
      flat = z.reshape(-1, z.shape[-1])
      variances.append([np.var(flat[:, c], ddof=1) for c in range(flat.shape[1])])
      feats = np.maximum((z - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5), 0)
    return feats, variances

  f1, v1 = forward(x)
  f2, v2 = forward(x + gamma * eps)
  delta = np.mean([np.abs(f1[n] - f2[n]).sum() for n in range(x.shape[0])])
  bn = 0.0
  for a, b in zip(v1, v2):
    running = [0.9 * (0.9 * 1.0 + 0.1 * p) + 0.1 * q for p, q in zip(a, b)]
    bn += np.log(np.sqrt(np.mean(running)))
  return np.log(delta) + bn


def test_zen_matches_naive_float64():
  rng = np.random.default_rng(0)
  w1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
  x = rng.normal(size=(6, 5, 5, 3))
  ones = lambda c: {"bn": {"mean": np.zeros(c), "var": np.ones(c)}}
  variables = {"params": {"l1": {"kernel": w1}, "l2": {"kernel": w2}},
               "batch_stats": {"l1": ones(4), "l2": ones(5)}}
  key = jax.random.key(3)
  with jax.enable_x64(True):
    variables = jax.tree.map(jnp.asarray, variables)
    got = proxies.zen(PixelNet(), variables, Batch(jnp.asarray(x)), key, gamma=0.01)
    eps = np.asarray(jax.random.normal(key, x.shape, jnp.float64))
  np.testing.assert_allclose(got, naive_zen(w1, w2, x, eps, 0.01), **TOL["float64"])


def test_nb201_running_variance_follows_pytorch_and_supernet_equals_exact():
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.key(1), (6, 8, 8, 3), jnp.float64)
    net = models.nb201_network(ARCH, dtype=jnp.float64, **TINY)
    init = lambda n: fast_jit(lambda k: n.init(k, input_shape=(1, 8, 8, 3), init="normal",
                                               dtype=jnp.float64))(jax.random.key(0))
    v = init(net)

    def two_passes(v, x):
      (_, o1), s1 = net(v, x, capture="outputs", mutable=["batch_stats"])
      (_, o2), s2 = net({**v, **s1}, 2 * x, capture="outputs", mutable=["batch_stats"])
      return o1[0].value, o2[0].value, s2["batch_stats"]["stem"]["bn"]["var"]

    z1, z2, var = fast_jit(two_passes)(v, x)  # outputs[0]: the stem conv's output = its BN input
    unbiased = lambda z: np.asarray(z).reshape(-1, z.shape[-1]).var(axis=0, ddof=1)
    np.testing.assert_allclose(var, 0.81 + 0.09 * unbiased(z1) + 0.1 * unbiased(z2), **TOL["float64"])

    sup = models.supernet("nb201", dtype=jnp.float64, **TINY)
    sv = init(sup)
    f_sup = fast_jit(lambda a, v, x, k: proxies.zen(models.with_arch(sup, a), v, Batch(x), k))
    exact = fast_jit(lambda v, x, k: proxies.zen(net, v, Batch(x), k))(v, x, jax.random.key(2))
    np.testing.assert_allclose(f_sup(jnp.asarray(ARCH), sv, x, jax.random.key(2)), exact,
                               **TOL["float64"])
    assert np.isfinite(exact)
    zero = (3, 0, 0, 0, 0, 0)
    assert nb201.is_zero_output(np.asarray(zero))
    assert f_sup(jnp.asarray(zero), sv, x, jax.random.key(2)) == -np.inf  # log 0


def test_zen_errors():
  net = models.nb201_network(ARCH, **TINY)
  x = jnp.ones((2, 8, 8, 3))
  with pytest.raises(ValueError, match="pass a PRNG `key`"):
    proxies.zen(net, {}, Batch(x), None)
  with pytest.raises(TypeError, match="mutable"):
    proxies.zen(lambda v, x, **kw: x, {}, Batch(x), jax.random.key(0))
