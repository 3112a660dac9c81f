"""Population scoring: one program for many members, equal to scoring each architecture alone."""

import jax
import numpy as np
import pytest

from jaxnas import population, proxies
from jaxnas.proxies import Batch
from jaxnas.spaces import nb201

from ..conftest import FAST_COMPILE

SMALL = {"C": 4, "N": 1}
FAST = {"compiler_options": FAST_COMPILE}


@pytest.fixture(scope="module")
def setup():
  x = jax.random.normal(jax.random.key(3), (8, 8, 8, 3))
  plist = [proxies.get(n) for n in ("params", "synflow", "nwot")]
  enc = nb201.encoding_of(np.array([9930, 0, 11, 123, 5000]))
  return plist, Batch(x), enc


def test_population_equals_each_architecture_alone(setup):
  plist, batch, enc = setup
  with jax.enable_x64(True):
    pop = population.score_population(enc, plist, batch, jax.random.key(0), network_kwargs=SMALL,
                                      chunk_size=2, **FAST)
    # Two members alone (two exact compilations each: synflow's network has no BN).
    alone = population.score_exact(enc[:2], plist, batch, jax.random.key(0), network_kwargs=SMALL,
                                   **FAST)
    # A member's score does not depend on the population around it (keys come from its index).
    sub = population.score_population(enc[[3, 1]], plist, batch, jax.random.key(0),
                                      network_kwargs=SMALL, chunk_size=2, **FAST)
  np.testing.assert_allclose(pop[:2], alone, rtol=1e-6)
  np.testing.assert_allclose(sub, pop[[3, 1]], rtol=1e-9)
  assert np.all(pop[:, 0] == [nb201.num_params(e, C=4, N=1) for e in enc])


def _suite_equals_alone(setup, names):
  """Scores of `names` (sharing their passes in the switch supernet) for a healthy member and the
  zero-output one, and the healthy member's scores from its exact network (which they must equal)."""
  _, batch, enc = setup
  plist = [proxies.get(n) for n in names]
  labelled = Batch(batch.x, np.arange(8) % 10)
  members = np.stack([enc[0], np.array([3, 0, 0, 0, 0, 0])])
  assert nb201.is_zero_output(members[1])
  with jax.enable_x64(True):
    pop = population.score_population(members, plist, labelled, jax.random.key(0),
                                      network_kwargs=SMALL, chunk_size=2, **FAST)
    # The healthy member alone (the conformance suite checks each proxy's zero-output value on the
    # exact network; here the supernet must give the same documented values).
    alone = population.score_exact(members[:1], plist, labelled, jax.random.key(0),
                                   network_kwargs=SMALL, **FAST)
  np.testing.assert_allclose(pop[:1], alone, rtol=1e-4)
  return pop


def test_classic_suite_population_equals_each_architecture_alone(setup):
  """The gradient and Jacobian proxies, sharing their passes in the switch supernet, equal the
  exact networks; the zero-output member gets its documented values (NaN for the Jacobian ones)."""
  pop = _suite_equals_alone(setup, ("grad_norm", "snip", "grasp", "fisher", "plain", "l2_norm",
                                    "jacob_cov", "epe_nas"))
  assert np.all(np.isnan(pop[1, -2:]))
  assert np.all(np.isfinite(pop[0])) and np.all(np.isfinite(pop[1, :6]))


@pytest.mark.slow  # the NTK's per-sample gradients are their own supernet and exact programs; the
def test_ntk_proxies_population_equal_each_architecture_alone(setup):  # default suite compares
  # the supernet's per-sample gradients with the exact network's (tests/proxies/test_ntk_proxies).
  pop = _suite_equals_alone(setup, ("ntk_cond", "ntk_min_eig", "grad_norm"))
  assert np.isnan(pop[1, 0]) and pop[1, 1] == 0.0 and np.all(np.isfinite(pop[0]))


def test_map_and_vmap_agree_and_chunk_padding_is_invisible(setup):
  plist, batch, enc = setup
  with jax.enable_x64(True):
    # NWOT reads the weights and every image: a member scored with another's key or images shows.
    a = population.score_population(enc, plist[2:], batch, jax.random.key(1), network_kwargs=SMALL,
                                     chunk_size=3, method="map", **FAST)
    b = population.score_population(enc, plist[2:], batch, jax.random.key(1), network_kwargs=SMALL,
                                     chunk_size=5, method="vmap", **FAST)
    c = population.score_population(enc, plist[2:], batch, jax.random.key(1), network_kwargs=SMALL,
                                     chunk_size=1, method="map", **FAST)  # one member: no loop
  np.testing.assert_allclose(a, b, rtol=1e-6)
  np.testing.assert_allclose(c, a, rtol=1e-6)


