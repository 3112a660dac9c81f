"""RoBoT: Bayesian optimisation over weighted sums of training-free proxies, then greedy
exploitation (He et al., ICLR 2024; hzf1174/RoBoT ``search_nb201.py``)."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Strategy, check_positive_int, finite_or_worst
from ._bo import maximise_acquisition
from ._gp import gp_fit
from ._space import traceable
from ._strategies import _excluded

#: RoBoT's default proxies (``--training_free_metrics``), in its order.
ROBOT_PROXIES: tuple[str, ...] = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov")


def minmax_columns(scores) -> np.ndarray:
  """Each column min-max normalised over its finite entries; non-finite entries become 0.

  RoBoT normalises every proxy over the whole space (a constant column is left as is) and skips
  NaN scores in the weighted sum, which is the same as adding 0. Infinite scores (a float32
  overflow) are treated like NaN here, since a min-max over them would be undefined.
  """
  s = np.asarray(scores, np.float64)
  if s.ndim != 2:
    raise ValueError(f"`scores` must be (num_archs, num_proxies), got shape {s.shape}.")
  out = np.zeros_like(s)
  for j in range(s.shape[1]):
    col = s[:, j]
    ok = np.isfinite(col)
    if not ok.any():
      continue
    lo, hi = col[ok].min(), col[ok].max()
    out[ok, j] = col[ok] if hi == lo else (col[ok] - lo) / (hi - lo)
  return out


class RoBoTState(NamedTuple):
  """State of :func:`robot`.

  Attributes:
    weights: (T, k) proxy weightings BO has evaluated. values: (T,) their objective.
    count: number of BO evaluations so far (the BO phase lasts T asks).
    pending: (k,) the weighting behind the last ask.
    best_weights: (k,) the weighting whose arg-max cell had the best query so far.
    best_value: that query value.
    visited: (size,) cells told so far (exploitation skips them).
  """

  weights: jax.Array
  values: jax.Array
  count: jax.Array
  pending: jax.Array
  best_weights: jax.Array
  best_value: jax.Array
  visited: jax.Array


def robot(space, scores, *, budget: int = 20, kappa: float = 2.576, n_warmup: int = 10000,
          n_seeds: int = 10, ascent_steps: int = 50, alpha: float = 1e-6,
          proxies: Sequence[str] | None = None, candidates=None, name: str = "robot") -> Strategy:
  """RoBoT's search as a strategy on the training-based query.

  Phase 1 (``budget`` asks): BO over weight vectors w in [-1, 1]^k. The objective of w is the
  query value of the cell that maximises ``minmax(scores) @ w``. The first w is uniform random;
  each later one maximises the GP-UCB acquisition mean + kappa * std of a Matern-5/2 GP
  (sklearn conventions, :func:`gp_fit`) fitted to the (w, value) pairs so far. Cells BO repeats
  cost nothing (the driver's cache). Phase 2: greedy exploitation, asking the next cells of the
  ranking under the best w that were not yet queried, until the driver's query budget is spent.
  The answer is the queried cell with the best query value.

  Follows hzf1174/RoBoT @ search_nb201.py with bayesian-optimization 1.2.0 (one random point,
  then ``n_iter = T - 1`` UCB suggestions; opt_weights updated on ``>=``). The acquisition
  maximiser is bayes_opt's under ``jit`` (:func:`maximise_acquisition`).

  Args:
    space: a jaxnas space or :class:`TraceableSpace`.
    scores: (size, k) proxy scores by official index (raw; NaN where missing). Cells with no
      finite score at all are not candidates (for tables of a sample of the space).
    budget: T, number of BO evaluations (also the usual query budget).
    kappa: UCB exploration weight (bayes_opt's default 2.576).
    n_warmup, n_seeds, ascent_steps: acquisition maximiser settings.
    alpha: GP diagonal jitter (bayes_opt: 1e-6).
    proxies: names of the score columns, for the record.
    candidates: (size,) bool mask of the cells the search may pick (None: all with a score).
    name: recorded name.
  """
  ts = traceable(space)
  budget = check_positive_int(budget, "budget")
  n_warmup = check_positive_int(n_warmup, "n_warmup")
  n_seeds = check_positive_int(n_seeds, "n_seeds")
  ascent_steps = check_positive_int(ascent_steps, "ascent_steps", 0)
  s = np.asarray(scores, np.float64)
  if s.ndim != 2 or s.shape[0] != ts.size or s.shape[1] < 1:
    raise ValueError(f"`scores` must be ({ts.size}, k>=1) proxy scores by official index of "
                     f"{ts.name}, got shape {s.shape}.")
  dtype = jnp.result_type(float)  # float64 when x64 is on, else float32
  table = jnp.asarray(minmax_columns(s), dtype)
  # Cells without any finite score (outside a sampled table) are never proposed.
  blocked = ~np.isfinite(s).any(axis=1)
  if candidates is not None:
    blocked = blocked | np.asarray(_excluded(ts, candidates))
  blocked = jnp.asarray(blocked)
  k = s.shape[1]

  def suggest(key, state):
    mask = jnp.arange(budget) < state.count
    post = gp_fit(state.weights, state.values, mask, alpha=alpha)
    return maximise_acquisition(key, post, -jnp.ones(k), jnp.ones(k), kind="ucb", kappa=kappa,
                                n_warmup=n_warmup, n_seeds=n_seeds, ascent_steps=ascent_steps)

  def init(key):
    del key
    return RoBoTState(jnp.zeros((budget, k), dtype), jnp.zeros(budget, dtype),
                      jnp.zeros((), jnp.int32), jnp.zeros(k, dtype), jnp.zeros(k, dtype),
                      jnp.asarray(-jnp.inf, dtype), jnp.zeros(ts.size, bool))

  def ask(key, state):
    def bo(_):
      w = jax.lax.cond(state.count == 0,
                       lambda: jax.random.uniform(key, (k,), dtype, -1.0, 1.0),
                       lambda: suggest(key, state))
      return jnp.argmax(jnp.where(blocked, -jnp.inf, table @ w)).astype(jnp.int32), w

    def exploit(_):
      ranked = jnp.where(state.visited | blocked, -jnp.inf, table @ state.best_weights)
      return jnp.argmax(ranked).astype(jnp.int32), state.pending

    idx, w = jax.lax.cond(state.count < budget, bo, exploit, None)
    return ts.encoding_of(idx)[None], state._replace(pending=w)

  def tell(state, encodings, values):
    v = finite_or_worst(values[0]).astype(dtype)
    idx = ts.index_of(encodings[0])
    in_bo = state.count < budget
    slot = jnp.minimum(state.count, budget - 1)
    better = in_bo & (v >= state.best_value)
    return RoBoTState(
        jnp.where(in_bo, state.weights.at[slot].set(state.pending), state.weights),
        jnp.where(in_bo, state.values.at[slot].set(v), state.values),
        state.count + in_bo.astype(jnp.int32), state.pending,
        jnp.where(better, state.pending, state.best_weights),
        jnp.where(better, v, state.best_value), state.visited.at[idx].set(True))

  settings = {"budget": budget, "kappa": kappa, "n_warmup": n_warmup, "n_seeds": n_seeds,
              "ascent_steps": ascent_steps, "alpha": alpha, "space": ts.name,
              "proxies": list(proxies) if proxies is not None else None}
  return Strategy(init, ask, tell, name, 1, "query", settings, ts)

