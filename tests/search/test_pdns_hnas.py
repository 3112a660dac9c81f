"""MTF-PDNS and HNAS on small product spaces: pytree state, determinism, drivers, semantics."""

import jax
import numpy as np
import pytest

from jaxnas import search

SMALL = search.TraceableSpace.product((4, 4, 4))  # 64 cells


def _objectives(seed=0):
  rng = np.random.default_rng(seed)
  return np.stack([rng.normal(size=SMALL.size), rng.normal(size=SMALL.size),
                   rng.uniform(1, 2, SMALL.size)], 1)


def test_pdns_search():
  obj = _objectives()
  strat = search.mtf_pdns(SMALL, obj, population_size=6, generations=4)
  assert all(isinstance(l, jax.Array) for l in jax.tree.leaves(strat.init(jax.random.key(0))))
  src = search.table_fitness(obj[:, 0], name="p", kind="proxy")
  a = search.run(strat, src, jax.random.key(1))
  b = search.run_jit(strat, src, jax.random.key(1))
  c = search.run(strat, src, jax.random.key(2))
  np.testing.assert_array_equal(a.evaluated, b.evaluated)
  assert not np.array_equal(a.evaluated, c.evaluated)
  assert a.asks == 5 and a.stopped == "asks" and a.queries.size == 0
  # the archive is the brute-force non-dominated set of what was evaluated
  arch = set(search.pdns_archive(a.evaluated, obj).tolist())
  ev = obj[a.evaluated]
  brute = {int(a.evaluated[i]) for i in range(len(ev))
           if not any(np.all(ev[j] <= ev[i]) and np.any(ev[j] < ev[i]) for j in range(len(ev)))}
  assert arch == brute


def test_pdns_offspring_and_tell_under_jit():
  obj = _objectives(1)
  strat = search.mtf_pdns(SMALL, obj, population_size=8, generations=3)
  ask, tell = jax.jit(strat.ask), jax.jit(strat.tell)
  state = strat.init(jax.random.key(0))
  enc, state = ask(jax.random.key(1), state)
  state = tell(state, enc, np.zeros(8))
  np.testing.assert_array_equal(np.asarray(state.population), np.asarray(enc))
  kids, state2 = ask(jax.random.key(2), state)
  # every child gene comes from one of the parents at that position, or is a mutation
  parents = np.asarray(enc)
  frac_kept = np.mean([[k[p] in parents[:, p] for p in range(3)] for k in np.asarray(kids)])
  assert frac_kept > 0.5
  new = tell(state2, kids, np.zeros(8))
  pool = np.concatenate([parents, np.asarray(kids)])
  for row in np.asarray(new.population):  # the next parents are drawn from parents + offspring
    assert any(np.array_equal(row, r) for r in pool)


def test_pdns_errors():
  with pytest.raises(ValueError, match="even"):
    search.mtf_pdns(SMALL, _objectives(), population_size=5)
  with pytest.raises(ValueError, match="objectives"):
    search.mtf_pdns(SMALL, np.zeros((3, 2)))


def test_front_indicators_of_the_true_front_are_ideal():
  rng = np.random.default_rng(0)
  err, flops = rng.uniform(0, 1, 64), rng.uniform(1, 5, 64)
  pts = np.stack([err, (flops - flops.min()) / (flops.max() - flops.min())], 1)
  front_cells = np.flatnonzero(np.asarray(search.non_dominated(pts)))
  ind = search.front_indicators(front_cells, err, flops)
  assert ind["igd"] == 0.0 and ind["hv"] == pytest.approx(ind["true_hv"])
  worse = search.front_indicators(front_cells[:1], err, flops)
  assert worse["hv"] < ind["hv"] and worse["igd"] > 0


def test_hnas_search():
  rng = np.random.default_rng(3)
  trace, cond = rng.uniform(100, 4000, SMALL.size), rng.uniform(1, 50, SMALL.size)
  values = rng.uniform(50, 90, SMALL.size)
  strat = search.hnas(SMALL, trace, cond, budget=6, n_sample=16, n_warmup=64, n_seeds=2,
                      ascent_steps=3)
  assert strat.settings["init_points"] == 1
  src = search.table_fitness(values, name="v")
  a = search.run(strat, src, jax.random.key(0), budget=6)
  b = search.run_jit(strat, src, jax.random.key(0), budget=6)
  np.testing.assert_array_equal(a.evaluated, b.evaluated)
  assert len(set(a.evaluated.tolist())) == 6
  # the first probe (t = 0, c = -2) takes the pool cell minimising the criterion
  state = strat.init(jax.random.key(0))
  enc, state = jax.jit(strat.ask)(jax.random.key(5), state)
  pool = np.flatnonzero(np.asarray(state.pool))
  crit = 1e-2 * np.abs(trace ** 2) + cond / (trace + 1e-6)
  assert int(SMALL.index_of(enc[0])) == pool[np.argmin(crit[pool])]


def test_build_strategy_names_missing_columns():
  from jaxnas import spaces
  with pytest.raises(ValueError, match=r"missing from the score tables: \['hnas_cond'\]"):
    search.build_strategy("hnas", spaces.nb201,
                          scores={"ntk_trace_norm": np.zeros(spaces.nb201.size)})
  with pytest.raises(ValueError, match="Unknown strategy"):
    search.build_strategy("tenas", spaces.nb201)


def test_build_strategy_robot_bo_steps():
  from jaxnas import spaces
  scores = {n: np.random.default_rng(0).normal(size=spaces.nb201.size)
            for n in search.ROBOT_PROXIES}
  strat, used = search.build_strategy("robot", spaces.nb201, scores=scores, budget=10,
                                      options={"bo_steps": 20})
  assert strat.settings["budget"] == 20 and used == search.ROBOT_PROXIES