def test_progress_callback_and_timing(setup):
  plist, batch, enc = setup
  seen, timing = [], []
  with jax.enable_x64(True):
    out = population.score_population(enc, plist[:1], batch, jax.random.key(0), network_kwargs=SMALL,
                                      chunk_size=2, on_chunk=lambda a, b, s: seen.append((a, b)),
                                      timing=timing, **FAST)
  assert seen == [(0, 2), (2, 4), (4, 5)] and out.shape == (5, 1)
  assert timing[0].num_archs == 5 and timing[0].compile_s > 0


def test_second_population_of_the_same_shape_does_not_recompile(setup):
  plist, batch, enc = setup
  from jaxnas.population._score import _program

  with jax.enable_x64(True):
    t1, t2 = [], []
    population.score_population(enc[:2], plist[:1], batch, jax.random.key(0), network_kwargs=SMALL,
                                chunk_size=2, timing=t1, **FAST)
    prog = _program("nb201", tuple(plist[:1]), tuple(sorted(SMALL.items())), "map", "pytorch", (0,),
                    population.population_mesh(), str(jax.random.key_impl(jax.random.key(0))))
    traces = prog.traces
    other = Batch(batch.x + 1.0)  # new images, same shapes
    population.score_population(enc[2:4], plist[:1], other, jax.random.key(9), network_kwargs=SMALL,
                                chunk_size=2, timing=t2, **FAST)
  assert prog.traces == traces and t2[0].compile_s == 0.0


def test_draws_average_the_scores_of_independent_weight_draws(setup):
  """draws=D is the mean of the scores of the D population keys of draw_keys (draw 0 = the key
  itself), on the supernet and on exact networks alike; chunks receive the means."""
  plist, batch, enc = setup
  nwot = plist[2:]  # reads the weights: every draw scores differently
  key = jax.random.key(4)
  seen = []
  with jax.enable_x64(True):
    mean3 = population.score_population(enc[:3], nwot, batch, key, network_kwargs=SMALL,
                                        chunk_size=2, draws=3,
                                        on_chunk=lambda a, b, s: seen.append(np.array(s)), **FAST)
    each = [population.score_population(enc[:3], nwot, batch, k, network_kwargs=SMALL,
                                        chunk_size=2, **FAST)
            for k in population.draw_keys(key, 3)]
    exact = population.score_exact(enc[:1], nwot, batch, key, network_kwargs=SMALL, draws=3, **FAST)
    one = population.score_population(enc[:3], nwot, batch, key, network_kwargs=SMALL,
                                      chunk_size=2, draws=1, **FAST)
  assert len({float(e[0, 0]) for e in each}) == 3  # three different weight draws
  np.testing.assert_allclose(mean3, np.mean(each, axis=0), rtol=1e-12)
  np.testing.assert_allclose(np.concatenate(seen), mean3, rtol=0)
  np.testing.assert_allclose(exact, mean3[:1], rtol=1e-6)
  np.testing.assert_array_equal(one, each[0])
  for bad in (0, -1, 1.5, True):
    with pytest.raises(ValueError, match="`draws` must be a positive integer"):
      population.score_population(enc, nwot, batch, key, draws=bad)


def test_per_proxy_batches_and_errors(setup):
  plist, batch, enc = setup
  with pytest.raises(ValueError, match="no entry for proxy 'nwot'"):
    population.score_population(enc, plist[2:], {"synflow": batch}, jax.random.key(0),
                                network_kwargs=SMALL)
  with pytest.raises(ValueError, match="shape \\(P, 6\\)"):
    population.score_population(enc[:, :5], plist, batch, jax.random.key(0))
  with pytest.raises(ValueError, match="`method` must be one of"):
    population.score_population(enc, plist, batch, jax.random.key(0), method="pmap")
  with pytest.raises(TypeError, match="Proxy records"):
    population.score_population(enc, ["nwot"], batch, jax.random.key(0))
  keys = population.member_keys(jax.random.key(0), [5, 9])
  assert not np.array_equal(jax.random.key_data(keys[0]), jax.random.key_data(keys[1]))


