"""Score files: the lock, the settings file, row validation and resume decisions (file tests)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from jaxnas import population
from jaxnas.spaces import nb201

from ..conftest import ROOT

HEADER = ["index", "arch", "params", "flops"]


def _arch(i):
  return nb201.decode(nb201.encoding_of(i))


def _write(path, lines):
  path.write_bytes("".join(line + "\r\n" for line in lines).encode())


def _holder_process(out, tmp_path):
  """A separate process holding the lock of `out` until killed; returns it once it holds."""
  ready = tmp_path / "ready"
  code = ("import sys, time; from pathlib import Path; from jaxnas import population\n"
          "with population.lock_output(sys.argv[1]):\n"
          "  Path(sys.argv[2]).write_text('x')\n"
          "  time.sleep(600)\n")
  proc = subprocess.Popen([sys.executable, "-c", code, str(out), str(ready)], cwd=ROOT,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))
  deadline = time.monotonic() + 120
  while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
    time.sleep(0.05)
  assert ready.exists(), "the lock holder did not start"
  return proc


def test_lock_refuses_a_second_writer_and_names_the_first(tmp_path):
  out = tmp_path / "s.csv"
  with population.lock_output(out) as lock:
    assert lock == tmp_path / "s.csv.lock" and f"pid {os.getpid()}" in lock.read_text()
    with pytest.raises(population.OutputLockedError, match=f"pid {os.getpid()} on .*s.csv.lock"):
      with population.lock_output(out):
        pass
  assert not (tmp_path / "s.csv.lock").exists()  # removed on release
  with population.lock_output(out):  # and free again
    pass


def test_lock_held_by_another_process_and_freed_by_its_kill(tmp_path):
  out = tmp_path / "s.csv"
  proc = _holder_process(out, tmp_path)
  try:
    with pytest.raises(population.OutputLockedError, match=f"pid {proc.pid} "):
      with population.lock_output(out):
        pass
  finally:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
  assert (tmp_path / "s.csv.lock").exists()  # a killed holder leaves its file, not its lock
  with population.lock_output(out) as lock:
    assert f"pid {os.getpid()}" in lock.read_text()


def test_meta_is_written_atomically_and_read_errors_name_the_file(tmp_path):
  path = tmp_path / "s.csv.meta.json"
  assert population.read_meta(path) is None
  population.write_meta(path, {"seed": 0})
  assert population.read_meta(path) == {"seed": 0}
  with pytest.raises(TypeError):  # fails while writing: the old file is intact, no temporary left
    population.write_meta(path, {"seed": object()})
  assert population.read_meta(path) == {"seed": 0}
  path.write_text('{"seed": ')
  with pytest.raises(ValueError, match=r"s.csv.meta.json \(the settings file of S\) cannot be "
                                       r"read: Expecting value"):
    population.read_meta(path, out="S")
  path.write_text("[1, 2]")
  with pytest.raises(ValueError, match="s.csv.meta.json .* holds a JSON list, expected an object"):
    population.read_meta(path)


def test_rows_are_validated(tmp_path):
  path = tmp_path / "s.csv"
  good = [f"{i},{_arch(i)},{float(i)!r},{2.0 * i!r}" for i in range(4)]
  _write(path, [",".join(HEADER)] + good + [
      f"7,{_arch(7)},abc,1.0",  # non-numeric score
      f"8,{_arch(9)},1.0,1.0",  # arch of another index
      f"9,{_arch(9)},1.0",  # short row
      f"x,{_arch(9)},1.0,1.0",  # no index
      f"99999,{_arch(9)},1.0,1.0",  # no such architecture
      f"10,{_arch(10)},nan,-inf",  # non-finite scores are scores
      f"11,{_arch(11)}, 1.0,1.0",  # padded number: not as written
      f"2,{_arch(2)},5.0,5.0",  # a repeated index: the first row counts
      f"05,{_arch(5)},1.0,1.0",  # an index not as written
  ])
  with open(path, "ab") as fh:
    fh.write(f"12,{_arch(12)},1.0,2".encode())  # torn by a kill
  got = population.read_rows(path, HEADER, arch_of=_arch)
  assert sorted(got.rows) == [0, 1, 2, 3, 10] and got.torn == 1
  assert got.rows[2] == good[2].split(",") and got.rows[10][2:] == ["nan", "-inf"]
  lines = [m.split(": ", 1)[0] for m in got.invalid]
  assert lines == [f"{path}:{n}" for n in (6, 7, 8, 9, 10, 12, 14)]
  assert "score 'abc' in column 'params' is not a number" in got.invalid[0]
  assert "is not that of index 8" in got.invalid[1] and "3 fields, expected 4" in got.invalid[2]
  assert "no such architecture" in got.invalid[4]
  with pytest.raises(ValueError, match=r"columns \[.*'flops'\], not \[.*'synflow'\]; pass"):
    population.read_rows(path, HEADER[:3] + ["synflow"])


def test_append_and_rewrite_round_trip(tmp_path):
  path = tmp_path / "s.csv"
  rows = [population.format_row(i, _arch(i), [i / 3, float("nan")]) for i in range(3)]
  population.write_rows(path, HEADER, rows[:1])
  population.append_rows(path, rows[1:])
  got = population.read_rows(path, HEADER, arch_of=_arch)
  assert got.rows == dict(enumerate(rows)) and not got.invalid and not got.torn
  with open(path, newline="") as fh:
    assert list(csv.reader(fh))[1:] == rows
  assert path.read_bytes().count(b"\r\n") == 4
  assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]  # no temporary left


def test_resume_decisions(tmp_path, caplog):
  out = tmp_path / "s.csv"
  meta = {"seed": 0, "draws": 1}
  kw = dict(arch_of=_arch, defaults={"draws": 1})
  assert population.resume_rows(out, meta, HEADER, [0, 1], **kw) == {}  # no file
  out.write_bytes(b"")
  assert population.resume_rows(out, meta, HEADER, [0, 1], **kw) == {}  # empty file
  _write(out, ["index,arch,synflow"])  # only a header, other columns, no settings file
  assert population.resume_rows(out, meta, HEADER, [0, 1], **kw) == {}
  population.write_meta(population.meta_path(out), {"seed": 5})  # other settings, still no rows
  assert population.resume_rows(out, meta, HEADER, [0, 1], **kw) == {}
  _write(out, [",".join(HEADER), f"1,{_arch(1)},1.0,2.0", f"0,{_arch(0)},x,2.0"])
  with pytest.raises(ValueError, match=r"other settings \(seed: 5 there, 0 now; see .*meta.json\)"):
    population.resume_rows(out, meta, HEADER, [0, 1], **kw)
  population.meta_path(out).unlink()
  with pytest.raises(ValueError, match="has rows but its settings file .*s.csv.meta.json is "
                                       "missing.*Restore s.csv.meta.json, or pass --overwrite"):
    population.resume_rows(out, meta, HEADER, [0, 1], **kw)
  population.write_meta(population.meta_path(out), {"seed": 0})  # draws: its default
  with caplog.at_level("WARNING", logger="jaxnas"):
    got = population.resume_rows(out, meta, HEADER, [0, 1], **kw)
  assert got == {1: ["1", _arch(1), "1.0", "2.0"]}
  assert "1 invalid row(s) will be scored again" in caplog.text and "s.csv:3" in caplog.text
  assert population.resume_rows(out, meta, HEADER, [0, 1], overwrite=True, **kw) == {}
  assert population.resume_rows(out, meta, HEADER, [0], **kw) == {}  # rows not asked for


def test_peer_lost_translates_collective_failures():
  gloo = ValueError("UNKNOWN: Gloo AllGather failed: [external/gloo/gloo/transport/tcp/pair.cc:547]"
                    " Connection closed by peer [127.0.0.1]:34716")
  lost = population.peer_lost(gloo, process_index=0, process_count=2)
  assert isinstance(lost, population.PeerLostError)
  assert str(lost).startswith("process 1 lost (UNKNOWN: Gloo AllGather failed")
  assert str(lost).endswith("rerun the same command on every process to resume")
  assert str(population.peer_lost(gloo, 1, 2)).startswith("process 0 lost")
  assert "a process other than this one (process 2 of 4) lost" in str(
      population.peer_lost(RuntimeError("UNAVAILABLE: Task 1 heartbeat timeout"), 2, 4))
  assert population.peer_lost(gloo, 0, 1) is None  # one process: no peer to lose
  assert population.peer_lost(ValueError("`archs` must be all"), 0, 2) is None
  assert population.peer_lost(KeyError("gloo"), 0, 2) is None
