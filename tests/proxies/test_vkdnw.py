"""VKDNW (Tybl & Neumann, CVPR 2025): naive float64 reference, supernet, degenerate cells, errors,
PyTorch golden values, and the VKDNW_single / VKDNW_agg rankings."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxnas import evaluate, models
from jaxnas._tree import is_stacked
from jaxnas.proxies import Batch
from jaxnas.proxies._vkdnw import (
    QUANTILES,
    linspace_indices,
    num_param_tensors,
    param_tensors,
    vkdnw,
    vkdnw_dim_proxy,
    vkdnw_proxy,
)
from jaxnas.spaces._nb201 import EDGES

from ..conftest import TOL, fast_jit

SMALL = dict(C=4, N=1)
HEALTHY = (3, 2, 4, 3, 1, 3)
ZERO = (3, 0, 0, 0, 0, 0)  # node 3 only reads 'none' edges
CONV = (2, 3)  # nor_conv_1x1, nor_conv_3x3


def _subset(tree, like):
  return {k: _subset(tree[k], like[k]) for k in like} if isinstance(like, dict) else tree


def _kaiming(shapes, seed):
  """The reference's init drawn with NumPy (no init program to compile): conv/linear weights
  N(0, 2 / fan_in), biases 0, BN scale 1 / bias 0, running mean 0 / variance 1."""
  rng = np.random.default_rng(seed)

  def leaf(path, s):
    name = str(getattr(path[-1], "key", path[-1]))
    if name == "kernel":
      fan_in = int(np.prod(s.shape[1:-1] if is_stacked(path) else s.shape[:-1]))
      return jnp.asarray(rng.normal(size=s.shape) * np.sqrt(2.0 / fan_in))
    return jnp.full(s.shape, 1.0 if name in ("scale", "var") else 0.0)

  return jax.tree_util.tree_map_with_path(leaf, shapes)


@functools.lru_cache(maxsize=None)
def _setup():
  """C=4, N=1 float64 supernet and exact HEALTHY network with the reference's (Kaiming fan-in)
  init, and 8 standard-normal 8x8 images. The exact network's variables are the supernet's of the
  same name. Build under x64."""
  sup = models.nb201_network(None, dtype=jnp.float64, **SMALL)
  vs = _kaiming(sup.variable_shapes((1, 8, 8, 3)), 0)
  net = models.nb201_network(HEALTHY, dtype=jnp.float64, **SMALL)
  v = _subset(vs, net.variable_shapes((1, 8, 8, 3)))
  x = jnp.asarray(np.random.default_rng(1).normal(size=(8, 8, 8, 3)))
  return sup, vs, net, v, x


@functools.lru_cache(maxsize=None)
def _exact_score():
  """vkdnw (default knobs) of the exact HEALTHY network of :func:`_setup` (compiled once)."""
  with jax.enable_x64(True):
    _, _, net, v, x = _setup()
    return float(fast_jit(lambda v, x: vkdnw(net, v, Batch(x), None))(v, x))


# -- a naive float64 re-implementation ---------------------------------------------------------
F16 = np.float16
# The reference forms 1 - alpha and alpha / K from a float16 alpha.
SCALE, SHIFT = float(F16(1) - F16(0.05)), float(F16(0.05) / F16(10))


def naive_entropy(logits, jac, *, scale, shift):
  """From logits (N, K) and Jacobians (N, K, P): the reference's factor L entry by entry (Tanabe &
  Sagae), F = mean (LJ)^T LJ, np.linalg.eigvalsh, np.quantile (linear), normalised entropy."""
  n, kk = logits.shape
  fisher = 0
  for i in range(n):
    e = np.exp(logits[i] - logits[i].max())
    p = e / e.sum() * scale + shift
    q = [1 - sum(p[: j + 1]) for j in range(kk)]
    q[-1] = 0.0
    lmat = np.zeros((kk, kk))
    for r in range(kk):
      for c in range(r + 1):
        d = np.sqrt(p[c] * q[c] / (q[c - 1] if c else 1.0))
        lmat[r, c] = d if r == c else -p[r] / q[c] * d
    a = lmat @ jac[i]
    fisher = fisher + a.T @ a / n
  lam = np.sort(np.abs(np.linalg.eigvalsh(fisher)))
  qv = np.quantile(lam, QUANTILES, method="linear")
  t = qv / (np.sum(np.abs(qv)) + 1e-10)
  return -np.sum(t * np.log(t + 1e-10))


def torch_order(arch):
  """(jaxnas path, stack index) of every parameter tensor of xautodl's TinyNetwork(C, N=1, arch),
  in PyTorch ``named_parameters()`` order, written out module by module."""
  conv_bn = lambda p, c=None: [(p + ("conv", "kernel"), c), (p + ("bn", "scale"), c),
                               (p + ("bn", "bias"), c)]
  out = conv_bn(("stem",))
  for stage, layer in enumerate((0, 2, 4)):
    if stage:
      res = f"layer{layer - 1}"
      out += conv_bn((f"{res}_conv_a",)) + conv_bn((f"{res}_conv_b",))
      out.append(((f"{res}_downsample", "kernel"), None))
    for pos, op in enumerate(arch):  # InferCell.layers: one module per edge, arch-string order
      if op in CONV:
        t, s = EDGES[pos]
        name = f"edge_{t}_{s}_{('nor_conv_1x1', 'nor_conv_3x3')[CONV.index(op)]}"
        out += conv_bn((f"layer{layer}_cells", "cell", name), 0)
  return out + [(("lastact_bn", "scale"), None), (("lastact_bn", "bias"), None),
                (("classifier", "kernel"), None), (("classifier", "bias"), None)]


def test_nb201_matches_naive_float64_loops_and_pytorch():
  """Jacobian rows by jax.grad of one logit of one sample (eval-mode BN), the first weight of each
  tensor in PyTorch order; and the reference's own value on these weights and images."""
  with jax.enable_x64(True):
    _, _, net, v, x = _setup()
    one_logit = fast_jit(jax.value_and_grad(
        lambda p, x1, k: net({**v, "params": p}, x1[None], train=False)[0, k]))

    def first(g, path, c):
      for key in path:
        g = g[key]
      return (g if c is None else g[c]).ravel()[0]

    order = torch_order(HEALTHY)
    logits, jac = np.zeros((8, 10)), np.zeros((8, 10, len(order)))
    for i in range(8):
      for k in range(10):
        logit, g = one_logit(v["params"], x[i], k)
        g = jax.tree.map(np.asarray, g)
        logits[i, k] = logit
        jac[i, k] = [first(g, path, c) for path, c in order]
  want = naive_entropy(logits, jac, scale=SCALE, shift=SHIFT)
  assert 0 < want < np.log(len(QUANTILES))
  np.testing.assert_allclose(_exact_score(), want, **TOL["logdet_float64"])
  # Golden value: ondratybl/VKDNW@6901b65 compute_nas_score(params_grad_len=128, p=1) on VKDNW's
  # TinyNetwork(4, 1) loaded with these weights, on these images, float64, PyTorch 2.13 CPU
  # (init_model skipped; jacrev's write into a captured tensor replaced by a clone, which torch >= 2.1
  # requires). Regenerate only if _setup changes.
  np.testing.assert_allclose(_exact_score(), 0.6751013870301847, **TOL["logdet_float64"])


