"""Pareto dominance, non-dominated sorting and front indicators (hypervolume, IGD, IGD+), all
objectives minimised.

Hand-rolled rather than pymoo: the searches here compare at most a few thousand points on 2-4
objectives, where the O(n^2) dominance matrix is one vectorised jnp expression that also runs
inside a jitted generation; pymoo (a large dependency) is used as a test oracle when installed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def dominates(a: jax.Array, b: jax.Array) -> jax.Array:
  """a dominates b (minimisation): a <= b everywhere and a < b somewhere (last axis = objectives)."""
  return jnp.all(a <= b, axis=-1) & jnp.any(a < b, axis=-1)


def dominance_matrix(points: jax.Array, mask: jax.Array | None = None) -> jax.Array:
  """(n, n) bool, entry [i, j] = point i dominates point j; masked-out points dominate nothing."""
  d = dominates(points[:, None, :], points[None, :, :])
  if mask is not None:
    d = d & mask[:, None] & mask[None, :]
  return d


def non_dominated(points, mask=None) -> jax.Array:
  """(n,) bool: the (masked) points no other (masked) point dominates. Duplicates are all kept."""
  points = jnp.asarray(points)
  m = jnp.ones(points.shape[0], bool) if mask is None else jnp.asarray(mask, bool)
  return m & ~jnp.any(dominance_matrix(points, m), axis=0)


def non_dominated_sort(points) -> np.ndarray:
  """(n,) front rank of every point: 0 for the non-dominated set, 1 for the next front, ...

  Peels fronts off the dominance matrix (each peel is one jnp reduction), as NSGA-II's
  fast-non-dominated-sort defines them.
  """
  points = jnp.asarray(points)
  dom = np.asarray(dominance_matrix(points))
  n = points.shape[0]
  rank = np.full(n, -1)
  left = np.ones(n, bool)
  r = 0
  while left.any():
    front = left & ~np.any(dom & left[:, None], axis=0)
    rank[front] = r
    left &= ~front
    r += 1
  return rank


def hypervolume_2d(points, reference) -> float:
  """Area dominated by 2-D points (minimised) and bounded by `reference`; points beyond it add 0."""
  p = np.asarray(points, np.float64).reshape(-1, 2)
  ref = np.asarray(reference, np.float64)
  if ref.shape != (2,):
    raise ValueError(f"`reference` must be a 2-D point, got shape {ref.shape}.")
  p = p[np.all(p < ref, axis=1)]
  if p.size == 0:
    return 0.0
  p = p[np.lexsort((p[:, 1], p[:, 0]))]
  area, best_y = 0.0, ref[1]
  for x, y in p:
    if y < best_y:
      area += (ref[0] - x) * (best_y - y)
      best_y = y
  return float(area)


def igd(approx, front) -> float:
  """Inverted generational distance: mean over `front` points of the distance to the nearest
  `approx` point (pymoo's ``IGD``)."""
  a = np.asarray(approx, np.float64)
  f = np.asarray(front, np.float64)
  d = np.sqrt(((f[:, None, :] - a[None, :, :]) ** 2).sum(-1))
  return float(d.min(axis=1).mean())


def igd_plus(approx, front) -> float:
  """IGD+: as :func:`igd` with the dominance-compliant distance sqrt(sum max(a - z, 0)^2)
  (Ishibuchi et al. 2015; pymoo's ``IGDPlus``)."""
  a = np.asarray(approx, np.float64)
  f = np.asarray(front, np.float64)
  d = np.sqrt((np.maximum(a[None, :, :] - f[:, None, :], 0.0) ** 2).sum(-1))
  return float(d.min(axis=1).mean())
