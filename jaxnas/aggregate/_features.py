"""Cheap graph features of NB201 cells (GRAF-style: op counts and input-output path statistics)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

# Edge positions (in NB201 encoding order, jaxnas.spaces.NB201_EDGES = 1<-0, 2<-0, 2<-1, 3<-0,
# 3<-1, 3<-2) of the four input -> output paths: 0-3, 0-1-3, 0-2-3, 0-1-2-3.
_PATHS = ((3,), (0, 4), (1, 5), (0, 2, 5))
_NUM_OPS = 5  # jaxnas.spaces.NB201_OPS: none, skip, conv 1x1, conv 3x3, avg pool 3x3
# Op subsets S whose all-S paths are counted: convolutions, 3x3 only, convolutions or skip, any
# op but none.
_OP_SETS = ((2, 3), (3,), (1, 2, 3), (1, 2, 3, 4))

#: Names of the columns of :func:`nb201_cell_features`, in order.
NB201_FEATURES: tuple[str, ...] = (
    ("count_none", "count_skip_connect", "count_nor_conv_1x1", "count_nor_conv_3x3",
     "count_avg_pool_3x3")
    + tuple(f"{stat}_{s}" for s in ("conv", "conv3x3", "conv_skip", "any")
            for stat in ("paths", "min_len", "max_len"))
    + ("max_convs_on_path",))


def nb201_cell_features(encodings: ArrayLike) -> jax.Array:
  """GRAF-style features of NB201 cells, each scaled to [0, 1].

  Per cell: the count of each op over the 6 edges (/6); for each op subset S (convolutions, 3x3
  convolutions, convolutions and skip, any op but none) the number of input -> output paths whose
  edges all lie in S (/4) and the shortest and longest such path in edges (/3, 0 if none); and the
  most convolutions on one path that carries signal (no ``none`` edge; /3). Follows the feature
  families of GRAF (Kadlecova et al. 2024; gabikadlecova/zc_combine @ 311f8d1
  ``zc_combine/features/nasbench201.py``: ``op_count``, ``min_path_len``, ``max_op_on_path``);
  the op subsets are this library's choice, and GRAF's ``op_on_position`` and ``node_degree``
  are not included.

  Args:
    encodings: (P, 6) integer NB201 encodings (:func:`jaxnas.spaces.nb201.encode`).

  Returns:
    (P, len(NB201_FEATURES)) float32 features.
  """
  e = jnp.asarray(encodings)
  if e.ndim != 2 or e.shape[1] != 6 or not jnp.issubdtype(e.dtype, jnp.integer):
    raise ValueError(f"`encodings` must be a (P, 6) integer array of NB201 cells, got shape "
                     f"{e.shape} and dtype {e.dtype}.")
  cols = [jnp.sum(e == op, axis=1) / 6.0 for op in range(_NUM_OPS)]
  lengths = jnp.array([len(p) for p in _PATHS], jnp.float32)
  for s in _OP_SETS:
    ok = jnp.stack([jnp.all(jnp.isin(e[:, list(p)], jnp.array(s)), axis=1) for p in _PATHS], 1)
    cols.append(jnp.sum(ok, axis=1) / 4.0)
    cols.append(jnp.where(ok.any(1), jnp.min(jnp.where(ok, lengths, 9.0), axis=1), 0.0) / 3.0)
    cols.append(jnp.max(jnp.where(ok, lengths, 0.0), axis=1) / 3.0)
  live = jnp.stack([jnp.all(e[:, list(p)] != 0, axis=1) for p in _PATHS], 1)
  convs = jnp.stack([jnp.sum((e[:, list(p)] == 2) | (e[:, list(p)] == 3), axis=1) for p in _PATHS], 1)
  cols.append(jnp.max(jnp.where(live, convs, 0), axis=1) / 3.0)
  return jnp.stack([c.astype(jnp.float32) for c in cols], axis=1)
