"""Scoring a space without an official index (nb101): member keys from the cell, named refusals."""

import jax
import numpy as np
import pytest

from jaxnas import population, proxies
from jaxnas.spaces import nb101

BARE = "000001/00000/0000/000/00/0|conv3x3,conv3x3,conv3x3,conv3x3,conv3x3"
README = "111010/00001/0001/100/01/1|conv1x1,conv3x3,conv3x3,conv3x3,maxpool3x3"
# the bare cell with a dangling vertex: pruned to the same graph (same hash)
DANGLING = "100001/00000/0000/000/00/0|maxpool3x3,conv1x1,conv3x3,conv3x3,conv3x3"
TINY = {"stem_channels": 4, "num_stacks": 1, "cells_per_stack": 1}


def test_member_keys_follow_the_cell_not_its_position():
  encs = np.stack([nb101.encode(a) for a in (README, BARE, DANGLING)])
  ids = population.member_ids(nb101, encs)
  assert ids[1] == ids[2] != ids[0]
  batch = proxies.Batch(jax.numpy.ones((1, 4, 4, 3)))
  key = jax.random.key(0)
  # l2_norm reads the initial weights only: equal scores = equal weights
  got = population.score_population(encs, [proxies.get("l2_norm")], batch, key, space="nb101",
                                    network_kwargs=TINY)
  assert got[1, 0] == got[2, 0] != got[0, 0]
  again = population.score_exact(encs[::-1], [proxies.get("l2_norm")], batch, key, space="nb101",
                                 network_kwargs=TINY)
  np.testing.assert_array_equal(again[::-1], got)


def test_proxies_a_space_cannot_run_are_refused_by_name():
  encs = nb101.encode(BARE)[None]
  with pytest.raises(ValueError, match="not available on nb101: rbflex: "):
    population.score_population(encs, [proxies.get("params"), proxies.get("rbflex")],
                                proxies.Batch(jax.numpy.ones((1, 4, 4, 3))), jax.random.key(0),
                                space="nb101", network_kwargs=TINY)
