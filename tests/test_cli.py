"""The two user-facing commands, end to end (small workloads)."""

import csv
import json
import os
from pathlib import Path

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
  assert set(jaxnas.__all__) == {"aggregate", "data", "evaluate", "models", "ntk", "population",
                                 "protocol", "proxies", "search", "spaces", "__version__"}
  for mod in (jaxnas.aggregate, jaxnas.data, jaxnas.evaluate, jaxnas.models, jaxnas.ntk,
              jaxnas.population, jaxnas.protocol, jaxnas.proxies, jaxnas.search, jaxnas.spaces):
    for name in mod.__all__:
      obj = getattr(mod, name)
      if callable(obj) and not isinstance(obj, type(jaxnas.proxies.REGISTRY)):
        assert obj.__doc__, f"{mod.__name__}.{name} has no docstring"


SCORE = ["score", "--proxies", "params,flops", "--no-progress"]


def test_refused_runs_leave_out_untouched(tmp_path, capsys):
  """Everything is validated before --out is touched, so a corrected rerun is not refused."""
  out = tmp_path / "s.csv"
  args = SCORE + ["--archs", "0:3", "--out", str(out)]
  assert main(args + ["--batch-size", "100000"]) == 2
  assert "Asked for a batch of 100000" in capsys.readouterr().err
  few = tmp_path / "few.npz"
  np.savez(few, x=np.zeros((5, 32, 32, 3), np.uint8), y=np.arange(5))
  assert main(args + ["--data", f"npz:{few}", "--batch-size", "8"]) == 2
  assert "has 5 images" in capsys.readouterr().err
  assert sorted(p.name for p in tmp_path.iterdir()) == ["few.npz"]
  assert main(args + ["--batch-size", "2"]) == 0
  assert json.loads(capsys.readouterr().out)["scored_now"] == 3


def test_empty_or_header_only_out_is_a_fresh_output(tmp_path, capsys):
  out = tmp_path / "s.csv"
  args = SCORE + ["--archs", "0:3", "--out", str(out)]
  out.write_bytes(b"")
  assert main(args) == 0
  full = out.read_bytes()
  out.write_bytes(b"index,arch,params,flops\r\n")  # header only, no settings file
  (tmp_path / "s.csv.meta.json").unlink()
  assert main(args) == 0 and out.read_bytes() == full
  capsys.readouterr()


def test_second_run_on_a_locked_out_is_refused(tmp_path, capsys):
  out = tmp_path / "s.csv"
  args = SCORE + ["--archs", "0:3", "--out", str(out)]
  with jaxnas.population.lock_output(out):
    assert main(args) == 2
  err = capsys.readouterr().err
  assert f"{out} is being written by another run (pid {os.getpid()} on " in err
  assert not out.exists()
  assert main(args) == 0 and not (tmp_path / "s.csv.lock").exists()


def test_meta_file_problems_name_the_file_and_the_way_out(tmp_path, capsys):
  out = tmp_path / "s.csv"
  meta = tmp_path / "s.csv.meta.json"
  args = SCORE + ["--archs", "0:3", "--out", str(out)]
  assert main(args) == 0
  capsys.readouterr()
  good = meta.read_text()
  meta.unlink()
  assert main(args) == 2
  err = capsys.readouterr().err
  assert f"settings file {meta} is missing" in err and "other settings" not in err
  meta.write_text(good[:-5])
  assert main(args) == 2
  err = capsys.readouterr().err
  assert f"{meta} (the settings file of {out}) cannot be read: Expecting" in err
  assert "--overwrite" in err
  meta.write_text("[]")
  assert main(args) == 2
  assert "holds a JSON list, expected an object of settings. Restore it, or pass --overwrite" in (
      capsys.readouterr().err)
  assert main(args + ["--overwrite"]) == 0 and meta.read_text() == good
  assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.csv.meta.json"]


def test_invalid_rows_are_scored_again(tmp_path, capsys, caplog):
  out = tmp_path / "s.csv"
  args = SCORE + ["--archs", "0:6", "--out", str(out)]
  assert main(args) == 0
  capsys.readouterr()
  full = out.read_bytes()
  lines = full.split(b"\r\n")
  lines[2] = b",".join(lines[2].split(b",")[:2] + [b"abc", b"1.0"])  # a well-formed row
  lines[4] = lines[4].replace(b"|", b"!", 1)  # another arch
  out.write_bytes(b"\r\n".join(lines))
  with caplog.at_level("WARNING", logger="jaxnas"):
    assert main(args) == 0
  assert json.loads(capsys.readouterr().out)["scored_now"] == 2 and out.read_bytes() == full
  assert "2 invalid row(s) will be scored again" in caplog.text
  assert "s.csv:3: score 'abc' in column 'params' is not a number" in caplog.text
  assert main(args) == 0  # and later runs are fine
  assert json.loads(capsys.readouterr().out)["scored_now"] == 0


