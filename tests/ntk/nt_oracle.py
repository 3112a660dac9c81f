"""Writes neural-tangents 0.6.5's empirical NTKs for oracle_cases to an .npz (run in the side env).

  <side-env python> tests/ntk/nt_oracle.py OUT.npz

The side environment is pinned where neural-tangents still imports (jax==0.5.3, jaxlib==0.5.3,
neural-tangents==0.6.5); tests/ntk/test_nt_oracle.py creates it and compares jaxnas against OUT.
"""

import os
import sys

import jax

jax.config.update("jax_enable_x64", True)  # this standalone script's own process only

import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_cases as C  # noqa: E402


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
  np.savez(out_path, jax_version=jax.__version__, nt_version="0.6.5", **kernels)
  print(f"wrote {len(kernels)} kernels to {out_path} (jax {jax.__version__})")


if __name__ == "__main__":
  main(sys.argv[1])
