"""population.reuse_host_memory: XLA:CPU's large temporary buffers are reused, not faulted in anew."""

import json
import subprocess
import sys

import pytest

from ..conftest import ROOT

PAGES = 64 * 2 ** 20 // 4096  # pages of the worker's 64 MiB temporary buffer


def _worker(mode: str) -> dict:
  proc = subprocess.run([sys.executable, "-m", "tests.population.alloc_worker", mode], cwd=ROOT,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator: Linux only")
def test_reused_host_memory_is_not_faulted_in_again():
  default = _worker("default")
  steady = default["faults"][2:]
  if min(steady) < PAGES // 2:
    pytest.skip(f"this platform's allocator already reuses 64 MiB blocks (faults per run: {steady})")
  reuse = _worker("reuse")
  assert reuse["applied"] is True
  # Most runs after the first two find the buffer in the heap: no page is faulted in again.
  quiet = [n for n in reuse["faults"][2:] if n < PAGES // 20]
  assert len(quiet) >= len(steady) // 2, (reuse["faults"], default["faults"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator: Linux only")
def test_reuse_after_jax_started_warns():
  late = _worker("late")
  assert any("before the first JAX computation" in w for w in late["warnings"]), late


def test_cli_host_memory_reuse_scores_like_release(tmp_path):
  """Same scores with either allocator setting. The second run loads the first one's program from
  a compilation cache of its own (one compilation instead of two), so the two runs execute the same
  XLA program and only the allocator differs."""
  rows, summaries = {}, {}
  for mode in ("release", "reuse"):
    out = tmp_path / f"{mode}.csv"
    proc = subprocess.run([sys.executable, "-m", "jaxnas", "score", "--archs", "0:3", "--proxies",
                           "nwot,params", "--batch-size", "8", "--host-memory", mode, "--no-progress",
                           "--compile-cache", str(tmp_path / "xla"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows[mode] = out.read_text()
    summaries[mode] = json.loads(proc.stdout)
  assert rows["reuse"] == rows["release"]
  assert summaries["reuse"]["compile_cache"]["hits"] >= 1, summaries["reuse"]["compile_cache"]
  bad = subprocess.run([sys.executable, "-m", "jaxnas", "score", "--host-memory", "keep"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  assert bad.returncode == 2 and "--host-memory" in bad.stderr
