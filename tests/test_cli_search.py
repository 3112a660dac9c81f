"""``jaxnas search``: result.json contract, determinism, named errors (synthetic tables)."""

import csv
import gzip
import json

import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.cli import main

N = spaces.nb201.size


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
  d = tmp_path_factory.mktemp("search")
  rng = np.random.default_rng(0)
  val, secs, test = rng.uniform(10, 85, N), rng.uniform(30, 200, N), rng.uniform(10, 94, N)
  with open(d / "truth.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["index", "arch", "cifar10_test_acc", "cifar10_valid_acc_12ep",
                "cifar10_train_seconds_12ep"])
    for i in range(N):
      w.writerow([i, "a", test[i], val[i], secs[i]])
  names = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot"]
  scores = rng.normal(size=(N, len(names)))
  scores[:, 0] = val + rng.normal(0, 3, N)  # one informative proxy
  with gzip.open(d / "scores.csv.gz", "wt", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["index", "arch"] + names)
    for i in range(N):
      w.writerow([i, "a"] + list(scores[i]))
  return d, val, secs, test, scores


def _run(args, capsys):
  code = main(args)
  out = capsys.readouterr()
  return code, out


def test_search_robot_result_json(tables, capsys):
  d, val, secs, test, _ = tables
  base = ["search", "--strategy", "robot", "--scores", str(d / "scores.csv.gz"), "--truth",
          str(d / "truth.csv"), "--budget", "5", "--seed", "3", "--no-progress"]
  assert main(base + ["--out", str(d / "a.json")]) == 0
  assert main(base + ["--out", str(d / "b.json")]) == 0
  capsys.readouterr()
  a, b = json.loads((d / "a.json").read_text()), json.loads((d / "b.json").read_text())
  assert a["queries"] == b["queries"] and len(set(a["queries"])) == 5
  q = np.asarray(a["queries"])
  assert a["best_index"] == int(q[np.argmax(val[q])])
  assert a["best_arch"] == spaces.nb201.decode(spaces.nb201.encoding_of(a["best_index"]))
  assert a["query_cost_s"] == pytest.approx(secs[q].sum())
  assert a["best_cifar10_test_acc"] == pytest.approx(test[a["best_index"]])
  assert a["strategy"] == "robot" and a["seed"] == 3 and a["budget"] == 5
  assert a["proxies"] == ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov"]
  assert a["proxy_cost_s"] == 0.0 and "not" in a["proxy_cost_note"]


def test_search_naswot_table_and_errors(tables, capsys):
  d, *_, scores = tables
  assert main(["search", "--strategy", "naswot", "--scores", str(d / "scores.csv.gz"), "--truth",
               str(d / "truth.csv"), "--n", "50", "--seed", "1", "--out", str(d / "n.json"),
               "--no-progress"]) == 0
  r = json.loads((d / "n.json").read_text())
  ev = np.asarray(r["evaluated"])
  assert r["queries"] == [] and len(ev) == 50 and r["best_index"] == int(ev[np.argmax(scores[ev, 6])])
  code = main(["search", "--strategy", "hnas", "--scores", str(d / "scores.csv.gz"), "--truth",
               str(d / "truth.csv")])
  assert code == 2 and "missing from the score tables: ['ntk_trace_norm', 'hnas_cond']" in \
      capsys.readouterr().err
  code = main(["search", "--strategy", "rea", "--truth", str(d / "truth.csv"), "--query-column",
               "nope"])
  assert code == 2 and "'nope'" in capsys.readouterr().err
  code = main(["search", "--strategy", "random", "--truth", str(d / "missing.csv")])
  assert code == 2 and "not found" in capsys.readouterr().err


def test_search_live_scoring(tables, capsys):
  d, *_ = tables
  assert main(["search", "--strategy", "naswot", "--proxies", "params", "--n", "3", "--truth",
               str(d / "truth.csv"), "--seed", "0", "--out", str(d / "live.json"),
               "--no-progress"]) == 0
  capsys.readouterr()
  r = json.loads((d / "live.json").read_text())
  ev = r["evaluated"]
  params = [spaces.nb201.num_params(spaces.nb201.encoding_of(i)) for i in ev]
  assert r["best_index"] == ev[int(np.argmax(params))] and r["proxy_cost_s"] > 0
  assert r["data"] is not None and "measured" in r["proxy_cost_note"]