def test_arch_file_repeats_are_scored_once(tmp_path, capsys):
  archs = tmp_path / "a.txt"
  archs.write_text("3\n5\n3\n" + spaces.nb201.decode(spaces.nb201.encoding_of(5)) + "\n")
  out = tmp_path / "s.csv"
  assert main(SCORE + ["--archs", str(archs), "--out", str(out)]) == 0
  assert json.loads(capsys.readouterr().out)["archs"] == 2
  assert [r["index"] for r in _rows(out)] == ["3", "5"]


def test_peer_loss_exits_with_its_own_message(monkeypatch, capsys):
  exits = []
  monkeypatch.setattr(cli, "_exit_now", exits.append)

  def lost(args):
    raise jaxnas.population.PeerLostError("process 1 lost (x); rerun the same command on every "
                                          "process to resume")

  monkeypatch.setattr(cli, "cmd_score", lost)
  assert main(["score", "--out", "unused.csv"]) == 3 and exits == [3]
  assert "error: process 1 lost (x); rerun the same command" in capsys.readouterr().err


def test_npz_that_is_not_an_npz(tmp_path, capsys):
  bad = tmp_path / "bad.npz"
  bad.write_text("x,y\n1,2\n")
  assert main(SCORE + ["--data", f"npz:{bad}", "--out", str(tmp_path / "s.csv")]) == 2
  err = capsys.readouterr().err
  assert f"{bad} is not an .npz file" in err and "pickled" not in err


@needs_file(NB201_CSV)
def test_correlate_names_bad_cells_aligns_long_names_and_plots_ranks(tmp_path, capsys):
  scores = tmp_path / "s.csv"
  long_name = "a_rather_long_proxy_name"
  rows = ["index,arch,params," + long_name] + [f"{i},x,{i},{-(10.0 ** i)}" for i in range(1, 12)]
  scores.write_text("\n".join(rows) + "\n")
  plot = tmp_path / "p.png"
  base = ["correlate", "--scores", str(scores), "--truth", str(NB201_CSV)]
  assert main(base + ["--plot", str(plot), "--plot-scale", "rank"]) == 0
  text = capsys.readouterr().out.splitlines()
  table = [line for line in text if line.startswith(("proxy ", long_name, "params "))]
  assert len(table) == 3 and len({len(line) for line in table}) == 1  # the columns line up
  assert plot.stat().st_size > 1000
  (tmp_path / "s.csv.meta.json").write_text("{")
  assert main(base) == 0
  assert f"WARNING: {scores}.meta.json (the settings file of {scores}) cannot be read" in (
      capsys.readouterr().out)
  scores.write_text("\n".join(rows[:4] + ["4,x,,1.0"] + rows[5:]) + "\n")
  assert main(base) == 2
  assert f"{scores}:5: column 'params' holds '', not a number" in capsys.readouterr().err
  scores.write_text("\n".join(rows[:3] + ["3,x"] + rows[4:]) + "\n")
  assert main(base) == 2
  assert f"{scores}:4: a short row (2 of 4 fields): no value in column 'params'" in (
      capsys.readouterr().err)


def test_each_proxy_scored_with_its_reference_init(tmp_path, capsys, monkeypatch):
  """`--proxies swap,nwot` equals `swap` alone with `--init normal` and `nwot` alone with the
  default; the meta file records each proxy's init (small networks, cheap XLA passes)."""
  score_population = jaxnas.population.score_population

  def small(enc, plist, batches, *args, network_kwargs, **kwargs):
    return score_population(enc, plist, batches, *args, network_kwargs={**network_kwargs, "C": 4, "N": 1},
                            compiler_options=FAST_COMPILE, **kwargs)

  monkeypatch.setattr(jaxnas.population, "score_population", small)
  common = ["score", "--archs", "9930:9932", "--batch-size", "8", "--no-progress"]
  both, swap, nwot = (tmp_path / f"{n}.csv" for n in ("both", "swap", "nwot"))
  assert main(common + ["--proxies", "swap,nwot", "--out", str(both)]) == 0
  assert main(common + ["--proxies", "swap", "--init", "normal", "--out", str(swap)]) == 0
  assert main(common + ["--proxies", "nwot", "--out", str(nwot)]) == 0
  capsys.readouterr()
  rows = _rows(both)
  assert [r["swap"] for r in rows] == [r["swap"] for r in _rows(swap)]
  assert [r["nwot"] for r in rows] == [r["nwot"] for r in _rows(nwot)]
  meta = json.loads(Path(str(both) + ".meta.json").read_text())
  assert meta["init"] == {"swap": "normal", "nwot": "pytorch"}
  assert json.loads(Path(str(nwot) + ".meta.json").read_text())["init"] == "pytorch"
