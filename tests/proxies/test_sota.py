"""ZiCo, MeCo / MeCo_opt and SWAP / regularised SWAP against naive float64 re-implementations
(explicit loops over batches, layers, weights, modules and neurons), plus their error messages."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, proxies
from jaxnas.proxies import Batch

from ..conftest import TOL, fast_jit
from .test_classic import GatedMLP, _layers, naive_loss_grads
from .test_proxies import mlp_apply, mlp_params

TINY = dict(C=4, N=1)
ARCH = (3, 2, 4, 3, 1, 3)


def _net(arch, **kw):
  return models.nb201_network(arch, **{**TINY, **kw})


def _init(net, seed=0, **kw):
  """Variables for an 8x8 input, initialised in one compiled program (eager init dispatches and
  compiles every leaf's random draw separately: ~8x slower)."""
  return fast_jit(lambda k: net.init(k, input_shape=(1, 8, 8, 3), **kw))(jax.random.key(seed))


def _images(n, seed=0, dtype=jnp.float32):
  return jax.random.normal(jax.random.key(seed), (n, 8, 8, 3), dtype)


# -- ZiCo -------------------------------------------------------------------------------------
def naive_zico(per_batch_grads):
  """per_batch_grads[b][l]: layer l's weight gradient from batch b; loops over layers, weights."""
  total = 0.0
  for l in range(len(per_batch_grads[0])):
    gs = [np.asarray(g[l], np.float64).reshape(-1) for g in per_batch_grads]
    layer_sum = 0.0
    for w in range(gs[0].size):
      vals = [g[w] for g in gs]
      mean_abs = sum(abs(v) for v in vals) / len(vals)
      mu = sum(vals) / len(vals)
      std = math.sqrt(sum((v - mu) ** 2 for v in vals) / len(vals))
      if std != 0:
        layer_sum += mean_abs / std
    if layer_sum != 0:
      total += math.log(layer_sum)
  return total


@pytest.fixture(scope="module")
def mlp():
  rng = np.random.default_rng(0)
  params = mlp_params(rng, sizes=(12, 9, 7, 4))
  x = rng.normal(size=(12, 12))
  y = rng.integers(0, 4, size=12)
  return params, x, y


@pytest.mark.parametrize("num_batches", [2, 3])
def test_zico_matches_naive_float64_on_an_mlp(mlp, num_batches):
  params, x, y = mlp
  layers = _layers(params)
  m = x.shape[0] // num_batches
  grads = [naive_loss_grads(layers, x[b * m:(b + 1) * m], y[b * m:(b + 1) * m])
           for b in range(num_batches)]
  with jax.enable_x64(True):
    v = {"params": jax.tree.map(jnp.asarray, params)}
    got = proxies.zico(GatedMLP(), v, Batch(jnp.asarray(x), jnp.asarray(y)), None,
                       num_batches=num_batches)
  np.testing.assert_allclose(got, naive_zico(grads), **TOL["float64"])


def test_zico_skips_zero_std_weights_and_zero_layers(mlp):
  params, x, y = mlp
  with jax.enable_x64(True):
    v = {"params": jax.tree.map(jnp.asarray, params)}
    # Identical halves: every gradient has zero std, every layer is skipped, the score is 0.
    same = Batch(jnp.asarray(np.concatenate([x[:6]] * 2)), jnp.asarray(np.concatenate([y[:6]] * 2)))
    assert float(proxies.zico(GatedMLP(), v, same, None)) == 0.0
    # A dead hidden unit (its input weights and bias very negative): its outgoing weights get zero
    # gradients in both halves and are dropped; the rest of that layer still counts.
    dead = jax.tree.map(np.array, params)
    dead["hidden"][1]["bias"][0] = -1e3
    grads = [naive_loss_grads(_layers(dead), x[b * 6:(b + 1) * 6], y[b * 6:(b + 1) * 6])
             for b in (0, 1)]
    assert np.all(grads[0][2][0] == 0) and np.all(grads[1][2][0] == 0)
    vd = {"params": jax.tree.map(jnp.asarray, dead)}
    got = proxies.zico(GatedMLP(), vd, Batch(jnp.asarray(x), jnp.asarray(y)), None)
  np.testing.assert_allclose(got, naive_zico(grads), **TOL["float64"])


def test_zico_on_nb201_per_layer_loops_and_split_gradients():
  """Stacked cells count as separate layers; split_gradients equals one grad per half."""
  net = _net(ARCH, N=2)
  x, y = _images(8), jax.random.randint(jax.random.key(1), (8,), 0, 10)
  with jax.enable_x64(True):
    v = _init(net, 0, dtype=jnp.float64)
    x = x.astype(jnp.float64)
    def run(v, x, y):
      halves = [jax.grad(lambda p, sl=slice(4 * b, 4 * b + 4): proxies.cross_entropy(
          net({**v, "params": p}, x[sl]), y[sl]))(v["params"]) for b in range(2)]
      g = proxies.split_gradients(net, v, Batch(x, y))
      return g, halves, proxies.zico_from_gradients(g)

    g, halves, got = fast_jit(run)(v, x, y)
    for b in range(2):
      for a, c in zip(jax.tree.leaves(halves[b]), jax.tree.leaves(g)):
        np.testing.assert_allclose(c[b], a, **TOL["float64"])
  per_batch = [[], []]
  for path, leaf in jax.tree_util.tree_leaves_with_path(g):
    if jax.tree_util.keystr(path[-1:]) != "['kernel']":
      continue
    stacked = "_cells" in jax.tree_util.keystr(path)
    for b in range(2):
      per_batch[b].extend(list(np.asarray(leaf[b])) if stacked else [np.asarray(leaf[b])])
  np.testing.assert_allclose(got, naive_zico(per_batch), **TOL["float64"])


def test_zico_errors():
  net = _net(ARCH)
  v = _init(net, 0)
  with pytest.raises(ValueError, match="needs labels"):
    proxies.zico(net, v, Batch(_images(4)), None)
  with pytest.raises(ValueError, match="not divisible by 2"):
    proxies.zico(net, v, Batch(_images(5), jnp.zeros(5, jnp.int32)), None)
  with pytest.raises(ValueError, match="num_batches"):
    proxies.zico(net, v, Batch(_images(4), jnp.zeros(4, jnp.int32)), None, num_batches=1)
  with pytest.raises(ValueError, match=r"shape \(4,\)"):
    proxies.zico(net, v, Batch(_images(4), jnp.zeros(3, jnp.int32)), None)


# -- MeCo -------------------------------------------------------------------------------------
def naive_meco(outputs):
  """Loop over module outputs: torch.corrcoef of sample 0 as C x HW, clip, NaN -> 0, general eig."""
  total = 0.0
  for o in outputs:
    f = np.asarray(o.value[0], np.float64)  # (H, W, C)
    rows = f.reshape(-1, f.shape[-1]).T
    with np.errstate(invalid="ignore", divide="ignore"):
      c = np.clip(np.corrcoef(rows), -1, 1)
    c[~np.isfinite(c)] = 0
    lam = np.min(np.real(np.linalg.eig(c)[0]))
    total += int(o.weight) * lam
  return total


@pytest.mark.parametrize("variant", ["zero_cost_nas", "xautodl"])
def test_meco_matches_naive_float64_loops(variant):
  net = _net(ARCH, variant=variant)
  with jax.enable_x64(True):
    v = _init(net, 0, dtype=jnp.float64)
    x = _images(1, dtype=jnp.float64)
    outs, got = fast_jit(lambda v, x: (net(v, x, capture="outputs")[1],
                                       proxies.meco(net, v, Batch(x), None)))(v, x)
  np.testing.assert_allclose(got, naive_meco(outs), **TOL["logdet_float64"])


def test_meco_hook_counts_follow_the_reference_module_trees():
  """Hand count for ARCH (four conv ops, a pool and a skip per cell), C=4, N=1 (three cells).

  Per cell: conv op = ReLU 1 + conv 1 + BN/Sequential/ReLUConvBN 3; pool = AvgPool + POOLING 2;
  skip 1; cell 1 -> 24. Reduction block: 5 + 5 + AvgPool 1 + conv/Sequential 2 + block 1 = 14.
  Head: BN 1 + ReLU/Sequential 2. Stem: conv 1 + BN 2 (xautodl Sequential) or 3 (zero-cost-nas
  stem(Sequential)); zero-cost-nas adds each stage's nn.Sequential of cells (3).
  """
  x = _images(2)
  want = {"xautodl": 3 * 24 + 2 * 14 + 3 + 3, "zero_cost_nas": 3 * 24 + 2 * 14 + 3 + 4 + 3}
  for variant, total in want.items():
    net = _net(ARCH, variant=variant)
    v = _init(net, 0)
    sup = models.with_arch(models.nb201_network(None, variant=variant, **TINY), jnp.asarray(ARCH))
    weights = fast_jit(lambda v, vs, x: [sum(o.weight for o in n(w, x, capture="outputs")[1])
                                         for n, w in ((net, v), (sup, vs))])(v, _init(sup, 0), x)
    assert [int(w) for w in weights] == [total, total]


def test_meco_supernet_equals_exact_network():
  net = _net(ARCH, variant="zero_cost_nas")
  sup = models.with_arch(models.nb201_network(None, variant="zero_cost_nas", **TINY),
                         jnp.asarray(ARCH))
  with jax.enable_x64(True):
    x = _images(1, dtype=jnp.float64)
    a, b = fast_jit(lambda v, vs, x: (proxies.meco(net, v, Batch(x), None),
                                      proxies.meco(sup, vs, Batch(x), None)))(
        _init(net, 0, dtype=jnp.float64), _init(sup, 0, dtype=jnp.float64), x)
  np.testing.assert_allclose(a, b, **TOL["logdet_float64"])


def test_meco_opt_with_all_channels_equals_meco_and_depends_on_the_key():
  net = _net(ARCH, variant="zero_cost_nas")
  with jax.enable_x64(True):
    v = _init(net, 0, dtype=jnp.float64)
    x = _images(1, dtype=jnp.float64)
    f = fast_jit(lambda v, x, k: (proxies.meco(net, v, Batch(x), None),
                                  proxies.meco_opt(net, v, Batch(x), k, channels=16),
                                  proxies.meco_opt(net, v, Batch(x), k, channels=3)))
    m, full, sub = f(v, x, jax.random.key(1))
    _, _, sub2 = f(v, x, jax.random.key(2))
  np.testing.assert_allclose(full, m, **TOL["logdet_float64"])  # every module has <= 16 channels
  assert np.isfinite(sub) and sub != sub2


def naive_meco_opt_one_subset(value, idx):
  f = np.asarray(value[0], np.float64)[..., idx]
  rows = f.reshape(-1, f.shape[-1]).T
  with np.errstate(invalid="ignore", divide="ignore"):
    c = np.clip(np.corrcoef(rows), -1, 1)
  c[~np.isfinite(c)] = 0
  return np.min(np.real(np.linalg.eig(c)[0])) * value.shape[-1] / len(idx)


def test_channel_subsets_are_uniform_without_replacement():
  """meco_opt's subsets: k distinct channels; each channel equally likely (argsort of uniforms)."""
  keys = jax.random.split(jax.random.key(0), 2000)
  idx = np.asarray(jax.vmap(lambda k: jnp.argsort(jax.random.uniform(k, (16,)))[:8])(keys))
  assert all(len(set(r)) == 8 for r in idx)
  counts = np.bincount(idx.reshape(-1), minlength=16) / len(idx)
  np.testing.assert_allclose(counts, 0.5, atol=0.05)
  value = np.asarray(jax.random.normal(jax.random.key(1), (1, 4, 4, 16)), np.float64)
  with jax.enable_x64(True):
    got = proxies.channel_correlation(jnp.asarray(value[0])[..., idx[0]])
  lam = np.min(np.linalg.eigvalsh(np.asarray(got))) * 16 / 8
  np.testing.assert_allclose(lam, naive_meco_opt_one_subset(value, idx[0]), **TOL["float64"])


def test_meco_errors():
  net = _net(ARCH)
  v = _init(net, 0)
  with pytest.raises(ValueError, match="leading batch axis"):
    proxies.meco(net, v, Batch(jnp.ones((8,))), None)
  with pytest.raises(ValueError, match="NHWC images with 3 channels"):
    proxies.meco(net, v, Batch(jnp.ones((1, 8, 8, 1))), None)
  with pytest.raises(ValueError, match="PRNG `key`"):
    proxies.meco_opt(net, v, Batch(_images(1)), None)
  with pytest.raises(ValueError, match="channels"):
    proxies.meco_opt(net, v, Batch(_images(1)), jax.random.key(0), channels=1)
  with pytest.raises(ValueError, match="`capture` must be one of"):
    net(v, _images(1), capture="everything")
  rng = np.random.default_rng(0)
  p = jax.tree.map(jnp.asarray, mlp_params(rng))
  with pytest.raises(TypeError, match="capture='outputs'"):  # ReLU captures are not module outputs
    proxies.meco(mlp_apply, p, Batch(jnp.ones((2, 12))), None)


# -- SWAP -------------------------------------------------------------------------------------
def naive_distinct_patterns(per_layer_outputs):
  """per_layer_outputs: list of (N, D) ReLU outputs; the set of per-neuron sign tuples."""
  patterns = set()
  for out in per_layer_outputs:
    for u in range(out.shape[1]):
      patterns.add(tuple(int(np.sign(out[n, u])) for n in range(out.shape[0])))
  return patterns


def naive_mlp_relu_outputs(params, x):
  h, outs = x.reshape(x.shape[0], -1), []
  for layer in params["hidden"]:
    h = np.maximum(h @ layer["kernel"] + layer["bias"], 0)
    outs.append(h)
  return outs


@pytest.mark.parametrize("n", [9, 40, 64])
def test_swap_matches_naive_set_of_patterns_on_an_mlp(n):
  rng = np.random.default_rng(n)
  params = mlp_params(rng, sizes=(12, 30, 25, 3))
  x = rng.normal(size=(n, 12))
  want = len(naive_distinct_patterns(naive_mlp_relu_outputs(params, x)))
  with jax.enable_x64(True):
    p = jax.tree.map(jnp.asarray, params)
    got = fast_jit(lambda p, x: proxies.swap(mlp_apply, p, Batch(x), None, conv_only=False))(
        p, jnp.asarray(x))
    assert float(proxies.swap(mlp_apply, p, Batch(jnp.asarray(x)), None)) == 0.0  # no 4-D ReLU
  assert float(got) == want


@pytest.mark.parametrize("n", [5, 33])
def test_count_distinct_columns_with_a_validity_mask(n):
  rng = np.random.default_rng(n)
  codes = rng.random((n, 300)) < 0.5
  codes[:, 100:200] = codes[:, :100]  # duplicates
  codes[:, 250:] = codes[:, 0:1]
  valid = rng.random(300) < 0.7
  want = {tuple(codes[:, u]) for u in range(300) if valid[u]}
  assert int(proxies.count_distinct_columns(codes, valid)) == len(want)
  assert int(proxies.count_distinct_columns(codes)) == len({tuple(codes[:, u]) for u in range(300)})
  assert int(proxies.count_distinct_columns(codes, np.zeros(300, bool))) == 0


def test_swap_on_nb201_matches_naive_and_supernet():
  arch = (3, 2, 4, 1, 3, 3)
  net = _net(arch)
  x = _images(16)
  v = _init(net, 0, init="normal")
  sup = models.with_arch(models.nb201_network(None, **TINY), jnp.asarray(arch))
  vs = _init(sup, 0, init="normal")
  acts, got, got_sup = fast_jit(lambda v, vs, x: (
      net(v, x, capture=True)[1], proxies.swap(net, v, Batch(x), None),
      proxies.swap(sup, vs, Batch(x), None)))(v, vs, x)
  relu_outs = [np.maximum(np.asarray(a.pre, np.float64), 0).reshape(16, -1) for a in acts
               if int(a.weight) > 0 and a.pre.ndim == 4]
  want = len(naive_distinct_patterns(relu_outs))
  assert float(got) == want and float(got_sup) == want


def test_reg_swap_is_swap_times_the_size_factor():
  net = _net(ARCH)
  x = _images(16)
  v = _init(net, 0, init="normal")
  p_thousands = sum(int(np.prod(l.shape)) for l in jax.tree.leaves(v["params"])) / 1e3
  settings = [(1500.0, 1e5), (0.5, 2.0), (p_thousands, 1.0)]
  with jax.enable_x64(True):
    s, regs = fast_jit(lambda v, x: (proxies.swap(net, v, Batch(x), None), [
        proxies.reg_swap(net, v, Batch(x), None, mu=mu, sigma=sg) for mu, sg in settings]))(v, x)
  for (mu, sigma), got in zip(settings, regs):
    np.testing.assert_allclose(got, float(s) * math.exp(-(p_thousands - mu) ** 2 / sigma),
                               **TOL["float64"])


def test_swap_errors():
  net = _net(ARCH)
  v = _init(net, 0)
  for fn in (proxies.swap, proxies.reg_swap):
    with pytest.raises(ValueError, match="leading batch axis"):
      fn(net, v, Batch(jnp.ones((8,))), None)
    with pytest.raises(TypeError, match="floating point"):
      fn(net, v, Batch(jnp.ones((2, 8, 8, 3), jnp.int32)), None)
    with pytest.raises(ValueError, match="NHWC images with 3 channels"):
      fn(net, v, Batch(jnp.ones((2, 8, 8, 1))), None)
