import ast
import csv

import numpy as np
import pytest

from jaxnas.spaces import _darts, darts, get
from tests.conftest import SHARED_DATA, needs_file

NB301_CSV = SHARED_DATA / "nb301_naslib.csv"
# DARTS_V2 (quark0/darts genotypes.py), in the csv's Genotype spelling.
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


@needs_file(NB301_CSV)
def test_every_csv_row_round_trips_key_and_genotype():
  with open(NB301_CSV) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 725
  prints = set()
  for row in rows:
    enc = darts.encode(row["key"])
    assert np.array_equal(enc, darts.encode(row["genotype"]))
    assert darts.decode(enc) == row["genotype"]
    assert darts.key(enc) == row["key"]
    assert [list(map(tuple, c)) for c in ast.literal_eval(row["key"])] == [list(c) for c in darts.cells(enc)]
    prints.add(darts.fingerprint(enc))
  assert len(prints) == 725  # the README: distinct also with a node's two inputs swapped


def test_layout_and_registry():
  assert get("darts") is darts and darts.encoding_length == 32 and not darts.official_index
  enc = darts.encode(DARTS_V2)
  assert enc[:4].tolist() == [0, 3, 1, 3]  # (input 0, sep_conv_3x3), (input 1, sep_conv_3x3)
  assert enc[16:18].tolist() == [0, 0]  # reduce starts with (input 0, max_pool_3x3)
  assert darts.choices_per_position[:16] == (2, 7, 2, 7, 3, 7, 3, 7, 4, 7, 4, 7, 5, 7, 5, 7)
  assert darts.size == (2 * 6 * 12 * 20 * 7 ** 8) ** 2


def test_errors_name_the_problem():
  enc = darts.encode(DARTS_V2)
  bad = enc.copy()
  bad[2] = 0  # node 2 reads input 0 twice
  with pytest.raises(ValueError, match="node 2 of the normal cell.*both read node 0"):
    darts.decode(bad)
  assert not darts.is_valid(bad)
  bad = enc.copy()
  bad[0] = 2  # pair 0 may read nodes 0-1 only
  with pytest.raises(ValueError, match="position 0; valid values there are 0..1"):
    darts.decode(bad)
  with pytest.raises(ValueError, match="index"):
    darts.index_of(enc)
  with pytest.raises(ValueError, match="no official index"):
    darts.encoding_of(3)
  with pytest.raises(ValueError, match="reduce_concat must be"):
    darts.encode(DARTS_V2.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 3]"))
  with pytest.raises(ValueError, match=r"op in \("):
    darts.encode(DARTS_V2.replace("dil_conv_3x3", "conv_7x1_1x7"))
  with pytest.raises(ValueError, match="neither a DARTS Genotype"):
    darts.encode("__import__('os')")
  with pytest.raises(ValueError, match="8 \\(input_node, op\\) pairs"):
    darts.encode("[[(0, 1)], []]")
  with pytest.raises(TypeError, match="`arch`"):
    darts.encode(3)


def test_sample_mutate_neighbours_stay_valid(rng):
  pop = darts.sample(rng, 200)
  assert pop.shape == (200, 32) and all(darts.is_valid(e) for e in pop)
  pairs = pop.reshape(200, 2, 8, 2)
  assert set(pairs[:, :, 6, 0].ravel()) == {0, 1, 2, 3, 4}  # node 5 reads any of nodes 0-4
  assert set(pairs[:, :, :, 1].ravel()) == set(range(7))
  for e in pop[:20]:
    m = darts.mutate(rng, e)
    assert darts.is_valid(m) and np.sum(m != e) == 1
    nb = darts.neighbours(e)
    assert all(darts.is_valid(n) for n in nb) and np.all(np.sum(nb != e, axis=1) == 1)
    assert len({n.tobytes() for n in nb}) == len(nb)
    assert any(np.array_equal(m, n) for n in nb)


def test_canonical_merges_swapped_inputs_only():
  enc = darts.encode(DARTS_V2)
  swapped = enc.copy()
  swapped[[0, 1, 2, 3]] = enc[[2, 3, 0, 1]]
  assert darts.fingerprint(swapped) == darts.fingerprint(enc)
  assert darts.decode(swapped) != darts.decode(enc)
  other = enc.copy()
  other[1] = 4
  assert darts.fingerprint(other) != darts.fingerprint(enc)


def test_costs():
  enc = darts.encode(DARTS_V2)
  # DARTS reports 3.3 M for DARTS_V2 (count_parameters_in_MB, no auxiliary head); 3,349,342 also
  # counted on quark0/darts NetworkCIFAR(36, 10, 20, False, DARTS_V2) in PyTorch 2.13.
  assert darts.num_params(enc, variant="darts") == 3_349_342
  # NASLib @ 6639fd15 NasBench301SearchSpace (channels [32, 64, 128], 8 cells) rebuilt in PyTorch.
  assert darts.num_params(enc) == 909_866
  assert darts.flops(enc) == _darts.macro_cost(darts.cells(enc))[1] > 0
