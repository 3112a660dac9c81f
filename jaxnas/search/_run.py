"""Fitness sources (score tables, the training-based query, live scoring) and the search driver."""

from __future__ import annotations

import time
from typing import Callable, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Strategy, check_positive_int, finite_or_worst

_KINDS = ("query", "proxy")


class FitnessSource(NamedTuple):
  """Where fitness values come from, by official index.

  Attributes:
    name: column or proxy name.
    kind: ``'query'`` (the training-based query, counted against the budget; its recorded cost is
      benchmark training seconds) or ``'proxy'`` (a zero-cost proxy; measured seconds).
    evaluate: ``evaluate(indices int64 (n,)) -> raw values (n,)``.
    higher_is_better: orientation of the raw values.
    recorded_cost: (size,) recorded seconds per index (the benchmark's training time), or None.
    table: (size,) all values when the source is a table (lookups under ``jit``), else None.
  """

  name: str
  kind: str
  evaluate: Callable[[np.ndarray], np.ndarray]
  higher_is_better: bool = True
  recorded_cost: Optional[np.ndarray] = None
  table: Optional[np.ndarray] = None


def table_fitness(values, *, name: str, kind: str = "query", higher_is_better: bool = True,
                  cost=None) -> FitnessSource:
  """A fitness source that looks values up in a (size,) array by official index.

  Args:
    values: (size,) values, NaN where unknown (ranked worst).
    name: the column's name.
    kind: ``'query'`` or ``'proxy'``.
    higher_is_better: orientation of `values`.
    cost: (size,) recorded seconds per architecture (e.g. NB201's ``cifar10_train_seconds_12ep``).
  """
  if kind not in _KINDS:
    raise ValueError(f"`kind` must be one of {_KINDS}, got {kind!r}.")
  v = np.asarray(values, np.float64)
  if v.ndim != 1:
    raise ValueError(f"`values` must be a 1-D array by official index, got shape {v.shape}.")
  c = None
  if cost is not None:
    c = np.asarray(cost, np.float64)
    if c.shape != v.shape:
      raise ValueError(f"`cost` must have the shape of `values` {v.shape}, got {c.shape}.")
  return FitnessSource(name, kind, lambda idx: v[np.asarray(idx, np.int64)], bool(higher_is_better),
                       c, v)


def live_fitness(space, proxy, batches, key: jax.Array, *,
                 network_kwargs: Optional[Mapping] = None, **score_kwargs) -> FitnessSource:
  """A proxy scored live through :func:`jaxnas.population.score_population`.

  Every architecture gets its weights from ``fold_in(key, official_index)``, so a cell's score does
  not depend on when or with which others it is scored; the driver's cache scores each cell once.

  Args:
    space: a jaxnas space (e.g. ``spaces.nb201``).
    proxy: a :class:`jaxnas.proxies.Proxy`.
    batches: a Batch or a mapping proxy name -> Batch.
    key: weights/proxy key.
    network_kwargs, score_kwargs: passed to ``score_population``.
  """
  from jaxnas import population  # local: the search core works without models

  def evaluate(idx):
    enc = space.encoding_of(np.asarray(idx, np.int64))
    out = population.score_population(enc, [proxy], batches, key, space=space.name,
                                      network_kwargs=network_kwargs, **score_kwargs)
    return np.asarray(out, np.float64)[:, 0]

  return FitnessSource(proxy.name, "proxy", evaluate, bool(proxy.higher_is_better))


class SearchResult(NamedTuple):
  """What a search did.

  Attributes:
    strategy: the strategy's name.
    evaluated: (n,) official indices in first-evaluation order (each once).
    values: (n,) their raw fitness values.
    best_index: the evaluated cell with the best (oriented) value.
    best_value: its raw value.
    queries: the evaluated indices if the fitness was the training-based query, else empty.
    query_cost_s: summed recorded cost of the queries (benchmark training seconds).
    proxy_cost_s: measured seconds this process spent evaluating a proxy fitness.
    asks: number of ``ask`` calls.
    stopped: ``'budget'``, ``'cost'`` (``max_cost_s`` spent), ``'asks'`` (a strategy with a
      fixed number of generations finished)
      or ``'max_asks'`` (the strategy kept repeating evaluated cells).
  """

  strategy: str
  evaluated: np.ndarray
  values: np.ndarray
  best_index: int
  best_value: float
  queries: np.ndarray
  query_cost_s: float
  proxy_cost_s: float
  asks: int
  stopped: str


