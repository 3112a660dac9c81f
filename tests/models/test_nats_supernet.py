"""The channel-masked NATS size supernet equals the exact networks (float64)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import models
from jaxnas.models import _nats
from jaxnas.spaces import nats_sss
from tests.conftest import TOL, fast_jit

IMAGE = (2, 8, 8, 3)  # two small images keep every exact program cheap to compile and run
EDGES = ("8:8:8:8:8", "64:64:64:64:64", "64:8:64:8:64", "8:64:8:64:8")
NUM_RANDOM = 30
DEFAULT_RANDOM = 4  # random members the default suite compares (all: -m slow)
GRAD_ARCHS = (0, 1, 2, len(EDGES))  # gradients: three edge cases and the first random arch


def _archs(seed: int = 0) -> list[str]:
  rng = np.random.default_rng(seed)
  return list(EDGES) + [nats_sss.decode(rng.integers(0, 8, 5)) for _ in range(NUM_RANDOM)]


def _loss(logits):
  """A loss whose gradient reaches every logit differently."""
  return jnp.sum(jnp.sin(logits) * jnp.arange(1, logits.shape[-1] + 1))


@pytest.fixture(scope="module")
def supernet_run():
  """Supernet logits and variables of every test arch (one compiled program mapped over the
  members), parameter gradients and active masks of the GRAD_ARCHS members (a second one)."""
  with jax.enable_x64(True):
    net = models.supernet("nats_sss", dtype=jnp.float64)
    x = jax.random.normal(jax.random.key(1), IMAGE, jnp.float64)
    archs = _archs()
    enc = jnp.asarray(np.stack([nats_sss.encode(a) for a in archs]), jnp.int32)

    def forward(e):
      bound = models.with_arch(net, e)
      variables = bound.init(jax.random.key(7), input_shape=IMAGE)
      return bound(variables, x), variables

    def gradients(e):
      bound = models.with_arch(net, e)
      variables = bound.init(jax.random.key(7), input_shape=IMAGE)
      rest = {"batch_stats": variables["batch_stats"]}
      grads = jax.grad(lambda p: _loss(bound({"params": p, **rest}, x)))(variables["params"])
      return grads, bound.active(variables)

    logits, variables = fast_jit(lambda enc: jax.lax.map(forward, enc))(enc)
    grads, active = fast_jit(lambda enc: jax.lax.map(gradients, enc))(enc[np.asarray(GRAD_ARCHS)])
    yield archs, x, jax.tree.map(np.asarray, (logits, variables, grads, active))


def _member(tree, i):
  return jax.tree.map(lambda a: a[i], tree)


def _widths(arch):
  return tuple(int(w) for w in arch.split(":"))


def _logits_equal(supernet_run, indices):
  archs, x, (logits, variables, _, _) = supernet_run
  with jax.enable_x64(True):
    for i in indices:
      arch = archs[i]
      exact = models.nats_size_network(arch, dtype=jnp.float64)
      ve = _nats.restrict(_member(variables, i), _widths(arch), exact.variable_shapes(IMAGE))
      want = fast_jit(lambda v, x, exact=exact: exact(v, x))(ve, x)
      np.testing.assert_allclose(logits[i], want, **TOL["float64"], err_msg=arch)


def test_logits_equal_exact_networks(supernet_run):
  """The edge cases and the first DEFAULT_RANDOM random members (each exact network compiles
  its own program); the other random members: the slow test below."""
  assert len(set(supernet_run[0])) >= NUM_RANDOM
  _logits_equal(supernet_run, range(len(EDGES) + DEFAULT_RANDOM))


@pytest.mark.slow
def test_logits_equal_exact_networks_more_random(supernet_run):
  _logits_equal(supernet_run, range(len(EDGES) + DEFAULT_RANDOM, len(EDGES) + NUM_RANDOM))


def test_gradients_equal_exact_and_dead_parameters_get_zero(supernet_run):
  archs, x, (_, variables, grads, active) = supernet_run
  with jax.enable_x64(True):
    for m, i in enumerate(GRAD_ARCHS):
      arch = archs[i]
      exact = models.nats_size_network(arch, dtype=jnp.float64)
      ve = _nats.restrict(_member(variables, i), _widths(arch), exact.variable_shapes(IMAGE))
      rest = {"batch_stats": ve["batch_stats"]}
      want = fast_jit(jax.grad(lambda p, x: _loss(exact({"params": p, **rest}, x))))(ve["params"], x)
      got = _nats.restrict({"params": _member(grads, m)}, _widths(arch), {"params": want})["params"]
      for (path, g), w in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(g, w, **TOL["float64"], err_msg=f"{arch} {jax.tree_util.keystr(path)}")
      dead = jax.tree.map(lambda d, a: np.abs(np.where(a, 0.0, d)).max(), _member(grads, m),
                          _member(active, m)["params"])
      assert max(jax.tree.leaves(dead)) == 0.0, arch


@pytest.mark.parametrize("arch,init", [("8:8:8:8:8", "pytorch"), ("64:8:64:8:64", "kaiming_normal")])
def test_init_places_the_exact_networks_draws(arch, init):
  """Same key, same values: the supernet member's variables are the exact network's, embedded."""
  with jax.enable_x64(True):
    key = jax.random.key(3)
    exact = models.nats_size_network(arch, dtype=jnp.float64)
    bound = models.with_arch(models.supernet("nats_sss", dtype=jnp.float64), nats_sss.encode(arch))
    got = bound.init(key, init=init)
    want = _nats.embed(exact.init(key, init=init), _widths(arch), dtype=jnp.float64)
    for (path, g), w in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want)):
      np.testing.assert_array_equal(g, w, err_msg=jax.tree_util.keystr(path))
    back = _nats.restrict(got, _widths(arch), exact.variable_shapes())
    assert jax.tree.all(jax.tree.map(lambda a, b: a.shape == b.shape, back, exact.variable_shapes()))


def test_counts_relu_masks_and_options():
  arch = "8:64:24:24:40"
  enc = nats_sss.encode(arch)
  net = models.with_arch(models.supernet("nats_sss"), enc)
  params, flops = jax.jit(lambda: (net.num_params(), net.flops()))()
  assert (int(params), int(flops)) == (nats_sss.num_params(enc), nats_sss.flops(enc))
  exact = models.nats_size_network(arch)
  x = jnp.ones(IMAGE)
  shapes = jax.eval_shape(lambda: net(net.init(jax.random.key(0), input_shape=IMAGE), x, capture=True))
  taps = jax.jit(lambda: net(net.init(jax.random.key(0), input_shape=IMAGE), x, capture=True)[1])()
  exact_taps = jax.eval_shape(
      lambda: exact(exact.init(jax.random.key(0), input_shape=IMAGE), x, capture=True)[1])
  assert [int(np.sum(t.mask)) for t in taps] == [t.pre.shape[-1] for t in exact_taps]
  # ReLUs reading each tensor: cell nodes 0, 1, 2 (2, 2, 1), a ResNet block's two, the head's.
  assert [int(t.weight) for t in taps] == [2, 2, 1, 1, 1, 2, 2, 1, 1, 1, 2, 2, 1, 1]
  assert shapes[0].shape == (2, 10)
  with pytest.raises(ValueError, match="captures ReLU inputs only"):
    jax.eval_shape(lambda: net(net.init(jax.random.key(0), input_shape=IMAGE), x, capture="outputs"))
  with pytest.raises(ValueError, match="Bind a member first"):
    models.supernet("nats_sss").init(jax.random.key(0))
  with pytest.raises(ValueError, match="`variant`"):
    models.supernet("nats_sss", variant="torch")
  with pytest.raises(ValueError, match=r"\(5,\) integer"):
    jax.eval_shape(lambda: models.supernet("nats_sss").module.init(jax.random.key(0), x,
                                                                    jnp.zeros(6, jnp.int32)))
  with pytest.raises(ValueError, match="does not hold"):
    _nats.embed({"params": {"nope": jnp.zeros(3)}}, (8, 8, 8, 8, 8))
