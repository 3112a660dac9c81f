"""Training-free aggregators: the paper aggregators of `jaxnas.evaluate` (now calls into
`jaxnas.aggregate`) against their pre-refactor NumPy/SciPy formulas, written out naively here, on
the committed 1,000-cell score tables; generic aggregators against naive definitions."""

from pathlib import Path

import jax
import numpy as np
import pytest
from scipy import stats

from jaxnas import aggregate, evaluate
from tests.conftest import TOL

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _worst(x, higher=True):  # the pre-refactor evaluate.oriented_scores
  s = np.asarray(x, np.float64) if higher else -np.asarray(x, np.float64)
  return np.where(np.isfinite(s), s, -np.inf)


def old_log_rank(cols, dirs=None):
  dirs = dirs or [True] * len(cols)
  p = len(cols[0])
  return sum(np.log(stats.rankdata(_worst(c, d)) / p) for c, d in zip(cols, dirs))


def old_vkdnw_single(dim, entropy):
  pairs = sorted(set(zip(dim, _worst(entropy))))
  where = {q: k + 1 for k, q in enumerate(pairs)}
  return np.array([where[q] for q in zip(dim, _worst(entropy))], float)


def old_vkdnw_agg(dim, entropy, flops, expr, train, jacov):
  jacov = np.where(np.isnan(jacov), np.nanmin(jacov), jacov)
  return np.log(old_vkdnw_single(dim, entropy) / len(dim)) + old_log_rank([flops, expr, train, jacov])


def old_te_nas(kappa, regions):
  return stats.rankdata(-np.where(np.isnan(kappa), 1e5, kappa)) + stats.rankdata(_worst(regions))


@pytest.fixture(scope="module")
def table():
  return aggregate.read_scores([
      RESULTS / "az_nas_nb201_scores.csv", RESULTS / "az_nas_nb201_vkdnw_scores.csv",
      RESULTS / "az_nas_nb201_jacov_scores.csv", RESULTS / "correlation_nb201_tenas_scores.csv",
      (RESULTS / "correlation_nb201_classic_scores.csv", ["flops", "synflow"])])


def test_paper_aggregators_give_their_previous_values(table):
  c = table.column
  assert len(table.index) == 1000 and np.isnan(c("jacob_cov")).any()  # the NaN-jacov rule is hit
  az = [c("flops"), c("az_expressivity"), c("az_progressivity"), c("az_trainability")]
  assert np.any(~np.isfinite(c("az_expressivity")))
  np.testing.assert_allclose(evaluate.log_rank_aggregate(az), old_log_rank(az), **TOL["float64"])
  np.testing.assert_array_equal(evaluate.vkdnw_single(c("vkdnw_dim"), c("vkdnw")),
                                old_vkdnw_single(c("vkdnw_dim"), c("vkdnw")))
  args = [c(n) for n in ("vkdnw_dim", "vkdnw", "flops", "az_expressivity", "az_trainability",
                         "jacob_cov")]
  np.testing.assert_allclose(evaluate.vkdnw_aggregate(*args), old_vkdnw_agg(*args), **TOL["float64"])
  np.testing.assert_array_equal(evaluate.te_nas_aggregate(c("ntk_cond"), c("linear_regions")),
                                old_te_nas(c("ntk_cond"), c("linear_regions")))
  # synflow exceeds float32's range: the float64 front end keeps it (no inf from a downcast).
  assert np.nanmax(c("synflow")) > 1e39
  np.testing.assert_array_equal(evaluate.oriented_scores(c("synflow")), _worst(c("synflow")))
  dirs = [True, False, True, True]
  np.testing.assert_allclose(evaluate.log_rank_aggregate(az, dirs), old_log_rank(az, dirs),
                             **TOL["float64"])


def test_paper_aggregators_in_float32_keep_the_order(table):
  c = table.column
  args = [np.asarray(c(n), np.float32) for n in ("vkdnw_dim", "vkdnw", "flops", "az_expressivity",
                                                  "az_trainability", "jacob_cov")]
  f32 = np.asarray(aggregate.vkdnw_agg(*args))
  assert f32.dtype == np.float32
  assert stats.spearmanr(f32, old_vkdnw_agg(*[a.astype(float) for a in args])).statistic > 0.9999
  jitted = jax.jit(aggregate.vkdnw_agg)(*args)
  np.testing.assert_allclose(jitted, f32, **TOL["float32"])


def test_generic_aggregators_against_naive_definitions(rng):
  x = rng.normal(size=(30, 3))
  x[2, 1] = np.nan
  dirs = [True, False, True]
  ranks = np.stack([stats.rankdata(_worst(x[:, k], d)) for k, d in enumerate(dirs)], 1)
  with jax.enable_x64(True):
    np.testing.assert_allclose(aggregate.rank_mean(x, dirs), ranks.mean(1), **TOL["float64"])
    np.testing.assert_allclose(aggregate.log_rank(x, dirs), np.log(ranks / 30).sum(1),
                               **TOL["float64"])
    o = np.stack([_worst(x[:, k], d) for k, d in enumerate(dirs)], 1)
    lo = np.min(np.where(np.isfinite(o), o, np.inf), 0)
    hi = np.max(np.where(np.isfinite(o), o, -np.inf), 0)
    n = np.where(np.isfinite(o), (o - lo) / (hi - lo), 0.0)
    np.testing.assert_allclose(aggregate.geometric_mean(x, dirs, eps=0.01),
                               np.exp(np.log(n + 0.01).mean(1)), **TOL["float64"])


def test_errors_name_the_argument():
  with pytest.raises(ValueError, match="`linear_regions` must have the length"):
    aggregate.te_nas([1.0, 2.0], [1.0])
  with pytest.raises(ValueError, match="`dim` must hold finite"):
    aggregate.vkdnw_single([1.0, np.nan], [1.0, 2.0])
  with pytest.raises(ValueError, match=r"`columns` must be a \(P, K\)"):
    aggregate.rank_mean(np.zeros(3))
