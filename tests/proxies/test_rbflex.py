"""RBFleX-NAS and its hyperparameter detection (HDA) against naive float64 and 60-digit
re-implementations (explicit loops over images, feature columns, sample pairs), supernet vs exact
network, degenerate cells, and error messages."""

import decimal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models
from jaxnas.proxies import Batch
from jaxnas.proxies import _rbflex as rb

from ..conftest import TOL, fast_jit

TINY = {"C": 4, "N": 1}
ARCH = (3, 2, 4, 3, 1, 3)
# Widths at which the 8x8, C=4 network's kernels are well conditioned (gamma * D ~ 1).
WIDE = (1e-3, 0.3)


def _images(n, seed=1, dtype=jnp.float64):
  return jax.random.normal(jax.random.key(seed), (n, 8, 8, 3), dtype)


def _init(net, seed=0):
  """float64 variables drawn with NumPy from the variable shapes (no init program to compile):
  kernels U(+-1/sqrt(fan_in)) as PyTorch, BN scale U(0.5, 1.5) and bias N(0, 0.1^2) so that the
  affine parameters matter, running statistics 0/1."""
  rng = np.random.default_rng(seed)

  def draw(path, s):
    name = str(getattr(path[-1], "key", path[-1]))
    if name == "kernel":
      b = 1 / np.sqrt(np.prod(s.shape[-4 if len(s.shape) >= 4 else -2:-1]))
      return jnp.asarray(rng.uniform(-b, b, s.shape))
    if name in ("scale", "var"):
      return jnp.asarray(rng.uniform(0.5, 1.5, s.shape) if name == "scale" else np.ones(s.shape))
    return jnp.asarray(rng.normal(0, 0.1, s.shape) if name == "bias" else np.zeros(s.shape))

  return jax.tree_util.tree_map_with_path(draw, net.variable_shapes((1, 8, 8, 3)))


def _captures(net, v, x):
  """(ReLU inputs, module outputs) of one forward pass of `x`: (array, weight) pairs."""
  (_, acts), (_, outs) = net(v, x, capture=True), net(v, x, capture="outputs")
  return ([(a.pre, jnp.asarray(a.weight)) for a in acts],
          [(o.value, jnp.asarray(o.weight)) for o in outs])


def _numpy(records, per_image=False):
  """NumPy float64 (tensor, int weight) pairs; `per_image` drops vmap's singleton batch axis."""
  out = []
  for group in records:
    out.append([(np.asarray(t[:, 0] if per_image else t, np.float64),
                 int(np.ravel(w)[0])) for t, w in group])
  return out


def naive_features(acts, outs):
  """Per sample: x = every ReLU module's output (a ReLU input read by w ReLU modules appears w
  times) then every ReLU-conv-BN block output (the outputs three modules share), concatenated;
  y = the classifier input (spatial mean of the head ReLU, the last ReLU)."""
  n = acts[0][0].shape[0]
  xs, ys = [], []
  for i in range(n):
    parts = []
    for pre, w in acts:
      parts += [np.maximum(pre[i], 0).ravel()] * w
    parts += [val[i].ravel() for val, w in outs if w == 3]
    xs.append(np.concatenate(parts))
    ys.append(np.maximum(acts[-1][0][i], 0).mean(axis=(0, 1)))
  return np.stack(xs), np.stack(ys)


def naive_normalize(x):
  """The reference's ``normalize(x, axis=0)``, line by line."""
  x_min = x.min(axis=0, keepdims=True)
  x_max = x.max(axis=0, keepdims=True)
  x_max[x_max == x_min] = 1
  x_min[x_max == x_min] = 0
  return (x - x_min) / (x_max - x_min)


def naive_sqdist(x):
  n = x.shape[0]
  return np.array([[np.sum((x[i] - x[j]) ** 2) for j in range(n)] for i in range(n)])


def naive_score(xs, ys, gk, gq):
  """Explicit kernels exp(-gamma D) and float64 slogdet, as the reference."""
  dk, dq = naive_sqdist(naive_normalize(xs)), naive_sqdist(naive_normalize(ys))
  return len(xs) * (np.linalg.slogdet(np.exp(-gk * dk))[1] + np.linalg.slogdet(np.exp(-gq * dq))[1])


