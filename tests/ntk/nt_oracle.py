"""Writes neural-tangents 0.6.5's empirical NTKs for oracle_cases to an .npz (run in the side env).

  <side-env python> tests/ntk/nt_oracle.py OUT.npz

The side environment is pinned where neural-tangents still imports (jax==0.5.3, jaxlib==0.5.3,
neural-tangents==0.6.5, about 2.7 GB with TensorFlow). The committed fixture
``tests/ntk/nt_oracle_kernels.npz`` (120 kernels, float64 and float32, and empirical_kernel_fn's
return for five `get` values; 71 KB compressed) was
written by this script in such an environment (Python 3.11, NumPy 2.4, CPU) with::

  python3 -m venv ~/.cache/jaxnas/nt-oracle-venv
  ~/.cache/jaxnas/nt-oracle-venv/bin/pip install jax==0.5.3 jaxlib==0.5.3 neural-tangents==0.6.5
  cd tests/ntk && JAX_PLATFORMS=cpu ~/.cache/jaxnas/nt-oracle-venv/bin/python nt_oracle.py \
      nt_oracle_kernels.npz

Besides the kernels (keys ``oracle_cases.key(...)|leaf``) the file records its provenance:
``nt_version``, ``jax_version``, ``jaxlib_version``, ``numpy_version``, ``python_version``, the
generating ``script`` and the SHA-256 of ``oracle_cases.py`` (``cases_sha256``), which
``test_nt_oracle.py`` checks so that edited cases cannot be compared against stale kernels.
``pytest -m oracle tests/ntk`` rebuilds the side environment and recomputes everything live.
"""

import hashlib
import os
import platform
import sys

import jax

jax.config.update("jax_enable_x64", True)  # this standalone script's own process only

import jaxlib  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oracle_cases as C  # noqa: E402


def cases_sha256() -> str:
  with open(os.path.join(HERE, "oracle_cases.py"), "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def main(out_path):
  kernels = {}
  for key, name, dtype, trace, diagonal, with_x2, impl, vmap in C.all_cases():
    f, params, x1, x2 = C.case(name, dtype)
    fn = nt.empirical_ntk_fn(f, trace_axes=trace, diagonal_axes=diagonal,
                             vmap_axes=0 if vmap else None, implementation=impl)
    k = fn(x1, x2 if with_x2 else None, params)
    leaves = k if isinstance(k, dict) else {"": k}
    for leaf, value in leaves.items():
      kernels[f"{key}|{leaf}"] = np.asarray(value)
  f, params, x1, x2 = C.case(*C.KERNEL_FN_MODEL)
  kernel_fn = nt.empirical_kernel_fn(f)
  for get in C.KERNEL_FN_GETS:
    k = kernel_fn(x1, x2, get, params)
    name = C.kernel_fn_key(get)
    kernels[f"{name}|type"] = np.asarray(type(k).__name__)
    fields = getattr(k, "_fields", ())
    kernels[f"{name}|fields"] = np.asarray(fields, dtype=str)
    for field, value in (zip(fields, k) if fields else [("", k)]):
      kernels[f"{name}|{field}"] = np.asarray(value)
  np.savez_compressed(out_path, nt_version="0.6.5", jax_version=jax.__version__,
                      jaxlib_version=jaxlib.__version__, numpy_version=np.__version__,
                      python_version=platform.python_version(), script="tests/ntk/nt_oracle.py",
                      cases_sha256=cases_sha256(), **kernels)
  print(f"wrote {len(kernels)} kernels to {out_path} (jax {jax.__version__})")


if __name__ == "__main__":
  main(sys.argv[1])
