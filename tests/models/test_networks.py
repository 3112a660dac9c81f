"""Networks: exact vs masked supernet, layer semantics vs naive NumPy, counts, init, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models
from jaxnas.models._layers import avg_pool_3x3, batch_norm
from jaxnas.spaces import nats_sss, nb201

from ..conftest import FAST_COMPILE, TOL, fast_jit

SMALL = dict(C=4, N=2)  # same code paths as C=16, N=5 (scan over 2 cells), small compile
ONE_CELL = dict(C=4, N=1)  # for the costly gradient comparisons (two cells: the forward test)
EDGE_CASES = [(0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 1, 1), (3, 3, 3, 3, 3, 3), (2, 2, 2, 2, 2, 2),
              (4, 4, 4, 4, 4, 4), (3, 0, 0, 0, 0, 0), (0, 3, 3, 0, 3, 3)]


def _selected(super_vars, exact_vars):
  """The supernet's variables restricted to the exact network's names (same paths, same shapes)."""
  def pick(path, leaf):
    node = super_vars
    for p in path:
      node = node[p.key]
    assert node.shape == leaf.shape, jax.tree_util.keystr(path)
    return node
  return jax.tree_util.tree_map_with_path(pick, exact_vars)


def _loss_and_logits(net):
  def f(variables, x):
    logits = net(variables, x)
    return jnp.sum(jnp.sin(logits) * jnp.arange(1, logits.shape[1] + 1)), logits
  return f


def test_zero_output_edge_case_is_in_the_list():
  assert nb201.is_zero_output(np.asarray(EDGE_CASES[0])) and nb201.is_zero_output(np.asarray(EDGE_CASES[5]))


RANDOM_ARCHS = [tuple(int(v) for v in e) for e in nb201.sample(np.random.default_rng(0), 1)]
# 7 edge cases (every op on every edge, both zero-output kinds) + 1 random cell. Each supernet
# implementation is compiled once (tens of seconds) and checked against every exact network (a few
# seconds each). (More random cells are compared with exact networks through the population engine
# in tests/population.)
ARCHS = EDGE_CASES + RANDOM_ARCHS


def test_equivalence_cases_cover_edge_cases_and_every_op_on_every_edge():
  assert len(RANDOM_ARCHS) == 1 and len(set(ARCHS)) == len(ARCHS)
  assert {(e, a[e]) for a in ARCHS for e in range(6)} == {(e, o) for e in range(6) for o in range(5)}


@pytest.mark.parametrize("impl", ["switch", pytest.param("mask", marks=pytest.mark.slow)])
def test_supernet_equals_exact_network_float64(impl):
  """Logits and gradients of the supernet program equal the exact networks'; parameters of
  unselected ops get exactly zero gradient. The default suite checks 'switch' (the population
  engine's); 'mask' (every op runs) is slow, its own program of tens of seconds to compile (its
  logits are checked by the next test either way)."""
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.key(1), (3, 8, 8, 3), jnp.float64)
    sup = models.nb201_network(None, supernet_impl=impl, dtype=jnp.float64, **ONE_CELL)
    sv = sup.init(jax.random.key(7))
    sgrad = jax.jit(lambda v, a, x: jax.grad(_loss_and_logits(models.with_arch(sup, a)),
                                             has_aux=True)(v, x))
    sgrad = sgrad.lower(sv, jnp.asarray(ARCHS[0]), x).compile(compiler_options=FAST_COMPILE)
    for arch in ARCHS:
      ex = models.nb201_network(arch, dtype=jnp.float64, **ONE_CELL)
      ev = _selected(sv, ex.variable_shapes((1, 8, 8, 3)))
      g_ex, logits_ex = fast_jit(jax.grad(_loss_and_logits(ex), has_aux=True))(ev, x)
      if nb201.is_zero_output(np.asarray(arch)):
        assert np.allclose(logits_ex, logits_ex[0])  # output does not depend on the input
      msg = f"{impl} {arch}"
      g_sup, logits_sup = sgrad(sv, jnp.asarray(arch), x)
      np.testing.assert_allclose(logits_sup, logits_ex, **TOL["float64"], err_msg=msg)
      jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, **TOL["float64"], err_msg=msg),
                   _selected(g_sup, g_ex), g_ex)
      active = models.with_arch(sup, jnp.asarray(arch)).active(g_sup)
      dead = [np.abs(np.asarray(g)).max() for g, a in zip(jax.tree.leaves(g_sup), jax.tree.leaves(active))
              if not bool(a)]
      assert all(d == 0 for d in dead), msg


def test_supernet_scanning_two_cells_per_stage_equals_exact_network():
  """The gradient test above uses one cell per stage; here ``nn.scan`` runs over two."""
  x = jax.random.normal(jax.random.key(1), (3, 8, 8, 3))
  arch = RANDOM_ARCHS[0]
  ex = models.nb201_network(arch, **SMALL)
  for impl in ("switch", "mask"):
    sup = models.nb201_network(None, supernet_impl=impl, **SMALL)
    sv = sup.init(jax.random.key(7))
    logits = fast_jit(lambda v, x, sup=sup: models.with_arch(sup, jnp.asarray(arch))(v, x))(sv, x)
    want = fast_jit(lambda v, x: ex(v, x))(_selected(sv, ex.variable_shapes((1, 8, 8, 3))), x)
    np.testing.assert_allclose(logits, want, **TOL["float32"], err_msg=impl)


def test_one_cell_stage_skips_scan_but_keeps_its_layout_and_results(monkeypatch):
  """A stage of one cell calls the cell directly (JAX's linearisation of even a length-1 scan costs
  seconds of tracing per gradient) with the scan's variable layout: same names, shapes, values,
  outputs, captures, BatchNorm updates and gradients as ``nn.scan`` over one cell."""
  import flax.linen as nn

  from jaxnas.models import _tiny

  def always_scan(length):
    return nn.scan(_tiny._CellStep, variable_axes={c: 0 for c in _tiny._STACKED},
                   split_rngs={"params": True}, in_axes=nn.broadcast, length=length)

  arch = (3, 1, 4, 0, 2, 1)  # two conv kinds, skip, pool and none

  def run():
    x = jax.random.normal(jax.random.key(1), (3, 8, 8, 3), jnp.float64)
    net = models.nb201_network(arch, dtype=jnp.float64, **ONE_CELL)
    v = net.init(jax.random.key(7))

    def f(v):
      (logits, outs), upd = net(v, x, capture="outputs", mutable=["batch_stats"])
      return jnp.sum(jnp.sin(logits)), (logits, outs, upd)

    return v, fast_jit(jax.grad(f, has_aux=True))(v)

  with jax.enable_x64(True):
    got = run()
    monkeypatch.setattr(_tiny, "_scanned_cells", always_scan)
    want = run()
  assert jax.tree.structure(got) == jax.tree.structure(want)
  assert any("_cells" in jax.tree_util.keystr(p) and leaf.shape[0] == 1
             for p, leaf in jax.tree_util.tree_leaves_with_path(got[0]))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, **TOL["float64"]), got, want)


def test_supernet_reports_exact_counts_for_all_cells():
  sup = models.nb201_network(None)
  enc = nb201.all_encodings()
  p = jax.jit(jax.vmap(lambda a: models.with_arch(sup, a).num_params()))(jnp.asarray(enc))
  f = jax.jit(jax.vmap(lambda a: models.with_arch(sup, a).flops()))(jnp.asarray(enc))
  want_p = np.asarray([nb201.num_params(e) for e in enc])
  want_f = np.asarray([nb201.flops(e) for e in enc])
  assert np.array_equal(np.asarray(p), want_p) and np.array_equal(np.asarray(f), want_f)


@pytest.mark.parametrize("variant", ["xautodl", "zero_cost_nas"])
def test_exact_network_parameter_count_matches_analytic(variant, rng):
  for arch in [(3, 3, 3, 1, 3, 3)] + [tuple(e) for e in nb201.sample(rng, 4)]:
    for nc in (10, 100):
      net = models.nb201_network(arch, num_classes=nc, variant=variant)
      shapes = net.variable_shapes()["params"]
      count = sum(math.prod(l.shape) for l in jax.tree.leaves(shapes))
      assert count == nb201.num_params(arch, num_classes=nc, variant=variant) == int(net.num_params())
      assert int(net.flops()) == nb201.flops(arch, num_classes=nc, variant=variant)


def test_zero_cost_nas_variant_structure():
  net = models.nb201_network((3, 0, 0, 0, 0, 0), variant="zero_cost_nas")
  v = net.variable_shapes()
  edge = v["params"]["layer0_cells"]["cell"]["edge_1_0_nor_conv_3x3"]
  assert set(edge) == {"conv"} and set(edge["conv"]) == {"kernel", "bias"}  # non-affine BN
  assert "layer0_cells" not in v["batch_stats"]  # untracked cell BN: no running statistics
  nobn = models.nb201_network((3, 0, 0, 0, 0, 0), variant="zero_cost_nas", batch_norm=False)
  vb = nobn.variable_shapes()
  assert "stem" not in vb.get("batch_stats", {}) and "lastact_bn" not in vb["params"]
  assert "bn" in vb["params"]["layer5_conv_a"]  # reduction blocks keep BN (zero-cost-nas use_bn=False)


def test_nats_exact_network_counts_and_forward():
  for arch in ("8:8:8:8:8", "16:32:24:64:40", "64:64:64:64:64"):
    net = models.nats_size_network(arch)
    shapes = net.variable_shapes()["params"]
    assert sum(math.prod(l.shape) for l in jax.tree.leaves(shapes)) == nats_sss.num_params(nats_sss.encode(arch))
    assert int(net.flops()) == nats_sss.flops(nats_sss.encode(arch))
  net = models.nats_size_network("16:32:24:64:40")
  out = fast_jit(lambda v, x: net(v, x))(net.init(jax.random.key(0)), jnp.ones((2, 32, 32, 3)))
  assert out.shape == (2, 10) and np.all(np.isfinite(out))


def test_pytorch_default_normal_and_kaiming_normal_initialisers():
  net = models.nb201_network((3, 3, 3, 3, 3, 3))
  v = net.init(jax.random.key(0))
  k = np.asarray(v["params"]["layer0_cells"]["cell"]["edge_1_0_nor_conv_3x3"]["conv"]["kernel"])
  assert k.shape == (5, 3, 3, 16, 16)  # 5 scanned cells, HWIO kernels
  bound = 1 / math.sqrt(3 * 3 * 16)  # kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))
  assert np.abs(k).max() <= bound and abs(k.var() / (bound**2 / 3) - 1) < 0.05
  assert not np.allclose(k[0], k[1])  # every cell has its own draw
  head = v["params"]["classifier"]
  assert np.abs(np.asarray(head["bias"])).max() <= 1 / math.sqrt(64)
  bn = v["params"]["stem"]["bn"]
  assert np.all(np.asarray(bn["scale"]) == 1) and np.all(np.asarray(bn["bias"]) == 0)
  st = v["batch_stats"]["stem"]["bn"]
  assert np.all(np.asarray(st["mean"]) == 0) and np.all(np.asarray(st["var"]) == 1)
  g = net.init(jax.random.key(0), init="normal")
  kg = np.asarray(g["params"]["layer0_cells"]["cell"]["edge_1_0_nor_conv_3x3"]["conv"]["kernel"])
  assert abs(kg.std() - 1) < 0.02 and np.all(np.asarray(g["params"]["classifier"]["bias"]) == 0)
  # AZ-NAS's kaiming_normal_(mode='fan_in', nonlinearity='relu'): N(0, 2 / fan_in), biases 0.
  kn = net.init(jax.random.key(0), init="kaiming_normal")["params"]
  kk = np.asarray(kn["layer0_cells"]["cell"]["edge_1_0_nor_conv_3x3"]["conv"]["kernel"])
  assert abs(kk.std() / math.sqrt(2 / (3 * 3 * 16)) - 1) < 0.02 and abs(kk.mean()) < 0.01
  dense = np.asarray(kn["classifier"]["kernel"])
  assert abs(dense.std() / math.sqrt(2 / 64) - 1) < 0.1 and np.all(np.asarray(kn["classifier"]["bias"]) == 0)
  assert np.all(np.asarray(kn["stem"]["bn"]["scale"]) == 1)
  # Same key, same values; the value of a variable depends only on its name.
  assert np.array_equal(k, net.init(jax.random.key(0))["params"]["layer0_cells"]["cell"][
      "edge_1_0_nor_conv_3x3"]["conv"]["kernel"])
  with pytest.raises(ValueError, match="`init` must be one of"):
    net.init(jax.random.key(0), init="xavier")


def test_eager_init_is_one_cached_program_with_the_bits_of_init_under_jit():
  """Network.init outside a trace runs one program compiled with cheap XLA passes; its values are
  bit for bit those of the same initialisation inside a default-compiled program (the population
  engine's), so exact networks keep receiving exactly the supernet members' weights."""
  from jaxnas.models._init import _compiled_init, init_variables

  sds = jax.ShapeDtypeStruct
  shapes = {"params": {"conv": {"kernel": sds((3, 3, 4, 8), jnp.float32)},
                       "dense": {"kernel": sds((8, 10), jnp.float32), "bias": sds((10,), jnp.float32)},
                       "bn": {"scale": sds((8,), jnp.float32), "bias": sds((8,), jnp.float32)}},
            "batch_stats": {"bn": {"mean": sds((8,), jnp.float32), "var": sds((8,), jnp.float32)}}}
  key = jax.random.key(11)
  for init in models.INITS:
    # Under a trace init_variables is init_from_shapes, here in a default-compiled program.
    want = jax.jit(lambda k, init=init: init_variables(shapes, k, init=init))(key)
    before = _compiled_init.cache_info()
    got = init_variables(shapes, key, init=init)
    again = init_variables(shapes, jax.random.key(12), init=init)
    after = _compiled_init.cache_info()
    assert after.misses == before.misses + 1 and after.hits == before.hits + 1
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), got, want)
    assert not np.array_equal(again["params"]["conv"]["kernel"], got["params"]["conv"]["kernel"])
    assert np.all(np.asarray(got["params"]["bn"]["scale"]) == 1)
  assert np.all(np.asarray(got["params"]["dense"]["bias"]) == 0)  # normal rule: biases 0


def test_eager_init_pads_draws_of_every_shape_to_one_length_with_the_same_bits(monkeypatch):
  """The stand-alone init program draws every random leaf of a rule at one flat length (or in
  power-of-8 size classes past its budget) and keeps each leaf's prefix: the bits of per-shape
  draws inside a trace, for every leaf of a NB201 supernet (all shapes), uniform and normal rules."""
  from jaxnas.models import _init

  shapes = models.nb201_network(None, C=4, N=1).variable_shapes((1, 8, 8, 3))
  key = jax.random.key(3)
  for init, budget in (("pytorch", None), ("kaiming_normal", 1)):
    if budget is not None:
      monkeypatch.setattr(_init, "_INIT_PAD_BUDGET", budget)
    # Per-shape draws in a traced program (at XLA level 1: the default's bits, see the test above).
    want = jax.jit(lambda k, init=init: _init.init_variables(shapes, k, init=init)).lower(
        key).compile(compiler_options=_init._INIT_COMPILER_OPTIONS)(key)
    _init._compiled_init.cache_clear()
    got = _init.init_variables(shapes, key, init=init)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), got, want)
  _init._compiled_init.cache_clear()


def test_batch_norm_matches_pytorch_semantics_naive():
  rng = np.random.default_rng(0)
  x = rng.normal(2.0, 3.0, size=(4, 5, 5, 3))
  p = {"scale": rng.normal(size=3), "bias": rng.normal(size=3)}
  s = {"mean": rng.normal(size=3), "var": rng.uniform(0.5, 2, size=3)}
  with jax.enable_x64(True):
    y, new = batch_norm(jnp.asarray(x), p, s, train=True)
    ye, same = batch_norm(jnp.asarray(x), p, s, train=False)
  m = x.reshape(-1, 3).mean(0)
  v = x.reshape(-1, 3).var(0)  # biased, used to normalise
  np.testing.assert_allclose(y, (x - m) / np.sqrt(v + 1e-5) * p["scale"] + p["bias"], rtol=1e-10)
  n = x.size // 3
  np.testing.assert_allclose(new["var"], 0.9 * s["var"] + 0.1 * v * n / (n - 1), rtol=1e-12)
  np.testing.assert_allclose(new["mean"], 0.9 * s["mean"] + 0.1 * m, rtol=1e-12)
  np.testing.assert_allclose(ye, (x - s["mean"]) / np.sqrt(s["var"] + 1e-5) * p["scale"] + p["bias"],
                             rtol=1e-10)
  assert same is s


def test_avg_pool_excludes_padding_like_pytorch_naive():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(2, 5, 4, 3))
  with jax.enable_x64(True):
    y = np.asarray(avg_pool_3x3(jnp.asarray(x)))
  want = np.zeros_like(x)
  for i in range(5):
    for j in range(4):
      win = x[:, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2, :]
      want[:, i, j, :] = win.mean(axis=(1, 2))
  np.testing.assert_allclose(y, want, rtol=1e-12)


def test_eval_mode_uses_running_statistics_and_train_mode_updates_them():
  net = models.nb201_network((3, 1, 2, 4, 0, 3), **SMALL)
  v = net.init(jax.random.key(0))
  x = jax.random.normal(jax.random.key(1), (4, 8, 8, 3)) * 3 + 1
  train = fast_jit(lambda v, x: net(v, x, train=True))(v, x)
  evalm = fast_jit(lambda v, x: net(v, x, train=False))(v, x)
  assert not np.allclose(train, evalm)
  _, upd = fast_jit(lambda v, x: net.module.apply(v, x, train=True, mutable=["batch_stats"]))(v, x)
  old = np.asarray(v["batch_stats"]["stem"]["bn"]["mean"])
  new = np.asarray(upd["batch_stats"]["stem"]["bn"]["mean"])
  assert not np.allclose(old, new)


def test_captured_activations_of_a_known_cell():
  # |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|
  arch = tuple(int(a) for a in nb201.encoding_of(9930))
  net = models.nb201_network(arch, **SMALL)
  sup = models.with_arch(models.nb201_network(None, **SMALL), jnp.asarray(arch))
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
  for n in (net, sup):
    _, acts = fast_jit(lambda v, x, n=n: n(v, x, capture=True))(
        n.init(jax.random.key(0), input_shape=(1, 8, 8, 3)), x)
    total = sum(int(a.weight) for a in acts)
    # 6 cells x (2 convs from node 0 + 2 from node 1 + 1 from node 2) + 2 x 2 resblock ReLUs + head
    assert total == 6 * 5 + 4 + 1
    assert sum(not a.wrapped for a in acts) == 1


def test_network_errors():
  sup = models.nb201_network(None, **SMALL)
  v = sup.init(jax.random.key(0), input_shape=(1, 8, 8, 3))
  x = jnp.ones((2, 8, 8, 3))
  with pytest.raises(ValueError, match="pass `arch`"):
    sup(v, x)
  with pytest.raises(ValueError, match=r"\(6,\) integer array"):
    models.with_arch(sup, jnp.zeros(5, jnp.int32))(v, x)
  ex = models.nb201_network((1,) * 6, **SMALL)
  with pytest.raises(ValueError, match="NHWC images with 3 channels"):
    ex(v, jnp.ones((2, 3, 8, 8)))
  with pytest.raises(TypeError, match="floating point"):
    ex(v, jnp.ones((2, 8, 8, 3), jnp.int32))
  with pytest.raises(ValueError, match="`variant` must be one of"):
    models.nb201_network((1,) * 6, variant="naslib")
  with pytest.raises(ValueError, match="6 op codes"):
    models.nb201_network((1, 7, 0, 0, 0, 0))
  with pytest.raises(ValueError, match="needs a supernet"):
    models.with_arch(ex, jnp.zeros(6, jnp.int32))
  with pytest.raises(ValueError, match="width 12"):
    models.nats_size_network("8:12:8:8:8")