def decimal_logdet(d, gamma, digits=60):
  """log det exp(-gamma D) in `digits`-digit decimal arithmetic (Gaussian elimination)."""
  with decimal.localcontext() as ctx:
    ctx.prec = digits
    g = decimal.Decimal(float(gamma))
    k = [[(-g * decimal.Decimal(float(v))).exp() for v in row] for row in d]
    det = decimal.Decimal(1)
    n = len(k)
    for c in range(n):
      p = max(range(c, n), key=lambda r: abs(k[r][c]))
      if p != c:
        k[c], k[p] = k[p], k[c]
        det = -det
      det *= k[c][c]
      for r in range(c + 1, n):
        f = k[r][c] / k[c][c]
        k[r] = [a - f * b for a, b in zip(k[r], k[c])]
    return float(abs(det).ln())


@pytest.fixture(scope="module")
def exact():
  """Score, HDA and the captures (each image alone, and the batch together) of the exact ARCH
  network in float64, from one compiled program (the widths are traced)."""
  with jax.enable_x64(True):
    net = models.nb201_network(ARCH, dtype=jnp.float64, **TINY)
    v = _init(net)
    x = _images(6)

    def run(v, x, gk, gq):
      b = Batch(x)
      return {"score": rb.rbflex(net, v, b, None, gamma_k=gk, gamma_q=gq),
              "hda": rb.rbflex_hda(net, v, b),
              "per_image": jax.vmap(lambda xi: _captures(net, v, xi[None]))(x),
              "together": _captures(net, v, x)}

    f = fast_jit(run)
    out = {w: f(v, x, jnp.float64(w[0]), jnp.float64(w[1]))
           for w in (WIDE, (rb.GAMMA_K, rb.GAMMA_Q))}
    perm = f(v, x[::-1], jnp.float64(WIDE[0]), jnp.float64(WIDE[1]))["score"]
  first = out[WIDE]
  return {"score": {w: o["score"] for w, o in out.items()},
          "hda": first["hda"], "perm": perm,
          "acts_outs": _numpy(first["per_image"], per_image=True),
          "together": _numpy(first["together"]), "net": net, "v": v, "x": x}


def test_hook_set_matches_a_hand_count(exact):
  """ARCH has 4 conv ops per cell: each adds its ReLU's and its ReLUConvBN's output (C*H*W each).
  A ResNet block adds conv_a's ReLU (its input), conv_a's output, conv_b's ReLU and output; the
  head its ReLU. C=4 on 8x8 images: 2048 + 640 + 1024 + 320 + 512 + 64."""
  xs, ys = naive_features(*exact["acts_outs"])
  assert xs.shape == (6, 8 * 4 * 64 + (4 * 64 + 3 * 8 * 16) + 8 * 8 * 16 + (8 * 16 + 3 * 16 * 4)
                      + 8 * 16 * 4 + 16 * 4)
  assert ys.shape == (6, 16)


def test_rbflex_matches_naive_float64_loops(exact):
  xs, ys = naive_features(*exact["acts_outs"])
  np.testing.assert_allclose(exact["score"][WIDE], naive_score(xs, ys, *WIDE),
                             **TOL["logdet_float64"])
  # Symmetric in the images (to float64 rounding).
  np.testing.assert_allclose(exact["perm"], exact["score"][WIDE], **TOL["logdet_float64"])


