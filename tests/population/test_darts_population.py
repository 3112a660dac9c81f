"""Exact-network scoring on the darts space (no official index: rows keyed by position): 2 tiny
cells. The supernet path: tests/models/test_darts_supernet.py."""

import jax
import numpy as np
import pytest

from jaxnas import models, population, proxies, spaces
from jaxnas.proxies import Batch


def test_two_darts_cells_score_exact_by_row(getkey):
  enc = spaces.darts.sample(getkey(), 2)
  batch = Batch(jax.random.normal(getkey(), (4, 8, 8, 3)))
  kw = {"C": 2, "layers": 3}
  key = getkey()
  got = population.score_exact(enc, [proxies.get("params"), proxies.get("nwot")], batch, key,
                               space="darts", network_kwargs=kw)
  assert got.shape == (2, 2) and np.all(np.isfinite(got))
  for i, e in enumerate(enc):
    assert got[i, 0] == int(models.network("darts", e, **kw).num_params())
  # Row i is keyed by i (no official index): the first row alone scores the same.
  first = population.score_exact(enc[:1], [proxies.get("nwot")], batch, key, space="darts",
                                 network_kwargs=kw)
  np.testing.assert_allclose(first[0, 0], got[0, 1], rtol=1e-6)
  with pytest.raises(ValueError, match="no official index"):
    spaces.darts.index_of(enc[0])


@pytest.mark.parametrize("name", ["az_expressivity", "az_progressivity", "az_trainability", "rbflex"])
def test_nb201_layout_proxies_refuse_darts(name, getkey):
  """AZ-NAS needs single-input blocks (probes), RBFleX an activation before the classifier; DARTS
  networks declare neither, so these proxies raise instead of giving a number."""
  from jaxnas.protocol import CapabilityError

  net = models.darts_network(spaces.darts.sample(getkey(), 1)[0], C=2, layers=3)
  v = net.init(getkey(), input_shape=(1, 8, 8, 3))
  with pytest.raises(CapabilityError, match="'probes'|'head'"):
    proxies.get(name).fn(net, v, Batch(jax.random.normal(getkey(), (2, 8, 8, 3))), getkey())
