"""Empirical (finite-width) NTK and NNGP kernels with neural-tangents' API, on current JAX.

The vocabulary and output layout are those of ``neural_tangents.empirical_ntk_fn`` (neural-tangents
0.6.5, ``neural_tangents/_src/empirical.py``), so code written for it runs after changing the import:

* ``f(params, x, **kwargs)`` is the function (Flax ``model.apply`` works as is); its output may be an
  array or a pytree of arrays (one kernel per output leaf; cross-leaf terms are ignored, as there).
* ``trace_axes``: output axes contracted and averaged over (the kernel is divided by their size);
  ``diagonal_axes``: output axes of which only the diagonal (x1 entry i with x2 entry i) is kept.
  The result has shape ``zip(f(x1).shape, f(x2).shape)`` with traced axes removed and diagonal axes
  present once, e.g. ``(N1, N2)`` for logits ``(N, K)`` with the default ``trace_axes=(-1,)``,
  ``(N1, N2, K, K)`` with ``trace_axes=()`` and ``(N1, N2, K)`` with ``diagonal_axes=(-1,)``.
* ``x2=None`` means ``x2 = x1`` and reuses the Jacobian of x1 (the symmetric fast path).
* ``vmap_axes`` certifies that ``f`` treats the batch elements independently, so per-sample Jacobians
  can be taken under ``vmap``. It is refused for functions that couple the batch (train-mode
  BatchNorm): see :func:`empirical_ntk_fn`.
"""

from __future__ import annotations

import collections
import enum
import functools
import operator
from typing import Any, Callable, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

Axes = Union[int, Sequence[int]]

VMAP_COUPLED_MSG = (
    "`vmap_axes` promises that f(params, x)[i] depends on x[i] only, but {why}. With batch-coupled "
    "functions (train-mode BatchNorm, anything that reduces over the batch) per-sample Jacobians "
    "differ from rows of the batched Jacobian and the kernel would be silently wrong. Pass "
    "vmap_axes=None (the default), or evaluate the network in a batch-independent mode (e.g. "
    "BatchNorm with running statistics)."
)


class NtkImplementation(enum.IntEnum):
  """How the empirical NTK is computed (Novak et al. 2022, "Fast Finite Width Neural Tangent Kernel").

  Both give the same kernel up to floating-point rounding; they trade memory and FLOPs differently.
  With P parameters, O outputs per input and a forward pass costing F:

  Attributes:
    JACOBIAN_CONTRACTION: (``1``, the default) materialises the Jacobian of each batch by
      reverse mode (O vector-Jacobian products) and contracts the two Jacobians leaf by leaf.
      Memory O*P per batch; best when outputs are few and the forward pass is expensive relative to
      P (CNNs). The simplest, most reliable method.
    NTK_VECTOR_PRODUCTS: (``2``) computes the kernel row by row without forming a Jacobian: the
      NTK-vector product ``delta -> J1 J2^T delta`` (a vector-Jacobian product through the x2
      batch, then a Jacobian-vector product through the x1 batch) is transposed with
      ``jax.linear_transpose`` and applied to each basis vector of f(x1)'s outputs, as
      neural-tangents does. Costs O1 VJPs + O1 JVPs and memory of one VJP; best for many outputs
      or cheap forward passes (MLPs). Needs forward-mode differentiation of ``f``
      (``jax.jvp``): jaxnas's ``switch`` supernet does not provide it (use exact networks or
      ``supernet_impl="mask"``).
  """

  JACOBIAN_CONTRACTION = 1
  NTK_VECTOR_PRODUCTS = 2


DEFAULT_NTK_IMPLEMENTATION = NtkImplementation.JACOBIAN_CONTRACTION


def _canonical_axes(axes: Axes, ndim: int, name: str) -> tuple[int, ...]:
  axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
  out = []
  for a in axes:
    if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
      raise ValueError(f"`{name}` must hold axes of the {ndim}-d output of f, got {axes}.")
    out.append(int(a) % ndim)
  if len(set(out)) != len(out):
    raise ValueError(f"`{name}` names an axis twice: {axes}.")
  return tuple(sorted(out))


