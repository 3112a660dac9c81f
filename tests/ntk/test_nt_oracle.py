"""jaxnas's empirical NTKs against neural-tangents 0.6.5 itself, run in a pinned side environment.

neural-tangents does not import on current JAX, so a side virtualenv (jax==0.5.3, jaxlib==0.5.3,
neural-tangents==0.6.5, about 2.7 GB with its TensorFlow dependency) is created once under
``$JAXNAS_CACHE`` (default ``~/.cache/jaxnas``) and reused; ``nt_oracle.py`` writes its kernels for
the fixed models of ``oracle_cases.py`` and this test recomputes them with jaxnas. A failed side
install fails the test (CI must not skip it). Offline developers may set JAXNAS_SKIP_NT_ORACLE=1, or
point JAXNAS_NT_ORACLE at an .npz written by nt_oracle.py elsewhere.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxnas import ntk
from tests.conftest import fast_jit
from tests.ntk import oracle_cases as C

HERE = Path(__file__).resolve().parent
PINS = ["jax==0.5.3", "jaxlib==0.5.3", "neural-tangents==0.6.5"]
REL_FROBENIUS = {"float64": 1e-5, "float32": 1e-3}  # the acceptance bounds


def _oracle_path() -> Path:
  if os.environ.get("JAXNAS_NT_ORACLE"):
    return Path(os.environ["JAXNAS_NT_ORACLE"])
  if os.environ.get("JAXNAS_SKIP_NT_ORACLE") == "1":
    pytest.skip("JAXNAS_SKIP_NT_ORACLE=1: neural-tangents oracle not run")
  cache = Path(os.environ.get("JAXNAS_CACHE", Path.home() / ".cache" / "jaxnas"))
  cache.mkdir(parents=True, exist_ok=True)
  digest = hashlib.sha256(b"".join((HERE / n).read_bytes() for n in ("oracle_cases.py", "nt_oracle.py"))
                          + " ".join(PINS).encode()).hexdigest()[:16]
  out = cache / f"nt_oracle_{digest}.npz"
  venv = cache / "nt-oracle-venv"
  with open(cache / "nt-oracle.lock", "w") as lock:  # pytest-xdist workers build it once
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not out.exists():
      python = venv / "bin" / "python"
      if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
      subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
      env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
      subprocess.run([str(python), str(HERE / "nt_oracle.py"), str(out) + ".tmp.npz"], check=True,
                     env=env, cwd=str(HERE))
      os.replace(str(out) + ".tmp.npz", out)
  return out


@pytest.fixture(scope="session")
def oracle():
  return np.load(_oracle_path())


MODELS = sorted({(name, dtype) for _, name, dtype, *_ in C.all_cases()})


@pytest.mark.parametrize("name,dtype", MODELS)
def test_kernels_match_neural_tangents(oracle, name, dtype):
  assert str(oracle["nt_version"]) == "0.6.5" and str(oracle["jax_version"]) == "0.5.3"
  worst = {}
  with jax.enable_x64(dtype == "float64"):
    f, params, x1, x2 = C.case(name, dtype)
    for key, n, dt, trace, diagonal, with_x2, impl, vmap in C.all_cases():
      if (n, dt) != (name, dtype):
        continue
      fn = ntk.empirical_ntk_fn(f, trace_axes=trace, diagonal_axes=diagonal,
                                vmap_axes=0 if vmap else None, implementation=impl)
      if with_x2:
        got = fast_jit(lambda a, b, p, fn=fn: fn(a, b, p))(x1, x2, params)
      else:
        got = fast_jit(lambda a, p, fn=fn: fn(a, None, p))(x1, params)
      leaves = got if isinstance(got, dict) else {"": got}
      for leaf, value in leaves.items():
        want = oracle[f"{key}|{leaf}"]
        value = np.asarray(value)
        assert value.shape == want.shape, (key, leaf, value.shape, want.shape)
        assert value.dtype == want.dtype, (key, leaf, value.dtype, want.dtype)
        worst[f"{key}|{leaf}"] = np.linalg.norm(value - want) / np.linalg.norm(want)
  bad = {k: v for k, v in worst.items() if not v <= REL_FROBENIUS[dtype]}
  assert not bad, f"relative Frobenius error above {REL_FROBENIUS[dtype]}: {bad}"
  print(f"{name} {dtype}: max relative Frobenius error {max(worst.values()):.2e} over {len(worst)}")


def test_kernel_fn_returns_what_neural_tangents_returns(oracle):
  """empirical_kernel_fn's result for each `get`: an array, or an EmpiricalKernel namedtuple with
  neural-tangents' fields in its order, holding its kernels."""
  with jax.enable_x64(True):
    f, params, x1, x2 = C.case(*C.KERNEL_FN_MODEL)
    kernel_fn = ntk.empirical_kernel_fn(f)
    for get in C.KERNEL_FN_GETS:
      name = C.kernel_fn_key(get)
      got = kernel_fn(x1, x2, get, params)
      assert type(got).__name__ == str(oracle[f"{name}|type"]), get
      fields = tuple(str(s) for s in oracle[f"{name}|fields"])
      assert getattr(got, "_fields", ()) == fields, get
      for field, value in (zip(fields, got) if fields else [("", got)]):
        np.testing.assert_allclose(value, oracle[f"{name}|{field}"], rtol=1e-10, atol=1e-12)
