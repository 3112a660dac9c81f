"""AZ-NAS components against naive float64 NumPy (eigenvalues, pixel-unshuffle loops, SVD), block
VJPs against finite differences, supernet vs exact network, and the rank aggregation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxnas import evaluate, models, proxies
from jaxnas.proxies import Batch
from jaxnas.proxies._az_nas import pixel_unshuffle
from jaxnas.spaces import nb201

from ..conftest import TOL, fast_jit

TINY = dict(C=4, N=1)
ARCH = (3, 2, 4, 3, 1, 3)
IDENTITY = (2, 3, 4, 1, 0, 0)  # node 3 = skip(node 0): every cell is the identity
NAMES = ("az_expressivity", "az_progressivity", "az_trainability")


def _setup(arch, seed=0, **kw):
  net = models.nb201_network(arch, dtype=jnp.float64, **{**TINY, **kw})
  v = fast_jit(lambda k: net.init(k, input_shape=(1, 8, 8, 3), init="kaiming_normal",
                                  dtype=jnp.float64))(jax.random.key(seed))
  x = jax.random.normal(jax.random.key(seed + 1), (6, 8, 8, 3), jnp.float64)
  return net, v, x


def naive_entropy(f):
  x = np.asarray(f, np.float64).reshape(-1, f.shape[-1])
  x = x - x.mean(axis=0)
  s = np.linalg.eigvalsh(x.T @ x / x.shape[0])
  p = s / s.sum()
  return float(np.sum([-q * np.log(q + 1e-8) for q in p]))


def naive_unshuffle_nchw(g, r):
  """torch.nn.PixelUnshuffle on NCHW, written as loops over its output index."""
  n, c, h, w = g.shape
  out = np.zeros((n, c * r * r, h // r, w // r))
  for ci in range(c):
    for i in range(r):
      for j in range(r):
        out[:, ci * r * r + i * r + j] = g[:, ci, i::r, j::r]
  return out


def naive_block_score(g_out, g_in):
  """The reference's per-block score from NHWC gradients, converted to its NCHW code path."""
  go = np.transpose(np.asarray(g_out, np.float64), (0, 3, 1, 2))
  gi = np.transpose(np.asarray(g_in, np.float64), (0, 3, 1, 2))
  if go.shape == gi.shape and np.all(go == gi):
    return -np.inf
  if go.shape[2] != gi.shape[2]:
    gi = naive_unshuffle_nchw(gi, gi.shape[2] // go.shape[2])
  bo, co, ho, wo = go.shape
  mat = gi.transpose(0, 2, 3, 1).reshape(-1, gi.shape[1]).T @ go.transpose(0, 2, 3, 1).reshape(-1, co)
  s = np.linalg.svd(mat / (bo * ho * wo), compute_uv=False).max()
  return -s - 1 / (s + 1e-6) + 2


def test_pixel_unshuffle_is_pytorch_order():
  g = np.random.default_rng(0).normal(size=(2, 6, 4, 3)).astype(np.float32)  # NHWC
  want = naive_unshuffle_nchw(np.transpose(g, (0, 3, 1, 2)), 2)
  np.testing.assert_array_equal(np.transpose(np.asarray(pixel_unshuffle(jnp.asarray(g), 2)),
                                             (0, 3, 1, 2)), want)


def test_components_match_naive_float64_and_block_vjps_match_finite_differences():
  with jax.enable_x64(True):
    net, v, x = _setup(ARCH)
    key = jax.random.key(9)

    def run(v, x, k):
      cf = proxies.cell_features(net, v, Batch(x))
      outs = cf.features[1:]
      ks = jax.random.split(k, len(outs))
      g_outs = [jax.random.rademacher(kk, f.shape, f.dtype) for kk, f in zip(ks, outs)]
      scores = proxies.evaluate([proxies.get(n) for n in NAMES], net, v, [Batch(x)] * 3, [k] * 3)
      logits = net(v, x)
      return cf.features, g_outs, cf.block_vjp(g_outs), scores, logits

    feats, g_outs, g_ins, scores, logits = fast_jit(run)(v, x, key)
    # The features: stem, cell, ResNet block, cell, ResNet block, cell; the last one feeds the head.
    assert [f.shape for f in feats] == [(6, 8, 8, 4)] * 2 + [(6, 4, 4, 8)] * 2 + [(6, 2, 2, 16)] * 2
    last = np.asarray(feats[-1])
    mu, var = last.mean(axis=(0, 1, 2)), last.var(axis=(0, 1, 2))
    bn = v["params"]["lastact_bn"]
    head = np.maximum((last - mu) / np.sqrt(var + 1e-5) * np.asarray(bn["scale"]) + np.asarray(bn["bias"]), 0)
    cls = v["params"]["classifier"]
    np.testing.assert_allclose(head.mean(axis=(1, 2)) @ np.asarray(cls["kernel"]) + np.asarray(cls["bias"]),
                               logits, **TOL["float64"])
    # Expressivity and progressivity from NumPy eigenvalues of the captured features.
    ent = np.array([naive_entropy(f) for f in feats])
    np.testing.assert_allclose(scores[0], ent.sum(), **TOL["float64"])
    np.testing.assert_allclose(scores[1], np.min(np.diff(ent)), **TOL["float64"])
    # Trainability from NumPy loops over the reference's NCHW code path.
    naive = np.mean([naive_block_score(go, gi) for go, gi in zip(g_outs, g_ins)])
    np.testing.assert_allclose(scores[2], naive, **TOL["float64"])

    # Block i's VJP is its own: <J_i^T g, u> equals <g, (f_i(probe_i = eps u) - f_i(-eps u)) / 2eps>,
    # the probe perturbing block i's input in the forward pass only.
    zeros = net.probes(v, x)
    paths = [p for p, _ in jax.tree_util.tree_leaves_with_path(zeros)]
    fwd = fast_jit(lambda p: net({**v, "probes": p}, x, capture="cells")[1])
    rng = np.random.default_rng(0)
    checked = 0
    for path, leaf in zip(paths, jax.tree.leaves(zeros)):
      name = jax.tree_util.keystr(path)
      block = int(name.split("layer")[1].split("_")[0])  # the block's position in the network
      u = rng.normal(size=leaf.shape[1:] if "_cells" in name else leaf.shape)
      eps = 1e-6

      def probe(sign, path=path, u=u, name=name):
        return jax.tree_util.tree_map_with_path(
            lambda p, z: z.at[0].set(sign * eps * u) if p == path and "_cells" in name
            else (sign * eps * u if p == path else z), zeros)

      jvp = (np.asarray(fwd(probe(1.0))[block + 1]) - np.asarray(fwd(probe(-1.0))[block + 1])) / (2 * eps)
      np.testing.assert_allclose(np.sum(np.asarray(g_ins[block]) * u),
                                 np.sum(np.asarray(g_outs[block]) * jvp), rtol=1e-6)
      checked += 1
    assert checked == 5


def _supernet_scores():
  sup = models.supernet("nb201", dtype=jnp.float64, **TINY)
  sv = fast_jit(lambda k: sup.init(k, input_shape=(1, 8, 8, 3), init="kaiming_normal",
                                   dtype=jnp.float64))(jax.random.key(0))
  plist = [proxies.get(n) for n in NAMES]
  f = fast_jit(lambda a, v, x, k: jnp.stack(proxies.evaluate(
      plist, models.with_arch(sup, a), v, [Batch(x)] * 3, [k] * 3)))
  return lambda arch, x, k: f(jnp.asarray(arch), sv, x, k)


def test_supernet_equals_exact_and_degenerate_cells_get_documented_scores():
  with jax.enable_x64(True):
    net, v, x = _setup(ARCH)  # same seed as the supernet's: same names, same values
    plist = [proxies.get(n) for n in NAMES]
    exact = fast_jit(lambda v, x, k: jnp.stack(proxies.evaluate(plist, net, v, [Batch(x)] * 3,
                                                                [k] * 3)))(v, x, jax.random.key(4))
    sup = _supernet_scores()
    np.testing.assert_allclose(sup(ARCH, x, jax.random.key(4)), exact, **TOL["float64"])
    assert np.isfinite(exact).all()
    # Every cell the identity: one block's g_in equals its g_out, trainability -inf.
    ident = sup(IDENTITY, x, jax.random.key(4))
    assert np.isfinite(ident[:2]).all() and ident[2] == -np.inf
    # Zero output: zero feature maps give NaN entropies (-inf); trainability stays finite.
    zero = (3, 0, 0, 0, 0, 0)
    assert nb201.is_zero_output(np.asarray(zero))
    z = sup(zero, x, jax.random.key(4))
    assert z[0] == -np.inf and z[1] == -np.inf and np.isfinite(z[2]) and z[2] < -1e5


def test_log_rank_aggregate_is_the_reference_formula():
  rng = np.random.default_rng(0)
  cols = rng.normal(size=(4, 30))
  cols[1, :5] = cols[1, 5]  # ties share their average rank
  cols[2, 3] = -np.inf
  want = sum(np.log(stats.rankdata(c) / 30) for c in cols)
  np.testing.assert_allclose(evaluate.log_rank_aggregate(cols), want)
  flipped = evaluate.log_rank_aggregate([cols[0], -cols[1]], higher_is_better=[True, False])
  np.testing.assert_allclose(flipped, np.log(stats.rankdata(cols[0]) / 30)
                             + np.log(stats.rankdata(cols[1]) / 30))
  nan = cols[0].copy()
  nan[0] = np.nan  # ranks worst, like -inf
  assert evaluate.log_rank_aggregate([nan])[0] == np.log(1 / 30)
  with pytest.raises(ValueError, match="same, non-zero length"):
    evaluate.log_rank_aggregate([np.ones(3), np.ones(4)])
  with pytest.raises(ValueError, match="one entry per column"):
    evaluate.log_rank_aggregate(cols, higher_is_better=[True])


def test_errors():
  net = models.nb201_network(ARCH, **TINY)
  x = jnp.ones((2, 8, 8, 3))
  with pytest.raises(TypeError, match="cell-input probes"):  # raised before anything runs
    proxies.az_expressivity(lambda v, x, **kw: net(v, x, **kw), {}, Batch(x), None)
  with pytest.raises(ValueError, match="pass a PRNG `key`"):
    proxies.az_trainability(net, {}, Batch(x), None)