def _zip_axes(x, start: int):
  """(..., A, B, C, A', B', C') -> (..., A, A', B, B', C, C') for the axes from `start` on."""
  half = (x.ndim - start) // 2
  first = list(range(start, start + half))
  second = list(range(start + half, x.ndim))
  order = list(range(start)) + [a for pair in zip(first, second) for a in pair]
  return jnp.transpose(x, order)


def _result_diagonal_positions(trace: Sequence[int], diagonal: Sequence[int]) -> list[int]:
  """Where each diagonal axis sits in the zipped result (each earlier free axis holds two slots)."""
  positions = []
  for i, d in enumerate(diagonal):
    free_before = d - sum(1 for t in trace if t < d) - i  # non-traced, non-diagonal axes before d
    positions.append(2 * free_before + i)
  return positions


#: Contracted length per step of :func:`_gram`: long contractions run as a loop of such products.
GRAM_CHUNK = 65536


def _gram(m1, m2):
  """``einsum('dfc,dgc->dfg')``, the contracted axis c taken in chunks of :data:`GRAM_CHUNK`.

  XLA:CPU (JAX 0.10) runs one product with a very long contracted axis (an NTK's parameter axis,
  millions long) at a third of the speed of a loop accumulating products over slices of it:
  measured 1.57 s against 0.70 s for a (64, 4M) x (4M, 64) product. Zero padding makes the slices
  even; it adds nothing to the sums.
  """
  c = m1.shape[-1]
  if c <= 2 * GRAM_CHUNK:
    return jnp.einsum("dfc,dgc->dfg", m1, m2)
  steps = -(-c // GRAM_CHUNK)
  pad = [(0, 0), (0, 0), (0, steps * GRAM_CHUNK - c)]
  m1, m2 = jnp.pad(m1, pad), jnp.pad(m2, pad)

  def step(i, acc):
    a = jax.lax.dynamic_slice_in_dim(m1, i * GRAM_CHUNK, GRAM_CHUNK, 2)
    b = jax.lax.dynamic_slice_in_dim(m2, i * GRAM_CHUNK, GRAM_CHUNK, 2)
    return acc + jnp.einsum("dfc,dgc->dfg", a, b)

  init = jnp.zeros(m1.shape[:2] + m2.shape[1:2], jnp.result_type(m1, m2))
  return jax.lax.fori_loop(0, steps, step, init)


def _contract(j1, j2, n_out: int, trace: Sequence[int], diagonal: Sequence[int]):
  """sum_p j1[o1.., p..] j2[o2.., p..] over parameter axes and traced axes, in NT's layout.

  Laid out as (batched) matrix products with the contracted axes flattened last (:func:`_gram`):
  XLA:CPU runs that about 3x faster than a dot_general contracting the axes in place (measured on
  JAX 0.10).
  """
  free = [a for a in range(n_out) if a not in trace and a not in diagonal]
  order = list(diagonal) + free + list(trace) + list(range(n_out, j1.ndim))

  def as_matrix(j):
    j = jnp.transpose(j, order)
    d_shape = j.shape[:len(diagonal)]
    f_shape = j.shape[len(diagonal):len(diagonal) + len(free)]
    return j.reshape(int(np.prod(d_shape)), int(np.prod(f_shape)), -1), d_shape, f_shape

  m1, d_shape, f1 = as_matrix(j1)
  m2, _, f2 = as_matrix(j2)
  prod = _gram(m1, m2).reshape(d_shape + f1 + f2)
  prod = _zip_axes(prod, len(diagonal))
  return jnp.moveaxis(prod, tuple(range(len(diagonal))), _result_diagonal_positions(trace, diagonal))


def _trace_and_diagonal(k, n_out: int, trace: Sequence[int], diagonal: Sequence[int]):
  """A full kernel (o1.., o2..) reduced to NT's layout (traces summed; diagonals kept once)."""
  letters = "abcdefghijklmnopqrstuvwxyz"
  first = [letters[a] for a in range(n_out)]
  second = [letters[a] if a in trace or a in diagonal else letters[n_out + a] for a in range(n_out)]
  out = []
  for a in range(n_out):
    if a in diagonal:
      out.append(letters[a])
    elif a not in trace:
      out += [letters[a], letters[n_out + a]]
  return jnp.einsum(f"{''.join(first + second)}->{''.join(out)}", k)


def _size(shape, axes) -> int:
  return functools.reduce(operator.mul, (shape[a] for a in axes), 1)


def _split_kwargs(kwargs: dict, x2_given: bool):
  """neural-tangents' convention: a 2-tuple kwarg is (for x1, for x2); anything else is shared."""
  kw1, kw2 = {}, {}
  for k, v in kwargs.items():
    if isinstance(v, tuple) and len(v) == 2 and x2_given:
      kw1[k], kw2[k] = v
    elif isinstance(v, tuple) and len(v) == 2:
      kw1[k] = kw2[k] = v[0]
    else:
      kw1[k] = kw2[k] = v
  return kw1, kw2


def _outputs(f, params, x, kwargs):
  """f's output without the extra state Flax returns when collections are mutable."""
  out = f(params, x, **kwargs)
  if "mutable" in kwargs and kwargs["mutable"] not in (False, None) and isinstance(out, tuple):
    out = out[0]
  return out


def _vmap_triple(vmap_axes, kwargs):
  if vmap_axes is None:
    return None
  if isinstance(vmap_axes, tuple) and len(vmap_axes) == 3:
    x_axis, fx_axis, kw_axes = vmap_axes
  else:
    x_axis, fx_axis, kw_axes = vmap_axes, vmap_axes, {}
  for name, ax in (("in_axes", x_axis), ("out_axes", fx_axis)):
    if not isinstance(ax, (int, np.integer)):
      raise TypeError(f"`vmap_axes` {name} must be an int (one batch axis for every leaf), got "
                      f"{ax!r}.")
  if not isinstance(kw_axes, dict):
    raise TypeError(f"`vmap_axes` kwargs_axes must be a dict, got {type(kw_axes).__name__}.")
  if "mutable" in kwargs and kwargs["mutable"] not in (False, None, (), []):
    raise ValueError(VMAP_COUPLED_MSG.format(
        why=f"f is called with mutable={kwargs['mutable']!r}, i.e. in training mode, where "
            "BatchNorm normalises with batch statistics"))
  return int(x_axis), int(fx_axis), {k: int(v) for k, v in kw_axes.items()}


def _check_vmap_independence(f, params, x, kwargs, triple):
  """When inputs are concrete, verify that sample 0's output does not depend on the others.

  Up to three samples are used and samples 1 and 2 are both moved: with only two samples a
  batch standardisation maps every pair to (+-1, -+1), so moving sample 1 alone may leave
  output 0 exactly where it was."""
  x_axis, fx_axis, kw_axes = triple
  leaves = jax.tree.leaves((x, params, kwargs))
  if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
    return  # under jit: the `mutable` check above is all that can be done without values
  n = min(jax.tree.leaves(x)[0].shape[x_axis], 3)
  if n < 2:
    return
  take = lambda a, ax: jax.lax.slice_in_dim(a, 0, n, axis=ax)
  xs = jax.tree.map(lambda a: take(a, x_axis), x)
  kw = {k: (jax.tree.map(lambda a, ax=kw_axes[k]: take(a, ax), v) if k in kw_axes else v)
        for k, v in kwargs.items()}
  before = _outputs(f, params, xs, kw)

  def move(a):  # sample 0 kept, sample 1 -> -3 x + 1, sample 2 -> x / 2 - 2
    shape = [1] * a.ndim
    shape[x_axis] = n
    scale = np.array([1.0, -3.0, 0.5][:n]).reshape(shape)
    shift = np.array([0.0, 1.0, -2.0][:n]).reshape(shape)
    return (a * scale + shift).astype(a.dtype)

  moved = _outputs(f, params, jax.tree.map(move, xs), kw)
  first = lambda t: jax.tree.map(lambda a: jnp.take(a, 0, axis=fx_axis), t)
  for a, b in zip(jax.tree.leaves(first(before)), jax.tree.leaves(first(moved))):
    if not np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6):
      raise ValueError(VMAP_COUPLED_MSG.format(
          why=f"changing inputs 1..{n - 1} changed output 0 (checked on the first {n} inputs)"))


