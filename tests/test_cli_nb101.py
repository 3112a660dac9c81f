"""`jaxnas score` / `correlate` on a space without an official index (nb101), end to end."""

import csv
import json

import numpy as np
import pytest

from jaxnas import cli, proxies
from jaxnas.spaces import nb101

from .conftest import SHARED_DATA, needs_file

NB101_CSV = SHARED_DATA / "nb101_naslib.csv"
BARE = "000001/00000/0000/000/00/0|conv3x3,conv3x3,conv3x3,conv3x3,conv3x3"


def main(argv):
  return cli.main(argv + ["--compile-cache", "none"] if argv[0] == "score" else argv)


@needs_file(NB101_CSV)
def test_score_nb101_file_by_line_and_correlate_by_key(tmp_path, capsys):
  with open(NB101_CSV, newline="") as fh:
    rows = list(csv.DictReader(fh))
  keys = [rows[0]["key"], rows[1]["key"]]  # two NASLib keys (with dangling vertices)
  archs = tmp_path / "cells.txt"
  archs.write_text(f"# three nb101 cells\n{keys[0]}\n{BARE}\n{keys[1]}\n")
  out = tmp_path / "s.csv"
  args = ["score", "--space", "nb101", "--archs", str(archs), "--proxies", "params,flops",
          "--out", str(out), "--no-progress"]
  assert main(args) == 0
  assert json.loads(capsys.readouterr().out)["archs"] == 3
  with open(out, newline="") as fh:
    got = list(csv.DictReader(fh))
  assert [int(r["index"]) for r in got] == [1, 2, 3]  # 0-based line numbers of FILE
  for r, arch in zip(got, (keys[0], BARE, keys[1])):
    enc = nb101.encode(arch)
    assert r["arch"] == nb101.decode(nb101.canonical(enc))
    assert float(r["params"]) == nb101.num_params(enc) and float(r["flops"]) == nb101.flops(enc)
  assert main(args) == 0  # resumes: nothing left to score
  assert json.loads(capsys.readouterr().out)["scored_now"] == 0
  # correlate matches the truth table's NASLib keys to the canonical arch strings (same hash)
  truth = tmp_path / "truth.csv"
  truth.write_text("key,val_accuracy\n" + "".join(
      f'"{k}",{v}\n' for k, v in ((keys[0], 90.0), (keys[1], 80.0), (keys[0], 92.0),
                                   (str(nb101.to_naslib(nb101.encode(BARE))), 83.0))))
  assert main(["correlate", "--scores", str(out), "--truth", str(truth), "--column",
               "val_accuracy", "--json", str(tmp_path / "c.json")]) == 0
  assert "matched by key (nb101)" in capsys.readouterr().out
  res = json.loads((tmp_path / "c.json").read_text())
  params = np.asarray([float(r["params"]) for r in got])
  acc = np.asarray([91.0, 83.0, 80.0])  # the repeated key's rows averaged
  want = np.corrcoef(np.argsort(np.argsort(params)), np.argsort(np.argsort(acc)))[0, 1]
  assert res["params"]["spearman"] == pytest.approx(want)


def test_unsupported_proxy_is_refused_by_name(tmp_path, capsys):
  archs = tmp_path / "cells.txt"
  archs.write_text(BARE + "\n")
  assert "rbflex" in nb101.unsupported_proxies and "rbflex" in proxies.REGISTRY
  code = main(["score", "--space", "nb101", "--archs", str(archs), "--proxies", "params,rbflex",
               "--out", str(tmp_path / "s.csv"), "--no-progress"])
  assert code == 2
  assert "rbflex: " in capsys.readouterr().err
  assert not (tmp_path / "s.csv").exists()


def test_search_refuses_a_space_without_official_index(tmp_path, capsys):
  truth = tmp_path / "t.csv"
  truth.write_text("index,arch,acc\n0,x,1.0\n")
  assert main(["search", "--space", "nb101", "--strategy", "random", "--truth", str(truth)]) == 2
  assert "nb101 has none" in capsys.readouterr().err
