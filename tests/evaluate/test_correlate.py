import numpy as np
import pytest

from jaxnas import evaluate


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
