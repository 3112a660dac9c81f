"""Pure layers: the convolution whose derivatives of every order and mode are plain convolutions."""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.models._layers import conv2d, conv2d_same_grad_layout

from ..conftest import TOL, fast_jit


def _lax_conv(x, kernel, stride, padding):
  return conv2d(x, kernel, stride=stride, padding=padding)


def _derivatives(conv, x, w1, w2, v, stride, padding):
  """Loss, gradient, Hessian-vector product (reverse over reverse, as GraSP) and a third-order
  derivative of a two-layer network; the first layer's input also depends on the weights."""

  def loss(ws, x):
    h = jnp.tanh(conv(x * (1 + jnp.mean(ws[1])), ws[0], stride, padding))
    return jnp.sum(jnp.sin(conv(h, ws[1], 1, 1)) ** 2)

  grad = jax.grad(loss)
  hvp = lambda ws, x: jax.grad(lambda q: sum(jnp.vdot(a, b) for a, b in zip(grad(q, x), v)))(ws)
  third = jax.grad(lambda ws, x: jnp.sum(hvp(ws, x)[0] ** 2), argnums=(0, 1))
  ws = (w1, w2)
  return loss(ws, x), grad(ws, x), hvp(ws, x), third(ws, x)


@pytest.mark.parametrize("size,k,stride,padding", [(8, 3, 1, 1), (7, 3, 2, 1), (8, 1, 2, 0),
                                                   (9, 1, 1, 0), (6, 3, 1, 0), (8, 3, 2, 1)])
def test_conv_derivatives_to_third_order_equal_lax_float64(size, k, stride, padding):
  with jax.enable_x64(True):
    keys = jax.random.split(jax.random.key(size * 100 + k * 10 + stride), 5)
    x = jax.random.normal(keys[0], (2, size, size, 3), jnp.float64)
    w1 = jax.random.normal(keys[1], (k, k, 3, 4), jnp.float64)
    w2 = jax.random.normal(keys[2], (3, 3, 4, 2), jnp.float64)
    v = (jax.random.normal(keys[3], w1.shape, jnp.float64),
         jax.random.normal(keys[4], w2.shape, jnp.float64))
    run = lambda conv: fast_jit(lambda *a: _derivatives(conv, *a, stride, padding))(x, w1, w2, v)
    got, want = run(conv2d_same_grad_layout), run(_lax_conv)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
      assert g.shape == w.shape and g.dtype == w.dtype
      np.testing.assert_allclose(g, w, **TOL["float64"])


@pytest.mark.parametrize("size,k,stride,padding", [(7, 3, 2, 1), (8, 1, 2, 0), (8, 3, 1, 1)])
def test_conv_forward_mode_and_vmap_equal_lax_float64(size, k, stride, padding):
  """jvp of grad (GraSP's forward over reverse), jacfwd, and vmap over inputs or over kernels."""
  with jax.enable_x64(True):
    keys = jax.random.split(jax.random.key(7 * size + k + stride), 4)
    x = jax.random.normal(keys[0], (3, size, size, 2), jnp.float64)
    w = jax.random.normal(keys[1], (k, k, 2, 3), jnp.float64)
    v = jax.random.normal(keys[2], w.shape, jnp.float64)
    ws = jax.random.normal(keys[3], (2,) + w.shape, jnp.float64)

    def all_modes(conv):
      loss = lambda w, x: jnp.sum(jnp.sin(conv(jnp.tanh(x), w, stride, padding)) ** 2)
      grad = jax.grad(loss)
      fwd_over_rev = jax.jvp(lambda w: grad(w, x), (w,), (v,))
      jacfwd = jax.jacfwd(lambda x: conv(x, w, stride, padding))(x[:1])
      over_inputs = jax.vmap(lambda x: jax.jvp(lambda w: grad(w, x), (w,), (v,))[1])(x[:, None])
      over_kernels = jax.vmap(lambda w: jax.grad(loss, argnums=(0, 1))(w, x))(ws)
      return fwd_over_rev, jacfwd, over_inputs, over_kernels

    got, want = fast_jit(lambda: all_modes(conv2d_same_grad_layout))(), fast_jit(
        lambda: all_modes(_lax_conv))()
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for g, w_ in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
      assert g.shape == w_.shape and g.dtype == w_.dtype
      np.testing.assert_allclose(g, w_, **TOL["float64"])


