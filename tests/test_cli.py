"""The two user-facing commands, end to end (small workloads)."""

import csv
import json

import numpy as np

import jaxnas
from jaxnas import spaces
from jaxnas import cli

from .conftest import CIFAR_NPZ, FAST_COMPILE, NB201_CSV, needs_file


def main(argv):
  """The CLI in this process, without its persistent compilation cache (a process-wide JAX option
  that tests in this process must not turn on; the subprocess tests cover it)."""
  return cli.main(argv + ["--compile-cache", "none"] if argv[0] == "score" else argv)


def _rows(path):
  with open(path, newline="") as fh:
    return list(csv.DictReader(fh))


def test_score_writes_contract_columns_and_resumes(tmp_path, capsys):
  out = tmp_path / "s.csv"
  args = ["score", "--archs", "0:12", "--proxies", "params,flops", "--out", str(out),
          "--chunk-size", "4", "--no-progress"]
  assert main(args) == 0
  summary = json.loads(capsys.readouterr().out)
  assert summary["archs"] == 12 and "SYNTHETIC" in summary["data"]
  rows = _rows(out)
  assert list(rows[0]) == ["index", "arch", "params", "flops"]
  assert [int(r["index"]) for r in rows] == list(range(12))
  for r in rows:
    enc = spaces.nb201.encoding_of(int(r["index"]))
    assert r["arch"] == spaces.nb201.decode(enc)
    assert float(r["params"]) == spaces.nb201.num_params(enc)
    assert float(r["flops"]) == spaces.nb201.flops(enc)
  full = out.read_bytes()
  # Simulate an interrupted run: 5 complete rows and a sixth torn inside its last number.
  lines = full.splitlines(keepends=True)
  assert lines[0].endswith(b"\r\n")  # as csv writes them; resuming must read them back
  out.write_bytes(b"".join(lines[:6]) + lines[6][:-3])
  assert main(args) == 0
  summary = json.loads(capsys.readouterr().out)
  assert summary["scored_now"] == 7 and out.read_bytes() == full
  # Other settings must not silently mix with old rows.
  assert main(args[:-1] + ["--seed", "3", "--no-progress"]) == 2
  assert "other settings" in capsys.readouterr().err
  assert main(args + ["--init", "kaiming_normal"]) == 2  # the init is a setting too
  assert "other settings" in capsys.readouterr().err
  assert main(args + ["--overwrite"]) == 0
  assert json.loads((tmp_path / "s.csv.meta.json").read_text())["draws"] == 1
  assert main(args + ["--draws", "2"]) == 2  # so is the number of weight draws
  assert "other settings" in capsys.readouterr().err
  assert main(args + ["--augment"]) == 2  # and augmentation of the batch
  assert "other settings" in capsys.readouterr().err
  # Files written before `draws` and `augmented` were recorded resume as one unaugmented draw.
  meta = json.loads((tmp_path / "s.csv.meta.json").read_text())
  assert meta["augmented"] is False
  del meta["draws"], meta["augmented"]
  (tmp_path / "s.csv.meta.json").write_text(json.dumps(meta))
  assert main(args) == 0
  assert json.loads(capsys.readouterr().out)["scored_now"] == 0
  assert main(args + ["--draws", "2", "--overwrite"]) == 0  # params: the same in every draw
  assert json.loads(capsys.readouterr().out)["draws"] == 2 and out.read_bytes() == full


def test_score_reports_clear_errors(tmp_path, capsys):
  base = ["score", "--out", str(tmp_path / "x.csv"), "--no-progress"]
  assert main(base + ["--proxies", "synflw"]) == 2
  assert "Did you mean 'synflow'" in capsys.readouterr().err
  assert main(base + ["--archs", "9:3"]) == 2
  assert "START < STOP" in capsys.readouterr().err
  assert main(base + ["--data", "npz:/does/not/exist.npz"]) == 2
  assert "not found" in capsys.readouterr().err
  assert main(base + ["--batch-size", "zero"]) == 2
  assert "--batch-size" in capsys.readouterr().err