def mlp_apply(params, x, *, train=True):
  del train
  h = x.reshape(x.shape[0], -1)
  for layer in params["hidden"]:
    h = jax.nn.relu(h @ layer["kernel"] + layer["bias"])
  return h @ params["head"]["kernel"] + params["head"]["bias"]


def test_weight_choice_cutoff_and_layout_match_naive_loops_on_an_mlp():
  """Three weights per tensor at ``torch.linspace`` positions in PyTorch's (out, in) layout, from
  the first four tensors; a plain apply_fn's tensors come module by module in tree order, weight
  before bias (head, hidden[0], hidden[1])."""
  rng = np.random.default_rng(0)
  sizes = (12, 7, 5, 4)
  params = {"hidden": [{"kernel": rng.normal(size=(a, b)) / np.sqrt(a),
                        "bias": rng.normal(size=b) * 0.1} for a, b in zip(sizes[:-2], sizes[1:-1])],
            "head": {"kernel": rng.normal(size=sizes[-2:]) / np.sqrt(sizes[-2]),
                     "bias": rng.normal(size=sizes[-1]) * 0.1}}
  x = rng.normal(size=(9, 12))
  order = [("head", "kernel"), ("head", "bias"), ("hidden", 0, "kernel"), ("hidden", 0, "bias")]
  with jax.enable_x64(True):
    p = jax.tree.map(jnp.asarray, params)
    score = fast_jit(lambda p, x: vkdnw(mlp_apply, p, Batch(x), None, num_tensors=4,
                                        weights_per_tensor=3, smoothing_dtype=None))
    got = score(p, jnp.asarray(x))
    logits = np.asarray(mlp_apply(p, jnp.asarray(x)))
    jac_of = fast_jit(jax.jacrev(lambda p, x1: mlp_apply(p, x1[None])[0]))  # leaves (K, *shape)
    jac = []
    for i in range(x.shape[0]):
      g = jac_of(p, jnp.asarray(x[i]))
      cols = []
      for path in order:
        leaf = g
        for key in path:
          leaf = leaf[key]
        leaf = np.asarray(leaf)
        t = leaf.transpose(0, 2, 1).reshape(leaf.shape[0], -1) if leaf.ndim == 3 else leaf
        n = t.shape[1]
        cols += [t[:, j] for j in np.linspace(0, n - 1, 3).astype(int)]  # torch (out, in) positions
      jac.append(np.stack(cols, axis=1))
  want = naive_entropy(logits, np.array(jac), scale=0.95, shift=0.05 / 4)
  np.testing.assert_allclose(got, want, **TOL["logdet_float64"])


