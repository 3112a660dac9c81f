"""Proxy contract: conformance over the registry, naive float64 references, precision, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, proxies
from jaxnas.models import Activation
from jaxnas.proxies import Batch
from jaxnas.protocol import Capability, declare
from jaxnas.spaces import nb201

from ..conftest import TOL, fast_jit

SMALL = dict(C=4, N=1)  # one (stacked) cell per stage: the contract does not need more
HEALTHY = (3, 1, 4, 0, 2, 1)
ZERO = (3, 0, 0, 0, 0, 0)  # node 3 only reads 'none' edges
KEYED = ("meco_opt", "az_trainability", "zen", "linear_regions")  # the score depends on the key
# (random channel subsets, random +-1 output gradients, random input perturbation, random inputs)
SAMPLE0 = ("meco", "meco_opt")  # read sample 0 only (other samples enter through BN statistics)
SPLIT = ("zico",)  # cuts the batch into two halves, each with its own gradient
SATURATING = ("swap", "reg_swap", "linear_regions")  # counts saturate for this 8-sample batch (2**N
# neuron patterns, N sample patterns)


# -- a tiny MLP with explicit ReLU capture, for naive re-implementations -----------------------
def mlp_apply(params, x, *, train=True, capture=False):
  del train
  h = x.reshape(x.shape[0], -1)
  acts = []
  for layer in params["hidden"]:
    z = h @ layer["kernel"] + layer["bias"]
    acts.append(Activation(z, jnp.ones((), jnp.int32), False))
    h = jax.nn.relu(z)
  out = h @ params["head"]["kernel"] + params["head"]["bias"]
  return (out, tuple(acts)) if capture else out


mlp_apply.capabilities = declare(Capability.ACTIVATIONS, Capability.JVP)


def mlp_params(rng, sizes=(12, 7, 5, 3)):
  layers = [{"kernel": rng.normal(size=(a, b)) / np.sqrt(a), "bias": rng.normal(size=b) * 0.1}
            for a, b in zip(sizes[:-2], sizes[1:-1])]
  return {"hidden": layers, "head": {"kernel": rng.normal(size=sizes[-2:]) / np.sqrt(sizes[-2]),
                                     "bias": rng.normal(size=sizes[-1]) * 0.1}}


def naive_nwot(params, x):
  """Loops over sample pairs and units: K_ij = #units with equal ReLU state, float64 slogdet."""
  h = x.reshape(x.shape[0], -1)
  n = h.shape[0]
  k = np.zeros((n, n))
  for layer in params["hidden"]:
    z = h @ layer["kernel"] + layer["bias"]
    c = z > 0
    for i in range(n):
      for j in range(n):
        k[i, j] += sum(1 for u in range(c.shape[1]) if c[i, u] == c[j, u])
    h = np.maximum(z, 0)
  return np.linalg.slogdet(k)[1]


def naive_synflow(params):
  """|params|, one all-ones input, R = sum(outputs); manual backprop; sum |W * dR/dW| over kernels."""
  ab = lambda a: np.abs(np.asarray(a, np.float64))
  hs, zs = [np.ones((1, ab(params["hidden"][0]["kernel"]).shape[0]))], []
  for layer in params["hidden"]:
    z = hs[-1] @ ab(layer["kernel"]) + ab(layer["bias"])
    zs.append(z)
    hs.append(np.maximum(z, 0))
  wh = ab(params["head"]["kernel"])
  g = np.ones((1, wh.shape[1]))  # dR/d out
  score = np.sum(np.abs(wh * (hs[-1].T @ g)))
  g = g @ wh.T
  for layer, z, h_in in reversed(list(zip(params["hidden"], zs, hs[:-1]))):
    g = g * (z > 0)
    score += np.sum(np.abs(ab(layer["kernel"]) * (h_in.T @ g)))
    g = g @ ab(layer["kernel"]).T
  return score


def test_nwot_matches_naive_float64_loops():
  rng = np.random.default_rng(0)
  params = mlp_params(rng)
  x = rng.normal(size=(9, 12))
  with jax.enable_x64(True):
    got = proxies.nwot(mlp_apply, jax.tree.map(jnp.asarray, params), Batch(jnp.asarray(x)), None)
  np.testing.assert_allclose(got, naive_nwot(params, x), **TOL["logdet_float64"])