def test_score_nats_size_space(tmp_path, capsys):
  out = tmp_path / "n.csv"
  assert main(["score", "--space", "nats_sss", "--archs", "0:2", "--proxies", "params",
               "--out", str(out), "--no-progress"]) == 0
  rows = _rows(out)
  assert rows[0]["arch"] == "8:8:8:8:8" and float(rows[1]["params"]) == spaces.nats_sss.num_params(
      spaces.nats_sss.encoding_of(1))


@needs_file(NB201_CSV)
def test_correlate_prints_table_and_plots(tmp_path, capsys):
  scores = tmp_path / "s.csv"
  assert main(["score", "--archs", "random:30:1", "--proxies", "params", "--out", str(scores),
               "--no-progress"]) == 0
  capsys.readouterr()
  plot = tmp_path / "p.png"
  res = tmp_path / "r.json"
  assert main(["correlate", "--scores", str(scores), "--truth", str(NB201_CSV), "--column",
               "cifar10_test_acc", "--plot", str(plot), "--json", str(res)]) == 0
  text = capsys.readouterr().out
  assert "SYNTHETIC" in text and "spearman" in text and plot.stat().st_size > 1000
  assert 0.3 < json.loads(res.read_text())["params"]["spearman"] < 1.0
  assert main(["correlate", "--scores", str(scores), "--truth", str(NB201_CSV), "--column", "x"]) == 2


@needs_file(CIFAR_NPZ)
def test_score_nwot_on_real_images(tmp_path, capsys, monkeypatch):
  """Real images reach the proxy at the requested batch size. The network is shrunk to C=4, N=1
  and compiled with cheap XLA passes (the full supernet's compilation is the benchmarks' business)."""
  seen, inputs = [], []
  score_population = jaxnas.population.score_population

  def small(enc, plist, batches, *args, network_kwargs, **kwargs):
    seen.append(dict(network_kwargs))
    inputs.append(np.asarray(batches["nwot"].x))
    return score_population(enc, plist, batches, *args, network_kwargs={**network_kwargs, "C": 4, "N": 1},
                            compiler_options=FAST_COMPILE, **kwargs)

  monkeypatch.setattr(jaxnas.population, "score_population", small)
  out = tmp_path / "w.csv"
  assert main(["score", "--archs", "9930:9931", "--proxies", "nwot", "--data", f"npz:{CIFAR_NPZ}",
               "--batch-size", "16", "--out", str(out), "--no-progress"]) == 0
  summary = json.loads(capsys.readouterr().out)
  assert summary["batch_sizes"] == {"nwot": 16} and seen == [{"num_classes": 10}]
  assert np.isfinite(float(_rows(out)[0]["nwot"]))
  images = jaxnas.data.load_npz(CIFAR_NPZ)
  np.testing.assert_array_equal(inputs[0], jaxnas.data.select(images, 16, 0).x)
  # --augment: the same images, cropped and flipped as the references' training loaders do.
  assert main(["score", "--archs", "9930:9931", "--proxies", "nwot", "--data", f"npz:{CIFAR_NPZ}",
               "--batch-size", "16", "--augment", "--out", str(tmp_path / "a.csv"),
               "--no-progress"]) == 0
  assert json.loads(capsys.readouterr().out)["augmented"] is True
  np.testing.assert_array_equal(inputs[1], jaxnas.data.select(images, 16, 0, augmented=True).x)
  assert not np.array_equal(inputs[0], inputs[1])


def test_public_api_surface():
  assert set(jaxnas.__all__) == {"data", "evaluate", "models", "ntk", "population", "proxies",
                                 "search", "spaces", "__version__"}
  for mod in (jaxnas.data, jaxnas.evaluate, jaxnas.models, jaxnas.ntk, jaxnas.population,
              jaxnas.proxies, jaxnas.search, jaxnas.spaces):
    for name in mod.__all__:
      obj = getattr(mod, name)
      if callable(obj) and not isinstance(obj, type(jaxnas.proxies.REGISTRY)):
        assert obj.__doc__, f"{mod.__name__}.{name} has no docstring"
