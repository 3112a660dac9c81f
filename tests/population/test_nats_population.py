"""NATS size space: population scoring through the channel-masked supernet equals exact scoring."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import models, population, proxies
from jaxnas.proxies import Batch
from jaxnas.spaces import nats_sss

from ..conftest import FAST_COMPILE, TOL

FAST = {"compiler_options": FAST_COMPILE}
ARCHS = ("8:8:8:8:8", "64:8:64:8:64", "16:24:24:40:40")


def test_supernet_scores_equal_exact_scores_and_exact_only_proxies_fall_back(caplog):
  # params (counts), nwot (ReLU codes: dead channels must not count), grad_norm (gradients),
  # meco (exact only: module outputs; grad_norm keeps its key, the second proxy's, though scored apart).
  plist = [proxies.get(n) for n in ("params", "nwot", "grad_norm", "meco")]
  enc = np.stack([nats_sss.encode(a) for a in ARCHS])
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.key(3), (4, 8, 8, 3), jnp.float64)
    batch = Batch(x, jnp.arange(4) % 10)
    kw = {"network_kwargs": {"dtype": jnp.float64}, **FAST}
    with caplog.at_level("INFO", logger="jaxnas"):
      pop = population.score_population(enc, plist, batch, jax.random.key(0), space="nats_sss", **kw)
    exact = population.score_exact(enc, plist, batch, jax.random.key(0), space="nats_sss", **kw)
  np.testing.assert_allclose(pop, exact, **TOL["float64"])
  assert np.all(pop[:, 0] == [nats_sss.num_params(e) for e in enc])
  assert "meco: scored with exact networks" in caplog.text
  assert set(models.supernet("nats_sss").exact_only) >= {"meco", "zen", "rbflex", "az_trainability",
                                                         "vkdnw", "fisher"}