def test_rbflex_at_the_published_widths(exact):
  """K and Q are 1 - O(1e-9) here: the reference's direct float64 slogdet keeps ~7 digits, a
  60-digit evaluation of the same kernels all of them."""
  xs, ys = naive_features(*exact["acts_outs"])
  dk, dq = naive_sqdist(naive_normalize(xs)), naive_sqdist(naive_normalize(ys))
  precise = 6 * (decimal_logdet(dk, rb.GAMMA_K) + decimal_logdet(dq, rb.GAMMA_Q))
  assert np.isfinite(precise) and precise < -1000
  np.testing.assert_allclose(exact["score"][(rb.GAMMA_K, rb.GAMMA_Q)], precise,
                             **TOL["logdet_float64"])
  np.testing.assert_allclose(naive_score(xs, ys, rb.GAMMA_K, rb.GAMMA_Q), precise, rtol=1e-6)
  # The same features in float32: normalisation, distances and the stable log det keep ~5 digits
  # (the direct form gives K = 11^T exactly in float32: -inf).
  one = jnp.ones((), jnp.int32)
  for w in (WIDE, (rb.GAMMA_K, rb.GAMMA_Q)):
    d32 = [rb._sqdist(rb._weighted_gram([jnp.asarray(f, jnp.float32)], [one], jnp.float32))
           for f in (xs, ys)]
    s32 = 6 * (rb.rbf_logdet(d32[0], gamma=w[0]) + rb.rbf_logdet(d32[1], gamma=w[1]))
    assert s32.dtype == jnp.float32
    np.testing.assert_allclose(s32, exact["score"][w], **TOL["logdet_float32"])


def test_rbf_logdet_equals_direct_slogdet_and_survives_tiny_widths():
  rng = np.random.default_rng(0)
  pts = rng.uniform(size=(7, 40))
  d = naive_sqdist(pts)
  with jax.enable_x64(True):
    f = fast_jit(lambda d, g: rb.rbf_logdet(d, gamma=g))
    for gamma in (0.05, 0.5, 5.0):  # well conditioned: the direct form is accurate
      np.testing.assert_allclose(f(jnp.asarray(d), jnp.float64(gamma)),
                                 np.linalg.slogdet(np.exp(-gamma * d))[1], rtol=1e-11)
    for gamma in (1e-7, 1e-11):  # K = 1 - O(gamma): compare with 60-digit arithmetic
      want = decimal_logdet(d, gamma)
      np.testing.assert_allclose(f(jnp.asarray(d), jnp.float64(gamma)), want, rtol=1e-12)
      # float32 keeps ~5 digits (the reference's direct form in float32: K = 11^T exactly, -inf)
      np.testing.assert_allclose(f(jnp.asarray(d, jnp.float32), jnp.float32(gamma)), want,
                                 rtol=1e-5)
    dup = naive_sqdist(np.concatenate([pts, pts[:1]]))  # a repeated sample: K is singular
    assert rb.rbf_logdet(jnp.asarray(dup), gamma=1e-11) == -np.inf
    assert rb.rbf_logdet(jnp.zeros((1, 1)), gamma=1.0) == 0.0


def _lookup(tree, path, default):
  """The leaf of `tree` at `path`, or `default` where `tree` has none (unchosen supernet ops)."""
  node = tree
  for p in path:
    key = getattr(p, "key", p)
    if not isinstance(node, dict) or key not in node:
      return default
    node = node[key]
  return node


def test_supernet_equals_exact_and_zero_output_cells_score_minus_infinity(exact):
  """One compiled supernet program: the exact network's value for ARCH (its weights copied into
  the chosen ops), and -inf for input-independent cells: their pooled features are the same (zero)
  for every image, Q = 11^T, and the reference's torch.linalg.slogdet gives -inf."""
  with jax.enable_x64(True):
    sup = models.nb201_network(None, dtype=jnp.float64, **TINY)
    # The exact network's variables in the chosen ops, zeros in the others (never run).
    vs = jax.tree_util.tree_map_with_path(
        lambda p, a: _lookup(exact["v"], p, jnp.zeros(a.shape, a.dtype)),
        sup.variable_shapes((1, 8, 8, 3)))
    f = fast_jit(lambda v, arch, x, gk, gq: rb.rbflex(models.with_arch(sup, arch), v, Batch(x),
                                                      None, gamma_k=gk, gamma_q=gq))
    for w in (WIDE, (rb.GAMMA_K, rb.GAMMA_Q)):
      s = f(vs, jnp.asarray(ARCH), exact["x"], jnp.float64(w[0]), jnp.float64(w[1]))
      np.testing.assert_allclose(s, exact["score"][w], **TOL["logdet_float64"])
    for zero in [(0,) * 6, (3, 0, 0, 0, 0, 0), (1, 0, 3, 0, 0, 0)]:
      s = f(vs, jnp.asarray(zero), exact["x"], jnp.float64(rb.GAMMA_K), jnp.float64(rb.GAMMA_Q))
      assert s == -np.inf