def _per_sample_fn(f, kwargs, triple):
  """``g(params, x_i, kwargs_i)`` on one sample: the batch axis restored with size 1, then dropped
  from the output. `kwargs` are the keywords shared by all samples."""
  x_axis, fx_axis, kw_axes = triple

  def g(p, xi, kwi):
    expand = lambda t, ax: jax.tree.map(lambda a: jnp.expand_dims(a, ax), t)
    kwi = {k: expand(v, kw_axes[k]) for k, v in kwi.items()}
    out = _outputs(f, p, expand(xi, x_axis), {**kwargs, **kwi})
    return jax.tree.map(lambda a: jnp.squeeze(a, fx_axis), out)

  return g


def empirical_ntk_fn(f: Callable, trace_axes: Axes = (-1,), diagonal_axes: Axes = (),
                     vmap_axes=None,
                     implementation: Union[NtkImplementation, int] = DEFAULT_NTK_IMPLEMENTATION
                     ) -> Callable:
  r"""Returns ``ntk_fn(x1, x2, params, **apply_fn_kwargs)``: the empirical NTK of ``f``.

  .. math:: \Theta(x_1, x_2) = \frac{1}{|T|} \sum_{t \in T} J_t(x_1) J_t(x_2)^\top,
     \qquad J = \partial f / \partial \theta

  summed over every parameter leaf, with T the traced output axes (neural-tangents' convention,
  which divides by their size). Semantics and output layout are neural-tangents 0.6.5's
  ``empirical_ntk_fn`` (module docstring); the implementation is native JAX.

  Args:
    f: ``f(params, x, **kwargs)`` returning an array or a pytree of arrays. Flax: pass
      ``model.apply`` and the variables dict as params; for train-mode BatchNorm pass
      ``mutable=['batch_stats']`` as a keyword (the returned state is dropped).
    trace_axes: output axes to contract (and average) over, e.g. the logits axis. Static.
    diagonal_axes: output axes of which only the diagonal is kept. Static.
    vmap_axes: None (default: ``f`` may couple the batch) or the batch axis (int, or the triple
      ``(in_axes, out_axes, kwargs_axes)``) certifying that ``f`` handles samples independently,
      which lets Jacobians be taken per sample. Refused with ``ValueError`` when ``f`` is called
      with a ``mutable`` collection (train-mode BatchNorm), and, when the inputs are concrete (not
      traced by ``jit``), when perturbing sample 1 changes sample 0's output.
    implementation: an :class:`NtkImplementation`.

  Returns:
    ``ntk_fn(x1, x2, params, **apply_fn_kwargs)``; ``x2=None`` means ``x2 = x1``. A keyword given
    as a 2-tuple is split into the values for x1 and x2 (neural-tangents' ``split_kwargs``).
  """
  try:
    implementation = NtkImplementation(implementation)
  except ValueError:
    raise ValueError(f"`implementation` must be one of {[m.name for m in NtkImplementation]}, got "
                     f"{implementation!r}.") from None

  def ntk_fn(x1, x2, params, **apply_fn_kwargs):
    kw1, kw2 = _split_kwargs(apply_fn_kwargs, x2 is not None)
    triple = _vmap_triple(vmap_axes, apply_fn_kwargs)
    fx1 = jax.eval_shape(lambda p, x: _outputs(f, p, x, kw1), params, x1)
    fx2 = fx1 if x2 is None else jax.eval_shape(lambda p, x: _outputs(f, p, x, kw2), params, x2)
    axes = [(_canonical_axes(trace_axes, a.ndim, "trace_axes"),
             _canonical_axes(diagonal_axes, a.ndim, "diagonal_axes")) for a in jax.tree.leaves(fx1)]
    for (t, d), a, b in zip(axes, jax.tree.leaves(fx1), jax.tree.leaves(fx2)):
      if set(t) & set(d):
        raise ValueError(f"`trace_axes` {trace_axes} and `diagonal_axes` {diagonal_axes} overlap.")
      if a.ndim != b.ndim or any(a.shape[i] != b.shape[i] for i in t + d):
        raise ValueError(f"f(x1) {a.shape} and f(x2) {b.shape} must agree on the traced and "
                         f"diagonal axes {t + d}.")
    if triple is not None:
      _check_vmap_independence(f, params, x1, kw1, triple)
    if implementation == NtkImplementation.JACOBIAN_CONTRACTION:
      return _ntk_jacobian_contraction(f, params, x1, x2, kw1, kw2, fx1, axes, triple)
    return _ntk_vector_products(f, params, x1, x2, kw1, kw2, fx1, fx2, axes, triple)

  return ntk_fn


