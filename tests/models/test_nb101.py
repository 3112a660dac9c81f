"""The NAS-Bench-101 network: recorded reference facts and a naive float64 forward pass.

The network was checked layer for layer against the PyTorch reference outside the repo
(SamsungLabs/zero-cost-nas ``foresight/models/nasbench1.py`` @ the public HEAD, torch 2.x CPU,
float64, weights copied over): logits and all parameter and input gradients of a 3-image 8x8 batch
agree to <= 3e-13 relative for the six cells below (stem 128, with and without BN). The parameter
counts below are ``sum(p.numel() for p in nasbench1.Network(spec, 128, 3, 3, 10).parameters())``
from that run.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models, protocol
from jaxnas.models._nb101 import NB101Net
from jaxnas.spaces import nb101
from jaxnas.spaces._nb101 import vertex_channels

BARE = "000001/00000/0000/000/00/0|conv3x3,conv3x3,conv3x3,conv3x3,conv3x3"
README = "111010/00001/0001/100/01/1|conv1x1,conv3x3,conv3x3,conv3x3,maxpool3x3"
SPLIT3 = "111101/00011/0001/110/11/0|maxpool3x3,maxpool3x3,conv3x3,conv3x3,conv3x3"
TORCH_PARAMS = {  # (batch_norm=True, batch_norm=False)
    BARE: (882570, 876938),
    README: (2694282, 2683274),
    SPLIT3: (4095778, 4079424),
    "001111/00001/0111/001/10/0|conv3x3,conv3x3,conv1x1,conv1x1,conv3x3": (2793866, 2777482),
    "110111/00100/0010/100/00/1|maxpool3x3,conv1x1,conv1x1,conv3x3,maxpool3x3": (3667594, 3645834),
}


@pytest.mark.parametrize("arch", list(TORCH_PARAMS))
def test_parameter_counts_match_the_pytorch_reference(arch):
  for bn, want in zip((True, False), TORCH_PARAMS[arch]):
    net = models.network("nb101", nb101.encode(arch), batch_norm=bn)
    shapes = net.variable_shapes()["params"]
    assert sum(int(np.prod(l.shape)) for l in jax.tree.leaves(shapes)) == want
    assert int(net.num_params()) == want
    if bn:
      assert nb101.num_params(nb101.encode(arch)) == want


def _conv(x, k):
  """Naive same-padded stride-1 convolution, NHWC x HWIO, float64 loops over taps."""
  kh = k.shape[0]
  p = kh // 2
  xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
  out = np.zeros(x.shape[:3] + (k.shape[-1],))
  for a in range(kh):
    for b in range(kh):
      out += np.einsum("nhwi,io->nhwo", xp[:, a:a + x.shape[1], b:b + x.shape[2]], k[a, b])
  return out


def _bn(x, p):
  mean = x.mean(axis=(0, 1, 2))
  var = x.var(axis=(0, 1, 2))
  return (x - mean) / np.sqrt(var + 1e-5) * p["scale"] + p["bias"]


def _cbr(x, p):
  return np.maximum(_bn(_conv(x, p["conv"]["kernel"]), p["bn"]), 0)


def _pool(x, k, s, pad):
  xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=-np.inf)
  ho = (x.shape[1] + 2 * pad - k) // s + 1
  return np.stack([np.stack([xp[:, i * s:i * s + k, j * s:j * s + k].max(axis=(1, 2))
                             for j in range(ho)], 1) for i in range(ho)], 1)


def _naive(arch, params, x, stacks, cells, stem):
  cell = nb101.prune(nb101.encode(arch))
  m, n = cell.matrix, cell.matrix.shape[0]
  h = _cbr(x, params["stem"])
  layer, cin, cout = 1, stem, stem
  for s in range(stacks):
    if s:
      h, layer, cout = _pool(h, 2, 2, 0), layer + 1, 2 * cout
    for _ in range(cells):
      p = params[f"layer{layer:02d}"]
      ch = vertex_channels(cin, cout, m)
      vs = [h]
      for t in range(1, n - 1):
        total = sum(vs[u][..., :ch[t]] for u in range(1, t) if m[u, t])
        if m[0, t]:
          total = total + _cbr(h, p[f"proj{t}"])
        op = cell.ops[t - 1]
        vs.append(_pool(total, 3, 1, 1) if op == 2 else _cbr(total, p[f"op{t}"]))
      feed = [vs[t] for t in range(1, n - 1) if m[t, n - 1]]
      out = np.concatenate(feed, -1) if feed else 0
      h = out + (_cbr(h, p[f"proj{n - 1}"]) if m[0, n - 1] else 0)
      layer, cin = layer + 1, cout
  return h.mean(axis=(1, 2)) @ params["classifier"]["kernel"] + params["classifier"]["bias"]


@pytest.mark.parametrize("arch", [BARE, README, SPLIT3])
def test_forward_equals_a_naive_float64_implementation(arch):
  with jax.enable_x64(True):
    net = models.nb101_network(arch, stem_channels=4, num_stacks=2, cells_per_stack=1,
                               dtype=jnp.float64)
    variables = net.init(jax.random.key(0), dtype=jnp.float64, input_shape=(1, 4, 4, 3))
    # non-trivial BN affine parameters
    variables = jax.tree_util.tree_map_with_path(
        lambda p, l: l * 1.5 + 0.1 if "'bn'" in jax.tree_util.keystr(p) else l, variables)
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, 4, 4, 3), jnp.float64))
    got = np.asarray(net(variables, jnp.asarray(x)))
    # reverse mode through every layer (max-pools included) against a central difference
    loss = lambda x: jnp.sum(net(variables, x) ** 2)
    d = np.asarray(jax.random.normal(jax.random.key(2), x.shape, jnp.float64))
    fd = (loss(x + 1e-6 * d) - loss(x - 1e-6 * d)) / 2e-6
    np.testing.assert_allclose(np.sum(np.asarray(jax.grad(loss)(jnp.asarray(x))) * d), fd,
                               rtol=1e-6)
  params = jax.tree.map(np.asarray, variables["params"])
  np.testing.assert_allclose(got, _naive(arch, params, x, 2, 1, 4), rtol=1e-10, atol=1e-12)


def test_captures_collections_and_init():
  net = models.nb101_network(README, stem_channels=4, num_stacks=2, cells_per_stack=1)
  assert isinstance(net, NB101Net) and protocol.has(net, protocol.Capability.JVP) and not net.is_supernet
  # one block per cell (the stacks' max-pools are layer02 and not blocks), a stage per stack
  assert [(b.key, b.position, b.stage) for b in net.layout.probes] == [("layer01", 1, 0),
                                                                       ("layer03", 2, 1)]
  v = net.init(jax.random.key(0), input_shape=(1, 4, 4, 3))
  x = jnp.ones((2, 4, 4, 3))
  _, acts = net(v, x, capture=True)
  # stem + per cell: 4 conv ops (README: conv1x1, 3x conv3x3) + 3 projections (input feeds 1, 2, 3, 5)
  assert len(acts) == 1 + 2 * (4 + 4) and all(not a.wrapped for a in acts)
  _, outs = net(v, x, capture="outputs")
  assert outs[-1].value.shape == (2, 2, 2, 8)  # last cell output: the map before pooling
  _, cells = net(v, x, capture="cells")
  assert len(cells) == 3
  probes = net.probes(v, x)
  assert sorted(probes) == ["layer01", "layer03"]
  assert all(float(jnp.sum(g)) == 2 * g.shape[-1] for g in jax.tree.leaves(net.gates(v, x)))
  assert jax.tree.leaves(net.deltas(v, x))
  big = models.network("nb101", nb101.encode(BARE), stem_channels=64, num_stacks=1)
  k = big.init(jax.random.key(0))["params"]
  # the reference's init: conv N(0, 2 / (k^2 C_out)), linear N(0, 0.01^2), biases 0
  assert np.std(np.asarray(k["stem"]["conv"]["kernel"])) == pytest.approx(np.sqrt(2 / (9 * 64)), rel=0.1)
  assert np.std(np.asarray(k["classifier"]["kernel"])) == pytest.approx(0.01, rel=0.1)
  assert not np.any(np.asarray(k["classifier"]["bias"]))


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="no path from the input"):
    models.network("nb101", nb101.encode(BARE.replace("000001", "000000")))
  with pytest.raises(ValueError, match="`variant` for nb101"):
    models.nb101_network(BARE, variant="darts")
  with pytest.raises(ValueError, match="`stem_channels`"):
    models.nb101_network(BARE, stem_channels=0)
  with pytest.raises(ValueError, match="3 output channels cannot be split over the 4 vertices"):
    models.nb101_network(README, stem_channels=3)
  assert models.supernet("nb101") is None
