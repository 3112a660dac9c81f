"""Pure layer functions (PyTorch semantics, NHWC) and the Flax modules that declare their variables.

Ops are pure functions of explicit parameter dicts so the same code runs in the exact networks and
inside ``lax.switch`` branches of the masked supernet. Flax modules here only *declare* variables
(with PyTorch's default initialisers) and hand them to the pure functions.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import flax.linen as nn
import flax.struct
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
from jax.interpreters import ad, batching, mlir

from jaxnas._tree import STACK_SUFFIX as STACK_SUFFIX  # cells stacked by nn.scan

BN_EPS = 1e-5
BN_MOMENTUM = 0.1  # PyTorch convention: running = (1 - m) * running + m * batch


@flax.struct.dataclass
class Activation:
  """A ReLU's input captured during a forward pass (``capture=True``).

  Attributes:
    pre: the ReLU input, shape (batch, ...). The ReLU output is ``max(pre, 0)``.
    weight: how many ReLU modules of the network read exactly this tensor (a traced scalar in the
      supernet, 0 when the ReLU is absent from the selected architecture).
    wrapped: True when the ReLU sits inside a ReLU-conv-BN block. NASWOT's reference hooks both the
      block and its inner ReLU, so it counts these twice. (Static.)
    kind: the activation function's name in :data:`jaxnas.protocol.ACTIVATIONS` ("relu" in every
      jaxnas network so far). (Static.)
    mask: None (every unit is live) or a bool array over the last (channel) axis of `pre`: False
      on channels the architecture does not have (channel-masked supernets hold zeros there).
      Proxies read live units through ``jaxnas.proxies._base.live_units``.
  """

  pre: jax.Array
  weight: jax.Array
  wrapped: bool = flax.struct.field(pytree_node=False, default=True)
  kind: str = flax.struct.field(pytree_node=False, default="relu")
  mask: Any = None


@flax.struct.dataclass
class Output:
  """A module output captured during a forward pass (``capture="outputs"``).

  One record per distinct tensor that a PyTorch forward hook registered on *every* module of the
  reference network (``named_modules()``) would see, with the number of modules that output it:
  a ReLU-conv-BN block's BN output is also the output of the block's ``nn.Sequential`` and of the
  block itself (weight 3). Outputs that such a hook could only see as a vector per sample (global
  pooling, flattened features, logits) are not captured. MeCo reads these.

  Attributes:
    value: the tensor, (batch, H, W, C).
    weight: how many modules of the reference network output this tensor (a traced scalar in the
      supernet, 0 where the selected architecture does not run the module).
    block: how many of them are ReLU-conv-BN block modules (xautodl / zero-cost-nas
      ``ReLUConvBN``): the tag RBFleX-NAS selects block outputs by (traced in the supernet).
  """

  value: jax.Array
  weight: jax.Array
  block: jax.Array = flax.struct.field(default_factory=lambda: jnp.zeros((), jnp.int32))


# ---------------------------------------------------------------------------------------------
# Initialisers (PyTorch defaults)
# ---------------------------------------------------------------------------------------------
def fan_in(shape) -> int:
  """Fan-in of an HWIO conv kernel or an (in, out) dense kernel."""
  return int(np.prod(shape[:-1]))


def kaiming_uniform(key, shape, dtype=jnp.float32):
  """PyTorch's default conv/linear weight init: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))."""
  bound = 1.0 / math.sqrt(fan_in(shape))
  return jax.random.uniform(key, shape, dtype, -bound, bound)


def fan_in_uniform(fan: int):
  """PyTorch's default bias init: U(+-1/sqrt(fan_in of the layer's weight))."""
  bound = 1.0 / math.sqrt(fan)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


# ---------------------------------------------------------------------------------------------
# Pure ops
# ---------------------------------------------------------------------------------------------
def conv2d(x, kernel, *, stride: int = 1, padding: int = 0, bias=None,
           same_grad_layout: bool = False):
  """NHWC/HWIO convolution (PyTorch's Conv2d with symmetric `padding`); `same_grad_layout` runs it
  through :func:`conv2d_same_grad_layout` (same values, derivatives XLA:CPU runs faster in
  ``lax.switch`` branches)."""
  if same_grad_layout:
    y = conv2d_same_grad_layout(x, kernel, stride, padding)
  else:
    y = _conv(x, kernel, stride, padding)
  if bias is not None:
    y = y + bias.astype(y.dtype)
  return y