def naive_hda(feats):
  """HDA.py's loops over sample pairs (features unnormalised)."""
  cands = []
  for i in range(len(feats) - 1):
    for j in range(i + 1, len(feats)):
      z1, z2 = feats[i], feats[j]
      m1, m2 = np.mean(z1), np.mean(z2)
      s1, s2 = np.mean((z1 - m1) ** 2), np.mean((z2 - m2) ** 2)
      if s1 + s2 != 0:
        cands.append((m1 - m2) ** 2 / ((s1 + s2) * 2))
  return np.min(np.array(cands))


def test_hda_matches_naive_loops(exact):
  xs, ys = naive_features(*exact["together"])  # the batch forwarded together, as HDA.py does
  np.testing.assert_allclose(exact["hda"].k, naive_hda(xs), **TOL["float64"])
  np.testing.assert_allclose(exact["hda"].q, naive_hda(ys), **TOL["float64"])


def test_hda_gamma_skips_zero_variance_pairs():
  with jax.enable_x64(True):
    m = jnp.array([1.0, 2.0, 4.0])
    s = jnp.array([0.0, 0.0, 1.0])  # pair (0, 1) is skipped
    assert float(rb.hda_gamma(m, s)) == pytest.approx(min(9 / 2, 4 / 2))
    assert rb.hda_gamma(m, jnp.zeros(3)) == np.inf
    assert rb.hda_gamma(m[:1], s[:1]) == np.inf


def test_errors():  # not the `exact` fixture: xdist would build it on this worker too
  net = models.nb201_network(ARCH, **TINY)
  v, x = _init(net), Batch(_images(3, dtype=jnp.float32))
  with pytest.raises(ValueError, match="gamma_k"):
    rb.rbflex(net, v, x, None, gamma_k=0.0)
  with pytest.raises(ValueError, match="gamma_q"):
    rb.rbflex(net, v, x, None, gamma_q=float("nan"))
  with pytest.raises(ValueError, match="gamma_k"):
    rb.rbflex(net, v, x, None, gamma_k=jnp.ones(2))
  with pytest.raises(ValueError, match="64-bit"):
    rb.rbflex(net, v, x, None, dtype=jnp.float64)
  with pytest.raises(TypeError, match="floating"):
    rb.rbflex(net, v, x, None, dtype=jnp.int32)
  with pytest.raises(TypeError, match="floating point"):
    rb.rbflex(net, v, Batch(jnp.zeros((3, 8, 8, 3), jnp.int32)), None)
  with pytest.raises(TypeError, match="capture=True"):
    rb.rbflex(lambda v, x, **kw: x.sum(axis=(1, 2)), v, x, None)
  with pytest.raises(ValueError, match=r"shape \(N,\)"):
    rb.hda_gamma(jnp.ones(3), jnp.ones(2))


def test_block_outputs_are_tagged_not_counted():
  """RBFleX selects ReLU-conv-BN block outputs by the network's tag (``Output.block``), not by a
  module count of 3: zero-cost-nas's stem output also has 3 modules but is no such block, and both
  variants tag the same number of blocks (ARCH at N=1: 4 conv edges x 3 cells + 2 ResNet blocks x
  2 convs)."""
  x = _images(1, dtype=jnp.float32)
  for variant in ("xautodl", "zero_cost_nas"):
    net = models.nb201_network(ARCH, variant=variant, **TINY)
    outs = net(_init(net), x, capture="outputs")[1]
    tags = [int(o.block) for o in outs]
    assert sum(tags) == 4 * 3 + 2 * 2
    assert all(int(o.weight) == 3 for o, t in zip(outs, tags) if t)
    if variant == "zero_cost_nas":
      assert int(outs[1].weight) == 3 and not tags[1]  # the stem's BN output: not a block