def test_synflow_matches_naive_float64_backprop():
  rng = np.random.default_rng(1)
  params = mlp_params(rng)
  with jax.enable_x64(True):
    got = proxies.synflow(mlp_apply, jax.tree.map(jnp.asarray, params), Batch(jnp.ones((4, 12))), None)
  np.testing.assert_allclose(got, naive_synflow(params), **TOL["float64"])


def test_params_and_flops_for_plain_apply_functions():
  rng = np.random.default_rng(2)
  params = jax.tree.map(jnp.asarray, mlp_params(rng))
  n = proxies.num_params(mlp_apply, params, Batch(jnp.ones((2, 12))), None)
  assert int(n) == 12 * 7 + 7 + 7 * 5 + 5 + 5 * 3 + 3

  def conv_apply(v, x, **kw):
    return jax.lax.conv_general_dilated(x, v["kernel"], (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

  v = {"kernel": jnp.ones((3, 3, 3, 8), jnp.float32)}
  f = proxies.flops(conv_apply, v, Batch(jnp.ones((2, 16, 16, 3), jnp.float32)), None)
  macs = 16 * 16 * 8 * 27
  assert 0.85 * macs <= float(f) <= 1.05 * macs  # XLA's estimate skips zero-padded taps


def test_activation_kernel_closed_form():
  codes = np.array([[1, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]], bool)
  k = proxies.activation_kernel(codes)
  want = np.array([[4, 3, 1], [3, 4, 0], [1, 0, 4]])
  np.testing.assert_array_equal(np.asarray(k), want)


# -- conformance over the registry on NB201 networks -------------------------------------------
def _net(arch, proxy, **kw):
  return models.nb201_network(arch, **{**SMALL, **dict(proxy.network), **kw})


@pytest.fixture(scope="module")
def batch():
  x = jax.random.normal(jax.random.key(3), (8, 8, 8, 3))
  return Batch(x, jax.random.randint(jax.random.key(4), (8,), 0, 10))


@pytest.mark.parametrize("name", sorted(proxies.REGISTRY))
def test_conformance(name, batch):
  proxy = proxies.get(name)
  assert proxy.name == name and isinstance(proxy.higher_is_better, bool) and proxy.reference
  with jax.enable_x64(True):
    net = _net(HEALTHY, proxy)
    v = net.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
    f = fast_jit(lambda v, b, k: proxy.fn(net, v, b, k))
    s1 = f(v, batch, jax.random.key(1))
    assert s1.shape == () and np.isfinite(s1)
    # Deterministic given weights, batch and key; the key is unused except by KEYED proxies.
    np.testing.assert_allclose(f(v, batch, jax.random.key(1)), s1, rtol=0)
    if name not in KEYED:
      np.testing.assert_allclose(f(v, batch, jax.random.key(2)), s1, rtol=0)
    # Batch-permutation invariance: symmetric in the samples, except that SAMPLE0 proxies read
    # sample 0 (kept in place) and SPLIT proxies are symmetric within and across the two halves.
    perm = np.random.default_rng(0).permutation(8)
    if name in SAMPLE0:
      perm = np.concatenate([[0], 1 + np.random.default_rng(0).permutation(7)])
    elif name in SPLIT:
      rng = np.random.default_rng(0)
      perm = np.concatenate([4 + rng.permutation(4), rng.permutation(4)])  # halves swapped too
    exact = ("nwot", "synflow", "params", "flops", "swap", "reg_swap", "rbflex")
    tol = TOL["logdet_float64"] if name in exact else TOL["logdet_float32"]
    if name not in ("az_trainability", "zen"):  # their random draws are tied to batch positions
      np.testing.assert_allclose(f(v, Batch(batch.x[perm], batch.y[perm]), jax.random.key(1)), s1,
                                 **tol)  # float32 networks: summation order changes with the order
    # Depends on the weights (except the pure size proxies).
    v2 = net.init(jax.random.key(5), input_shape=(1, 8, 8, 3))
    if name not in ("params", "flops", "vkdnw_dim") + SATURATING:
      assert not np.isclose(f(v2, batch, jax.random.key(1)), s1)
    # Zero-output cell: documented value, never a crash.
    z = _net(ZERO, proxy)
    vz = z.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
    sz = fast_jit(lambda v, b, k: proxy.fn(z, v, b, k))(vz, batch, jax.random.key(1))
    if name == "synflow":
      assert sz == 0.0  # no weight path reaches the output
    elif name in ("jacob_cov", "epe_nas"):
      assert np.isnan(sz)  # the output ignores the input: 0/0 correlations, as in the reference
    elif name == "ntk_cond":
      assert np.isnan(sz)  # no chosen weight moves the output: Theta = 0, 0/0
    elif name == "ntk_min_eig":
      assert sz == 0.0
    elif name == "ntk_trace_norm":
      assert sz == 1.0  # only the classifier bias moves S: g_i = e_{y_i}
    elif name == "hnas_cond":  # Theta_ij = [y_i == y_j]: singular unless all labels differ
      assert sz == (1.0 if len(set(np.asarray(batch.y).tolist())) == 8 else np.inf)
    elif name == "zico":
      assert sz == 0.0  # every kernel gradient is 0 in both halves: every layer skipped
    elif name in ("meco", "meco_opt", "swap", "reg_swap"):
      assert np.isfinite(sz)  # the ReLUs / modules reading the stem output still contribute
    elif name == "linear_regions":
      assert sz == 8.0  # the ReLU of edge 1<-0 reads the stem output: every sample its own region
    elif name in ("az_expressivity", "az_progressivity"):
      assert sz == -np.inf  # zero feature maps: 0/0 eigenvalue distributions, NaN -> -inf
    elif name == "zen":
      assert sz == -np.inf  # the output ignores the input: log 0
    elif name == "vkdnw":
      assert sz == 0.0  # only the classifier bias moves the logits: every Fisher quantile is 0
    elif name == "vkdnw_dim":
      assert sz == 30.0  # 21 tensors + 9 per conv edge at C=4, N=1
    elif name == "rbflex":
      assert sz == -np.inf  # identical pooled features: Q = 11^T, slogdet -inf, as the reference
    elif name == "az_trainability":
      assert np.isfinite(sz)  # zero-output cells: largest singular value 0, a very low score
    else:
      assert not np.isnan(sz)
    if name in ("swap", "reg_swap"):  # all-none: every ReLU reads zeros, one (all-zero) pattern
      a = _net((0,) * 6, proxy)
      va = a.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
      sa = fast_jit(lambda v, b: proxies.swap(a, v, b, None))(va, batch)
      assert sa == 1.0
    if name == "linear_regions":  # all-none: every ReLU reads zeros, one region
      a = _net((0,) * 6, proxy)
      va = a.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
      assert fast_jit(lambda v, b, k: proxy.fn(a, v, b, k))(va, batch, jax.random.key(1)) == 1.0
    if name == "nwot":  # all-none: no ReLU sees the input, K = N_A 11^T is singular
      a = _net((0,) * 6, proxy)
      va = a.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
      assert fast_jit(lambda v, b: proxy.fn(a, v, b, None))(va, batch) == -np.inf


DATA_FREE = ("params", "l2_norm", "vkdnw_dim")  # read neither images nor labels: nothing to validate


@pytest.mark.parametrize("name", sorted(n for n in proxies.REGISTRY if n not in DATA_FREE))
def test_bad_batches_raise_clear_errors(name):
  """Every proxy that reads the batch validates it."""
  proxy = proxies.get(name)
  net = _net(HEALTHY, proxy)
  v = net.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
  key = jax.random.key(0) if name in KEYED else None
  with jax.enable_x64(True):
    with pytest.raises(ValueError, match="leading batch axis"):
      proxy.fn(net, v, Batch(jnp.ones((8,))), key)
    if name != "flops":  # flops of a jaxnas Network is analytic and never runs the network
      with pytest.raises(ValueError, match="NHWC images with 3 channels"):
        proxy.fn(net, v, Batch(jnp.ones((2, 8, 8, 1)), jnp.zeros(2, jnp.int32)), key)
    with pytest.raises(TypeError, match="floating point"):
      proxy.fn(net, v, Batch(jnp.ones((2, 8, 8, 3), jnp.int32)), key)


def test_check_batch_labels():
  from jaxnas.proxies._base import check_batch

  x = jnp.ones((4, 8, 8, 3))
  with pytest.raises(ValueError, match="needs labels"):
    check_batch(Batch(x), needs_labels=True, name="p")
  with pytest.raises(ValueError, match=r"shape \(4,\)"):
    check_batch(Batch(x, jnp.zeros(3, jnp.int32)), needs_labels=True, name="p")
  with pytest.raises(TypeError, match="integer class labels"):
    check_batch(Batch(x, jnp.zeros(4)), needs_labels=True, name="p")


@pytest.mark.parametrize("name", ["nwot", "swap", "linear_regions", "meco", "rbflex"])
def test_capturing_proxies_say_what_a_plain_apply_fn_lacks(name):
  """ReLU-input and module-output proxies given a function without ``capture`` (a plain Flax
  ``apply``) or one returning other records: a TypeError naming the proxy and the records."""
  x = Batch(jnp.ones((2, 8, 8, 3)))
  plain = lambda v, x, train=True: x.sum(axis=(1, 2))
  wrong = lambda v, x, train=True, capture=False: (x.sum(axis=(1, 2)), (x,))  # arrays, not records
  for apply_fn in (plain, wrong):
    with pytest.raises(TypeError, match=f"{name} needs the network's .* `apply_fn\\(variables, x, "
                                        "train=True, capture="):
      proxies.get(name).fn(apply_fn, {}, x, jax.random.key(0))


def test_registry_lookup_errors():
  with pytest.raises(ValueError, match="Did you mean 'synflow'"):
    proxies.get("synflw")
  with pytest.raises(ValueError, match="twice"):
    proxies.parse("nwot,nwot")
  assert [p.name for p in proxies.parse("nwot, params")] == ["nwot", "params"]


def test_synflow_needs_float64_on_nb201_and_says_so():
  proxy = proxies.get("synflow")
  net = models.nb201_network((3,) * 6, **dict(proxy.network))
  b = Batch(jnp.ones((1, 32, 32, 3)))
  with jax.enable_x64(False):
    v = net.init(jax.random.key(0))
    with pytest.raises(ValueError, match="JAX_ENABLE_X64=1"):
      proxies.synflow(net, v, b, None)
    s32 = fast_jit(lambda v: proxies.synflow(net, v, b, None, dtype=jnp.float32))(v)
  assert not np.isfinite(s32)  # the all-conv cell overflows float32
  with jax.enable_x64(True):
    v = net.init(jax.random.key(0))
    s64 = float(fast_jit(lambda v: proxies.synflow(net, v, b, None))(v))
  assert np.isfinite(s64) and s64 > 3.4e38


def test_nwot_float32_logdet_is_within_tolerance_of_float64(batch):
  proxy = proxies.get("nwot")
  net = _net(HEALTHY, proxy)
  v = net.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
  with jax.enable_x64(True):
    f = fast_jit(lambda v, b: (proxies.nwot(net, v, b, None, dtype=jnp.float32),
                               proxies.nwot(net, v, b, None, dtype=jnp.float64)))
    s32, s64 = f(v, batch)
    once = fast_jit(lambda v, b: proxies.nwot(net, v, b, None, duplicate_wrapped=False))(v, batch)
  np.testing.assert_allclose(s32, s64, **TOL["logdet_float32"])
  assert once < s64  # counting wrapped ReLUs once gives a smaller kernel


def test_size_proxies_on_nb201_match_analytic_counts(batch):
  for arch in [HEALTHY, ZERO] + [tuple(e) for e in nb201.sample(np.random.default_rng(0), 3)]:
    net = models.nb201_network(arch)
    sup = models.with_arch(models.nb201_network(None), jnp.asarray(arch))
    for n in (net, sup):
      with jax.enable_x64(True):  # counts above 2**24 are exact in float64
        assert int(proxies.num_params(n, None, batch, None)) == nb201.num_params(arch)
        assert int(proxies.flops(n, None, Batch(jnp.ones((1, 32, 32, 3))), None)) == nb201.flops(arch)
      np.testing.assert_allclose(proxies.flops(n, None, Batch(jnp.ones((1, 32, 32, 3))), None),
                                 nb201.flops(arch), rtol=1e-7)