_NHWC = ("NHWC", "HWIO", "NHWC")


def conv2d_same_grad_layout(x, kernel, stride: int, padding: int):
  """NHWC/HWIO convolution whose derivatives of every order and mode are again plain convolutions.

  Numerically the convolution of :func:`conv2d` (no bias). A convolution y = F(x, K) has two
  partners, the input gradient dx = B_x(dy, K) and the kernel gradient dK = B_K(x, dy); all three
  are bilinear and the derivatives of each are the other two (for instance
  ``d<G, B_K(x, dy)>/dx = B_x(dy, G)`` and ``/ddy = F(x, G)``). Here each of the three is a JAX
  primitive whose JVP is its bilinear expansion and whose transposes are the other two, and each
  lowers to one convolution in the standard layout (B_x: the flipped, in/out-swapped kernel over
  the stride-dilated gradient; B_K: the transposed input against the transposed gradient, batch
  as the contracted channel). So ``grad``, ``jvp``, ``vmap`` and any composition of them
  (GraSP's Hessian-vector product, forward over reverse) work and stay standard-layout
  convolutions; under ``vmap`` the batched operation is lax's.

  Its reason to exist is XLA:CPU speed (measured, benchmarks/results/throughput_nb201.md).
  (1) XLA:CPU brings only the top-level convolutions of a program into the layout its fast
  convolution takes; inside a ``lax.switch`` branch (or a loop body) the backward convolutions
  that JAX's own transpose rules emit stay as they are and run as a loop ~20x slower (12 s
  instead of 0.6 s for one NB201 stage's backward; GraSP forward over reverse 4.0 s instead of
  0.3 s per cell at batch 16). (2) Differentiating JAX's kernel-gradient convolution in reverse
  mode (GraSP's Hessian-vector product, reverse over reverse) gives a convolution whose kernel is
  the whole feature map, over a 3x3 input padded by the map's size: for a 32x32 map, ~100x the
  multiply-adds needed. Here that derivative is B_x or F instead.
  """
  return _conv_p.bind(x, kernel, stride=stride, padding=padding)


def _conv(x, kernel, stride, padding):
  return jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (stride, stride),
                                      [(padding, padding)] * 2, dimension_numbers=_NHWC)


def _conv_input_grad(dy, kernel, stride, padding, in_hw):
  """B_x: the gradient with respect to the (in_hw-sized) input of a convolution with `kernel`."""
  pads = [(k - 1 - padding, h + padding - (o - 1) * stride - 1)
          for k, h, o in zip(kernel.shape[:2], in_hw, dy.shape[1:3])]
  flipped = jnp.swapaxes(jnp.flip(kernel, (0, 1)), 2, 3).astype(dy.dtype)
  return jax.lax.conv_general_dilated(dy, flipped, (1, 1), pads, lhs_dilation=(stride, stride),
                                      dimension_numbers=_NHWC)


def _conv_kernel_grad(x, dy, stride, padding, k_hw):
  """B_K: dK[a, b, i, o] = sum_{n,h,w} xpad[n, s*h + a, s*w + b, i] dy[n, h, w, o], a convolution
  with the batch as the contracted channel axis and the input channels as the batch."""
  pads = [(padding, k + (o - 1) * stride - h - padding)
          for k, h, o in zip(k_hw, x.shape[1:3], dy.shape[1:3])]
  dk = jax.lax.conv_general_dilated(
      jnp.transpose(x, (3, 1, 2, 0)), jnp.transpose(dy, (1, 2, 0, 3)).astype(x.dtype), (1, 1),
      pads, rhs_dilation=(stride, stride), dimension_numbers=_NHWC)
  return jnp.transpose(dk, (1, 2, 0, 3))


def _bilinear_primitive(name: str, impl):
  """A primitive computing `impl(a, b, **params)`: evaluated, lowered and batched as `impl`."""
  prim = jax.extend.core.Primitive(name)
  prim.def_impl(impl)

  def abstract_eval(a, b, **params):
    out = jax.eval_shape(functools.partial(impl, **params), a, b)
    return jax.core.ShapedArray(out.shape, out.dtype)

  def batch(args, dims, **params):
    return jax.vmap(functools.partial(impl, **params), in_axes=dims)(*args), 0

  prim.def_abstract_eval(abstract_eval)
  mlir.register_lowering(prim, mlir.lower_fun(impl, multiple_results=False))
  batching.primitive_batchers[prim] = batch
  return prim


