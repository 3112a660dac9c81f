"""MTF-PDNS: Pareto dominance-based novelty search over training-free objectives
(ELO-Lab/PDNS ``algorithms/novelty_search/ns_nas_bench_201.py``, ``utils/utils.py``)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Strategy, check_positive_int
from ._pareto import hypervolume_2d, igd, igd_plus, non_dominated
from ._space import traceable

#: MTF-PDNS's objectives on NB201 (jaxnas names): three proxies maximised, FLOPs minimised.
PDNS_OBJECTIVES: tuple[str, ...] = ("synflow", "jacob_cov", "snip", "flops")


class PDNSState(NamedTuple):
  """State of :func:`mtf_pdns`.

  Attributes:
    population: (P, L) encodings. objectives: (P, m) their (minimised) objectives.
    history: (E,) official indices evaluated so far, each once (-1 = empty slot).
    size: filled slots of `history`. generation: tells so far.
    shuffle: (2P,) the tournament pairing for the next tell (drawn by ``ask`` from its key).
  """

  population: jax.Array
  objectives: jax.Array
  history: jax.Array
  size: jax.Array
  generation: jax.Array
  shuffle: jax.Array


def _normalise(obj, mask):
  """Min-max over the masked rows per objective (the reference's joint pool + archive scaling);
  non-finite entries become 1, the worst."""
  ok = jnp.isfinite(obj) & mask[:, None]
  lo = jnp.min(jnp.where(ok, obj, jnp.inf), axis=0)
  hi = jnp.max(jnp.where(ok, obj, -jnp.inf), axis=0)
  span = jnp.where(hi > lo, hi - lo, 1.0)
  return jnp.where(jnp.isfinite(obj), (obj - lo) / span, 1.0)


def mtf_pdns(space, objectives, *, population_size: int = 20, generations: int = 50,
             mutation_rate: float = 1 / 6, name: str = "mtf_pdns") -> Strategy:
  """MTF-PDNS as a strategy: novelty search driven by Pareto dominance, no query.

  Generation 0 asks `population_size` uniform random cells. Each later ask makes offspring by
  two-point crossover of shuffled parent pairs and per-edge mutation (rate 1/6, to a different
  op). On ``tell`` the elitist archive is the non-dominated set of every cell evaluated so far
  (what the reference's sequential ``update_elitist_archive`` keeps), and each member of parents +
  offspring gets the novelty fitness: its mean Euclidean distance, in objective space min-max
  scaled over the pool and archive, to the archive members, negated when it is not an archive
  member. Binary tournaments on that fitness pick the next parents. The search's answer is the
  final archive (:func:`pdns_archive`), scored by hypervolume and IGD of its test-error / FLOPs
  front (:func:`front_indicators`).

  Args:
    space: a jaxnas space or :class:`TraceableSpace`.
    objectives: (size, m) objectives to MINIMISE by official index (proxies negated, FLOPs as is).
    population_size: P (even; the reference: 20).
    generations: G (the reference: 50 on NB201); the search asks G + 1 times.
    mutation_rate: per-position mutation probability.
    name: recorded name.
  """
  ts = traceable(space)
  pop_n = check_positive_int(population_size, "population_size", 2)
  if pop_n % 2:
    raise ValueError(f"`population_size` must be even (parents pair up), got {pop_n}.")
  gens = check_positive_int(generations, "generations", 0)
  if not 0.0 <= mutation_rate <= 1.0:
    raise ValueError(f"`mutation_rate` must be in [0, 1], got {mutation_rate!r}.")
  obj = np.asarray(objectives, np.float64)
  if obj.ndim != 2 or obj.shape[0] != ts.size:
    raise ValueError(f"`objectives` must be ({ts.size}, m), got shape {obj.shape}.")
  dtype = jnp.result_type(float)
  table = jnp.asarray(obj, dtype)
  cap = pop_n * (gens + 1)
  length = ts.encoding_length
  choices = jnp.asarray(ts.choices, jnp.int32)

  def init(key):
    del key
    return PDNSState(jnp.zeros((pop_n, length), jnp.int32),
                     jnp.zeros((pop_n, obj.shape[1]), dtype), jnp.full(cap, -1, jnp.int32),
                     jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                     jnp.arange(2 * pop_n, dtype=jnp.int32))

  def offspring(key, pop):
    kperm, kpts, kmut, kval = jax.random.split(key, 4)
    order = jax.random.permutation(kperm, pop_n)
    a, b = pop[order[0::2]], pop[order[1::2]]
    pts = jax.vmap(lambda k: jnp.sort(jax.random.choice(k, length, (2,), replace=False)))(
        jax.random.split(kpts, pop_n // 2))
    pos = jnp.arange(length)
    swap = (pos[None, :] >= pts[:, :1]) & (pos[None, :] < pts[:, 1:])
    kids = jnp.concatenate([jnp.where(swap, b, a), jnp.where(swap, a, b)])
    flip = jax.random.uniform(kmut, kids.shape) < mutation_rate
    shift = jnp.floor(jax.random.uniform(kval, kids.shape) * (choices - 1)).astype(jnp.int32) + 1
    return jnp.where(flip, (kids + shift) % choices, kids)

  def ask(key, state):
    kinit, kgen, ktour = jax.random.split(key, 3)
    enc = jax.lax.cond(state.generation == 0, lambda: ts.sample(kinit, pop_n),
                       lambda: offspring(kgen, state.population))
    shuffle = jax.random.permutation(ktour, 2 * pop_n).astype(jnp.int32)
    return enc, state._replace(shuffle=shuffle)

  def add_history(state, idx):
    def body(j, c):
      hist, n = c
      i = idx[j]
      new = ~jnp.any(hist == i)
      hist = jnp.where(new, hist.at[jnp.minimum(n, cap - 1)].set(i), hist)
      return hist, n + new.astype(jnp.int32)

    return jax.lax.fori_loop(0, idx.shape[0], body, (state.history, state.size))

  def tell(state, encodings, values):
    del values  # the objectives are the closed-over tables
    idx = ts.index_of(encodings)
    hist, size = add_history(state, idx)
    hmask = hist >= 0
    hobj = table[jnp.maximum(hist, 0)]
    archive = non_dominated(jnp.where(jnp.isfinite(hobj), hobj, jnp.inf), hmask)
    first = state.generation == 0
    pool = jnp.concatenate([state.population, encodings])
    pool_idx = ts.index_of(pool)
    pool_obj = table[pool_idx]
    pool_ok = jnp.concatenate([~first & jnp.ones(pop_n, bool), jnp.ones(pop_n, bool)])
    both = jnp.concatenate([pool_obj, hobj])
    norm = _normalise(both, jnp.concatenate([pool_ok, archive]))
    npool, narch = norm[: 2 * pop_n], norm[2 * pop_n:]
    dist = jnp.sqrt(jnp.sum((npool[:, None, :] - narch[None, :, :]) ** 2, axis=-1))
    mean = jnp.sum(jnp.where(archive[None, :], dist, 0.0), 1) / jnp.maximum(archive.sum(), 1)
    member = jnp.any((pool_idx[:, None] == hist[None, :]) & archive[None, :], axis=1)
    fitness = jnp.where(member, mean, -mean)
    fitness = jnp.where(pool_ok, fitness, -jnp.inf)
    first_i, second_i = state.shuffle[0::2], state.shuffle[1::2]
    win = jnp.where(fitness[second_i] > fitness[first_i], second_i, first_i)
    new_pop = jnp.where(first, encodings, pool[win])
    return PDNSState(new_pop, table[ts.index_of(new_pop)], hist, size, state.generation + 1,
                     state.shuffle)

  settings = {"population_size": pop_n, "generations": gens, "mutation_rate": mutation_rate,
              "evaluations": cap, "asks": gens + 1, "space": ts.name}
  return Strategy(init, ask, tell, name, pop_n, "proxy", settings, ts)


def pdns_archive(evaluated, objectives) -> np.ndarray:
  """The elitist archive of a finished search: the non-dominated cells among `evaluated`."""
  ev = np.asarray(evaluated, np.int64)
  obj = np.asarray(objectives, np.float64)[ev]
  obj = np.where(np.isfinite(obj), obj, np.inf)
  return ev[np.asarray(non_dominated(jnp.asarray(obj)))]


def front_indicators(cells, error, cost, *, reference=(1.05, 1.05)) -> dict:
  """Hypervolume, IGD and IGD+ of `cells`' (error, normalised cost) front against the whole space's.

  As the reference's ``_evaluate_and_filter_true_archive``: the cells' test error (fraction) and
  min-max normalised FLOPs over the space, reduced to their non-dominated subset, compared with the
  true Pareto front of every cell (pymoo ``HV(ref_point=(1.05, 1.05))``, ``IGD``, ``IGDPlus``).

  Args:
    cells: official indices (e.g. :func:`pdns_archive`).
    error: (size,) test error in [0, 1] by official index.
    cost: (size,) FLOPs (any unit) by official index.
    reference: hypervolume reference point.
  """
  err = np.asarray(error, np.float64)
  c = np.asarray(cost, np.float64)
  c = (c - np.nanmin(c)) / (np.nanmax(c) - np.nanmin(c))
  space_pts = np.stack([err, c], 1)
  ok = np.all(np.isfinite(space_pts), axis=1)
  true_front = space_pts[ok][np.asarray(non_dominated(jnp.asarray(space_pts[ok])))]
  pts = space_pts[np.asarray(cells, np.int64)]
  pts = pts[np.asarray(non_dominated(jnp.asarray(pts)))]
  return {"hv": hypervolume_2d(pts, reference), "igd": igd(pts, true_front),
          "igd_plus": igd_plus(pts, true_front), "front_size": int(len(pts)),
          "true_front_size": int(len(true_front)),
          "true_hv": hypervolume_2d(true_front, reference)}