def run(strategy: Strategy, source: FitnessSource, key: jax.Array, *, budget: Optional[int] = None,
        max_asks: Optional[int] = None, cache: Optional[dict] = None,
        max_cost_s: Optional[float] = None, progress: bool = False) -> SearchResult:
  """Run a strategy until its budget of distinct evaluations is spent (jitted ask/tell, host loop).

  A query strategy stops after `budget` distinct queried cells; a proxy strategy after its own
  ``settings['evaluations']`` (or its ``settings['asks']`` generations). Cells asked again are
  answered from the cache without cost, as a
  benchmark lookup would be. Works with any source; with a table source :func:`run_jit` does the
  same search as one compiled loop.

  Args:
    strategy: from a factory in :mod:`jaxnas.search`.
    source: a :class:`FitnessSource` of the strategy's kind.
    key: PRNG key; the same key gives the same search.
    budget: distinct queries (query strategies; required there).
    max_asks: safety stop (default 20 x budget + 100).
    cache: index -> raw value, shared across runs to never evaluate a cell twice (live scoring).
    max_cost_s: also stop once the queries' summed recorded cost reaches this many seconds (the
      query that crosses it still counts): NB201's time-budget protocol (12,000 s for REA and
      random search in its paper). Needs a source with ``recorded_cost``.
    progress: tqdm bar over the budget.
  """
  if not isinstance(strategy, Strategy):
    raise TypeError(f"`strategy` must be a jaxnas.search.Strategy, got {type(strategy).__name__}.")
  if source.kind != strategy.fitness:
    raise ValueError(f"Strategy {strategy.name!r} needs a {strategy.fitness!r} fitness source, got "
                     f"{source.name!r} of kind {source.kind!r}.")
  n = _budget(strategy, budget)
  max_asks, stop_name = _max_asks(strategy, max_asks, n)
  ts = strategy.space
  ask, tell = jax.jit(strategy.ask), jax.jit(strategy.tell)
  cache = {} if cache is None else cache
  order: list[int] = []
  seen: set[int] = set()
  key, kinit = jax.random.split(key)
  state = strategy.init(kinit)
  seconds = 0.0
  asks = 0
  if max_cost_s is not None and source.recorded_cost is None:
    raise ValueError(f"`max_cost_s` needs a fitness source with recorded costs; {source.name!r} "
                     "has none.")
  bar = _bar(n, progress, strategy.name)
  stopped = "budget"
  spent = 0.0
  while len(order) < n:
    if max_cost_s is not None and spent >= max_cost_s:
      stopped = "cost"
      break
    if asks >= max_asks:
      stopped = stop_name
      break
    key, kask = jax.random.split(key)
    enc, state = ask(kask, state)
    asks += 1
    idx = [int(i) for i in np.asarray(ts.index_of(enc)).ravel()]
    new = list(dict.fromkeys(i for i in idx if i not in seen))[: n - len(order)]
    todo = [i for i in new if i not in cache]
    if todo:
      t0 = time.perf_counter()
      vals = np.asarray(source.evaluate(np.asarray(todo, np.int64)), np.float64)
      seconds += time.perf_counter() - t0
      cache.update(zip(todo, vals.tolist()))
    order += new
    seen.update(new)
    if max_cost_s is not None:
      spent += float(source.recorded_cost[np.asarray(new, np.int64)].sum()) if new else 0.0
    if bar is not None:
      bar.update(len(new))
    if any(i not in cache for i in idx):  # truncated batch at the end of the budget
      break
    raw = np.asarray([cache[i] for i in idx], np.float64)
    state = tell(state, enc, _orient(raw, source.higher_is_better))
  if bar is not None:
    bar.close()
  values = np.asarray([cache[i] for i in order], np.float64)
  return _result(strategy, source, np.asarray(order, np.int64), values, seconds, asks, stopped)


def run_jit(strategy: Strategy, source: FitnessSource, key: jax.Array, *,
            budget: Optional[int] = None, max_asks: Optional[int] = None) -> SearchResult:
  """The search of :func:`run` as one compiled ``lax.while_loop`` (table sources only).

  Gives the same search as :func:`run` for the same key (tested); useful for many seeds.
  """
  if source.table is None:
    raise ValueError(f"run_jit needs a table fitness source (table_fitness); {source.name!r} is "
                     "scored live: use jaxnas.search.run.")
  if source.kind != strategy.fitness:
    raise ValueError(f"Strategy {strategy.name!r} needs a {strategy.fitness!r} fitness source, got "
                     f"{source.name!r} of kind {source.kind!r}.")
  n = _budget(strategy, budget)
  max_asks, stop_name = _max_asks(strategy, max_asks, n)
  t0 = time.perf_counter()
  order, asks = _search_loop(strategy, n, max_asks, source.higher_is_better)(
      key, jnp.asarray(source.table))
  order = np.asarray(order)
  seconds = time.perf_counter() - t0
  order = order[order >= 0]
  stopped = "budget" if order.size == n else stop_name
  return _result(strategy, source, order.astype(np.int64), source.table[order], seconds, int(asks),
                 stopped)


