"""Dominance, non-dominated sorting and front indicators against brute force."""

import itertools

import numpy as np
import pytest

from jaxnas import search


def _brute_non_dominated(p):
  n = len(p)
  return np.array([not any(np.all(p[j] <= p[i]) and np.any(p[j] < p[i]) for j in range(n) if j != i)
                   for i in range(n)])


def _brute_ranks(p):
  ranks, left, r = np.full(len(p), -1), list(range(len(p))), 0
  while left:
    front = [i for i in left if not any(np.all(p[j] <= p[i]) and np.any(p[j] < p[i]) for j in left)]
    for i in front:
      ranks[i] = r
    left = [i for i in left if i not in front]
    r += 1
  return ranks


@pytest.mark.parametrize("m", [2, 3, 4])
def test_non_dominated_and_sort_match_brute_force(m):
  rng = np.random.default_rng(m)
  p = rng.integers(0, 6, (60, m)).astype(float)  # many ties and duplicates
  np.testing.assert_array_equal(np.asarray(search.non_dominated(p)), _brute_non_dominated(p))
  np.testing.assert_array_equal(search.non_dominated_sort(p), _brute_ranks(p))
  mask = rng.random(60) < 0.5
  np.testing.assert_array_equal(np.asarray(search.non_dominated(p, mask)),
                                _expand(_brute_non_dominated(p[mask]), mask))


def _expand(sub, mask):
  out = np.zeros(mask.size, bool)
  out[mask] = sub
  return out


def test_hypervolume_against_grid_count():
  rng = np.random.default_rng(0)
  p = rng.uniform(0, 1, (15, 2))
  ref = np.array([1.05, 1.05])
  # exact union area of the dominated boxes on the grid of the points' own coordinates
  xs = np.unique(np.concatenate([p[:, 0], [ref[0]]]))
  ys = np.unique(np.concatenate([p[:, 1], [ref[1]]]))
  area = 0.0
  for (x0, x1), (y0, y1) in itertools.product(zip(xs[:-1], xs[1:]), zip(ys[:-1], ys[1:])):
    if np.any((p[:, 0] <= x0) & (p[:, 1] <= y0)):
      area += (x1 - x0) * (y1 - y0)
  assert search.hypervolume_2d(p, ref) == pytest.approx(area, rel=1e-12)
  assert search.hypervolume_2d([[0.5, 0.5]], ref) == pytest.approx(0.55 ** 2)
  assert search.hypervolume_2d([[2.0, 0.0]], ref) == 0.0


def test_igd_closed_form():
  front = np.array([[0.0, 1.0], [1.0, 0.0]])
  approx = np.array([[0.0, 1.0], [1.0, 1.0]])
  assert search.igd(approx, front) == pytest.approx((0.0 + 1.0) / 2)
  assert search.igd_plus(approx, front) == pytest.approx((0.0 + 1.0) / 2)
  assert search.igd_plus([[0.5, 0.5]], [[1.0, 1.0]]) == 0.0  # dominating points cost nothing
  assert search.igd([[0.5, 0.5]], [[1.0, 1.0]]) == pytest.approx(np.sqrt(0.5))


def test_against_pymoo():
  hv_mod = pytest.importorskip("pymoo.indicators.hv")
  igd_mod = pytest.importorskip("pymoo.indicators.igd")
  nds = pytest.importorskip("pymoo.util.nds.non_dominated_sorting")
  rng = np.random.default_rng(1)
  p = rng.uniform(0, 1, (40, 2))
  front = p[np.asarray(search.non_dominated(p))]
  approx = rng.uniform(0, 1, (10, 2))
  assert search.hypervolume_2d(approx, [1.05, 1.05]) == pytest.approx(
      hv_mod.HV(ref_point=np.array([1.05, 1.05]))(approx), rel=1e-9)
  assert search.igd(approx, front) == pytest.approx(igd_mod.IGD(front)(approx), rel=1e-9)
  fronts = nds.NonDominatedSorting().do(p)
  ranks = np.empty(len(p), int)
  for r, f in enumerate(fronts):
    ranks[f] = r
  np.testing.assert_array_equal(search.non_dominated_sort(p), ranks)
