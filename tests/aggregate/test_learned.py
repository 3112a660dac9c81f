"""Learned aggregators and their fit loop, cell features, score tables and ``jaxnas aggregate``."""

import csv
import functools
import gzip
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnas import aggregate
from jaxnas.cli import main
from jaxnas.spaces import nb201
from tests.conftest import TOL


@pytest.fixture
def problem(rng):
  x = rng.uniform(size=(60, 4)).astype(np.float32)
  y = x @ np.array([2.0, -1.0, 0.5, 0.0], np.float32) + 0.2 * np.sin(6 * x[:, 0])
  return jnp.asarray(x), jnp.asarray(y)


def _fit(model, x, y, key, steps=150):
  return aggregate.fit(model, x, y, loss=functools.partial(aggregate.diff_kendall, alpha=2.0),
                       optimizer=optax.adam(0.05), steps=steps, key=key)


def test_fit_is_deterministic_for_a_key(problem):
  x, y = problem
  a = _fit(aggregate.mlp((8,)), x, y, jax.random.key(1))
  b = _fit(aggregate.mlp((8,)), x, y, jax.random.key(1))
  c = _fit(aggregate.mlp((8,)), x, y, jax.random.key(2))
  for la, lb in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(la, lb)
  assert not np.array_equal(a.params["layers"][0]["w"], c.params["layers"][0]["w"])


@pytest.mark.parametrize("model", [aggregate.linear(), aggregate.mlp((8,))])
def test_fit_learns_the_order_and_beats_equal_weights(problem, model):
  x, y = problem
  res = _fit(model, x, y, jax.random.key(0))
  assert res.losses.shape == (150,) and float(res.losses[-1]) < float(res.losses[0])
  pred = model.apply(res.params, x)
  start = model.apply(model.init(jax.random.key(0), 4, jnp.float32), x)
  np.testing.assert_allclose(start, x.mean(1), **TOL["float32"])  # starts at the rank-mean order
  tau = float(aggregate.kendall_tau(pred, y))
  assert tau > 0.8 and tau > float(aggregate.kendall_tau(start, y)) + 0.3


def test_fit_jits_and_vmaps_over_keys_and_label_sets(problem):
  x, y = problem
  rows = jnp.asarray(np.stack([aggregate.draw_labelled(60, 20, s) for s in range(3)]))
  model = aggregate.mlp((8,))

  def one(seed, r):
    return model.apply(_fit(model, x[r], y[r], jax.random.key(seed), steps=30).params, x)

  batched = jax.jit(jax.vmap(one))(jnp.arange(3), rows)
  for s in range(3):
    np.testing.assert_allclose(batched[s], one(s, rows[s]), **TOL["fit_float32"])


def test_ensemble_members_are_independent_fits(problem):
  x, y = problem
  model = aggregate.mlp((8,))
  res = aggregate.default_fit(model, x, y, jax.random.key(3), steps=40, members=3)
  assert res.losses.shape == (3, 40)
  keys = jax.random.split(jax.random.key(3), 3)
  alone = [aggregate.default_fit(model, x, y, k, steps=40) for k in keys]
  z = [(s - s.mean()) / (s.std() + 1e-12) for s in (model.apply(a.params, x) for a in alone)]
  np.testing.assert_allclose(aggregate.ensemble_scores(model, res.params, x), np.mean(z, 0),
                             **TOL["fit_float32"])


def test_fit_errors_name_the_argument(problem):
  x, y = problem
  with pytest.raises(ValueError, match="`features` must be"):
    _fit(aggregate.linear(), x[:, 0], y, jax.random.key(0))
  with pytest.raises(ValueError, match="`steps` must be"):
    _fit(aggregate.linear(), x, y, jax.random.key(0), steps=0)
  with pytest.raises(ValueError, match="`hidden`"):
    aggregate.mlp(())


