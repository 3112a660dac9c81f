"""Proxy score tables and the named aggregation methods behind ``jaxnas aggregate``.

A score table is the CSV that ``jaxnas score`` writes (``index``, ``arch``, one column per proxy;
``.csv`` or ``.csv.gz``); several are joined on ``index``. :data:`METHODS` names every aggregator
and :func:`aggregate_table` runs one over a table, fitting a learned one on N labelled rows.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas import data

from ._baselines import random_forest
from ._features import nb201_cell_features
from ._learned import fit, linear, mlp
from ._losses import diff_kendall
from ._ranks import normalised_ranks
from ._training_free import geometric_mean, log_rank, rank_mean, te_nas, vkdnw_agg, vkdnw_single


class ScoreTable(NamedTuple):
  """Proxy scores of P architectures.

  Attributes:
    index: (P,) official indices, ascending.
    arch: (P,) arch strings.
    names: the K proxy column names.
    values: (P, K) float64 scores (NaN/inf as written).
    sources: the file each column came from.
  """

  index: np.ndarray
  arch: np.ndarray
  names: tuple
  values: np.ndarray
  sources: tuple

  def column(self, name: str) -> np.ndarray:
    """One proxy column by name (ValueError listing the available ones)."""
    if name not in self.names:
      raise ValueError(f"Proxy column {name!r} is not in the score table; it has: "
                       f"{', '.join(self.names)}.")
    return self.values[:, self.names.index(name)]


def _read_one(path: Path, columns: Optional[Sequence[str]]):
  """(index, arch, names, values) of one score table read by :func:`jaxnas.data.load_table`."""
  table = data.load_table(path)
  names = list(table.columns)
  if columns is not None:
    missing = [c for c in columns if c not in names]
    if missing:
      raise ValueError(f"{path}: no column(s) {missing}; has {names}.")
    names = list(columns)
  if not names:
    raise ValueError(f"{path}: no proxy columns.")
  return table.index, table.arch, names, np.stack([table.columns[n] for n in names], axis=1)


def read_scores(sources: Sequence) -> ScoreTable:
  """Read and inner-join score tables on ``index``.

  Args:
    sources: paths (every proxy column of the file) or ``(path, [column, ...])`` pairs (only
      those columns). A column name found in two files is an error naming both.

  Returns:
    A :class:`ScoreTable` of the indices present in every file, ascending.
  """
  if isinstance(sources, (str, Path)) or not len(sources):
    raise ValueError(f"`sources` must be a non-empty list of paths, got {sources!r}.")
  index = arch = None
  names: list[str] = []
  origin: dict[str, str] = {}
  blocks = []
  for src in sources:
    path, columns = (src, None) if isinstance(src, (str, Path)) else src
    path = Path(path)
    idx, a, cols, vals = _read_one(path, columns)
    for c in cols:
      if c in origin:
        raise ValueError(f"Proxy column {c!r} is in both {origin[c]} and {path}; each name must "
                         "come from one file: pass a copy of one without that column, or (Python) "
                         "select columns with read_scores([(path, [column, ...]), ...]).")
      origin[c] = str(path)
    order = np.argsort(idx)
    idx, a, vals = idx[order], a[order], vals[order]
    if index is None:
      index, arch = idx, a
    else:
      keep = np.isin(index, idx)
      index, arch = index[keep], np.where(arch[keep] != "", arch[keep], a[np.isin(idx, index)])
      blocks = [b[keep] for b in blocks]
      vals = vals[np.isin(idx, index)]
    blocks.append(vals)
    names += cols
  if not len(index):
    raise ValueError(f"The score tables {[str(s) for s in sources]} share no index.")
  return ScoreTable(index, arch, tuple(names), np.concatenate(blocks, axis=1),
                    tuple(origin[n] for n in names))


def directions(names: Sequence[str]) -> tuple[bool, ...]:
  """``higher_is_better`` of each proxy name from :data:`jaxnas.proxies.REGISTRY` (True if absent)."""
  from jaxnas.proxies import REGISTRY

  return tuple(REGISTRY[n].higher_is_better if n in REGISTRY else True for n in names)


class Method(NamedTuple):
  """A named aggregator: ``learned`` methods fit on labels, ``columns`` fixes the proxies read
  (None: every selected proxy)."""

  fn: Callable
  learned: bool
  columns: Optional[tuple]
  doc: str


def _free_generic(fn):
  def run(x, dirs):
    return fn(x, dirs)
  return run


ENSEMBLE_MEMBERS = 5  # members of 'mlp_ensemble'
AZ_NAS = ("flops", "az_expressivity", "az_progressivity", "az_trainability")
VKDNW_AGG = ("vkdnw_dim", "vkdnw", "flops", "az_expressivity", "az_trainability", "jacob_cov")

#: Every aggregation method of ``jaxnas aggregate`` by name.
METHODS: dict[str, Method] = {
    "rank_mean": Method(_free_generic(rank_mean), False, None, "mean rank over the proxies"),
    "log_rank": Method(_free_generic(log_rank), False, None, "AZ-NAS sum of log normalised ranks"),
    "geometric_mean": Method(_free_generic(geometric_mean), False, None,
                             "geometric mean of min-max normalised scores"),
    "az_nas": Method(lambda x, d: log_rank(x, d), False, AZ_NAS,
                     "AZ-NAS: log_rank of FLOPs, expressivity, progressivity, trainability"),
    "te_nas": Method(lambda x, d: te_nas(x[:, 0], x[:, 1]), False, ("ntk_cond", "linear_regions"),
                     "TE-NAS: rank(-ntk_cond) + rank(linear_regions)"),
    "vkdnw_single": Method(lambda x, d: vkdnw_single(x[:, 0], x[:, 1]), False, ("vkdnw_dim", "vkdnw"),
                           "VKDNW_single: dense rank of (vkdnw_dim, vkdnw)"),
    "vkdnw": Method(lambda x, d: vkdnw_agg(*(x[:, k] for k in range(6))), False, VKDNW_AGG,
                    "VKDNW_agg: VKDNW_single + FLOPs, expressivity, trainability, jacov log ranks"),
    "vkdnw_plus": Method(lambda x, d: vkdnw_agg(*(x[:, k] for k in range(6)), x[:, 6:], d[6:]),
                         False, VKDNW_AGG, "VKDNW_agg plus the log ranks of --proxies (needs some)"),
    "linear": Method(linear, True, None, "per-proxy linear weights on normalised ranks"),
    "mlp": Method(mlp, True, None, "MLP (+ linear path) on normalised ranks"),
    "mlp_ensemble": Method(mlp, True, None, "mean of 5 independently fitted MLPs' standardised "
                           "scores"),
    "random_forest": Method(random_forest, True, None,
                            "scikit-learn random forest regressor on normalised ranks (baseline)"),
}


def default_fit(model, x, y, key, *, steps: int = 300, members: int = 1):
  """The fit used by :func:`aggregate_table`: DiffKendall (alpha 2) on standardised accuracy,
  AdamW (learning rate 0.02, weight decay 1e-3), ``steps`` full-batch updates.

  Chosen by a small sweep (alpha 0.5-10, weight decay, steps, widths, ensembles) on NB201 draws
  disjoint from the benchmark's (``benchmarks/aggregate.py``); differences were within the
  seed-to-seed spread. With ``members`` > 1, that many models are fitted independently from
  ``jax.random.split(key, members)`` (vmapped) and the result has a leading member axis: score
  with :func:`ensemble_scores`.
  """
  y = (y - jnp.mean(y)) / (jnp.std(y) + 1e-12)
  loss = functools.partial(diff_kendall, alpha=2.0)
  one = lambda k: fit(model, x, y, loss=loss, optimizer=optax.adamw(0.02, weight_decay=1e-3),
                      steps=steps, key=k)
  if members == 1:
    return one(key)
  if not isinstance(members, int) or members < 1:
    raise ValueError(f"`members` must be a positive int, got {members!r}.")
  return jax.vmap(one)(jax.random.split(key, members))


def ensemble_scores(model, params, x) -> jax.Array:
  """Scores of an ensemble (params with a leading member axis, from :func:`default_fit` with
  ``members`` > 1): the mean of each member's standardised scores over the rows of ``x``."""
  s = jax.vmap(model.apply, in_axes=(0, None))(params, jnp.asarray(x))
  z = (s - jnp.mean(s, axis=1, keepdims=True)) / (jnp.std(s, axis=1, keepdims=True) + 1e-12)
  return jnp.mean(z, axis=0)