def test_cpu_compiler_options_drop_ynnpack_convolutions_for_float32_batches(monkeypatch):
  from jaxnas.population import _runtime

  assert population.compiler_options("gpu") == {} and population.compiler_options("tpu") == {}
  opts = population.compiler_options("cpu")
  # jaxlib 0.10 (the supported floor) knows the option; the value is XLA's default less convolutions.
  assert opts == {_runtime.YNN_OPTION: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"}
  assert population.compiler_options("cpu", batch_size=16) == opts
  # A few images, or float64: YNNPACK's convolutions are the faster ones, XLA's defaults stay.
  assert population.compiler_options("cpu", batch_size=15) == {}
  assert population.compiler_options("cpu", batch_size=64, dtype=np.float64) == {}
  opts["changed"] = 1  # a fresh dict each call: the cache cannot be edited through it
  assert "changed" not in population.compiler_options("cpu")
  monkeypatch.setenv("XLA_FLAGS", f"--xla_force_host_platform_device_count=2 --{_runtime.YNN_OPTION}=")
  assert population.compiler_options("cpu") == {}  # the user's XLA_FLAGS win
  monkeypatch.delenv("XLA_FLAGS")
  # A jaxlib that rejects the value (renamed enum, removed option) gets XLA's defaults, no error.
  monkeypatch.setattr(_runtime, "YNN_WITHOUT_CONVOLUTIONS", "LIBRARY_FUSION_TYPE_NO_SUCH_THING")
  _runtime._cpu_options.cache_clear()
  try:
    assert population.compiler_options("cpu") == {}
  finally:
    _runtime._cpu_options.cache_clear()


def test_scoring_compiles_with_the_cpu_options_unless_given_its_own(setup, monkeypatch):
  """The default reaches XLA (an option XLA rejects proves it) and is chosen for the largest
  batch; explicit options replace it."""
  from jaxnas.population import _runtime

  plist, batch, enc = setup
  asked = []

  def fake(platform=None, **kwargs):
    asked.append(kwargs)
    return {"xla_no_such_jaxnas_option": 1}

  monkeypatch.setattr(_runtime, "compiler_options", fake)
  # The largest batch a proxy reads: NWOT's 5 images, not the 8 that synflow's all-ones image
  # is shaped from (synflow runs one image); 1 when no proxy reads images.
  batches = {"synflow": batch, "nwot": Batch(batch.x[:5])}
  for score in (population.score_population, population.score_exact):
    for chosen in ([plist[1], plist[2]], [plist[0], plist[1]]):
      with jax.enable_x64(True), pytest.raises(jax.errors.JaxRuntimeError, match="xla_no_such_jaxnas_option"):
        score(enc[:1], chosen, batches | {"params": batch}, jax.random.key(0), network_kwargs=SMALL)
  assert asked == [{"batch_size": 5}, {"batch_size": 1}] * 2
  out = population.score_population(enc[:1], plist[:1], batch, jax.random.key(0), network_kwargs=SMALL,
                                    **FAST)
  assert out[0, 0] == nb201.num_params(enc[0], C=4, N=1)


def test_each_proxy_gets_its_reference_init(setup):
  """Proxies scored together are initialised as their references do (SWAP N(0, 1), NWOT PyTorch's
  defaults), in the supernet and in exact networks alike; an explicit `init` overrides every proxy.
  (That the pair equals each proxy scored alone with its init: tests/test_cli.py.)"""
  _, batch, enc = setup
  swap, nwot = proxies.get("swap"), proxies.get("nwot")
  assert population.proxy_inits([swap, nwot]) == ["normal", "pytorch"]
  assert population.proxy_inits([swap, nwot], "kaiming_normal") == ["kaiming_normal"] * 2
  assert {proxies.get(n).init for n in ("az_expressivity", "vkdnw", "vkdnw_dim")} == {"kaiming_normal"}
  assert proxies.get("zen").init == "normal" and proxies.get("grad_norm").init == "pytorch"
  with jax.enable_x64(True):
    both = population.score_population(enc[:1], [swap, nwot], batch, jax.random.key(0),
                                       network_kwargs=SMALL, **FAST)
    exact = population.score_exact(enc[:1], [swap, nwot], batch, jax.random.key(0), network_kwargs=SMALL,
                                   **FAST)
  np.testing.assert_allclose(exact[0], both[0], rtol=1e-6)
  with pytest.raises(ValueError, match="`init` must be None"):
    population.score_population(enc[:1], [swap], batch, jax.random.key(0), init="xavier")


def test_make_scorer_under_jit_equals_score_population(setup):
  """The pure scorer a search loop holds, called under jax.jit with the member keys, gives
  score_population's scores; clear_caches empties the compiled programs this package owns."""
  plist, batch, enc = setup
  plist = [plist[0], plist[2]]  # params, nwot: cheap
  with jax.enable_x64(True):
    pop = population.score_population(enc[:3], plist, batch, jax.random.key(0), network_kwargs=SMALL,
                                      chunk_size=1, **FAST)
    score_fn = population.make_scorer("nb201", plist, batch, network_kwargs=SMALL)
    keys = population.member_keys(jax.random.key(0), nb201.index_of(enc[:3]))
    got = jax.jit(score_fn).lower(enc[:3], keys).compile(FAST["compiler_options"])(enc[:3], keys)
  np.testing.assert_allclose(np.asarray(got), pop, rtol=1e-6)
  with pytest.raises(ValueError, match="one PRNG key per encoding"):
    score_fn(enc[:3], keys[:2])
  from jaxnas.models import _init
  from jaxnas.population import _score
  assert _score._program.cache_info().currsize > 0 and _init.variable_shapes.cache_info().currsize > 0
  population.clear_caches()
  assert _score._program.cache_info().currsize == 0
  assert _init.variable_shapes.cache_info().currsize == 0
  assert _init._compiled_init.cache_info().currsize == 0