def naive_cell_features(enc):
  paths = [[3], [0, 4], [1, 5], [0, 2, 5]]
  out = [sum(int(o == k) for o in enc) / 6 for k in range(5)]
  for s in ({2, 3}, {3}, {1, 2, 3}, {1, 2, 3, 4}):
    ok = [len(p) for p in paths if all(enc[e] in s for e in p)]
    out += [len(ok) / 4, (min(ok) if ok else 0) / 3, (max(ok) if ok else 0) / 3]
  live = [sum(enc[e] in (2, 3) for e in p) for p in paths if all(enc[e] != 0 for e in p)]
  return out + [(max(live) if live else 0) / 3]


def test_cell_features_against_a_naive_path_walk(rng):
  conv = "nor_conv_3x3"
  cells = [f"|{conv}~0|+|{conv}~0|{conv}~1|+|{conv}~0|{conv}~1|{conv}~2|",
           "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]
  enc = np.concatenate([np.stack([nb201.encode(c) for c in cells]),
                        rng.integers(0, 5, size=(40, 6))])
  got = np.asarray(aggregate.nb201_cell_features(enc))
  assert got.shape == (42, len(aggregate.NB201_FEATURES))
  np.testing.assert_allclose(got, [naive_cell_features(list(e)) for e in enc], **TOL["float32"])
  assert got[0, aggregate.NB201_FEATURES.index("max_convs_on_path")] == 1.0
  with pytest.raises(ValueError, match=r"`encodings` must be a \(P, 6\)"):
    aggregate.nb201_cell_features(np.zeros((3, 5), int))


def _write(path, header, rows):
  opener = gzip.open if str(path).endswith(".gz") else open
  with opener(path, "wt", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(header)
    w.writerows(rows)


@pytest.fixture
def tables(tmp_path, rng):
  enc = rng.integers(0, 5, size=(40, 6))
  idx = nb201.index_of(enc)
  _, first = np.unique(idx, return_index=True)
  enc, idx = enc[first], idx[first]
  arch = [nb201.decode(e) for e in enc]
  acc = 50 + 10 * np.asarray(aggregate.nb201_cell_features(enc))[:, 8] + rng.normal(size=len(idx))
  a, b, t = tmp_path / "a.csv", tmp_path / "b.csv.gz", tmp_path / "truth.csv"
  _write(a, ["index", "arch", "nwot", "ntk_cond", "linear_regions"],
         [[i, s, v, w, r] for i, s, v, w, r in zip(idx, arch, acc + rng.normal(size=len(idx)),
                                                  -acc + 3 * rng.normal(size=len(idx)),
                                                  rng.integers(50, 64, size=len(idx)))])
  _write(b, ["index", "arch", "flops"],  # one row fewer: the join drops it
         [[i, s, v] for i, s, v in list(zip(idx, arch, rng.normal(size=len(idx))))[1:]])
  _write(t, ["index", "arch", "cifar10_test_acc"], [[i, s, v] for i, s, v in zip(idx, arch, acc)])
  return a, b, t, idx


def test_read_scores_joins_and_refuses_collisions(tables, tmp_path):
  a, b, _, idx = tables
  table = aggregate.read_scores([a, b])
  assert table.names == ("nwot", "ntk_cond", "linear_regions", "flops")
  assert len(table.index) == len(idx) - 1
  assert np.all(np.diff(table.index) > 0)
  only = aggregate.read_scores([(a, ["ntk_cond"])])
  assert only.names == ("ntk_cond",) and len(only.index) == len(idx)
  np.testing.assert_array_equal(only.column("ntk_cond")[np.isin(only.index, table.index)],
                                table.column("ntk_cond"))
  with pytest.raises(ValueError, match=r"'nwot' is in both .*a\.csv and .*a\.csv"):
    aggregate.read_scores([a, a])
  with pytest.raises(ValueError, match="no column"):
    aggregate.read_scores([(a, ["zico"])])


def test_aggregate_table_and_cli(tables, tmp_path, capsys):
  a, b, t, idx = tables
  table = aggregate.read_scores([a, b])
  free = aggregate.aggregate_table(table, "log_rank", ["nwot", "ntk_cond"])
  with jax.enable_x64(True):
    want = aggregate.log_rank(table.values[:, :2], [True, False])
  np.testing.assert_allclose(free.scores, want, **TOL["float64"])
  with pytest.raises(ValueError, match="needs `truth`"):
    aggregate.aggregate_table(table, "mlp")
  with pytest.raises(ValueError, match="Did you mean 'rank_mean'"):
    aggregate.aggregate_table(table, "rank_maen")
  out = tmp_path / "agg.csv"
  assert main(["aggregate", "--scores", f"{a},{b}", "--method", "linear", "--truth", str(t),
               "--labels", "20", "--seed", "3", "--graph-features", "--out", str(out)]) == 0
  summary = capsys.readouterr().out
  assert '"labels": 20' in summary
  with open(out, newline="") as fh:
    rows = list(csv.DictReader(fh))
  assert [int(r["index"]) for r in rows] == list(table.index)
  again = aggregate.aggregate_table(table, "linear", truth=lambda i: aggregate.read_scores(
      [(t, ["cifar10_test_acc"])]).column("cifar10_test_acc")[np.searchsorted(
          aggregate.read_scores([t]).index, i)], labels=20, seed=3, graph=True)
  np.testing.assert_allclose([float(r["score"]) for r in rows], again.scores, **TOL["fit_float32"])
  assert main(["aggregate", "--scores", str(a), "--method", "te_nas", "--out", str(out)]) == 0
  with open(out, newline="") as fh:
    te = [float(r["score"]) for r in csv.DictReader(fh)]
  src = aggregate.read_scores([a])
  np.testing.assert_array_equal(te, aggregate.aggregate_table(src, "te_nas").scores)
  assert main(["aggregate", "--scores", str(a), "--method", "mlp", "--out", str(out)]) == 2


def test_random_forest_baseline(tables):
  pytest.importorskip("sklearn", reason="scikit-learn is the optional extra 'baselines'")
  a, _, t, _ = tables
  table = aggregate.read_scores([a])
  truth = aggregate.read_scores([t])
  lookup = lambda i: truth.column("cifar10_test_acc")[np.searchsorted(truth.index, i)]
  res = aggregate.aggregate_table(table, "random_forest", truth=lookup, labels=25, seed=0)
  keep = np.ones(len(table.index), bool)
  keep[res.fitted] = False
  assert res.scores.shape == (len(table.index),) and len(res.fitted) == 25
  assert float(aggregate.spearman_rho(res.scores, lookup(table.index))) > 0.5


def test_tune_moves_a_hyperparameter_toward_the_order_of_the_truth(rng):
  x = jnp.asarray(rng.normal(size=(80, 2)), jnp.float32)
  truth = x[:, 0] + 2.0 * x[:, 1]
  score = lambda log_w, xi: xi[0] + jnp.exp(log_w) * xi[1]  # a "proxy" with one width
  loss = functools.partial(aggregate.diff_kendall, alpha=4.0)
  start = jnp.log(jnp.float32(0.05))
  res = aggregate.tune(score, start, x, truth, loss=loss, optimizer=optax.adam(0.1), steps=100)
  assert float(res.losses[-1]) < float(res.losses[0])
  assert 1.0 < float(jnp.exp(res.params)) < 4.0  # the order of x0 + w x1 is that of the truth at w=2
  # Its gradient is the derivative of the loss through the vmapped proxy (central difference).
  f = lambda h: loss(jax.vmap(score, (None, 0))(h, x), truth)
  h = jnp.float32(0.0)
  fd = (f(h + 1e-2) - f(h - 1e-2)) / 2e-2
  np.testing.assert_allclose(jax.grad(f)(h), fd, **TOL["finite_difference"])
  with pytest.raises(ValueError, match="leading axis"):
    aggregate.tune(score, start, x[:5], truth, loss=loss, optimizer=optax.adam(0.1), steps=2)
