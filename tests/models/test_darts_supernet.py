"""The darts op-switch supernet equals the exact networks (C=4, 3 cells: normal, reduction,
normal; 8x8 float64 inputs): logits of 30 random members and 10 edge cases, gradients, zero gradient
on unselected ops, the exact init, counts, and population scores against score_exact (the gradient
and population checks and 25 of the random members are marked slow: `pytest -m slow`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, population, proxies, spaces
from jaxnas.models import _darts_supernet as ds
from jaxnas.proxies import Batch
from jaxnas.spaces._darts import OPS, SKIP

from ..conftest import FAST_COMPILE, TOL, fast_jit

KW = {"C": 4, "layers": 3}
SHAPE = (1, 8, 8, 3)


def _cells(inputs, ops):
  return spaces.darts.from_cells([list(zip(inputs, ops))] * 2)


def _edge_cases():
  """Every op on every slot of both cells (reduction-cell skip_connect on s0/s1 is
  FactorizedReduce, on later nodes the identity), all inputs from s0/s1, and chains of the
  latest nodes."""
  cell_inputs = (0, 1, 0, 2, 1, 3, 2, 4)  # every slot after node 2 reads an intermediate node
  out = [_cells(cell_inputs, [k] * 8) for k in range(len(OPS))]
  out.append(_cells((0, 1) * 4, [(j + k) % len(OPS) for j, k in enumerate(range(8))]))
  out.append(_cells((1, 0) * 4, [SKIP] * 8))
  out.append(_cells((0, 1, 2, 1, 3, 2, 4, 3), [(3 * j) % len(OPS) for j in range(8)]))
  return np.stack(out)


def _members():
  rand = np.asarray(spaces.darts.sample(jax.random.key(7), 30))
  return np.concatenate([_edge_cases(), rand])


@pytest.fixture(scope="module")
def run():
  with jax.enable_x64(True):
    net = models.supernet("darts", dtype=jnp.float64, **KW)
    key = jax.random.key(1)
    sv = net.init(key, input_shape=SHAPE, dtype=jnp.float64)
    x = jax.random.normal(jax.random.key(2), (3, 8, 8, 3), jnp.float64)
    y = jnp.arange(3) % 10

    def loss(v, x, arch):
      logits = models.with_arch(net, arch)(v, x)
      return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(3), y])

    yield dict(net=net, key=key, sv=sv, x=x, y=y, logits=fast_jit(
        lambda v, x, a: models.with_arch(net, a)(v, x)), grad=fast_jit(jax.grad(loss)))


def _exact(enc):
  return models.darts_network(enc, dtype=jnp.float64, **KW)


def _logits_equal(run, members):
  with jax.enable_x64(True):
    for enc in members:
      ex = _exact(enc)
      # The exact network's variables cut from the supernet's (equal to ex.init bit for bit:
      # test_init_embed_and_counts_match_exact), applied eagerly: no compilation per member.
      ev = ds.restrict(run["sv"], enc, ex.variable_shapes(SHAPE), **KW)
      np.testing.assert_allclose(run["logits"](run["sv"], run["x"], jnp.asarray(enc)),
                                 ex(ev, run["x"]), **TOL["float64"])


def test_logits_equal_exact_networks_edge_cases(run):
  members = _edge_cases()
  ops_seen = {(c, j, int(members[i, 16 * c + 2 * j + 1])) for i in range(len(members))
              for c in range(2) for j in range(8)}
  assert len(ops_seen) == 2 * 8 * len(OPS)  # every op on every slot of both cells
  _logits_equal(run, members)


def test_logits_equal_exact_networks_random(run):
  _logits_equal(run, _members()[len(_edge_cases()):][:5])


@pytest.mark.slow  # 25 more eager exact forwards
def test_logits_equal_exact_networks_25_more_random(run):
  _logits_equal(run, _members()[len(_edge_cases()):][5:])


@pytest.mark.slow  # its own supernet gradient program (45 s); the default suite's population test
def test_gradients_equal_exact_and_unselected_ops_get_zero(run):  # checks grad_norm and synflow
  with jax.enable_x64(True):
    for enc in _edge_cases()[[3, 9]]:  # sep_conv_3x3 everywhere; mixed ops and inputs
      ex = _exact(enc)
      ev = ds.restrict(run["sv"], enc, ex.variable_shapes(SHAPE), **KW)

      def loss(v):
        logits = ex(v, run["x"])
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(3), run["y"]])

      want = jax.grad(loss)(ev)
      got = run["grad"](run["sv"], run["x"], jnp.asarray(enc))
      active = models.with_arch(run["net"], enc).active(got)
      cut = ds.restrict(got, enc, want, **KW)
      for a, b in zip(jax.tree.leaves(cut), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, **TOL["float64"])
      dead = [g for g, m in zip(jax.tree.leaves(got), jax.tree.leaves(active)) if not np.any(m)]
      assert dead and all(np.all(g == 0) for g in dead)


def test_init_embed_and_counts_match_exact(run):
  with jax.enable_x64(True):
    for enc in _members()[[2, 4, 10, 20]]:
      ex = _exact(enc)
      ev = ex.init(run["key"], input_shape=SHAPE, dtype=jnp.float64)
      # The supernet's init holds every member's exact init (bit for bit) ...
      cut = ds.restrict(run["sv"], enc, ev, **KW)
      for a, b in zip(jax.tree.leaves(cut), jax.tree.leaves(ev)):
        assert np.array_equal(a, b)
      # ... and embed/restrict round-trip exact variables.
      back = ds.restrict(ds.embed(ev, enc, input_shape=SHAPE, **KW), enc, ev, **KW)
      assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(ev)))
      bound = models.with_arch(run["net"], enc)
      assert int(bound.num_params()) == int(ex.num_params())
      assert int(bound.flops(8)) == int(ex.flops(8))
      n_active = sum(int(np.sum(m)) for m in jax.tree.leaves(bound.active(
          {"params": run["sv"]["params"]})))
      assert n_active == int(ex.num_params())


def test_bad_arguments_are_named():
  net = models.supernet("darts", **KW)
  with pytest.raises(ValueError, match="Bind a member"):
    net(None, jnp.ones(SHAPE))
  bound = models.with_arch(net, _edge_cases()[0])
  v = bound.init(jax.random.key(0), input_shape=SHAPE)
  with pytest.raises(ValueError, match="capture"):
    bound(v, jnp.ones(SHAPE), capture="outputs")
  with pytest.raises(ValueError, match="`arch`"):
    models.with_arch(net, np.zeros(5, np.int32))(v, jnp.ones(SHAPE))
  with pytest.raises(ValueError, match="`C`"):
    models.supernet("darts", C=3)


@pytest.mark.slow  # compiles a population supernet program: 80 s alone, 215 s in the parallel suite
def test_population_scores_equal_exact_scores(caplog):
  plist = [proxies.get(n) for n in ("params", "nwot", "grad_norm", "synflow", "zen")]
  enc = _edge_cases()[[7]]  # every op in each cell, all from s0/s1 (skip: FactorizedReduce)
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.key(3), (4, 8, 8, 3), jnp.float64)
    batch = Batch(x, jnp.arange(4) % 10)
    kw = {"network_kwargs": {"dtype": jnp.float64, **KW}, "compiler_options": FAST_COMPILE}
    with caplog.at_level("INFO", logger="jaxnas"):
      pop = population.score_population(enc, plist, batch, jax.random.key(0), space="darts",
                                        engine="supernet", **kw)
    exact = population.score_exact(enc, plist, batch, jax.random.key(0), space="darts", **kw)
  np.testing.assert_allclose(pop, exact, **TOL["float64"])
  assert "zen: scored with exact networks" in caplog.text


def test_darts_scores_with_exact_networks_by_default_and_engine_is_checked():
  """darts's default engine is exact networks (faster on CPU: benchmarks/results/darts_supernet.md)."""
  enc = _edge_cases()[[7]]
  batch = Batch(jax.random.normal(jax.random.key(3), (2, 8, 8, 3)), jnp.arange(2))
  nwot = [proxies.get("nwot")]
  timing = []
  default = population.score_population(enc, nwot, batch, jax.random.key(0), space="darts",
                                        timing=timing, network_kwargs=KW)
  exact = population.score_exact(enc, nwot, batch, jax.random.key(0), space="darts",
                                 network_kwargs=KW)
  assert default[0, 0] == exact[0, 0] and timing[0].chunk_size == 0  # score_exact's record
  with pytest.raises(ValueError, match="`engine` must be"):
    population.score_population(enc, nwot, batch, jax.random.key(0), space="darts",
                                engine="masked")
  with pytest.raises(ValueError, match="no masked supernet"):
    population.score_population(spaces.nb101.sample(jax.random.key(0), 1), nwot, batch,
                                jax.random.key(0), space="nb101", engine="supernet")