_conv_p = _bilinear_primitive(
    "jaxnas_conv", lambda x, k, *, stride, padding: _conv(x, k, stride, padding))
_input_grad_p = _bilinear_primitive(
    "jaxnas_conv_input_grad",
    lambda dy, k, *, stride, padding, in_hw: _conv_input_grad(dy, k, stride, padding, in_hw))
_kernel_grad_p = _bilinear_primitive(
    "jaxnas_conv_kernel_grad",
    lambda x, dy, *, stride, padding, k_hw: _conv_kernel_grad(x, dy, stride, padding, k_hw))


def _aval(v):
  """Shape and dtype of a transpose rule's operand: a value, or the (co)tangent slot of an unknown."""
  return getattr(v, "aval", v)


def _input_grad(dy, kernel, stride, padding, in_hw):
  return _input_grad_p.bind(dy, kernel, stride=stride, padding=padding, in_hw=tuple(in_hw))


def _kernel_grad(x, dy, stride, padding, k_hw):
  return _kernel_grad_p.bind(x, dy, stride=stride, padding=padding, k_hw=tuple(k_hw))


# Transposes: <F(x, K), G> = <x, B_x(G, K)> = <K, B_K(x, G)>, each cast to its primal's dtype.
ad.defbilinear(
    _conv_p,
    lambda g, x, k, *, stride, padding: _input_grad(
        g, k, stride, padding, _aval(x).shape[1:3]).astype(_aval(x).dtype),
    lambda g, x, k, *, stride, padding: _kernel_grad(
        x, g, stride, padding, _aval(k).shape[:2]).astype(_aval(k).dtype))
ad.defbilinear(
    _input_grad_p,
    lambda g, dy, k, *, stride, padding, in_hw: conv2d_same_grad_layout(
        g, k, stride, padding).astype(_aval(dy).dtype),
    lambda g, dy, k, *, stride, padding, in_hw: _kernel_grad(
        g, dy, stride, padding, _aval(k).shape[:2]).astype(_aval(k).dtype))
ad.defbilinear(
    _kernel_grad_p,
    lambda g, x, dy, *, stride, padding, k_hw: _input_grad(
        dy, g, stride, padding, _aval(x).shape[1:3]).astype(_aval(x).dtype),
    lambda g, x, dy, *, stride, padding, k_hw: conv2d_same_grad_layout(
        x, g, stride, padding).astype(_aval(dy).dtype))


def batch_norm(x, params, stats, *, train: bool, mask=None):
  """BatchNorm2d with PyTorch semantics over NHWC `x`.

  Train mode (or no running statistics) normalises with the biased batch variance; running
  statistics are updated with momentum 0.1 and the *unbiased* batch variance, as PyTorch does.
  `mask` (C,) restricts the update to live channels (masked supernets).

  Returns (y, new_stats) where new_stats is None when `stats` is None.
  """
  if train or stats is None:
    mean = jnp.mean(x, axis=(0, 1, 2))
    centred = x - mean
    # c * c, not jnp.square(c): the linearisation of square keeps 2c as a second activation-sized
    # residual, c * c only c itself, which y needs anyway (the switch supernet outputs every such
    # residual from its cond branches: 11-17% of an NB201 gradient at batch 64; exact nets unchanged).
    var = jnp.mean(centred * centred, axis=(0, 1, 2))
  else:
    mean, var = stats["mean"].astype(x.dtype), stats["var"].astype(x.dtype)
    centred = x - mean
  y = centred * jax.lax.rsqrt(var + BN_EPS)
  if params is not None:
    y = y * params["scale"].astype(x.dtype) + params["bias"].astype(x.dtype)
  new_stats = stats
  if stats is not None and train:
    n = x.shape[0] * x.shape[1] * x.shape[2]
    unbiased = var * (n / max(n - 1, 1))
    new_mean = (1 - BN_MOMENTUM) * stats["mean"] + BN_MOMENTUM * mean.astype(stats["mean"].dtype)
    new_var = (1 - BN_MOMENTUM) * stats["var"] + BN_MOMENTUM * unbiased.astype(stats["var"].dtype)
    if mask is not None:
      new_mean = jnp.where(mask, new_mean, stats["mean"])
      new_var = jnp.where(mask, new_var, stats["var"])
    new_stats = {"mean": new_mean, "var": new_var}
  return y, new_stats