def _conv_layouts(lowered_text: str) -> set:
  return set(re.findall(r"stablehlo.convolution.*?dim_numbers = (.*?), window", lowered_text))


def test_every_derivative_is_a_standard_layout_convolution():
  """XLA:CPU's fast convolution takes NHWC x HWIO -> NHWC; inside a ``lax.switch`` branch it does
  not relayout the others (lax's own transposes), which then run as slow loops."""
  x = jnp.ones((4, 9, 9, 3))
  w = jnp.full((3, 3, 3, 3), 0.1)

  def layouts(conv):
    def loss(w):
      h = jnp.tanh(conv(x, w, 2, 1))
      return jnp.sum(jnp.tanh(conv(h, w, 1, 1)))
    grad = jax.grad(loss)
    programs = [grad, lambda w: jax.jvp(grad, (w,), (w,))[1],
                jax.grad(lambda w: jnp.vdot(grad(w), w)), jax.jacfwd(loss)]
    return set().union(*(_conv_layouts(jax.jit(f).lower(w).as_text()) for f in programs))

  standard = "[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]"
  assert layouts(conv2d_same_grad_layout) == {standard}
  assert len(layouts(_lax_conv)) > 1


def test_conv_keeps_float32_kernel_gradients_for_bfloat16_activations():
  x = jnp.ones((2, 6, 6, 3), jnp.bfloat16)
  w = jnp.full((3, 3, 3, 4), 0.1, jnp.float32)
  g = jax.grad(lambda w: jnp.sum(conv2d_same_grad_layout(x, w, 2, 1).astype(jnp.float32)))(w)
  assert g.dtype == jnp.float32
  want = jax.grad(lambda w: jnp.sum(_lax_conv(x, w, 2, 1).astype(jnp.float32)))(w)
  np.testing.assert_allclose(g, want, rtol=1e-2)


def _direct_macs(lowered_text: str) -> int:
  """Multiply-adds of every convolution of a StableHLO module done as a direct loop over its padded
  input (what XLA:CPU runs): output elements x kernel taps x input channels."""
  total = 0
  for line in lowered_text.splitlines():
    m = re.search(r"stablehlo.convolution.*x\[([^\]]*)\]->.*: \(tensor<([\dx]+)x\w+>, "
                  r"tensor<([\dx]+)x\w+>\) -> tensor<([\dx]+)x\w+>", line)
    if m is None:
      assert "stablehlo.convolution" not in line, line
      continue
    rhs_labels = [d.strip() for d in m.group(1).split(",")]
    rhs = [int(d) for d in m.group(3).split("x")]
    out = [int(d) for d in m.group(4).split("x")]
    total += math.prod(out) * math.prod(rhs) // rhs[rhs_labels.index("o")]
  return total


def test_hessian_vector_product_costs_a_fraction_of_laxs_on_a_feature_map():
  """Reverse over reverse through lax's conv differentiates its kernel-gradient convolution into a
  convolution whose kernel is the whole map over a 3x3 input padded by the map's size; here that
  derivative is B_x or F, about as costly as the forward convolution."""
  x = jnp.ones((8, 32, 32, 16))
  w = jnp.full((3, 3, 16, 16), 0.01)

  def macs(conv):
    loss = lambda w: jnp.sum(jnp.tanh(conv(jnp.tanh(conv(x, w, 1, 1)), w, 1, 1)))
    hvp = jax.grad(lambda w: jnp.vdot(jax.grad(loss)(w), w))
    return _direct_macs(jax.jit(hvp).lower(w).as_text())

  forward = 8 * 32 * 32 * 9 * 16 * 16
  ours, lax = macs(conv2d_same_grad_layout), macs(_lax_conv)
  assert ours <= 14 * forward < lax / 5, (ours / forward, lax / forward)