def _jacobian(f, params, x, kwargs, triple):
  """Jacobian pytree: output-tree of params-trees, leaves (out shape + param shape)."""
  if triple is None:
    return jax.jacrev(lambda p: _outputs(f, p, x, kwargs))(params)
  x_axis, fx_axis, kw_axes = triple
  g = _per_sample_fn(f, {k: v for k, v in kwargs.items() if k not in kw_axes}, triple)
  kwi = {k: kwargs[k] for k in kw_axes}
  jac = jax.vmap(lambda xi, kw: jax.jacrev(lambda p: g(p, xi, kw))(params),
                 in_axes=(x_axis, {k: kw_axes[k] for k in kwi}), out_axes=fx_axis)
  return jac(x, kwi)


def _ntk_jacobian_contraction(f, params, x1, x2, kw1, kw2, fx1, axes, triple):
  j1 = _jacobian(f, params, x1, kw1, triple)
  j2 = j1 if x2 is None else _jacobian(f, params, x2, kw2, triple)
  out_leaves, out_def = jax.tree.flatten(fx1)
  j1_leaves = out_def.flatten_up_to(j1)
  j2_leaves = out_def.flatten_up_to(j2)
  kernels = []
  for fx, (t, d), a, b in zip(out_leaves, axes, j1_leaves, j2_leaves):
    terms = [_contract(u, v, fx.ndim, t, d) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))]
    kernels.append(functools.reduce(operator.add, terms) / _size(fx.shape, t))
  return jax.tree.unflatten(out_def, kernels)