def avg_pool_3x3(x):
  """AvgPool2d(3, stride=1, padding=1, count_include_pad=False).

  The 3x3 window sum is a 3x1 then a 1x3 window sum: on XLA:CPU 2.7x faster than one 3x3 window
  forward, 4.3x with the backward pass (a (64, 32, 32, 16) batch; up to 7x on smaller maps)."""
  zero = np.zeros((), x.dtype)
  summed = jax.lax.reduce_window(x, zero, jax.lax.add, (1, 3, 1, 1), (1, 1, 1, 1),
                                 [(0, 0), (1, 1), (0, 0), (0, 0)])
  summed = jax.lax.reduce_window(summed, zero, jax.lax.add, (1, 1, 3, 1), (1, 1, 1, 1),
                                 [(0, 0), (0, 0), (1, 1), (0, 0)])
  h, w = x.shape[1], x.shape[2]
  ones = np.pad(np.ones((h, w)), 1)
  counts = sum(ones[i:i + h, j:j + w] for i in range(3) for j in range(3))
  return summed / jnp.asarray(counts[None, :, :, None], x.dtype)


def avg_pool_2x2(x):
  """AvgPool2d(2, stride=2)."""
  summed = jax.lax.reduce_window(x, np.zeros((), x.dtype), jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1),
                                 "VALID")
  return summed * jnp.asarray(0.25, x.dtype)


# ---------------------------------------------------------------------------------------------
# Variable declarations
# ---------------------------------------------------------------------------------------------
#: Collection of per-sample output gates: ``gates[...]['gate']`` of shape (batch, C_out) multiplies
#: the output of the conv/linear layer declared in the same module (1 = the plain network). The
#: gradient of a loss with respect to a gate is ``sum_{h,w} z * dL/dz`` per sample and channel, z the
#: layer output: the quantity Fisher pruning (Theis et al. 2018) needs. Gates exist only when the
#: caller passes this collection (or makes it mutable to create it).
GATES = "gates"


def _declare_gate(module: nn.Module, batch: int | None, cout: int, dtype):
  if batch is None or not (module.has_variable(GATES, "gate") or module.is_mutable_collection(GATES)):
    return None
  return module.variable(GATES, "gate", jnp.ones, (batch, cout), dtype).value


def apply_gate(y, p):
  """Multiply a conv (NHWC) or linear (NC) output by its gate when the layer has one."""
  gate = p.get("gate")
  if gate is None:
    return y
  gate = gate.astype(y.dtype)
  return y * gate.reshape(gate.shape[:1] + (1,) * (y.ndim - 2) + gate.shape[1:])


#: Collection of per-sample weight offsets: ``deltas[...]['delta']`` holds, for the conv/linear
#: layer declared in the same module, ``{'kernel': (batch, *kernel.shape)}`` and, where the layer
#: has a bias, ``'bias': (batch, C_out)``. Sample n's output of the layer is computed with
#: ``kernel + delta['kernel'][n]`` (and ``bias + delta['bias'][n]``), so at zero offsets the network
#: is unchanged and the gradient of any objective with respect to ``delta[...][n]`` is sample n's
#: contribution to the layer's weight gradient, batch coupling (train-mode BatchNorm) included:
#: the per-sample gradients of autograd-hacks (``grad1``) that HNAS's NTK trace norm reads.
DELTAS = "deltas"


def _declare_delta(module: nn.Module, batch: int | None, shapes: dict, dtype):
  if batch is None or not (module.has_variable(DELTAS, "delta") or module.is_mutable_collection(DELTAS)):
    return None
  zeros = lambda: {k: jnp.zeros((batch,) + tuple(s), dtype) for k, s in shapes.items()}
  return module.variable(DELTAS, "delta", zeros).value


#: Collection of cell-input probes: ``probes[...]['input']``, shaped like the input of the cell or
#: ResNet block declared there (stacked cells carry the stacking axis first). With probes the block
#: computes on ``stop_gradient(input) + probe``: the forward pass is unchanged at zero probes, and
#: the gradient of ``sum_i <g_i, output_i>`` with respect to probe i is block i's own
#: vector-Jacobian product ``J_i^T g_i`` for every block at once (no gradient flows from one block
#: into the blocks before it). AZ-NAS's trainability reads these. Probes exist only when the caller
#: passes this collection (or makes it mutable to create it).
PROBES = "probes"


