"""Population scoring at scale: device meshes, several processes, kill -9 and resume, the
compilation cache, automatic chunks. Each multi-device or multi-process check runs in fresh
processes (the device count is fixed when JAX starts)."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxnas import population, proxies
from jaxnas.population._score import _auto_chunk
from jaxnas.proxies import Batch
from jaxnas.spaces import nb201

from ..conftest import FAST_COMPILE, ROOT
from . import scale_worker

TIMEOUT_S = 600


def _env(tmp_path, devices: int = 1) -> dict:
  env = dict(os.environ, JAX_PLATFORMS="cpu", JAXNAS_CACHE=str(tmp_path / "cache"),
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  env.pop("JAX_ENABLE_X64", None)
  return env


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _run(cmd, env, **kw):
  proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, **kw)
  assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
  return proc


def _start_all(cmds, env):
  """Starts every command at once and waits for all of them; only on a timeout (or another error
  while waiting) are the ones still running killed."""
  procs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True) for c in cmds]
  try:
    results = [p.communicate(timeout=TIMEOUT_S) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait()
  for c, p, (out, err) in zip(cmds, procs, results):
    assert p.returncode == 0, f"{c} failed:\n{out}\n{err[-4000:]}"
  return [out for out, _ in results]


def test_sharded_over_eight_cpu_devices_equals_one_device(tmp_path):
  out = tmp_path / "r.npy"
  _run([sys.executable, "-m", "tests.population.scale_worker", str(out), "--single"],
       _env(tmp_path, devices=8))
  r = np.load(out, allow_pickle=True).item()
  assert r["num_devices"] == 8 and r["sharded"].shape == (7, 1)
  np.testing.assert_array_equal(r["sharded"], r["single"])
  assert np.all(np.isfinite(r["sharded"]))


def test_two_processes_on_localhost_score_like_one_process(tmp_path):
  """Two processes with two CPU devices each form one 4-device mesh (jax.distributed, gloo); each
  receives every row, equal to this process scoring alone on one device."""
  coordinator = f"127.0.0.1:{_free_port()}"
  cmds = [[sys.executable, "-m", "tests.population.scale_worker", str(tmp_path / f"p{i}.npy"),
           "--coordinator", coordinator, "--num-processes", "2", "--process-id", str(i)]
          for i in range(2)]
  _start_all(cmds, _env(tmp_path, devices=2))
  alone = scale_worker.population_scores(population.population_mesh(jax.devices()[:1]))
  for i in range(2):
    r = np.load(tmp_path / f"p{i}.npy", allow_pickle=True).item()
    assert r["process_count"] == 2 and r["num_devices"] == 4
    np.testing.assert_allclose(r["sharded"], alone, rtol=1e-12)


def _cli(tmp_path, out, *extra):
  return [sys.executable, "-m", "jaxnas", "score", "--archs", "0:1200", "--proxies", "params,flops",
          "--out", str(out), "--chunk-size", "1", "--no-progress", *extra]


def _rows(path):
  with open(path, newline="") as fh:
    return list(csv.reader(fh))


def test_cli_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
  env = _env(tmp_path)
  full = tmp_path / "full.csv"
  first = json.loads(_run(_cli(tmp_path, full), env).stdout)
  assert first["compile_cache"]["dir"] == str(tmp_path / "cache" / "xla")

  out = tmp_path / "killed.csv"
  proc = subprocess.Popen(_cli(tmp_path, out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + TIMEOUT_S
  try:
    while time.monotonic() < deadline and proc.poll() is None:
      if out.exists() and out.stat().st_size > 2000:  # some chunks are saved, most are not
        break
      time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
  finally:
    proc.wait()
  assert proc.returncode == -signal.SIGKILL
  saved = len(_rows(out)) - 1
  assert 0 < saved < 1200

  resumed = json.loads(_run(_cli(tmp_path, out), env).stdout)
  assert resumed["archs"] == 1200 and resumed["scored_now"] <= 1200 - saved + 1
  assert out.read_bytes() == full.read_bytes()  # one row per architecture, same values and order
  # The population program was compiled by the first command and loaded from the persistent
  # cache by the others.
  programs = list((tmp_path / "cache" / "xla").glob("jit_population_chunk-*"))
  assert len(programs) == 1, programs
  assert first["compile_cache"]["misses"] >= 1 and resumed["compile_cache"]["hits"] >= 1


def test_cli_two_processes_write_the_rows_of_one(tmp_path):
  env = _env(tmp_path)
  one = tmp_path / "one.csv"
  base = [sys.executable, "-m", "jaxnas", "score", "--archs", "random:40:2", "--proxies",
          "params,flops", "--chunk-size", "3", "--no-progress", "--compile-cache", "none"]
  _run(base + ["--out", str(one)], env)
  two = tmp_path / "two.csv"
  coordinator = f"127.0.0.1:{_free_port()}"
  outs = _start_all([base + ["--out", str(two), "--coordinator", coordinator, "--num-processes",
                             "2", "--process-id", str(i)] for i in range(2)], env)
  assert two.read_bytes() == one.read_bytes()
  # (gloo prints its connection messages to stdout before the JSON summary)
  summaries = [json.loads(o[o.index("{\n"):]) for o in outs]
  assert [s["processes"] for s in summaries] == [2, 2] and summaries[1]["out"] is None
  assert summaries[0]["devices"] == 2 and summaries[0]["scored_now"] == 40


def test_distributed_arguments_are_checked():
  with pytest.raises(ValueError, match="together"):
    population.initialize_distributed("127.0.0.1:1234", 2)
  with pytest.raises(ValueError, match="'host:port'"):
    population.initialize_distributed("localhost", 2, 0)
  with pytest.raises(ValueError, match=r"`process_id` must be in \[0, 1\]"):
    population.initialize_distributed("127.0.0.1:1234", 2, 2)


def test_automatic_chunk_size():
  assert _auto_chunk("map", None, None, 0.5) == 1  # one member per call: no loop
  assert _auto_chunk("vmap", None, None, 0.5) == 8  # no memory analysis
  assert _auto_chunk("vmap", 100, 1000, 0.5) == 5
  assert _auto_chunk("vmap", 10**9, 10**6, 0.5) == 1  # never below one member
  assert _auto_chunk("vmap", 1, 10**12, 0.5) == 256
  assert _auto_chunk("vmap", None, 10**9, 0.5) == 8
  assert population.available_memory(jax.devices()[0]) > 0


def test_automatic_vmap_chunk_fits_the_memory_budget():
  """chunk_size=None with 'vmap' sizes the chunk from a one-member program's memory analysis; a
  small budget gives smaller chunks and the same scores."""
  x = jax.random.normal(jax.random.key(3), (4, 8, 8, 3))
  enc = nb201.encoding_of(np.arange(20, 30))
  plist = [proxies.get("params")]
  kw = dict(network_kwargs={"C": 4, "N": 1}, method="vmap", compiler_options=FAST_COMPILE)
  big, small = [], []
  a = population.score_population(enc, plist, Batch(x), jax.random.key(0), timing=big, **kw)
  free = population.available_memory(jax.devices()[0])
  b = population.score_population(enc, plist, Batch(x), jax.random.key(0), timing=small,
                                  memory_fraction=1.0 / free, **kw)  # one byte
  np.testing.assert_array_equal(a, b)
  assert small[0].chunk_size == 1 < big[0].chunk_size
  with pytest.raises(ValueError, match="memory_fraction"):
    population.score_population(enc, plist, Batch(x), jax.random.key(0), memory_fraction=0, **kw)
  with pytest.raises(ValueError, match="chunk_size"):
    population.score_population(enc, plist, Batch(x), jax.random.key(0), chunk_size=0, **kw)
  with pytest.raises(TypeError, match="Mesh"):
    population.score_population(enc, plist, Batch(x), jax.random.key(0), mesh=jax.devices(), **kw)


def test_cli_lost_peer_exits_at_once_and_the_rerun_resumes(tmp_path):
  """Killing one process of a two-process run: the survivor exits 3 with a message naming the lost
  process (not SIGABRT after JAX's 100 s shutdown barrier), and the same commands resume it to the
  one-process result."""
  env = _env(tmp_path)
  base = [sys.executable, "-m", "jaxnas", "score", "--archs", "0:400", "--proxies", "params,flops",
          "--chunk-size", "1", "--no-progress", "--compile-cache", "none"]
  one = tmp_path / "one.csv"
  _run(base + ["--out", str(one)], env)
  two = tmp_path / "two.csv"

  def commands():
    coordinator = f"127.0.0.1:{_free_port()}"
    return [base + ["--out", str(two), "--coordinator", coordinator, "--num-processes", "2",
                    "--process-id", str(i)] for i in range(2)]

  procs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True) for c in commands()]
  try:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and procs[0].poll() is None:
      if two.exists() and two.stat().st_size > 2000:
        break
      time.sleep(0.02)
    assert procs[0].poll() is None, "the run ended before a process could be killed"
    os.kill(procs[1].pid, signal.SIGKILL)
    killed = time.monotonic()
    err = procs[0].communicate(timeout=TIMEOUT_S)[1]
    waited = time.monotonic() - killed
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
      p.communicate()
  assert procs[0].returncode == 3, err[-3000:]
  assert waited < 60, waited
  assert "error: process 1 lost (" in err and "rerun the same command on every process" in err
  assert "Check failure stack trace" not in err
  assert 0 < len(_rows(two)) - 1 < 400
  _start_all(commands(), env)
  assert two.read_bytes() == one.read_bytes()