def _search_loop(strategy: Strategy, n: int, max_asks: int, higher: bool):
  ts = strategy.space

  @jax.jit
  def loop(key, table):
    fit = finite_or_worst(table if higher else -table)
    key, kinit = jax.random.split(key)
    state = strategy.init(kinit)
    carry = (key, state, jnp.full(n, -1, jnp.int32), jnp.int32(0), jnp.zeros(ts.size, bool),
             jnp.int32(0))

    def cond(c):
      return (c[3] < n) & (c[5] < max_asks)

    def body(c):
      key, state, order, used, seen, asks = c
      key, kask = jax.random.split(key)
      enc, state = strategy.ask(kask, state)
      idx = ts.index_of(enc)

      def add(j, acc):
        order, used, seen = acc
        i = idx[j]
        new = (~seen[i]) & (used < n)
        order = jnp.where(new, order.at[jnp.minimum(used, n - 1)].set(i), order)
        return order, used + new.astype(jnp.int32), seen.at[i].set(seen[i] | new)

      order, used, seen = jax.lax.fori_loop(0, idx.shape[0], add, (order, used, seen))
      state = strategy.tell(state, enc, fit[idx])
      return key, state, order, used, seen, asks + 1

    c = jax.lax.while_loop(cond, body, carry)
    return c[2], c[5]

  return loop


def _max_asks(strategy: Strategy, max_asks, n: int) -> tuple[int, str]:
  """The ask limit: the strategy's own number of asks (generations) if it has one, else a guard."""
  if "asks" in strategy.settings:
    return int(strategy.settings["asks"]), "asks"
  if max_asks is not None:
    return check_positive_int(max_asks, "max_asks"), "max_asks"
  return 20 * n + 100, "max_asks"


def _budget(strategy: Strategy, budget) -> int:
  if strategy.fitness == "proxy":
    return int(strategy.settings["evaluations"])
  if budget is None:
    raise ValueError(f"Strategy {strategy.name!r} spends queries: pass `budget` (number of "
                     "distinct queries).")
  return check_positive_int(budget, "budget")


def _orient(raw: np.ndarray, higher: bool) -> np.ndarray:
  return np.asarray(finite_or_worst(jnp.asarray(raw if higher else -raw)))


def _result(strategy, source, order, values, seconds, asks, stopped) -> SearchResult:
  oriented = _orient(values, source.higher_is_better)
  b = int(np.argmax(oriented)) if order.size else -1
  is_query = source.kind == "query"
  cost = (float(source.recorded_cost[order].sum()) if is_query and source.recorded_cost is not None
          else 0.0)
  return SearchResult(strategy.name, order, values, int(order[b]) if b >= 0 else -1,
                      float(values[b]) if b >= 0 else float("nan"),
                      order if is_query else np.zeros(0, np.int64), cost,
                      0.0 if is_query else float(seconds), asks, stopped)


def _bar(total: int, enabled: bool, name: str):
  if not enabled:
    return None
  from tqdm.auto import tqdm
  return tqdm(total=total, unit="arch", desc=f"search {name}")


def best_so_far(result: SearchResult, truth, *, higher_is_better: bool = True) -> np.ndarray:
  """truth[best cell so far] after each evaluation: the searcher's current answer's (e.g. test)
  accuracy, where the answer is the evaluated cell with the best fitness (first on ties).

  Args:
    result: a :class:`SearchResult`.
    truth: (size,) e.g. 200-epoch test accuracy by official index.
    higher_is_better: orientation of ``result.values`` (the fitness source's).
  """
  truth = np.asarray(truth, np.float64)
  vals = _orient(np.asarray(result.values, np.float64), higher_is_better)
  out = np.empty(vals.size)
  best, arg = -np.inf, -1
  for j, v in enumerate(vals):
    if arg < 0 or (np.isfinite(v) and v > best):
      best, arg = (v if np.isfinite(v) else -np.inf), j
    out[j] = truth[result.evaluated[arg]]
  return out