def method_features(table: ScoreTable, method: str, proxies: Optional[Sequence[str]] = None, *,
                    graph: bool = False) -> tuple[np.ndarray, tuple]:
  """The (P, K) inputs of ``method`` and the proxy names used.

  Training-free methods get the raw scores of their columns; learned ones the normalised ranks
  (:func:`jaxnas.aggregate.normalised_ranks`) of the proxies, plus :func:`nb201_cell_features`
  of the ``arch`` strings if ``graph``.
  """
  if method not in METHODS:
    import difflib
    close = difflib.get_close_matches(method, METHODS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown aggregation method {method!r}; valid: {', '.join(METHODS)}.{hint}")
  m = METHODS[method]
  names = tuple(m.columns or proxies or table.names)
  if method == "vkdnw_plus":
    if not proxies:
      raise ValueError("Method 'vkdnw_plus' adds the log ranks of `proxies` to VKDNW_agg; name "
                       "them (e.g. meco,reg_swap).")
    names = m.columns + tuple(proxies)
  x = np.stack([table.column(n) for n in names], axis=1)
  if not m.learned:
    if graph:
      raise ValueError(f"`graph` features apply to learned methods only, not {method!r}.")
    return x, names
  with jax.enable_x64(True):
    feats = np.asarray(normalised_ranks(jnp.asarray(x, jnp.float64), directions(names)), np.float32)
  if graph:
    from jaxnas.spaces import nb201
    enc = np.stack([nb201.encode(a) for a in table.arch])
    feats = np.concatenate([feats, np.asarray(nb201_cell_features(enc))], axis=1)
  return feats, names


def draw_labelled(num_rows: int, labels: int, seed: int) -> np.ndarray:
  """The sorted row positions a learned method fits on: ``labels`` of ``num_rows`` drawn without
  replacement by ``numpy.random.default_rng(seed)`` (the CLI's and the benchmark's draw)."""
  if not 2 <= labels <= num_rows:
    raise ValueError(f"`labels` must be in 2..{num_rows} (the table's rows), got {labels}.")
  return np.sort(np.random.default_rng(seed).choice(num_rows, size=labels, replace=False))


class Aggregate(NamedTuple):
  """Output of :func:`aggregate_table`: ``scores`` (P,) for every row, the ``proxies`` read, and
  the row positions ``fitted`` on (empty for a training-free method)."""

  scores: np.ndarray
  proxies: tuple
  fitted: np.ndarray


def aggregate_table(table: ScoreTable, method: str, proxies: Optional[Sequence[str]] = None, *,
                    truth: Optional[Callable] = None, labels: int = 0, seed: int = 0,
                    graph: bool = False, steps: int = 300) -> Aggregate:
  """Score every row of ``table`` with ``method``.

  A training-free method reads only the scores. A learned one draws ``labels`` rows with
  ``numpy.random.default_rng(seed)``, reads their ground truth through ``truth(indices)`` (only
  those rows), fits (:func:`default_fit`, key ``jax.random.key(seed)``) and scores every row.

  Args:
    table: a :class:`ScoreTable`.
    method: a key of :data:`METHODS`.
    proxies: proxy columns for the generic methods (default: all of the table's).
    truth: ``truth(indices) -> accuracies`` for learned methods.
    labels: number of labelled rows for a learned method (2 .. P).
    seed: draws the labelled rows and the model's initial key.
    graph: add NB201 cell features (learned methods).
    steps: optimiser steps of a learned fit.

  Returns:
    :class:`Aggregate`.
  """
  x, names = method_features(table, method, proxies, graph=graph)
  m = METHODS[method]
  p = len(table.index)
  if not m.learned:
    with jax.enable_x64(True):
      s = m.fn(jnp.asarray(x, jnp.float64), directions(names))
    return Aggregate(np.asarray(s, np.float64), names, np.zeros(0, np.int64))
  if truth is None or not 2 <= labels <= p:
    raise ValueError(f"Method {method!r} is learned: it needs `truth` and `labels` in 2..{p} "
                     f"(the table's rows), got labels={labels}.")
  rows = draw_labelled(p, labels, seed)
  y = np.asarray(truth(table.index[rows]), np.float64)
  if method == "random_forest":
    s = random_forest(x[rows], y, x, seed=seed)
  else:
    model = m.fn()
    members = ENSEMBLE_MEMBERS if method == "mlp_ensemble" else 1
    res = default_fit(model, jnp.asarray(x[rows]), jnp.asarray(y, jnp.float32),
                      jax.random.key(seed), steps=steps, members=members)
    s = (ensemble_scores(model, res.params, x) if members > 1
         else model.apply(res.params, jnp.asarray(x)))
  return Aggregate(np.asarray(s, np.float64), names, rows)
