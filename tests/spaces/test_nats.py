import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxnas.spaces import nats_sss, nb201


def test_index_is_mixed_radix_with_layer_one_most_significant():
  assert nats_sss.size == 32768
  assert nats_sss.decode(nats_sss.encoding_of(0)) == "8:8:8:8:8"
  assert nats_sss.decode(nats_sss.encoding_of(1)) == "8:8:8:8:16"
  assert nats_sss.decode(nats_sss.encoding_of(8)) == "8:8:8:16:8"
  assert nats_sss.decode(nats_sss.encoding_of(32767)) == "64:64:64:64:64"
  assert len({tuple(e) for e in nats_sss.all_encodings()}) == 32768


@given(st.lists(st.integers(0, 7), min_size=5, max_size=5).map(np.asarray))
def test_round_trips(enc):
  assert np.array_equal(nats_sss.encode(nats_sss.decode(enc)), enc)
  assert np.array_equal(nats_sss.encoding_of(nats_sss.index_of(enc)), enc)


def test_fixed_cell_and_errors():
  assert int(nb201.index_of(nats_sss.cell)) == 9930
  with pytest.raises(ValueError, match="width 12 at layer 2"):
    nats_sss.encode("8:12:8:8:8")
  with pytest.raises(ValueError, match="5 widths"):
    nats_sss.encode("8:8:8")
  with pytest.raises(ValueError, match=r"\[0, 32768\)"):
    nats_sss.encoding_of(-1)


def test_moves_and_costs():
  rng = np.random.default_rng(0)
  e = nats_sss.sample(rng, 1)[0]
  assert nats_sss.neighbours(e).shape == (35, 5)
  assert np.sum(nats_sss.mutate(rng, e) != e) == 1
  small, big = nats_sss.encode("8:8:8:8:8"), nats_sss.encode("64:64:64:64:64")
  assert nats_sss.num_params(small) < nats_sss.num_params(big)
  assert nats_sss.flops(small) < nats_sss.flops(big)
  assert not nats_sss.is_zero_output(e)