def _ntk_columns(f1, f2, params, fx1, fx2, leaf):
  """NTK-vector products for output leaf `leaf`: (size of f1's leaf, *shape of f2's leaf).

  neural-tangents' formulation: the linear map ``delta -> J1 J2^T delta`` (a VJP through f2, then a
  JVP through f1) is transposed with ``jax.linear_transpose`` and the transpose applied to the
  standard basis of f1's outputs under ``vmap``. Same kernel as mapping the basis of f2's outputs
  through the map itself, but XLA:CPU runs the transposed program faster (measured on JAX 0.10:
  1.6 s against 2.6 s for the MLP of ``benchmarks/ntk.py``).

  On CPU the basis is mapped in blocks (:func:`_basis_blocks`), one ``vmap`` per block, unrolled.
  """
  def vjp_jvp(delta):
    return jax.jvp(f1, (params,), jax.vjp(f2, params)[1](delta))[1]

  transposed = jax.linear_transpose(vjp_jvp, fx2)
  leaves1, def1 = jax.tree.flatten(fx1)
  a = leaves1[leaf]

  def column(e):
    basis = [jnp.zeros(o.shape, o.dtype) for o in leaves1]
    basis[leaf] = e.reshape(a.shape).astype(a.dtype)
    return jax.tree.leaves(transposed(jax.tree.unflatten(def1, basis))[0])[leaf]

  eye = jnp.eye(a.size, dtype=a.dtype)
  return jnp.concatenate([jax.vmap(column)(eye[lo:hi]) for lo, hi in _basis_blocks(a.size)])


