"""Strategies: pytree states, determinism, jit, and agreement with naive Python loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import search, spaces

SMALL = search.TraceableSpace.product((3, 3, 3))  # 27 cells, official index = product index


def _table(seed=0, size=SMALL.size):
  return np.random.default_rng(seed).uniform(50, 90, size)


def _strategies(values):
  scores = np.stack([values + np.random.default_rng(1).normal(0, 5, values.size),
                     np.random.default_rng(2).normal(size=values.size)], 1)
  return [search.random_search(SMALL), search.regularized_evolution(SMALL, population_size=4,
                                                                    sample_size=2),
          search.robot(SMALL, scores, budget=6, n_warmup=64, n_seeds=2, ascent_steps=3)]


@pytest.mark.parametrize("k", range(3))
def test_state_is_pytree_and_generations_scan(k):
  values = _table()
  strat = _strategies(values)[k]
  state = strat.init(jax.random.key(0))
  leaves = jax.tree.leaves(state)
  assert leaves and all(isinstance(l, jax.Array) for l in leaves)
  table = jnp.asarray(values)

  def step(state, key):
    enc, state = strat.ask(key, state)
    idx = SMALL.index_of(enc)
    return strat.tell(state, enc, table[idx]), idx

  keys = jax.random.split(jax.random.key(1), 8)
  final, scanned = jax.jit(lambda s, ks: jax.lax.scan(step, s, ks))(state, keys)
  assert jax.tree.structure(final) == jax.tree.structure(state)
  # the same generations with jitted ask/tell called from a host loop
  ask, tell = jax.jit(strat.ask), jax.jit(strat.tell)
  host = []
  for key in keys:
    enc, state = ask(key, state)
    host.append(np.asarray(SMALL.index_of(enc)))
    state = tell(state, enc, table[SMALL.index_of(enc)])
  np.testing.assert_array_equal(np.asarray(scanned), np.stack(host))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5),
               final, state)


@pytest.mark.parametrize("k", range(3))
def test_same_key_same_search_and_drivers_agree(k):
  values = _table(3)
  strat = _strategies(values)[k]
  src = search.table_fitness(values, name="v", cost=np.arange(SMALL.size) * 1.0)
  a = search.run(strat, src, jax.random.key(7), budget=10)
  b = search.run(strat, src, jax.random.key(7), budget=10)
  c = search.run_jit(strat, src, jax.random.key(7), budget=10)
  np.testing.assert_array_equal(a.evaluated, b.evaluated)
  np.testing.assert_array_equal(a.evaluated, c.evaluated)
  assert len(set(a.evaluated.tolist())) == 10 and a.stopped == "budget"
  assert a.best_index == a.evaluated[np.argmax(values[a.evaluated])]
  assert a.query_cost_s == pytest.approx(float(a.evaluated.sum()))
  d = search.run(strat, src, jax.random.key(8), budget=10)
  assert not np.array_equal(a.evaluated, d.evaluated)


def _naive_random(key, values, budget):
  """Random search as a plain Python loop over a set (same key stream as the driver)."""
  seen, order = set(), []
  key, _ = jax.random.split(key)
  while len(order) < budget:
    key, kask = jax.random.split(key)
    g = np.array(jax.random.gumbel(kask, (values.size,)))
    g[list(seen)] -= 1e9
    i = int(np.argmax(g))
    seen.add(i)
    order.append(i)
  return order


def _naive_rea(key, values, budget, P, S):
  """Regularized evolution as a plain Python loop with a list population (oldest first)."""
  seen, order = set(), []
  key, _ = jax.random.split(key)

  def rand_unseen(k):
    logits = np.where([i in seen for i in range(values.size)], -np.inf, 0.0)
    return int(jax.random.categorical(k, jnp.asarray(logits)))

  while len(order) < budget:
    key, kask = jax.random.split(key)
    krand, kchild = jax.random.split(kask)
    if len(order) < P:
      i = rand_unseen(krand)
    else:
      ksel, kmut, kfall = jax.random.split(kchild, 3)
      members = np.asarray(jax.random.randint(ksel, (S,), 0, P))
      # slot order of the jitted state: slot = tell count % P
      slot_pop = [None] * P
      for t, ind in enumerate(order):
        slot_pop[t % P] = ind
      cand = [slot_pop[m] for m in members]
      parent = cand[int(np.argmax([values[c] for c in cand]))]
      penc = SMALL.encoding_of(parent)
      k0, kfirst = jax.random.split(kmut)
      enc = SMALL.mutate(kfirst, penc)
      tries = 1
      while int(SMALL.index_of(enc)) in seen and tries < 100:
        k0, sub = jax.random.split(k0)
        enc = SMALL.mutate(sub, penc)
        tries += 1
      i = int(SMALL.index_of(enc))
      if i in seen:
        i = rand_unseen(kfall)
    seen.add(i)
    order.append(i)
  return order


def test_random_search_matches_naive_loop():
  values = _table(5)
  src = search.table_fitness(values, name="v")
  res = search.run(search.random_search(SMALL), src, jax.random.key(3), budget=15)
  assert res.evaluated.tolist() == _naive_random(jax.random.key(3), values, 15)


def test_rea_matches_naive_loop():
  values = _table(6)
  src = search.table_fitness(values, name="v")
  strat = search.regularized_evolution(SMALL, population_size=4, sample_size=2)
  res = search.run(strat, src, jax.random.key(4), budget=20)
  assert res.evaluated.tolist() == _naive_rea(jax.random.key(4), values, 20, 4, 2)


def test_naswot_takes_best_proxy_of_n():
  proxy = _table(7)
  src = search.table_fitness(proxy, name="nwot", kind="proxy")
  res = search.run(search.naswot(SMALL, n=9), src, jax.random.key(0))
  assert res.queries.size == 0 and res.evaluated.size == 9 and res.asks == 1
  assert res.best_index == res.evaluated[np.argmax(proxy[res.evaluated])]
  low = search.table_fitness(-proxy, name="x", kind="proxy", higher_is_better=False)
  assert search.run(search.naswot(SMALL, n=9), low, jax.random.key(0)).best_index == res.best_index


def test_robot_finds_optimum_when_a_proxy_is_the_truth():
  values = _table(8)
  scores = np.stack([np.random.default_rng(9).normal(size=SMALL.size), values], 1)
  strat = search.robot(SMALL, scores, budget=5, n_warmup=256, n_seeds=2, ascent_steps=5)
  src = search.table_fitness(values, name="v")
  res = search.run(strat, src, jax.random.key(0), budget=5)
  assert res.best_index == int(np.argmax(values))
  assert len(set(res.evaluated.tolist())) == 5  # exploitation filled the budget with new cells


def test_robot_normalisation_and_errors():
  s = np.array([[1.0, np.nan, 5.0], [3.0, 2.0, 5.0], [2.0, np.inf, 5.0]])
  np.testing.assert_allclose(search.minmax_columns(s),
                             [[0, 0, 5], [1, 2, 5], [0.5, 0, 5]])  # constant columns kept
  with pytest.raises(ValueError, match="scores"):
    search.robot(SMALL, np.zeros((5, 2)))
  with pytest.raises(ValueError, match="budget"):
    search.run(search.random_search(SMALL), search.table_fitness(_table(), name="v"),
               jax.random.key(0))
  with pytest.raises(ValueError, match="'query' fitness"):
    search.run(search.random_search(SMALL),
               search.table_fitness(_table(), name="v", kind="proxy"), jax.random.key(0), budget=3)
  with pytest.raises(ValueError, match="population_size"):
    search.regularized_evolution(SMALL, population_size=0)


def test_best_so_far():
  values = np.array([1.0, 3.0, 2.0, 5.0])
  res = search.SearchResult("x", np.array([0, 2, 1, 3]), values[[0, 2, 1, 3]], 3, 5.0,
                            np.array([0, 2, 1, 3]), 0.0, 0.0, 4, "budget")
  truth = np.array([10.0, 30.0, 20.0, 50.0])
  np.testing.assert_array_equal(search.best_so_far(res, truth), [10, 20, 30, 50])


def test_cost_budget_stops_like_nb201():
  values = _table(11)
  cost = np.full(SMALL.size, 10.0)
  src = search.table_fitness(values, name="v", cost=cost)
  res = search.run(search.random_search(SMALL), src, jax.random.key(0), budget=27, max_cost_s=35.0)
  assert res.stopped == "cost" and res.queries.size == 4 and res.query_cost_s == 40.0
  with pytest.raises(ValueError, match="recorded costs"):
    search.run(search.random_search(SMALL), search.table_fitness(values, name="v"),
               jax.random.key(0), budget=3, max_cost_s=1.0)


def test_ranked_queries_and_mean_rank():
  values = _table(12)
  score = np.random.default_rng(13).normal(size=SMALL.size)
  score[3] = np.nan
  res = search.run(search.ranked_queries(SMALL, score), search.table_fitness(values, name="v"),
                   jax.random.key(0), budget=5)
  order = np.argsort(-np.where(np.isfinite(score), score, -np.inf), kind="stable")
  np.testing.assert_array_equal(res.evaluated, order[:5])
  a, b = np.array([1.0, 3.0, 2.0, np.nan]), np.array([4.0, 3.0, 2.0, 1.0])
  # ranks (1 = best) oriented higher-is-better; NaN worst: a -> .5, 1, .75, .25; b -> 1, .75, .5, .25
  np.testing.assert_allclose(search.mean_rank({"a": a, "b": b}, ["a", "b"]),
                             [0.75, 0.875, 0.625, 0.25])
