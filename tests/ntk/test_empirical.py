"""The empirical NTK engine against closed forms, naive float64 loops, and itself (both methods)."""

from __future__ import annotations

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import ntk
from tests.conftest import TOL

IMPLS = list(ntk.NtkImplementation)


def _mlp_init(key, sizes):
  keys = jax.random.split(key, len(sizes) - 1)
  return [{"w": jax.random.normal(k, (a, b), jnp.float64) / np.sqrt(a), "b": jnp.full((b,), 0.1)}
          for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def _mlp(params, x, out_shape=(2, 3)):
  """Batch-independent MLP with a (N, *out_shape) output."""
  h = x
  for i, layer in enumerate(params):
    h = h @ layer["w"] + layer["b"]
    if i < len(params) - 1:
      h = jnp.tanh(h)
  return h.reshape((x.shape[0],) + out_shape)


def _naive_full_kernel(f, params, x1, x2):
  """K[o1..., o2...] = sum_p df(x1)[o1]/dp df(x2)[o2]/dp, one scalar gradient per output entry."""
  flat = lambda g: np.concatenate([np.asarray(a, np.float64).ravel() for a in jax.tree.leaves(g)])
  def grads(x):
    out = f(params, x)
    rows = []
    for idx in itertools.product(*map(range, out.shape)):
      rows.append(flat(jax.grad(lambda p, idx=idx: f(p, x)[idx])(params)))
    return out.shape, np.stack(rows)
  s1, g1 = grads(x1)
  s2, g2 = grads(x2)
  return (g1 @ g2.T).reshape(s1 + s2)


def _naive_layout(full, ndim, trace, diagonal):
  """neural-tangents' layout, by explicit loops: free axes twice (zipped), diagonal once, traced
  axes averaged."""
  s1, s2 = full.shape[:ndim], full.shape[ndim:]
  out_axes = []
  for a in range(ndim):
    if a in diagonal:
      out_axes.append((a, "d"))
    elif a not in trace:
      out_axes += [(a, 1), (a, 2)]
  shape = tuple(s1[a] if w in ("d", 1) else s2[a] for a, w in out_axes)
  res = np.zeros(shape)
  for ridx in itertools.product(*map(range, shape)):
    total = 0.0
    for tidx in itertools.product(*[range(s1[a]) for a in trace]):
      i1, i2 = [None] * ndim, [None] * ndim
      for (a, w), v in zip(out_axes, ridx):
        if w == "d":
          i1[a] = i2[a] = v
        elif w == 1:
          i1[a] = v
        else:
          i2[a] = v
      for a, v in zip(trace, tidx):
        i1[a] = i2[a] = v
      total += full[tuple(i1) + tuple(i2)]
    res[ridx] = total / max(1, int(np.prod([s1[a] for a in trace])))
  return res


@pytest.mark.parametrize("impl", IMPLS)
def test_linear_model_closed_form(impl, getkey):
  """f(x) = x W + b: NTK = (x1 x2^T + 1) per logit pair on the diagonal, 0 off it."""
  with jax.enable_x64(True):
    x1 = jax.random.normal(getkey(), (4, 5), jnp.float64)
    x2 = jax.random.normal(getkey(), (3, 5), jnp.float64)
    params = {"w": jax.random.normal(getkey(), (5, 6), jnp.float64), "b": jnp.zeros(6)}
    f = lambda p, x: x @ p["w"] + p["b"]
    want = np.asarray(x1 @ x2.T) + 1.0
    traced = ntk.empirical_ntk_fn(f, implementation=impl)(x1, x2, params)
    np.testing.assert_allclose(traced, want, **TOL["float64"])
    full = ntk.empirical_ntk_fn(f, trace_axes=(), implementation=impl)(x1, x2, params)
    assert full.shape == (4, 3, 6, 6)
    np.testing.assert_allclose(full, want[:, :, None, None] * np.eye(6), **TOL["float64"])


AXES = [((), ()), ((-1,), ()), ((1,), ()), ((), (-1,)), ((), (0,)), ((-1,), (0,)), ((1,), (2,)),
        ((2,), (1,)), ((1, 2), ()), ((0,), (2,)), ((), (1, 2))]


@pytest.mark.parametrize("trace,diagonal", AXES)
@pytest.mark.parametrize("impl", IMPLS)
def test_axes_layout_matches_naive_float64(impl, trace, diagonal, getkey):
  with jax.enable_x64(True):
    params = _mlp_init(getkey(), [4, 7, 6])
    x1 = jax.random.normal(getkey(), (3, 4), jnp.float64)
    x2 = x1 if 0 in diagonal or 0 in trace else jax.random.normal(getkey(), (2, 4), jnp.float64)
    got = ntk.empirical_ntk_fn(_mlp, trace_axes=trace, diagonal_axes=diagonal,
                               implementation=impl)(x1, x2, params)
    full = _naive_full_kernel(_mlp, params, x1, x2)
    want = _naive_layout(full, 3, [a % 3 for a in trace], [a % 3 for a in diagonal])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL["float64"])


