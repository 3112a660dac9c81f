"""Empirical neural tangent kernels with neural-tangents' API (``empirical_ntk_fn`` & co.), native JAX.

## Guide

`jaxnas.ntk` has neural-tangents' empirical API (`empirical_ntk_fn`, `empirical_nngp_fn`,
`empirical_kernel_fn`, `empirical_ntk_vp_fn`, `NtkImplementation.JACOBIAN_CONTRACTION` /
`NTK_VECTOR_PRODUCTS`, `trace_axes`, `diagonal_axes`, `vmap_axes`) on current JAX, so code written
for neural-tangents (whose last release does not import on JAX >= 0.6) runs after changing the
import, and `ntk.batch` computes large kernels in tiles to bound memory:

```python
from jaxnas import ntk as nt                       # instead of: import neural_tangents as nt
kernel = nt.empirical_ntk_fn(model.apply, trace_axes=())(x1, None, variables, mutable=["batch_stats"])
```

`vmap_axes` is refused with a `ValueError` when `f` couples the batch (train-mode BatchNorm, i.e. a
`mutable` collection, or, for concrete inputs, an output that moves when another sample changes).

On CPU, convolutional models' kernels compute faster when compiled with jaxnas's CPU options (see
:func:`jaxnas.population.compiler_options`)::

  options = jaxnas.population.compiler_options(batch_size=len(x1))
  kernel = jax.jit(ntk_fn, compiler_options=options)(x1, None, params)

Correctness: the tests compare 120 kernels (an MLP, a CNN with pooling, a residual block and a
two-headed model; trace/diagonal variants, x2 = None or not, ``vmap_axes``, both implementations,
float32 and float64) with neural-tangents 0.6.5's own, committed as a fixture
(``tests/ntk/nt_oracle_kernels.npz``; ``pytest -m oracle`` recomputes them live in a pinned side
environment). ``notebooks/ntk_study.ipynb`` shows MLP and NB201 NTK spectra and condition numbers.
Not implemented: neural-tangents' third method, STRUCTURED_DERIVATIVES. Speed against
neural-tangents and the errors: `benchmarks/README.md` (empirical NTK) and
``benchmarks/results/ntk_speed.md``.
"""

from ._empirical import NtkImplementation as NtkImplementation
from ._empirical import batch as batch
from ._empirical import empirical_kernel_fn as empirical_kernel_fn
from ._empirical import empirical_nngp_fn as empirical_nngp_fn
from ._empirical import empirical_ntk_fn as empirical_ntk_fn
from ._empirical import empirical_ntk_vp_fn as empirical_ntk_vp_fn

from . import _empirical

DEFAULT_NTK_IMPLEMENTATION = _empirical.DEFAULT_NTK_IMPLEMENTATION
"""``NtkImplementation.JACOBIAN_CONTRACTION``: the default ``implementation`` of every kernel
function."""

__all__ = [
    "DEFAULT_NTK_IMPLEMENTATION", "NtkImplementation", "batch", "empirical_kernel_fn",
    "empirical_nngp_fn", "empirical_ntk_fn", "empirical_ntk_vp_fn",
]
