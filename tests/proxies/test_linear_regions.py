"""TE-NAS linear regions: naive pattern sets, the reference's counting formula, supernet, inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, proxies
from jaxnas.proxies import Batch

from ..conftest import fast_jit
from .test_proxies import mlp_apply, mlp_params

SMALL = dict(C=4, N=1)
HEALTHY = (3, 2, 4, 3, 1, 3)


def naive_regions(acts):
  """Distinct per-sample patterns: a Python set of 0/1 tuples over every listed ReLU output."""
  n = acts[0].shape[0]
  rows = [tuple(int(v > 0) for a in acts for v in np.asarray(a[i]).ravel()) for i in range(n)]
  return len(set(rows))


def reference_formula(codes):
  """LinearRegionCount.calc_LR in float64 NumPy: sum_i 1 / #{j : a_j == a_i}, via A (1 - A)^T."""
  a = np.asarray(codes, np.float64)
  res = a @ (1 - a).T
  res = res + res.T
  return float(np.sum(1.0 / np.sum(1 - np.sign(res), axis=1)))


def test_count_distinct_rows_matches_sets_and_the_reference_formula():
  rng = np.random.default_rng(0)
  for n, v in ((1, 5), (9, 70)):  # 70 neurons: three packed words
    codes = rng.integers(0, 2, size=(n, v)).astype(bool)
    codes[n // 2] = codes[0]  # a repeated pattern
    valid = rng.integers(0, 2, size=v).astype(bool)
    got = int(proxies.count_distinct_rows(codes, valid))
    want = len({tuple(r[valid]) for r in codes})
    assert got == want == round(reference_formula(codes[:, valid]))
  assert int(proxies.count_distinct_rows(np.zeros((4, 0), bool))) == 1  # no neuron: one region


def test_mlp_matches_naive_pattern_set():
  params = jax.tree.map(jnp.asarray, mlp_params(np.random.default_rng(1)))
  x = jnp.asarray(np.random.default_rng(2).normal(size=(16, 12)))
  x = x.at[5].set(x[3])  # two samples in one region
  got = proxies.linear_regions(mlp_apply, params, Batch(x), None, gaussian_inputs=False,
                               conv_only=False)
  h, acts = np.asarray(x), []
  for layer in params["hidden"]:
    h = np.maximum(h @ np.asarray(layer["kernel"]) + np.asarray(layer["bias"]), 0)
    acts.append(h)
  assert got == naive_regions(acts) < 16
  # conv_only (the reference's hook): an MLP has no 4-D ReLU input, a single (empty) pattern.
  assert proxies.linear_regions(mlp_apply, params, Batch(x), None, gaussian_inputs=False) == 1


def test_nb201_counts_the_hooked_relu_outputs_of_the_gaussian_inputs():
  """(The masked supernet's ReLU validity is that of SWAP's activation_patterns, tested with SWAP;
  count_distinct_rows applies it above.)"""
  net = models.nb201_network(HEALTHY, **SMALL)
  v = net.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
  # Few distinct patterns: 4-pixel images in two colours, repeated.
  base = jax.random.normal(jax.random.key(1), (3, 2, 2, 3))
  x = jnp.repeat(jnp.repeat(base[jnp.array([0, 1, 0, 2, 1, 0])], 4, axis=1), 4, axis=2)
  zeros = jnp.zeros_like(x)  # all samples equal: one region if the batch were read

  def lr(n, v, x, key=None):
    return proxies.linear_regions(n, v, Batch(x), key, gaussian_inputs=key is not None)

  acts, exact, gauss, gauss_shifted, given_zeros = fast_jit(lambda v, x, z, k: (
      net(v, x, train=True, capture=True)[1], lr(net, v, x), lr(net, v, z, k),
      lr(net, v, z + 1.0, k), lr(net, v, z)))(v, x, zeros, jax.random.key(0))
  outs = [np.maximum(np.asarray(a.pre), 0) for a in acts if a.pre.ndim == 4 and int(a.weight) > 0]
  assert exact == naive_regions(outs) == 3
  # Gaussian inputs come from the key; only the batch's shape is read.
  assert gauss == 6 == gauss_shifted and given_zeros == 1
  with pytest.raises(ValueError, match="linear_regions draws its standard-normal inputs"):
    proxies.linear_regions(net, v, Batch(x), None)


def naive_average_ranks(values):
  """1-based ranks, ties sharing their mean rank, by explicit counting."""
  return [sum(w < v for w in values) + (sum(w == v for w in values) + 1) / 2 for v in values]


def test_te_nas_aggregate_is_the_rank_sum_with_nan_as_100000():
  from jaxnas import evaluate

  kappa = [3.0, np.nan, 1e6, 20.0, 3.0, np.inf]
  regions = [64, 1, 64, 60, 61, 64]
  as_ref = [-k if np.isfinite(k) or np.isinf(k) else -100000.0 for k in kappa]
  want = np.add(naive_average_ranks(as_ref), naive_average_ranks(regions))
  got = evaluate.te_nas_aggregate(kappa, regions)
  np.testing.assert_array_equal(got, want)
  ntk_only = evaluate.te_nas_aggregate(kappa, np.ones(6))
  assert ntk_only[1] > ntk_only[2]  # NaN counts as kappa = 1e5: better than 1e6, as there
  with pytest.raises(ValueError, match="`linear_regions` must be of length 6"):
    evaluate.te_nas_aggregate(kappa, regions[:3])
