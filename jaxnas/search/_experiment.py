"""Strategies by name, built from score tables and a ground-truth table (what ``jaxnas search``
and ``benchmarks/search.py`` share)."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from ._base import Strategy
from ._hnas import HNAS_PROXIES, hnas
from ._pdns import PDNS_OBJECTIVES, front_indicators, mtf_pdns, pdns_archive
from ._robot import ROBOT_PROXIES, robot
from ._run import FitnessSource, SearchResult, table_fitness
from ._strategies import naswot, random_search, ranked_queries, regularized_evolution, swap_nas

#: Every strategy name, with the proxy columns it reads by default (its reference's) and the kind
#: of fitness it spends: 'query' strategies spend the budget of training-based queries.
STRATEGIES: dict[str, dict] = {
    "random": {"proxies": (), "fitness": "query"},
    "rea": {"proxies": (), "fitness": "query"},
    "rea_proxy": {"proxies": ("nwot",), "fitness": "proxy"},
    "naswot": {"proxies": ("nwot",), "fitness": "proxy"},
    "swap_nas": {"proxies": ("reg_swap",), "fitness": "proxy"},
    "robot": {"proxies": ROBOT_PROXIES, "fitness": "query"},
    "hnas": {"proxies": HNAS_PROXIES, "fitness": "query"},
    "mtf_pdns": {"proxies": PDNS_OBJECTIVES, "fitness": "proxy"},
    "ranked": {"proxies": ROBOT_PROXIES, "fitness": "query"},
}

#: Objectives MTF-PDNS minimises as they are (model size); every other proxy is maximised.
COST_OBJECTIVES = ("flops", "params")


def _direction(name: str) -> bool:
  """Whether a higher score is better for proxy column `name` (registry metadata; True if unknown)."""
  from jaxnas import proxies  # local: the registry's metadata only

  p = proxies.REGISTRY.get(name)
  return True if p is None else bool(p.higher_is_better)


def build_strategy(name: str, space, *, scores: Optional[Mapping[str, np.ndarray]] = None,
                   proxies: Optional[Sequence[str]] = None, budget: int = 20,
                   options: Optional[Mapping] = None,
                   candidates: Optional[np.ndarray] = None) -> tuple[Strategy, tuple[str, ...]]:
  """The strategy `name` over `space`, reading proxy columns from `scores`.

  Args:
    name: one of :data:`STRATEGIES`.
    space: a jaxnas space (its ``size`` fixes the length of every score array).
    scores: proxy name -> (size,) scores by official index (NaN where missing).
    proxies: the columns to use (default: the strategy's reference proxies).
    budget: queries (query strategies).
    options: extra keyword options of the factory (e.g. ``population_size``, ``n``; for robot
      ``bo_steps``: BO evaluations, default `budget`; repeated cells cost no query, so more BO
      steps than queries is a valid RoBoT variant).
    candidates: (size,) bool mask of the cells the search may pick (None: all), e.g. the cells
      a sampled score table covers.

  Returns:
    (strategy, the proxy columns it uses).

  Raises:
    ValueError: unknown name, or a needed proxy column missing (the message lists them).
  """
  if name not in STRATEGIES:
    raise ValueError(f"Unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}.")
  spec = STRATEGIES[name]
  use = tuple(proxies) if proxies else tuple(spec["proxies"])
  scores = dict(scores or {})
  missing = [p for p in use if p not in scores]
  if missing:
    raise ValueError(f"Strategy {name!r} needs proxy columns {list(use)}; missing from the score "
                     f"tables: {missing} (available: {sorted(scores)}). Pass --scores with them "
                     "or choose --proxies.")
  opts = dict(options or {})
  if candidates is not None:
    opts["candidates"] = np.asarray(candidates, bool)
  if name == "random":
    return random_search(space, **opts), use
  if name == "rea":
    return regularized_evolution(space, **opts), use
  if name == "rea_proxy":
    return regularized_evolution(space, fitness="proxy", name="rea_proxy", **opts), use
  if name == "naswot":
    return naswot(space, **opts), use
  if name == "swap_nas":
    return swap_nas(space, **opts), use
  if name == "robot":
    mat = np.stack([np.asarray(scores[p], np.float64) for p in use], axis=1)
    steps = opts.pop("bo_steps", None) or budget
    return robot(space, mat, budget=steps, proxies=use, **opts), use
  if name == "hnas":
    if len(use) != 2:
      raise ValueError(f"hnas reads exactly two proxies (trace norm, condition number), got {use}.")
    return hnas(space, scores[use[0]], scores[use[1]], budget=budget, **opts), use
  if name == "ranked":
    return ranked_queries(space, mean_rank(scores, use), **opts), use
  if name == "mtf_pdns":
    obj = pdns_objectives(scores, use)
    excluded = opts.pop("candidates", None)
    if excluded is not None:  # cells outside the candidates are dominated by every other cell
      obj = np.where(np.asarray(excluded)[:, None], obj, np.inf)
    return mtf_pdns(space, obj, **opts), use
  raise AssertionError(name)  # pragma: no cover


def mean_rank(scores: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
  """(size,) mean over `names` of each proxy's normalised rank (1 = best; oriented by the proxy's
  direction; non-finite scores rank worst, :func:`jaxnas.evaluate.oriented_scores`)."""
  from scipy import stats

  from jaxnas import evaluate

  ranks = []
  for n in names:
    o = evaluate.oriented_scores(scores[n], higher_is_better=_direction(n))
    ranks.append(stats.rankdata(o) / o.size)
  return np.mean(ranks, axis=0)


def pdns_objectives(scores: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
  """(size, m) objectives to minimise: FLOPs/params as they are, proxies oriented and negated."""
  cols = []
  for n in names:
    s = np.asarray(scores[n], np.float64)
    cols.append(s if n in COST_OBJECTIVES else (-s if _direction(n) else s))
  return np.stack(cols, axis=1)


def pareto_report(result: SearchResult, scores: Mapping[str, np.ndarray], names: Sequence[str],
                  accuracy: Mapping[str, np.ndarray], flops: np.ndarray) -> dict:
  """MTF-PDNS's answer: the final archive and its front indicators per accuracy column.

  Args:
    result: the search's result. scores, names: the objective columns it used.
    accuracy: column name -> (size,) test accuracy in percent.
    flops: (size,) FLOPs by official index (the cost axis of the front).
  """
  archive = pdns_archive(result.evaluated, pdns_objectives(scores, names))
  out = {"archive": [int(i) for i in archive]}
  for col, acc in accuracy.items():
    acc = np.asarray(acc, np.float64)
    out[f"indicators_{col}"] = front_indicators(archive, 1.0 - acc / 100.0, flops)
    out[f"archive_best_{col}"] = float(acc[archive].max())
  return out


def fitness_for(strategy: Strategy, used: Sequence[str], *, scores: Mapping[str, np.ndarray],
                query: np.ndarray, query_name: str, cost: Optional[np.ndarray]) -> FitnessSource:
  """The fitness source a strategy spends: the query column, or its (first) proxy column."""
  if strategy.fitness == "query":
    return table_fitness(query, name=query_name, kind="query", cost=cost)
  if not used:
    raise ValueError(f"Strategy {strategy.name!r} scores a proxy: name one with --proxies.")
  return table_fitness(scores[used[0]], name=used[0], kind="proxy",
                       higher_is_better=_direction(used[0]))


def report(result: SearchResult, space, *, truth: Optional[Mapping[str, np.ndarray]] = None,
           settings: Optional[Mapping] = None) -> dict:
  """A JSON-able record of a search: the answer, the queries in order, costs, settings.

  Args:
    result: from :func:`run`.
    space: the jaxnas space (for arch strings).
    truth: column name -> (size,) values to report for the answer (e.g. test accuracies).
    settings: anything else to record (command-line settings).
  """
  out = {
      "strategy": result.strategy,
      "best_index": int(result.best_index),
      "best_arch": space.decode(space.encoding_of(int(result.best_index)))
      if result.best_index >= 0 else None,
      "best_fitness": result.best_value,
      "queries": [int(i) for i in result.queries],
      "num_queries": int(result.queries.size),
      "evaluated": [int(i) for i in result.evaluated],
      "query_cost_s": result.query_cost_s,
      "proxy_cost_s": result.proxy_cost_s,
      "asks": result.asks,
      "stopped": result.stopped,
  }
  for col, values in (truth or {}).items():
    out[f"best_{col}"] = float(np.asarray(values)[result.best_index])
  out.update(dict(settings or {}))
  return out
