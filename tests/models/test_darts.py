"""darts networks. Layer-for-layer agreement with PyTorch was checked outside the repo (quark0/darts
NetworkCIFAR with NASLib @ 6639fd15's nasbench301 ops, float64 logits and all gradients of a
cross-entropy loss within 4e-14 relative, 5 random cells, C 4-6, 3-6 cells, both variants); here:
recorded parameter counts and naive float64 checks of the ops on tiny inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, spaces
from jaxnas.models._darts import _avg_pool, _conv, _max_pool
from jaxnas.spaces._darts import macro_cost
from tests.conftest import TOL
from tests.spaces.test_darts import DARTS_V2


def _naive_pool(x, stride, kind):
  n, h, w, c = x.shape
  ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
  out = np.zeros((n, ho, wo, c))
  for i in range(ho):
    for j in range(wo):
      win = x[:, max(i * stride - 1, 0):i * stride + 2, max(j * stride - 1, 0):j * stride + 2]
      out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
  return out


def _naive_depthwise(x, k, stride, pad, dil):
  n, h, w, c = x.shape
  kh = k.shape[0]
  xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  ho = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
  out = np.zeros((n, ho, ho, c))
  for i in range(ho):
    for j in range(ho):
      for a in range(kh):
        for b in range(kh):
          out[:, i, j] += xp[:, i * stride + a * dil, j * stride + b * dil] * k[a, b, 0]
  return out


@pytest.mark.parametrize("stride", [1, 2])
def test_ops_match_naive_float64(stride):
  rng = np.random.default_rng(stride)
  x = rng.normal(size=(2, 6, 6, 3))
  with jax.enable_x64(True):
    xj = jnp.asarray(x)
    np.testing.assert_allclose(_max_pool(xj, stride), _naive_pool(x, stride, "max"), **TOL["float64"])
    np.testing.assert_allclose(_avg_pool(xj, stride), _naive_pool(x, stride, "avg"), **TOL["float64"])
    for kh, dil in ((3, 1), (5, 1), (3, 2), (5, 2)):
      k = rng.normal(size=(kh, kh, 1, 3))
      pad = dil * (kh - 1) // 2
      got = _conv(xj, jnp.asarray(k), stride=stride, padding=pad, dilation=dil, groups=3)
      np.testing.assert_allclose(got, _naive_depthwise(x, k, stride, pad, dil), **TOL["float64"])


def test_parameter_counts_and_dispatch():
  net = models.network("darts", DARTS_V2, variant="darts")
  # quark0/darts NetworkCIFAR(36, 10, 20, auxiliary=False, DARTS_V2): 3,349,342 (PyTorch 2.13).
  assert int(net.num_params()) == 3_349_342 and net.module.C == 36 and net.module.layers == 20
  enc = spaces.darts.encode(DARTS_V2)
  naslib = models.network("darts", enc)
  assert (naslib.module.C, naslib.module.layers) == (32, 8)
  # NASLib @ 6639fd15 NasBench301SearchSpace without its evaluation-only auxiliary head (PyTorch).
  assert int(naslib.num_params()) == 909_866
  assert models.supernet("darts").is_supernet and not naslib.is_supernet
  assert models.network("darts", enc, variant="zero_cost_nas").module.variant == "naslib"
  with pytest.raises(ValueError, match="`variant` must be one of"):
    models.darts_network(enc, variant="xl")


def test_small_network_surface(getkey):
  enc = spaces.darts.sample(getkey(), 1)[0]
  net = models.darts_network(enc, C=2, layers=3)
  x = jax.random.normal(getkey(), (2, 8, 8, 3))
  v = net.init(getkey(), input_shape=(1, 8, 8, 3))
  names = list(v["params"])
  assert names[0].startswith("n00_stem") and names[-1] == "n99_classifier"  # PyTorch's order
  assert int(net.num_params()) == macro_cost(spaces.darts.cells(enc), C=2, layers=3)[0]
  logits, acts = net(v, x, capture=True)
  assert logits.shape == (2, 10)
  # The stem's output is read by the ReLUConvBN preprocessing of cells 0 (twice) and 1.
  assert acts[-4].pre.shape == (2, 8, 8, 6) and int(acts[-4].weight) == 3 and acts[-4].wrapped
  _, cells = net(v, x, capture="cells")
  assert len(cells) == 4 and cells[-1].shape == (2, 2, 2, 32)  # two reductions: C 2 -> 8
  _, outs = net(v, x, capture="outputs")
  assert max(int(o.weight) for o in outs) == 3
  g = net.gates(v, x)
  assert jax.tree.leaves(g) and all(l.shape[0] == 2 for l in jax.tree.leaves(g))
  with pytest.raises(NotImplementedError, match="two inputs"):
    net.probes(v, x)
  plain = models.darts_network(enc, C=2, layers=3, batch_norm=False)
  pv = plain.init(getkey(), input_shape=(1, 8, 8, 3))
  assert "batch_stats" not in pv or not jax.tree.leaves(pv["batch_stats"])


def test_parameter_order_is_pytorchs(getkey):
  """VKDNW reads tensors in the reference's named_parameters() order; darts variable names sort
  in that order (checked against PyTorch in the layer-for-layer comparison)."""
  from jaxnas.proxies._vkdnw import param_tensors

  net = models.network("darts", spaces.darts.encode(DARTS_V2), C=2, layers=3)
  v = net.init(getkey(), input_shape=(1, 8, 8, 3))
  names = [s.name for s in param_tensors(v["params"], net.layout.param_order)]
  assert names[:3] == ["['n00_stem_s0_conv']['kernel']", "['n00_stem_s1_bn']['scale']",
                       "['n00_stem_s1_bn']['bias']"]
  # cell 0: preprocess0 conv + BN, preprocess1 conv + BN, then op 0 (sep_conv_3x3 from input 0)
  assert names[3:10] == [
      "['n01_cell_p0_pre0_s0_conv']['kernel']", "['n01_cell_p0_pre0_s1_bn']['scale']",
      "['n01_cell_p0_pre0_s1_bn']['bias']", "['n01_cell_p1_pre1_s0_conv']['kernel']",
      "['n01_cell_p1_pre1_s1_bn']['scale']", "['n01_cell_p1_pre1_s1_bn']['bias']",
      "['n01_cell_p2_op0_s0_dw']['kernel']"]
  assert names[-2:] == ["['n99_classifier']['kernel']", "['n99_classifier']['bias']"]
