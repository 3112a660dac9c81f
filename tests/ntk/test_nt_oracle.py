"""jaxnas's empirical NTKs against neural-tangents 0.6.5's, offline from a committed fixture.

neural-tangents does not import on current JAX. Its kernels for the fixed models of
``oracle_cases.py`` (120 kernels: four models, trace/diagonal variants, x2 or not, ``vmap_axes``,
both implementations, float64 and float32) were computed once by ``nt_oracle.py`` in a pinned side
environment (neural-tangents 0.6.5, JAX 0.5.3; its docstring gives the exact commands) and are
committed as ``nt_oracle_kernels.npz`` (71 KB, with empirical_kernel_fn's return types), so the
default suite never reaches the network.

``pytest -m oracle tests/ntk/test_nt_oracle.py`` runs the live oracle instead: it creates the side
virtualenv once under ``$JAXNAS_CACHE`` (default ``~/.cache/jaxnas``; about 2.7 GB with
TensorFlow, ~10 min), recomputes the kernels there, compares jaxnas with them and checks that the
committed fixture is what the oracle writes today. ``JAXNAS_NT_ORACLE=PATH`` points the live tests
at an .npz written by ``nt_oracle.py`` elsewhere; ``JAXNAS_SKIP_NT_ORACLE=1`` skips them.
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
FIXTURE = HERE / "nt_oracle_kernels.npz"
PINS = ["jax==0.5.3", "jaxlib==0.5.3", "neural-tangents==0.6.5"]
REL_FROBENIUS = {"float64": 1e-5, "float32": 1e-3}  # the acceptance bounds
MODELS = sorted({(name, dtype) for _, name, dtype, *_ in C.all_cases()})
REGENERATE = ("regenerate it with the commands in tests/ntk/nt_oracle.py's docstring, or run the "
              "live oracle: pytest -m oracle tests/ntk/test_nt_oracle.py")


def _cases_sha256() -> str:
  return hashlib.sha256((HERE / "oracle_cases.py").read_bytes()).hexdigest()


def _live_oracle_path() -> Path:
  """The live oracle's kernels: built in the side environment once, cached by content hash."""
  if os.environ.get("JAXNAS_NT_ORACLE"):
    return Path(os.environ["JAXNAS_NT_ORACLE"])
  if os.environ.get("JAXNAS_SKIP_NT_ORACLE") == "1":
    pytest.skip("JAXNAS_SKIP_NT_ORACLE=1: live neural-tangents oracle not run")
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
def fixture_kernels():
  return np.load(FIXTURE)


@pytest.fixture(scope="session")
def live_kernels():
  return np.load(_live_oracle_path())


def _compare(kernels, name, dtype):
  """jaxnas's kernels for one model against `kernels`; the worst relative Frobenius error."""
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
        want = kernels[f"{key}|{leaf}"]
        value = np.asarray(value)
        assert value.shape == want.shape, (key, leaf, value.shape, want.shape)
        assert value.dtype == want.dtype, (key, leaf, value.dtype, want.dtype)
        worst[f"{key}|{leaf}"] = np.linalg.norm(value - want) / np.linalg.norm(want)
  bad = {k: v for k, v in worst.items() if not v <= REL_FROBENIUS[dtype]}
  assert not bad, f"relative Frobenius error above {REL_FROBENIUS[dtype]}: {bad}"
  print(f"{name} {dtype}: max relative Frobenius error {max(worst.values()):.2e} over {len(worst)}")


def test_fixture_provenance(fixture_kernels):
  k = fixture_kernels
  assert str(k["nt_version"]) == "0.6.5" and str(k["jax_version"]) == "0.5.3"
  assert str(k["script"]) == "tests/ntk/nt_oracle.py"
  assert str(k["cases_sha256"]) == _cases_sha256(), (
      f"oracle_cases.py changed since {FIXTURE.name} was written; {REGENERATE}")
  wanted = {f"{key}|{leaf}" for key, name, *_ in C.all_cases()
            for leaf in (("logits", "value") if name == "multihead" else ("",))}
  assert len(wanted) == 120
  kernel_fn = {f for f in k.files if any(f.startswith(C.kernel_fn_key(get) + "|")
                                         for get in C.KERNEL_FN_GETS)}
  assert wanted == {f for f in k.files if "|" in f} - kernel_fn


@pytest.mark.parametrize("name,dtype", MODELS)
def test_kernels_match_neural_tangents(fixture_kernels, name, dtype):
  _compare(fixture_kernels, name, dtype)


@pytest.mark.oracle
@pytest.mark.parametrize("name,dtype", MODELS)
def test_kernels_match_live_neural_tangents(live_kernels, name, dtype):
  assert str(live_kernels["nt_version"]) == "0.6.5" and str(live_kernels["jax_version"]) == "0.5.3"
  _compare(live_kernels, name, dtype)


@pytest.mark.oracle
def test_fixture_is_what_the_oracle_writes(fixture_kernels, live_kernels):
  names = sorted(f for f in fixture_kernels.files if "|" in f)
  assert names == sorted(f for f in live_kernels.files if "|" in f)
  for f in names:
    want, got = live_kernels[f], fixture_kernels[f]
    assert got.dtype == want.dtype and got.shape == want.shape, f
    tol = 1e-12 if want.dtype == np.float64 else 1e-6  # another CPU may round differently
    assert np.linalg.norm(got - want) <= tol * np.linalg.norm(want), f


def test_kernel_fn_returns_what_neural_tangents_returns(fixture_kernels):
  """empirical_kernel_fn's result for each `get`: an array, or an EmpiricalKernel namedtuple with
  neural-tangents' fields in its order, holding its kernels."""
  with jax.enable_x64(True):
    f, params, x1, x2 = C.case(*C.KERNEL_FN_MODEL)
    kernel_fn = ntk.empirical_kernel_fn(f)
    for get in C.KERNEL_FN_GETS:
      name = C.kernel_fn_key(get)
      got = kernel_fn(x1, x2, get, params)
      assert type(got).__name__ == str(fixture_kernels[f"{name}|type"]), get
      fields = tuple(str(s) for s in fixture_kernels[f"{name}|fields"])
      assert getattr(got, "_fields", ()) == fields, get
      for field, value in (zip(fields, got) if fields else [("", got)]):
        np.testing.assert_allclose(value, fixture_kernels[f"{name}|{field}"], rtol=1e-10, atol=1e-12)
