"""Fixed pure-JAX models, parameters and inputs shared by the neural-tangents oracle and its test.

Imported by two environments: jaxnas's (current JAX) and the pinned side environment where
neural-tangents 0.6.5 runs (JAX 0.5.3). Only jax.numpy / jax.lax are used, and every number comes
from NumPy's legacy RandomState, so both sides see identical parameters and inputs.
"""

from __future__ import annotations

import numpy as np

import jax
import jax.numpy as jnp

DN = ("NHWC", "HWIO", "NHWC")


def _conv(x, w):
  return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DN)


def mlp(p, x):
  h = jnp.tanh(x @ p["w1"] + p["b1"])
  h = jnp.tanh(h @ p["w2"] + p["b2"])
  return h @ p["w3"] + p["b3"]


def cnn(p, x):
  h = jax.nn.relu(_conv(x, p["c1"]))
  h = jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4.0
  h = jax.nn.relu(_conv(h, p["c2"]))
  return h.reshape(h.shape[0], -1) @ p["w"]


def resblock(p, x):
  h = _conv(x, p["c0"])
  r = _conv(jax.nn.relu(_conv(jax.nn.relu(h), p["c1"])), p["c2"])
  h = h + r
  return jnp.mean(jax.nn.relu(h), axis=(1, 2)) @ p["w"] + p["b"]


def multihead(p, x):
  h = jnp.tanh(x @ p["w"])
  return {"logits": h @ p["a"], "value": jnp.sin(h @ p["v"])}


SPECS = {  # name -> (f, {param: shape}, input shape without batch)
    "mlp": (mlp, {"w1": (5, 16), "b1": (16,), "w2": (16, 16), "b2": (16,), "w3": (16, 3),
                  "b3": (3,)}, (5,)),
    "cnn": (cnn, {"c1": (3, 3, 2, 4), "c2": (3, 3, 4, 4), "w": (4 * 3 * 3, 4)}, (6, 6, 2)),
    "resblock": (resblock, {"c0": (3, 3, 2, 4), "c1": (3, 3, 4, 4), "c2": (3, 3, 4, 4),
                            "w": (4, 3), "b": (3,)}, (5, 5, 2)),
    "multihead": (multihead, {"w": (4, 8), "a": (8, 3), "v": (8, 2)}, (4,)),
}

# (trace_axes, diagonal_axes, x2 given?)
AXES = [((-1,), (), True), ((), (), True), ((), (-1,), True), ((-1,), (0,), False),
        ((), (), False)]
IMPLEMENTATIONS = (1, 2)  # JACOBIAN_CONTRACTION, NTK_VECTOR_PRODUCTS (neural-tangents' ints)
DTYPES = ("float64", "float32")


# `get` arguments of empirical_kernel_fn whose return types (array, EmpiricalKernel namedtuple and
# its fields) the oracle records, on KERNEL_FN_MODEL (an array output).
KERNEL_FN_GETS = (None, ("nngp", "ntk"), ("NTK", "nngp"), "ntk", ("ntk",))
KERNEL_FN_MODEL = ("mlp", "float64")


def kernel_fn_key(get) -> str:
  return f"kernel_fn|{get!r}"


def case(name: str, dtype: str):
  """(f, params, x1, x2) with params ~ N(0, 1/fan_in) and inputs ~ N(0, 1), all from RandomState."""
  f, shapes, in_shape = SPECS[name]
  rng = np.random.RandomState(sum(map(ord, name)))
  params = {}
  for k in sorted(shapes):
    s = shapes[k]
    fan_in = int(np.prod(s[:-1])) if len(s) > 1 else 1
    params[k] = jnp.asarray(rng.normal(size=s) / np.sqrt(fan_in), dtype)
  x1 = jnp.asarray(rng.normal(size=(4,) + in_shape), dtype)
  x2 = jnp.asarray(rng.normal(size=(3,) + in_shape), dtype)
  return f, params, x1, x2


def key(name, dtype, trace, diagonal, with_x2, impl, vmap=False):
  return (f"{name}|{dtype}|t{','.join(map(str, trace))}|d{','.join(map(str, diagonal))}|"
          f"{'x2' if with_x2 else 'sym'}|i{impl}|{'vmap' if vmap else 'novmap'}")


def all_cases():
  """Every (key, name, dtype, trace, diagonal, with_x2, impl, vmap) the oracle computes."""
  out = []
  for dtype in DTYPES:
    for name in SPECS:
      for trace, diagonal, with_x2 in AXES:
        for impl in IMPLEMENTATIONS:
          out.append((key(name, dtype, trace, diagonal, with_x2, impl), name, dtype, trace,
                      diagonal, with_x2, impl, False))
      # These models treat samples independently, so vmap_axes=0 is legitimate.
      for impl in IMPLEMENTATIONS:
        out.append((key(name, dtype, (-1,), (), True, impl, True), name, dtype, (-1,), (), True,
                    impl, True))
  return out
