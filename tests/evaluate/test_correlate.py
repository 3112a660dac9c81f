import numpy as np
import pytest

from jaxnas import evaluate
from jaxnas.evaluate._correlate import _plot_axis


def naive_spearman(a, b):
  ra = np.argsort(np.argsort(a)).astype(float)
  rb = np.argsort(np.argsort(b)).astype(float)
  return np.corrcoef(ra, rb)[0, 1]


def naive_kendall(a, b):
  c = d = 0
  for i in range(len(a)):
    for j in range(i + 1, len(a)):
      s = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
      c += s > 0
      d += s < 0
  return (c - d) / (len(a) * (len(a) - 1) / 2)


def test_against_naive_definitions_without_ties():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=40), rng.normal(size=40)
  b = a + rng.normal(size=40)
  r = evaluate.rank_correlation(a, b)
  assert r.spearman == pytest.approx(naive_spearman(a, b), abs=1e-12)
  assert r.kendall == pytest.approx(naive_kendall(a, b), abs=1e-12)
  assert evaluate.rank_correlation(a, b, higher_is_better=False).spearman == pytest.approx(-r.spearman)


def test_non_finite_scores_rank_worst():
  s = np.array([1.0, 2.0, np.nan, 3.0, -np.inf, np.inf])
  o = evaluate.oriented_scores(s)
  assert np.all(o[[2, 4, 5]] == -np.inf) and np.all(o[[0, 1, 3]] == [1, 2, 3])
  truth = np.array([2.0, 3.0, 0.0, 4.0, 0.0, 0.0])
  r = evaluate.rank_correlation(s, truth)
  assert r.n_nonfinite == 3 and r.spearman > 0.9
  o2 = evaluate.oriented_scores(s, higher_is_better=False)
  assert np.all(o2[[0, 1, 3]] == [-1, -2, -3]) and np.all(o2[[2, 4, 5]] == -np.inf)


def test_errors_and_plot(tmp_path):
  with pytest.raises(ValueError, match="same length"):
    evaluate.rank_correlation([1, 2, 3], [1, 2])
  with pytest.raises(ValueError, match="at least 3"):
    evaluate.rank_correlation([1, 2], [1, 2])
  rng = np.random.default_rng(0)
  heavy = np.r_[0.0, np.nan, 10 ** rng.uniform(0, 40, size=18)]  # zeros, NaN, 40 decades
  out = evaluate.scatter_grid(["a", "b"], [rng.normal(size=20), heavy], rng.normal(size=20),
                              tmp_path / "p.png")
  assert (tmp_path / "p.png").stat().st_size > 1000 and out == tmp_path / "p.png"


def test_plot_scales():
  """'rank' puts each score at its oriented rank (non-finite worst), the scale rho sees; 'log' is a
  symmetric log axis for scores of any sign; 'auto' keeps the log10 of heavy non-negative scores."""
  s = np.array([-8e4, -66.0, -65.0, np.nan, -70.0])  # jacob_cov-like: one huge negative score
  rank = _plot_axis("jc", s, "rank", True)
  np.testing.assert_array_equal(rank.x, [2, 4, 5, 1, 3])
  assert rank.nonfinite.tolist() == [False, False, False, True, False]
  np.testing.assert_array_equal(_plot_axis("jc", s, "rank", False).x, [5, 3, 2, 1, 4])
  log = _plot_axis("jc", s, "log", True)
  assert log.symlog == 65.0 and np.array_equal(log.x[log.body], s[np.isfinite(s)])
  heavy = np.array([0.0, 1.0, 1e6, np.inf])
  auto = _plot_axis("h", heavy, "auto", True)
  assert auto.label == "log10 h" and auto.x[2] == 6 and auto.zero.tolist() == [1, 0, 0, 0]
  assert _plot_axis("h", heavy, "linear", True).x[2] == 1e6
  with pytest.raises(ValueError, match="`scale` must be one of"):
    evaluate.scatter_grid(["a"], [s], s, "unused.png", scale="logit")