def probe_input(module: nn.Module, x, name: str = "input"):
  """`x`, or ``stop_gradient(x) + probe`` when `module` declares a :data:`PROBES` leaf `name`."""
  if not (module.has_variable(PROBES, name) or module.is_mutable_collection(PROBES)):
    return x
  probe = module.variable(PROBES, name, jnp.zeros, x.shape, x.dtype).value
  return jax.lax.stop_gradient(x) + probe.astype(x.dtype)


def per_sample_conv2d(x, kernels, *, stride: int = 1, padding: int = 0):
  """Sample n of NHWC `x` convolved with its own HWIO kernel ``kernels[n]``, shape (N, kh, kw, I, O).

  Written as one batched matrix product per kernel tap over strided views of the padded input:
  XLA:CPU runs this and its gradients about 30-90x faster than ``vmap`` of a convolution over
  per-sample kernels, which it lowers to a grouped convolution (measured: 0.08 s against 7.3 s
  for the forward and backward of a 64 x 32 x 32 x 16 batch with 3x3 kernels).
  """
  _, kh, kw, _, _ = kernels.shape
  xp = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  ho = (x.shape[1] + 2 * padding - kh) // stride + 1
  wo = (x.shape[2] + 2 * padding - kw) // stride + 1
  out = None
  for a in range(kh):
    for b in range(kw):
      view = xp[:, a:a + stride * (ho - 1) + 1:stride, b:b + stride * (wo - 1) + 1:stride, :]
      term = jnp.einsum("nhwi,nio->nhwo", view, kernels[:, a, b])
      out = term if out is None else out + term
  return out


def apply_delta(y, x, p, *, stride: int = 1, padding: int = 0):
  """Add sample n's layer output under its weight offsets, ``layer(x[n], delta[n])``, to `y`.

  `x` is the layer's input (NHWC for a conv, (N, C_in) for a linear layer); no-op when the layer
  has no offsets (:data:`DELTAS`).
  """
  d = p.get("delta")
  if d is None:
    return y
  k = d["kernel"].astype(y.dtype)
  if x.ndim == 4:
    extra = per_sample_conv2d(x.astype(y.dtype), k, stride=stride, padding=padding)
  else:
    extra = jnp.einsum("ni,nio->no", x.astype(y.dtype), k)
  if "bias" in d:
    b = d["bias"].astype(y.dtype)
    extra = extra + b.reshape(b.shape[:1] + (1,) * (y.ndim - 2) + b.shape[1:])
  return y + extra


class ConvDecl(nn.Module):
  """Declares a conv kernel (HWIO) and optional bias with PyTorch default init (and its gate)."""

  cin: int
  cout: int
  k: int
  use_bias: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, batch: int | None = None):
    shape = (self.k, self.k, self.cin, self.cout)
    p = {"kernel": self.param("kernel", kaiming_uniform, shape, self.dtype)}
    if self.use_bias:
      p["bias"] = self.param("bias", fan_in_uniform(fan_in(shape)), (self.cout,), self.dtype)
    gate = _declare_gate(self, batch, self.cout, self.dtype)
    if gate is not None:
      p["gate"] = gate
    delta = _declare_delta(self, batch, {k: v.shape for k, v in p.items() if k != "gate"}, self.dtype)
    if delta is not None:
      p["delta"] = delta
    return p


class DenseDecl(nn.Module):
  cin: int
  cout: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, batch: int | None = None):
    shape = (self.cin, self.cout)
    p = {
        "kernel": self.param("kernel", kaiming_uniform, shape, self.dtype),
        "bias": self.param("bias", fan_in_uniform(self.cin), (self.cout,), self.dtype),
    }
    gate = _declare_gate(self, batch, self.cout, self.dtype)
    if gate is not None:
      p["gate"] = gate
    delta = _declare_delta(self, batch, {"kernel": shape, "bias": (self.cout,)}, self.dtype)
    if delta is not None:
      p["delta"] = delta
    return p


class BNDecl(nn.Module):
  """Declares BatchNorm variables: params scale/bias if affine, batch_stats mean/var if tracked."""

  c: int
  affine: bool = True
  track: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self):
    p = None
    if self.affine:
      p = {"scale": self.param("scale", nn.initializers.ones, (self.c,), self.dtype),
           "bias": self.param("bias", nn.initializers.zeros, (self.c,), self.dtype)}
    s = None
    if self.track:
      mean = self.variable("batch_stats", "mean", jnp.zeros, (self.c,), self.dtype)
      var = self.variable("batch_stats", "var", jnp.ones, (self.c,), self.dtype)
      s = {"mean": mean, "var": var}
    return p, s