#: NTK-vector products on CPU: basis vectors per ``vmap`` block, and the most blocks per kernel.
VP_BLOCK = 16
VP_MAX_BLOCKS = 32


def _basis_blocks(size: int) -> list[tuple[int, int]]:
  """Slices of the output basis mapped by one ``vmap`` each (:func:`_ntk_columns`).

  On CPU, blocks of :data:`VP_BLOCK` basis vectors (larger when that would make more than
  :data:`VP_MAX_BLOCKS` blocks, which bounds the unrolled program): each block's batched
  activations (basis x batch x feature map) stay small enough for the cache, where one ``vmap``
  over the whole basis has XLA:CPU spend a third of its time transposing them in memory. Measured
  on JAX 0.10 by ``benchmarks/ntk.py``: its CNN (320 basis vectors, 20 blocks) takes 0.67-0.68 s
  against 0.78-0.80 s in one ``vmap``, its MLP (640, 32 blocks) the same time either way;
  compilation takes 0.8-1 s instead of 0.2, XLA's temporary buffers 562 and 724 MiB instead of
  763 and 814 (``memory_analysis``). Elsewhere (GPU, TPU: not measured) one ``vmap`` over the
  whole basis, as neural-tangents does.
  """
  if jax.default_backend() != "cpu":
    return [(0, size)]
  step = max(VP_BLOCK, -(-size // VP_MAX_BLOCKS))
  return [(lo, min(lo + step, size)) for lo in range(0, size, step)]


def _ntk_vector_products(f, params, x1, x2, kw1, kw2, fx1, fx2, axes, triple):
  if triple is not None:
    return _ntk_vector_products_vmapped(f, params, x1, x2, kw1, kw2, fx1, axes, triple)
  f1 = lambda p: _outputs(f, p, x1, kw1)
  f2 = f1 if x2 is None else (lambda p: _outputs(f, p, x2, kw2))
  out1, out_def = jax.tree.flatten(fx1)
  out2 = jax.tree.leaves(fx2)
  kernels = []
  for leaf, (a, b, (t, d)) in enumerate(zip(out1, out2, axes)):
    full = _ntk_columns(f1, f2, params, fx1, fx2, leaf).reshape(a.shape + b.shape)
    kernels.append(_trace_and_diagonal(full, a.ndim, t, d) / _size(a.shape, t))
  return jax.tree.unflatten(out_def, kernels)


def _ntk_vector_products_vmapped(f, params, x1, x2, kw1, kw2, fx1, axes, triple):
  """Pairs of single samples (neural-tangents' vmap over both batches), then NT's layout."""
  x_axis, fx_axis, kw_axes = triple
  x2 = x1 if x2 is None else x2
  g1 = _per_sample_fn(f, {k: v for k, v in kw1.items() if k not in kw_axes}, triple)
  g2 = _per_sample_fn(f, {k: v for k, v in kw2.items() if k not in kw_axes}, triple)
  k1 = {k: kw1[k] for k in kw_axes}
  k2 = {k: kw2[k] for k in kw_axes}

  def pair(xi, xj, ki, kj):
    fi = lambda p: g1(p, xi, ki)
    fj = lambda p: g2(p, xj, kj)
    fxi, fxj = jax.eval_shape(fi, params), jax.eval_shape(fj, params)
    result = []
    for leaf, (a, b) in enumerate(zip(jax.tree.leaves(fxi), jax.tree.leaves(fxj))):
      cols = _ntk_columns(fi, fj, params, fxi, fxj, leaf)  # (size_i, *shape_j)
      result.append(cols.reshape(a.shape + b.shape))
    return result

  inner = jax.vmap(pair, in_axes=(x_axis, None, {k: kw_axes[k] for k in k1}, None))
  outer = jax.vmap(inner, in_axes=(None, x_axis, None, {k: kw_axes[k] for k in k2}))
  blocks = outer(x1, x2, k1, k2)  # leaves: (N2, N1, *out_i, *out_j) with batch axes removed
  out_leaves, out_def = jax.tree.flatten(fx1)
  kernels = []
  for fx, (t, d), blk in zip(out_leaves, axes, blocks):
    m = fx.ndim - 1  # per-sample output rank
    blk = jnp.moveaxis(blk, (0, 1), (m + 1 + fx_axis, fx_axis))  # batch axes back in place
    kernels.append(_trace_and_diagonal(blk, fx.ndim, t, d) / _size(fx.shape, t))
  return jax.tree.unflatten(out_def, kernels)


def empirical_nngp_fn(f: Callable, trace_axes: Axes = (-1,), diagonal_axes: Axes = ()) -> Callable:
  """Returns ``nngp_fn(x1, x2, params, **kwargs)``: the outer product of outputs, f(x1) f(x2)^T.

  Same axes conventions and layout as :func:`empirical_ntk_fn` (traced axes are averaged).
  """

  def nngp_fn(x1, x2, params, **apply_fn_kwargs):
    kw1, kw2 = _split_kwargs(apply_fn_kwargs, x2 is not None)
    out1 = _outputs(f, params, x1, kw1)
    out2 = out1 if x2 is None else _outputs(f, params, x2, kw2)

    def kernel(a, b):
      t = _canonical_axes(trace_axes, a.ndim, "trace_axes")
      d = _canonical_axes(diagonal_axes, a.ndim, "diagonal_axes")
      return _contract(a, b, a.ndim, t, d) / _size(a.shape, t)

    return jax.tree.map(kernel, out1, out2)

  return nngp_fn


KERNELS = ("nngp", "ntk")


@functools.lru_cache(maxsize=None)
def _kernel_tuple(fields: tuple[str, ...]):
  """The ``EmpiricalKernel`` namedtuple class for `fields` (one class per field order, cached so
  that results of repeated calls share a type, as neural-tangents' ``_named_tuple_factory``)."""
  return collections.namedtuple("EmpiricalKernel", fields)


def _canonical_get(get) -> tuple[bool, tuple[str, ...]]:
  """(single, names) for `get`, as neural-tangents' ``utils.canonicalize_get``: None means both
  kernels (returned as a namedtuple), names are lower-cased, empty or repeated names are errors."""
  if get is None:
    return False, KERNELS
  single = isinstance(get, str)
  try:
    names = (get,) if single else tuple(get)
  except TypeError:
    raise TypeError(f"`get` must be None, a kernel name or a tuple of names among {KERNELS}, got "
                    f"{get!r}.") from None
  if not names:
    raise ValueError(f"`get` must name at least one kernel among {KERNELS}, got {get!r}.")
  if not all(isinstance(g, str) for g in names):
    raise TypeError(f"`get` must hold kernel names (str) among {KERNELS}, got {get!r}.")
  names = tuple(g.lower() for g in names)
  unknown = [g for g in names if g not in KERNELS]
  if unknown:
    raise ValueError(f"`get` must name kernels among {KERNELS}, got {get!r}.")
  if len(set(names)) < len(names):
    raise ValueError(f"`get` must not repeat a kernel, got {get!r}.")
  return single, names


def empirical_kernel_fn(f: Callable, trace_axes: Axes = (-1,), diagonal_axes: Axes = (),
                        vmap_axes=None,
                        implementation: Union[NtkImplementation, int] = DEFAULT_NTK_IMPLEMENTATION
                        ) -> Callable:
  """Returns ``kernel_fn(x1, x2, get, params, **kwargs)`` giving the NNGP and/or NTK by name.

  Return types are neural-tangents' (``utils.get_namedtuple('EmpiricalKernel')`` on
  ``empirical.py``'s ``kernel_fn``), so code written for it runs unchanged: ``get='nngp'`` or
  ``'ntk'`` returns that kernel; a tuple of names returns an ``EmpiricalKernel`` namedtuple with
  those fields in that order (``k.ntk``, ``nngp, ntk = k``); ``get=None`` means
  ``('nngp', 'ntk')``. Names are case-insensitive; empty or repeated names raise ValueError. When
  ``f`` returns a pytree of arrays, each leaf's kernels form one namedtuple, in ``f``'s output
  structure.
  """
  fns = {"nngp": empirical_nngp_fn(f, trace_axes, diagonal_axes),
         "ntk": empirical_ntk_fn(f, trace_axes, diagonal_axes, vmap_axes, implementation)}

  def kernel_fn(x1, x2, get, params, **apply_fn_kwargs):
    single, names = _canonical_get(get)
    out = [fns[g](x1, x2, params, **apply_fn_kwargs) for g in names]
    if single:
      return out[0]
    cls = _kernel_tuple(names)
    return jax.tree.map(lambda *kernels: cls(*kernels), *out)

  return kernel_fn


def empirical_ntk_vp_fn(f: Callable, x1, x2, params, **apply_fn_kwargs) -> Callable:
  """Returns ``ntk_vp(cotangents)`` = NTK(x1, x2) @ cotangents without forming the NTK.

  ``cotangents`` has the shape (and tree structure) of ``f(params, x2)``; the result has that of
  ``f(params, x1)``. One vector-Jacobian product through the x2 batch and one Jacobian-vector
  product through the x1 batch (neural-tangents' ``empirical_ntk_vp_fn``; no trace/diagonal axes).
  """
  kw1, kw2 = _split_kwargs(apply_fn_kwargs, x2 is not None)
  f1 = lambda p: _outputs(f, p, x1, kw1)
  f2 = f1 if x2 is None else (lambda p: _outputs(f, p, x2, kw2))

  def ntk_vp(cotangents):
    _, pullback = jax.vjp(f2, params)
    return jax.jvp(f1, (params,), pullback(cotangents))[1]

  return ntk_vp


def batch(kernel_fn: Callable, batch_size: int) -> Callable:
  """Bounds memory by computing a kernel in ``batch_size`` x ``batch_size`` tiles of (x1, x2).

  ``kernel_fn(x1, x2, *args, **kwargs)`` is any of the kernel functions above whose output leaves
  start with the (N1, N2) batch axes (the batch axis neither traced nor diagonal). Tiles are
  computed one after another (each call can be jitted: same tile shapes compile once; the last
  tile is padded) and assembled on the host as NumPy arrays, so peak device memory is one tile's.
  Only valid when ``f`` treats samples independently: tiling a batch-coupled function (train-mode
  BatchNorm) changes its outputs, so there this raises like ``vmap_axes`` does.
  """
  if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
    raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}.")

  def tiled(x1, x2, *args, **kwargs):
    if "mutable" in kwargs and kwargs["mutable"] not in (False, None, (), []):
      raise ValueError(VMAP_COUPLED_MSG.format(why="tiling splits the batch and f is called with "
                                                   f"mutable={kwargs['mutable']!r}")
                       .replace("`vmap_axes` promises", "`batch` needs"))
    symmetric = x2 is None
    x2 = x1 if symmetric else x2
    n1, n2 = jax.tree.leaves(x1)[0].shape[0], jax.tree.leaves(x2)[0].shape[0]
    pad = lambda x, n: jax.tree.map(
        lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], (-n) % batch_size, axis=0)]), x)
    p1, p2 = pad(x1, n1), pad(x2, n2)
    rows = []
    for i in range(0, n1, batch_size):
      a = jax.tree.map(lambda t: t[i:i + batch_size], p1)
      cols = []
      for j in range(0, n2, batch_size):
        b = jax.tree.map(lambda t: t[j:j + batch_size], p2)
        cols.append(jax.tree.map(np.asarray, kernel_fn(a, b, *args, **kwargs)))
      rows.append(jax.tree.map(lambda *c: np.concatenate(c, axis=1), *cols))
    full = jax.tree.map(lambda *r: np.concatenate(r, axis=0), *rows)
    return jax.tree.map(lambda k: k[:n1, :n2], full)

  return tiled