@pytest.mark.parametrize("impl", IMPLS)
def test_x2_none_is_x1_and_vmap_axes_agree_for_independent_samples(impl, getkey):
  with jax.enable_x64(True):
    params = _mlp_init(getkey(), [4, 8, 6])
    x1 = jax.random.normal(getkey(), (5, 4), jnp.float64)
    x2 = jax.random.normal(getkey(), (3, 4), jnp.float64)
    for trace, diagonal in [((-1,), ()), ((), ()), ((), (-1,))]:
      plain = ntk.empirical_ntk_fn(_mlp, trace, diagonal, implementation=impl)
      vmapped = ntk.empirical_ntk_fn(_mlp, trace, diagonal, vmap_axes=0, implementation=impl)
      np.testing.assert_allclose(plain(x1, None, params), plain(x1, x1, params), **TOL["float64"])
      np.testing.assert_allclose(vmapped(x1, x2, params), plain(x1, x2, params), **TOL["float64"])
      np.testing.assert_allclose(jax.jit(vmapped)(x1, None, params), plain(x1, None, params),
                                 **TOL["float64"])


def test_implementations_agree_in_float32_on_a_cnn(getkey):
  """A small CNN with pooling and a residual connection, float32: both methods, rel. Frobenius."""

  def cnn(p, x):
    h = jax.lax.conv_general_dilated(x, p["c1"], (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    h = jax.nn.relu(h)
    h = h + jax.lax.conv_general_dilated(h, p["c2"], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.mean(h, axis=(1, 2)) @ p["w"]

  k = jax.random.split(getkey(), 4)
  params = {"c1": jax.random.normal(k[0], (3, 3, 3, 4)) / 5, "c2": jax.random.normal(k[1], (3, 3, 4, 4)) / 6,
            "w": jax.random.normal(k[2], (4, 3))}
  x = jax.random.normal(k[3], (6, 5, 5, 3))
  kernels = [jax.jit(ntk.empirical_ntk_fn(cnn, trace_axes=(), implementation=i))(x, None, params)
             for i in IMPLS]
  rel = np.linalg.norm(kernels[0] - kernels[1]) / np.linalg.norm(kernels[0])
  assert rel <= 1e-5, rel


class _BNNet(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool = True):
    h = nn.Dense(6)(x)
    h = nn.BatchNorm(use_running_average=not train)(h)
    return nn.Dense(3)(jnp.tanh(h))


def test_flax_apply_with_train_mode_batchnorm_and_vmap_axes_refused(getkey):
  with jax.enable_x64(True):
    model = _BNNet()
    x = jax.random.normal(getkey(), (5, 4), jnp.float64)
    variables = model.init(getkey(), x)
    variables = jax.tree.map(lambda a: a.astype(jnp.float64), variables)
    kernel = ntk.empirical_ntk_fn(model.apply, trace_axes=())(x, None, variables,
                                                               mutable=["batch_stats"])
    # Rows of the Jacobian of the *batched* function (BatchNorm couples the samples).
    f = lambda v: model.apply(v, x, mutable=["batch_stats"])[0]
    jac = jax.jacrev(f)(variables)
    flat = np.concatenate([np.asarray(a).reshape(15, -1) for a in jax.tree.leaves(jac)], axis=1)
    want = (flat @ flat.T).reshape(5, 3, 5, 3).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(kernel, want, **TOL["float64"])
    with pytest.raises(ValueError, match="vmap_axes.*mutable"):
      ntk.empirical_ntk_fn(model.apply, vmap_axes=0)(x, None, variables, mutable=["batch_stats"])
    with pytest.raises(ValueError, match="mutable"):
      ntk.batch(ntk.empirical_ntk_fn(model.apply), 2)(x, None, variables, mutable=["batch_stats"])

    def coupled(p, x):  # normalises over the batch without any Flax state
      h = x @ p
      return (h - h.mean(0)) / h.std(0)

    w = jax.random.normal(getkey(), (4, 3), jnp.float64)
    with pytest.raises(ValueError, match="changed output 0"):
      ntk.empirical_ntk_fn(coupled, vmap_axes=0)(x, None, w)


def test_ntk_vp_nngp_kernel_fn_and_pytree_outputs(getkey):
  with jax.enable_x64(True):
    params = _mlp_init(getkey(), [4, 8, 6])
    x1 = jax.random.normal(getkey(), (5, 4), jnp.float64)
    x2 = jax.random.normal(getkey(), (3, 4), jnp.float64)
    full = ntk.empirical_ntk_fn(_mlp, trace_axes=())(x1, x2, params)  # (5, 3, 2, 2, 3, 3)
    cot = jax.random.normal(getkey(), (3, 2, 3), jnp.float64)
    vp = ntk.empirical_ntk_vp_fn(_mlp, x1, x2, params)(cot)
    np.testing.assert_allclose(vp, np.einsum("ijabcd,jbd->iac", full, cot), **TOL["float64"])
    kfn = ntk.empirical_kernel_fn(_mlp)
    both = kfn(x1, x2, None, params)
    out1, out2 = _mlp(params, x1), _mlp(params, x2)
    np.testing.assert_allclose(both.nngp, np.einsum("iak,jbk->ijab", out1, out2) / 3,
                               **TOL["float64"])
    np.testing.assert_allclose(kfn(x1, x2, "ntk", params),
                               ntk.empirical_ntk_fn(_mlp)(x1, x2, params), **TOL["float64"])
    with pytest.raises(ValueError, match="get"):
      kfn(x1, x2, "nkt", params)
    np.testing.assert_allclose(both.ntk, ntk.empirical_ntk_fn(_mlp)(x1, x2, params),
                               **TOL["float64"])


def test_kernel_fn_returns_neural_tangents_namedtuple(getkey):
  """neural-tangents returns an ``EmpiricalKernel`` namedtuple for a tuple `get` (fields in
  the order asked, attribute access, unpacking) and for get=None (nngp, ntk); a string gives the
  array."""
  with jax.enable_x64(True):
    params = _mlp_init(getkey(), [4, 8, 6])
    x1 = jax.random.normal(getkey(), (5, 4))
    x2 = jax.random.normal(getkey(), (3, 4))
    kfn = ntk.empirical_kernel_fn(_mlp)
    k_nngp, k_ntk = kfn(x1, x2, "nngp", params), kfn(x1, x2, "ntk", params)
    both = kfn(x1, x2, ("nngp", "ntk"), params)
    assert isinstance(both, tuple) and type(both).__name__ == "EmpiricalKernel"
    assert both._fields == ("nngp", "ntk")
    nngp, ntk_ = both  # unpacking, as `nngp, ntk = kernel_fn(x1, x2, ("nngp", "ntk"), params)`
    np.testing.assert_array_equal(nngp, k_nngp)
    np.testing.assert_array_equal(both.ntk, k_ntk)
    rev = kfn(x1, x2, ("NTK", "nngp"), params)  # the order asked; names are case-insensitive
    assert rev._fields == ("ntk", "nngp")
    np.testing.assert_array_equal(rev[0], k_ntk)
    default = kfn(x1, None, None, params)
    assert default._fields == ("nngp", "ntk") and type(default) is type(both)
    assert default.ntk.shape == (5, 5, 2, 2)  # outputs (N, 2, 3), the last axis traced
    assert kfn(x1, x2, ("ntk",), params)._fields == ("ntk",)
    jitted = jax.jit(kfn, static_argnums=2)(x1, x2, ("nngp", "ntk"), params)
    assert type(jitted) is type(both)
    np.testing.assert_allclose(jitted.ntk, k_ntk, rtol=1e-5, atol=1e-6)
    # A pytree output: one namedtuple per output leaf, in the output's structure.
    pair = lambda p, x: (_mlp(p, x), jnp.sin(_mlp(p, x)))
    tree = ntk.empirical_kernel_fn(pair)(x1, x2, ("nngp", "ntk"), params)
    assert isinstance(tree, tuple) and len(tree) == 2 and tree[0]._fields == ("nngp", "ntk")
    np.testing.assert_allclose(tree[0].ntk, k_ntk, rtol=1e-5, atol=1e-6)
    for bad, match in [((), "at least one"), (("ntk", "ntk"), "repeat"), (("ntk", 3), "str")]:
      with pytest.raises((ValueError, TypeError), match=match):
        kfn(x1, x2, bad, params)
      two = lambda p, x: {"a": _mlp(p, x), "b": jnp.sin(_mlp(p, x))[:, 0]}
      for impl in IMPLS:
        k = ntk.empirical_ntk_fn(two, implementation=impl)(x1, x2, params)
        np.testing.assert_allclose(k["a"], ntk.empirical_ntk_fn(_mlp)(x1, x2, params),
                                   **TOL["float64"])
        sin0 = lambda p, x: jnp.sin(_mlp(p, x))[:, 0]
        np.testing.assert_allclose(k["b"], _naive_layout(_naive_full_kernel(sin0, params, x1, x2), 2,
                                                         [1], []), **TOL["float64"])


def test_batch_tiles_equal_the_whole_kernel(getkey):
  with jax.enable_x64(True):
    params = _mlp_init(getkey(), [4, 8, 6])
    x1 = jax.random.normal(getkey(), (7, 4), jnp.float64)
    x2 = jax.random.normal(getkey(), (5, 4), jnp.float64)
    fn = ntk.empirical_ntk_fn(_mlp, trace_axes=(-1,))
    tiled = ntk.batch(jax.jit(fn), 3)
    np.testing.assert_allclose(tiled(x1, x2, params), fn(x1, x2, params), **TOL["float64"])
    np.testing.assert_allclose(tiled(x1, None, params), fn(x1, None, params), **TOL["float64"])
    with pytest.raises(ValueError, match="batch_size"):
      ntk.batch(fn, 0)


def test_bad_arguments_raise_clear_errors(getkey):
  with jax.enable_x64(True):
    params = _mlp_init(getkey(), [4, 5, 6])
    x = jnp.ones((2, 4))
    with pytest.raises(ValueError, match="implementation"):
      ntk.empirical_ntk_fn(_mlp, implementation=7)
    with pytest.raises(ValueError, match="trace_axes"):
      ntk.empirical_ntk_fn(_mlp, trace_axes=(5,))(x, None, params)
    with pytest.raises(ValueError, match="overlap"):
      ntk.empirical_ntk_fn(_mlp, trace_axes=(1,), diagonal_axes=(1,))(x, None, params)
    with pytest.raises(ValueError, match="agree on the traced"):
      ntk.empirical_ntk_fn(_mlp, trace_axes=(0,))(x, jnp.ones((3, 4)), params)
    with pytest.raises(TypeError, match="vmap_axes"):
      ntk.empirical_ntk_fn(_mlp, vmap_axes="0")(x, None, params)


@pytest.mark.parametrize("trace,diagonal", [((-1,), ()), ((), ()), ((-1,), (1,))])
def test_chunked_contraction_equals_one_product(getkey, monkeypatch, trace, diagonal):
  """Long parameter axes are contracted slice by slice (padded to whole slices): same kernel."""
  from jaxnas.ntk import _empirical

  with jax.enable_x64(True):
    params = _mlp_init(getkey(), [4, 8, 6])
    x1 = jax.random.normal(getkey(), (5, 4), jnp.float64)
    x2 = jax.random.normal(getkey(), (3, 4), jnp.float64)
    fn = ntk.empirical_ntk_fn(_mlp, trace_axes=trace, diagonal_axes=diagonal)
    whole = [fn(x1, None, params), fn(x1, x2, params)]
    monkeypatch.setattr(_empirical, "GRAM_CHUNK", 5)  # 4x8 and 8x6 kernels: 7 and 10 steps, padded
    sliced = [fn(x1, None, params), fn(x1, x2, params)]
    for a, b in zip(whole, sliced):
      np.testing.assert_allclose(b, a, **TOL["float64"])


def test_basis_blocks_cover_the_basis_once_and_are_bounded(monkeypatch):
  from jaxnas.ntk import _empirical

  monkeypatch.setattr(_empirical.jax, "default_backend", lambda: "cpu")
  for size, block, most in [(1, 16, 32), (16, 16, 32), (17, 16, 32), (320, 16, 32), (10000, 16, 32),
                            (30, 7, 3), (30, 4, 3)]:
    monkeypatch.setattr(_empirical, "VP_BLOCK", block)
    monkeypatch.setattr(_empirical, "VP_MAX_BLOCKS", most)
    blocks = _empirical._basis_blocks(size)
    assert [lo for lo, _ in blocks] == [0] + [hi for _, hi in blocks[:-1]]  # contiguous
    assert blocks[-1][1] == size and all(hi > lo for lo, hi in blocks)
    assert len(blocks) <= most
    assert all(hi - lo >= min(block, size) for lo, hi in blocks[:-1])
  monkeypatch.setattr(_empirical.jax, "default_backend", lambda: "gpu")
  assert _empirical._basis_blocks(320) == [(0, 320)]


@pytest.mark.parametrize("block,most", [(7, 32), (4, 3), (1, 1000)])
def test_vector_products_in_basis_blocks_equal_one_vmap(getkey, monkeypatch, block, most):
  """NTK-vector products over uneven blocks of the output basis (30 vectors): same kernel."""
  from jaxnas.ntk import _empirical

  monkeypatch.setattr(_empirical.jax, "default_backend", lambda: "cpu")
  with jax.enable_x64(True):
    params = _mlp_init(getkey(), [4, 8, 6])
    x1 = jax.random.normal(getkey(), (5, 4), jnp.float64)
    x2 = jax.random.normal(getkey(), (3, 4), jnp.float64)
    results = []
    for setting in [dict(VP_BLOCK=1 << 30, VP_MAX_BLOCKS=32), dict(VP_BLOCK=block, VP_MAX_BLOCKS=most)]:
      for name, value in setting.items():
        monkeypatch.setattr(_empirical, name, value)
      results.append([ntk.empirical_ntk_fn(_mlp, trace_axes=t, diagonal_axes=d,
                                           implementation=ntk.NtkImplementation.NTK_VECTOR_PRODUCTS)
                      (x1, x2_, params)
                      for t, d in [((-1,), ()), ((), ()), ((), (-1,))] for x2_ in (None, x2)])
    for a, b in zip(*results):
      np.testing.assert_allclose(b, a, **TOL["float64"])