def test_tensor_order_and_count_match_pytorch():
  """The order is xautodl TinyNetwork's named_parameters(): 57 tensors for HEALTHY at C=4, N=1
  (``len(list(TinyNetwork(4, 1, genotype, 10).named_parameters()))``, PyTorch 2.x)."""
  net = models.nb201_network(HEALTHY, **SMALL)
  shapes = net.variable_shapes((1, 8, 8, 3))["params"]
  flat = jax.tree_util.tree_flatten_with_path(shapes)[0]
  got = [(tuple(str(getattr(p, "key", p)) for p in flat[s.leaf][0]), s.cell)
         for s in param_tensors(shapes, net.layout.param_order)]
  assert got == torch_order(HEALTHY) and len(got) == 57
  assert int(num_param_tensors(net, {"params": shapes}, None, None)) == 57


def test_linspace_indices_are_torch_linspace_long():
  """Golden values of ``torch.linspace(0, n - 1, steps=k).long()`` (PyTorch 2.x, CPU)."""
  golden = {(2304, 3): [0, 1151, 2303], (10, 4): [0, 3, 6, 9], (16, 3): [0, 7, 15],
            (432, 8): [0, 61, 123, 184, 246, 307, 369, 431], (9216, 5): [0, 2303, 4607, 6911, 9215],
            (7, 1): [0]}
  for (n, k), want in golden.items():
    assert linspace_indices(n, k).tolist() == want


# -- supernet and degenerate cells ------------------------------------------------------------
def test_supernet_equals_exact_network_and_zero_output_cells_score_zero():
  with jax.enable_x64(True):
    sup, vs, _, _, x = _setup()
    f = fast_jit(lambda a, v, x: jnp.stack([
        vkdnw(models.with_arch(sup, a), v, Batch(x), None, samples_per_step=None),
        num_param_tensors(models.with_arch(sup, a), v, None, None)]))
    got = np.array([f(jnp.asarray(a, jnp.int32), vs, x) for a in (HEALTHY, ZERO, (0,) * 6)])
  np.testing.assert_allclose(got[0, 0], _exact_score(), **TOL["logdet_float64"])
  # Zero-output cells: only the classifier bias moves the logits, every quantile is 0.
  assert got[1, 0] == 0.0 and got[2, 0] == 0.0
  # 21 tensors outside the cells, 9 per conv edge at N=1 (one cell per stage).
  assert got[:, 1].tolist() == [57.0, 30.0, 21.0]


