"""Shared fixtures: reference data location, tolerances, keys, fast-compiling jit for tests."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("JAXNAS_SHARED_DATA", ROOT.parent / "shared" / "data"))
NB201_CSV = SHARED_DATA / "nb201_cifar.csv"
CIFAR_NPZ = SHARED_DATA / "cifar10_5000.npz"

# One persistent compilation cache per test session, shared by the xdist workers and every process
# they start (CLI runs, notebook kernels): many tests compile the same programs (the same network,
# proxy group and shapes through different closures), and XLA:CPU compilation is most of the
# suite's time. Fresh per session, so a run never depends on an earlier one.
_CACHE_ENV = "JAXNAS_TEST_XLA_CACHE"


def pytest_configure(config):
  if _CACHE_ENV not in os.environ:  # the controller (or a run without xdist) makes the directory
    os.environ[_CACHE_ENV] = tempfile.mkdtemp(prefix="jaxnas-test-xla-")
    config._jaxnas_cache_owner = True
  cache = os.environ[_CACHE_ENV]
  os.environ["JAX_COMPILATION_CACHE_DIR"] = cache
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"
  jax.config.update("jax_compilation_cache_dir", cache)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def pytest_unconfigure(config):
  if getattr(config, "_jaxnas_cache_owner", False):
    shutil.rmtree(os.environ.pop(_CACHE_ENV), ignore_errors=True)


# One tolerance table (house style 23): keyed by dtype.
TOL = {
    "float64": dict(rtol=1e-10, atol=1e-12),
    "float32": dict(rtol=1e-5, atol=1e-6),
    "logdet_float32": dict(rtol=1e-3),
    "logdet_float64": dict(rtol=1e-8),
    # Results of an iterated float32 optimisation (hundreds of optax steps) reached by two
    # programs (vmapped vs not, x64 on vs off): rounding differences grow over the steps.
    "fit_float32": dict(rtol=1e-4, atol=1e-4),
    # A float32 gradient against a central difference of step 1e-2.
    "finite_difference": dict(rtol=1e-2),
}

# Correctness tests compile many small programs; XLA's backend optimisation only costs time there.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _signature(args):
  leaves, treedef = jax.tree.flatten(args)
  return treedef, tuple((type(l).__name__, getattr(l, "shape", None), str(getattr(l, "dtype", None)),
                         getattr(l, "weak_type", None)) for l in leaves)


def fast_jit(fn):
  """jit whose compilation skips XLA's expensive backend passes (same numerics, faster compile).

  One compilation per argument signature (tree structure, shapes, dtypes), like ``jax.jit``.
  """
  jitted = jax.jit(fn)
  compiled = {}

  def call(*args):
    sig = _signature(args)
    if sig not in compiled:
      compiled[sig] = jitted.lower(*args).compile(compiler_options=FAST_COMPILE)
    return compiled[sig](*args)

  return call


def needs_file(path: Path):
  return pytest.mark.skipif(
      not path.exists(),
      reason=f"reference data {path} not found (CI has ../shared beside the repo; see "
             "../shared/data/README.md)")


@pytest.fixture
def getkey():
  """Fresh keys from a per-test seed that is printed on failure (pin with JAXNAS_TEST_SEED)."""
  seed = int(os.environ.get("JAXNAS_TEST_SEED", random.SystemRandom().randrange(2**31)))
  print(f"JAXNAS_TEST_SEED={seed}")
  state = {"key": jax.random.key(seed)}

  def next_key():
    state["key"], k = jax.random.split(state["key"])
    return k

  return next_key


@pytest.fixture
def rng():
  return np.random.default_rng(0)