def read_stats(s):
  return None if s is None else {k: v.value for k, v in s.items()}


def write_stats(module: nn.Module, s, new) -> None:
  """Store updated running statistics when the caller made 'batch_stats' mutable."""
  if s is None or new is None or not module.is_mutable_collection("batch_stats"):
    return
  for k in s:
    s[k].value = new[k]


class ConvBNSpec(NamedTuple):
  """Static description of a (ReLU ->) conv -> BN block (xautodl ``ReLUConvBN`` and kin)."""

  cin: int
  cout: int
  k: int
  stride: int = 1
  conv_bias: bool = False
  bn: bool = True  # False: no BN at all (zero-cost-nas ``use_bn=False`` cells)
  bn_affine: bool = True
  bn_track: bool = True
  relu: bool = True  # False for FactorizedReduce(stride=1): conv -> BN only

  @property
  def padding(self) -> int:
    return self.k // 2


class ConvBNDecl(nn.Module):
  """Declares a :class:`ConvBNSpec` block's variables: {'conv': ..., 'bn': ...} and BN stats."""

  spec: ConvBNSpec
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, batch: int | None = None):
    sp = self.spec
    p = {"conv": ConvDecl(sp.cin, sp.cout, sp.k, sp.conv_bias, self.dtype, name="conv")(batch)}
    s = None
    if sp.bn:
      bp, s = BNDecl(sp.cout, sp.bn_affine, sp.bn_track, self.dtype, name="bn")()
      if bp is not None:
        p["bn"] = bp
    return p, s


def conv_bn(spec: ConvBNSpec, p, stats, x, *, train: bool, mask=None,
            same_grad_layout: bool = False, with_conv: bool = False):
  """Pure forward of a :class:`ConvBNSpec` block. Returns (y, new_stats).

  `same_grad_layout` runs the convolution through :func:`conv2d_same_grad_layout` (the 'switch'
  supernet does, for every convolution). `with_conv` also returns the convolution's output
  (before BN): (y, new_stats, z).
  """
  if spec.relu:
    x = jax.nn.relu(x)
  y = conv2d(x, p["conv"]["kernel"], stride=spec.stride, padding=spec.padding,
             bias=p["conv"].get("bias"), same_grad_layout=same_grad_layout)
  y = apply_delta(y, x, p["conv"], stride=spec.stride, padding=spec.padding)
  y = apply_gate(y, p["conv"])
  z = y
  if spec.bn:
    y, stats = batch_norm(y, p.get("bn"), stats, train=train, mask=mask)
  if with_conv:
    return y, stats, z
  return y, stats


def run_conv_bn(module: nn.Module, spec: ConvBNSpec, x, *, train: bool, name: str, dtype,
                mask=None, with_conv: bool = False, same_grad_layout: bool = False):
  """Declare the block's variables under `name` in `module`, run it and store stats updates.

  Returns y, or (y, z) with `with_conv` (z: the convolution's output before BN)."""
  p, s = ConvBNDecl(spec, dtype, name=name)(x.shape[0])
  y, new, z = conv_bn(spec, p, read_stats(s), x, train=train, mask=mask, with_conv=True,
                      same_grad_layout=same_grad_layout)
  write_stats(module, s, new)
  return (y, z) if with_conv else y


def conv_bn_outputs(spec: ConvBNSpec, x, z, y, live=1) -> list:
  """The :class:`Output` records of one (ReLU ->) conv -> BN block run on `x` (conv output `z`,
  block output `y`), as hooks on every PyTorch module see them: the ReLU's output once, the
  conv's once, and the block output also as the output of the wrapping ``nn.Sequential`` and of
  the block module (xautodl / zero-cost-nas ``ReLUConvBN``). A block without ReLU is a stride-1
  ``FactorizedReduce`` (conv, BN, block). `live` (0/1, may be traced) scales every weight."""
  one = jnp.asarray(live, jnp.int32)
  outs = []
  if spec.relu:
    outs.append(Output(jax.nn.relu(x), one))
  if spec.bn:
    outs.append(Output(z, one))
  outs.append(Output(y, one * (3 if spec.relu else 2), one * int(spec.relu)))
  return outs
