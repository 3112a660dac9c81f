"""Empirical neural tangent kernels with neural-tangents' API (``empirical_ntk_fn`` & co.), native JAX.

Switch from neural-tangents by changing the import::

  from jaxnas import ntk as nt          # instead of: import neural_tangents as nt
  ntk_fn = nt.empirical_ntk_fn(model.apply, trace_axes=(-1,))

On CPU, convolutional models' kernels compute about 1.5x faster (jaxlib 0.10) when compiled with
jaxnas's CPU options (see :func:`jaxnas.population.compiler_options`)::

  options = jaxnas.population.compiler_options(batch_size=len(x1))
  kernel = jax.jit(ntk_fn, compiler_options=options)(x1, None, params)
"""

from ._empirical import NtkImplementation as NtkImplementation
from ._empirical import batch as batch
from ._empirical import empirical_kernel_fn as empirical_kernel_fn
from ._empirical import empirical_nngp_fn as empirical_nngp_fn
from ._empirical import empirical_ntk_fn as empirical_ntk_fn
from ._empirical import empirical_ntk_vp_fn as empirical_ntk_vp_fn

from . import _empirical

DEFAULT_NTK_IMPLEMENTATION = _empirical.DEFAULT_NTK_IMPLEMENTATION
"""``NtkImplementation.JACOBIAN_CONTRACTION``: the default ``implementation`` of every kernel function."""

__all__ = [
    "DEFAULT_NTK_IMPLEMENTATION", "NtkImplementation", "batch", "empirical_kernel_fn",
    "empirical_nngp_fn", "empirical_ntk_fn", "empirical_ntk_vp_fn",
]
