"""HNAS: Bayesian optimisation of an NTK-based hybrid criterion's target and coefficient
(Shu et al., ICLR 2022; shuyao95/HNAS ``nasbench/nasbench2_search.py``)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Strategy, check_positive_int, finite_or_worst
from ._bo import maximise_acquisition
from ._gp import gp_fit
from ._space import traceable
from ._strategies import _excluded

#: The proxies HNAS's criterion reads (jaxnas names): NTK trace norm M and condition number.
HNAS_PROXIES: tuple[str, ...] = ("ntk_trace_norm", "hnas_cond")


class HNASState(NamedTuple):
  """State of :func:`hnas`.

  Attributes:
    params: (T, 2) evaluated (target_metric, target_coeff). values: (T,) their query values.
    count: BO evaluations so far. pending: (2,) the parameters behind the last ask.
    pool: (size,) cells sampled so far (HNAS's growing ``sampled_archs``).
    visited: (size,) cells queried so far (removed from the pool's candidates).
  """

  params: jax.Array
  values: jax.Array
  count: jax.Array
  pending: jax.Array
  pool: jax.Array
  visited: jax.Array


def hnas(space, trace_norm, condition, *, budget: int = 20, n_sample: int = 2000,
         scale: float = 5e3, init_points: int | None = None, xi: float = 0.0,
         n_warmup: int = 10000, n_seeds: int = 10, ascent_steps: int = 50,
         alpha: float = 1e-6, candidates=None, name: str = "hnas") -> Strategy:
  """HNAS's search as a strategy on the training-based query.

  Each ask takes BO parameters (t, c) in [0, 1] x [-4, 0], adds `n_sample` cells drawn uniformly
  with replacement to a growing pool, and proposes the not yet queried pool cell minimising
  ``10**c * |M^2 - (scale t)^2| + cond / (M + 1e-6)`` (M = NTK trace norm, cond = its condition
  number); the objective of (t, c) is that cell's query value. The first `init_points`
  (``min(int(0.25 T), 10)``) probes are t = linspace(0, 1), c = -2; later ones maximise expected
  improvement (xi = 0) of the bayes_opt GP (:func:`gp_fit`). The answer is the queried cell with
  the best query value. Cells with a non-finite criterion are never proposed.

  Args:
    space: a jaxnas space or :class:`TraceableSpace`.
    trace_norm, condition: (size,) HNAS's M (``ntk_trace_norm``) and cond (``hnas_cond``).
    budget: T, the number of queries.
    n_sample, scale: HNAS's ``--n_sample`` and ``--scale``.
    init_points: linspace probes (default HNAS's min(int(0.25 T), 10)).
    xi, n_warmup, n_seeds, ascent_steps, alpha: acquisition and GP settings (bayes_opt's).
    candidates: (size,) bool mask of the cells the search may pick (None: all).
    name: recorded name.
  """
  ts = traceable(space)
  budget = check_positive_int(budget, "budget")
  n_sample = check_positive_int(n_sample, "n_sample")
  init_points = min(int(budget * 0.25), 10) if init_points is None else int(init_points)
  if not 0 <= init_points <= budget:
    raise ValueError(f"`init_points` must be in [0, budget={budget}], got {init_points}.")
  m = np.asarray(trace_norm, np.float64)
  c = np.asarray(condition, np.float64)
  if m.shape != (ts.size,) or c.shape != (ts.size,):
    raise ValueError(f"`trace_norm` and `condition` must be ({ts.size},) by official index, got "
                     f"{m.shape} and {c.shape}.")
  dtype = jnp.result_type(float)
  mj, cj = jnp.asarray(m, dtype), jnp.asarray(c, dtype)
  usable = np.isfinite(m) & np.isfinite(c)
  if candidates is not None:
    usable = usable & ~np.asarray(_excluded(ts, candidates))
  usable = jnp.asarray(usable)
  lower = jnp.asarray([0.0, -4.0], dtype)
  upper = jnp.asarray([1.0, 0.0], dtype)
  probes = jnp.linspace(0.0, 1.0, max(init_points, 1)).astype(dtype)

  def init(key):
    del key
    return HNASState(jnp.zeros((budget, 2), dtype), jnp.zeros(budget, dtype),
                     jnp.zeros((), jnp.int32), jnp.zeros(2, dtype), jnp.zeros(ts.size, bool),
                     jnp.zeros(ts.size, bool))

  def suggest(key, state):
    mask = jnp.arange(budget) < state.count
    post = gp_fit(state.params, state.values, mask, alpha=alpha)
    y_max = jnp.max(jnp.where(mask, state.values, -jnp.inf))
    return maximise_acquisition(key, post, lower, upper, kind="ei", xi=xi, y_max=y_max,
                                n_warmup=n_warmup, n_seeds=n_seeds, ascent_steps=ascent_steps)

  def ask(key, state):
    kbo, ksample = jax.random.split(key)
    x = jax.lax.cond(state.count < init_points,
                     lambda: jnp.stack([probes[jnp.minimum(state.count, probes.size - 1)],
                                        jnp.asarray(-2.0, dtype)]),
                     lambda: suggest(kbo, state))
    new = jax.random.randint(ksample, (n_sample,), 0, ts.size, jnp.int32)
    pool = state.pool.at[new].set(True)
    target = x[0] * scale
    score = 10.0 ** x[1] * jnp.abs(mj ** 2 - target ** 2) + cj / (mj + 1e-6)
    score = jnp.where(pool & ~state.visited & usable, score, jnp.inf)
    idx = jnp.argmin(score).astype(jnp.int32)
    return ts.encoding_of(idx)[None], state._replace(pending=x, pool=pool)

  def tell(state, encodings, values):
    v = finite_or_worst(values[0]).astype(dtype)
    slot = jnp.minimum(state.count, budget - 1)
    in_bo = state.count < budget
    return state._replace(
        params=jnp.where(in_bo, state.params.at[slot].set(state.pending), state.params),
        values=jnp.where(in_bo, state.values.at[slot].set(v), state.values),
        count=state.count + in_bo.astype(jnp.int32),
        visited=state.visited.at[ts.index_of(encodings[0])].set(True))

  settings = {"budget": budget, "n_sample": n_sample, "scale": scale, "init_points": init_points,
              "xi": xi, "n_warmup": n_warmup, "n_seeds": n_seeds, "ascent_steps": ascent_steps,
              "alpha": alpha, "space": ts.name, "proxies": list(HNAS_PROXIES)}
  return Strategy(init, ask, tell, name, 1, "query", settings, ts)