# -- errors -----------------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
  net = models.nb201_network(HEALTHY, **SMALL)
  v = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), net.variable_shapes((1, 8, 8, 3)))
  b = Batch(jnp.ones((2, 8, 8, 3)))
  with jax.enable_x64(True):
    with pytest.raises(ValueError, match=r"`num_tensors` must be >= 1.*`weights_per_tensor` must.*"
                                         r"`samples_per_step` must"):
      vkdnw(net, v, b, None, num_tensors=0, weights_per_tensor=0, samples_per_step=0)
    with pytest.raises(TypeError, match="`num_tensors` must be an int"):
      vkdnw(net, v, b, None, num_tensors=12.5)
    with pytest.raises(TypeError, match="`weights_per_tensor` must be an int"):
      vkdnw(net, v, b, None, weights_per_tensor="1")
    with pytest.raises(ValueError, match="`quantiles` must be"):
      vkdnw(net, v, b, None, quantiles=(0.5, 1.5))
    with pytest.raises(ValueError, match=r"exceeds the size of parameter tensors .*stem"):
      vkdnw(net, v, b, None, weights_per_tensor=5)  # C=4: BN tensors hold 4 weights
    with pytest.raises(ValueError, match="leading batch axis"):
      vkdnw(net, v, Batch(jnp.ones((8,))), None)
    with pytest.raises(TypeError, match="floating point"):
      vkdnw(net, v, Batch(jnp.ones((2, 8, 8, 3), jnp.int32)), None)
  with jax.enable_x64(False):
    with pytest.raises(ValueError, match="JAX_ENABLE_X64=1"):
      vkdnw(net, v, b, None)


def test_proxy_records():
  assert vkdnw_proxy.name == "vkdnw" and vkdnw_proxy.higher_is_better and vkdnw_proxy.needs_grad
  assert not vkdnw_proxy.needs_labels and vkdnw_proxy.batch_size == 64
  assert "ondratybl/VKDNW@6901b65" in vkdnw_proxy.reference
  assert vkdnw_dim_proxy.name == "vkdnw_dim" and not vkdnw_dim_proxy.needs_grad


# -- VKDNW_single and VKDNW_agg ---------------------------------------------------------------
def test_vkdnw_single_is_a_dense_lexicographic_rank():
  dim = [21, 66, 21, 66, 291, 21]
  ent = [0.5, 0.1, 0.0, 0.1, 0.0, np.nan]
  # (21, nan) < (21, 0.0) < (21, 0.5) < (66, 0.1) = (66, 0.1) < (291, 0.0)
  np.testing.assert_array_equal(evaluate.vkdnw_single(dim, ent), [3, 4, 2, 4, 5, 1])
  with pytest.raises(ValueError, match="`entropy` must be of length 6"):
    evaluate.vkdnw_single(dim, ent[:3])
  with pytest.raises(ValueError, match="`dim` must be non-empty"):
    evaluate.vkdnw_single([], [])


def test_vkdnw_aggregate_is_the_reference_formula():
  rng = np.random.default_rng(0)
  p = 40
  dim = rng.choice([21.0, 66.0, 111.0], p)
  ent = rng.uniform(0, 2, p)
  ent[:4] = 0.0  # ties (zero-output cells)
  cols = [rng.normal(size=p) for _ in range(4)]  # flops, expressivity, trainability, jacov
  cols[1][5] = -np.inf  # AZ-NAS's zero feature maps
  cols[3][[7, 8]] = np.nan  # jacov failed: the reference fills the population minimum
  got = evaluate.vkdnw_aggregate(dim, ent, *cols)
  # pandas: score = sum of rank().apply(np.log); vkdnw: tuple dense rank; jacov NaN -> min.
  dense = stats.rankdata([f"{d:08.3f}|{e:.12f}" for d, e in zip(dim, ent)], method="dense")
  jac = np.where(np.isnan(cols[3]), np.nanmin(cols[3]), cols[3])
  want = np.log(dense) + sum(np.log(stats.rankdata(c)) for c in (cols[0], cols[1], cols[2], jac))
  np.testing.assert_allclose(got + 5 * np.log(p), want, **TOL["float64"])
  with pytest.raises(ValueError, match="`jacov` must be of length 40"):
    evaluate.vkdnw_aggregate(dim, ent, *cols[:3], cols[3][:5])
