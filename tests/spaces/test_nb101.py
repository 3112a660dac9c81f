import csv
import json

import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.spaces import nb101
from jaxnas.spaces._nb101 import vertex_channels
from tests.conftest import SHARED_DATA, needs_file

NB101_CSV = SHARED_DATA / "nb101_naslib.csv"
# NAS-Bench-101's README example cell and its published hash (google-research/nasbench README).
README_CELL = "111010/00001/0001/100/01/1|conv1x1,conv3x3,conv3x3,conv3x3,maxpool3x3"
README_HASH = "28cfc7874f6d200472e1a9dcd8650aa0"
BARE = "000001/00000/0000/000/00/0|conv3x3,conv3x3,conv3x3,conv3x3,conv3x3"
BARE_HASH = "043721b9c7fe8c5fad811d47d83132ec"


@needs_file(NB101_CSV)
def test_every_csv_row_parses_round_trips_and_hashes_as_nasbench101():
  with open(NB101_CSV, newline="") as fh:
    rows = list(csv.DictReader(fh))
  assert len(rows) == 500
  hashes = set()
  for r in rows:
    enc = nb101.encode(r["key"])
    matrix = np.asarray([int(c) for c in r["matrix"]]).reshape(7, 7)
    assert np.array_equal(enc, nb101.encode((matrix, json.loads(r["ops"])))), r["key"]
    assert nb101.to_naslib(enc) == tuple(json.loads("[" + r["key"][1:-1] + "]"))
    assert np.array_equal(nb101.encode(nb101.decode(enc)), enc)
    assert nb101.hash(enc) == r["hash"], r["key"]
    assert nb101.hash(nb101.canonical(enc)) == r["hash"]
    hashes.add(r["hash"])
  assert len(hashes) == 292


def test_published_hashes_and_canonical_form():
  assert nb101.hash(nb101.encode(README_CELL)) == README_HASH
  assert nb101.hash(nb101.encode(BARE)) == BARE_HASH
  # dangling vertex 1 (no path to the output) is pruned: same cell as the bare one
  dangling = nb101.encode("100001/00000/0000/000/00/0|maxpool3x3,conv1x1,conv3x3,conv3x3,conv3x3")
  assert nb101.hash(dangling) == BARE_HASH
  assert np.array_equal(nb101.canonical(dangling), nb101.encode(BARE))
  assert nb101.prune(dangling).vertices == (0, 6)
  # the -bn-relu op names and a (matrix, ops) dict are accepted
  readme = nb101.encode(README_CELL)
  long = README_CELL.replace("conv1x1", "conv1x1-bn-relu")
  assert np.array_equal(nb101.encode(long), readme)
  assert np.array_equal(nb101.encode(nb101.spec(readme)._asdict()), readme)


def test_validity_errors_name_the_problem():
  with pytest.raises(ValueError, match="no path from the input"):
    nb101.check_valid(nb101.encode("100000/00000/0000/000/00/0|conv3x3,conv3x3,conv3x3,conv3x3,conv3x3"))
  ten = nb101.encode("111111/00001/0001/001/01/1|conv3x3,conv3x3,conv3x3,conv3x3,conv3x3")
  with pytest.raises(ValueError, match="11 edges after pruning"):
    nb101.check_valid(ten)
  assert not nb101.is_valid(ten)
  lower = np.zeros((7, 7), int)
  lower[0, 6] = lower[3, 1] = 1
  with pytest.raises(ValueError, match=r"upper triangular.*\[3\]\[1\]"):
    nb101.from_spec(lower, ["input"] + ["conv3x3-bn-relu"] * 5 + ["output"])
  with pytest.raises(ValueError, match="'conv5x5' of vertex 2"):
    nb101.encode("000001/00000/0000/000/00/0|conv3x3,conv5x5,conv3x3,conv3x3,conv3x3")
  with pytest.raises(ValueError, match="56 ints"):
    nb101.encode("(0, 1, 2)")
  with pytest.raises(ValueError, match="no official index"):
    nb101.encoding_of(0)
  with pytest.raises(ValueError, match="no official index"):
    nb101.index_of(nb101.encode(BARE))


def test_registered_without_official_index():
  assert spaces.get("nb101") is nb101
  assert nb101.official_index is False
  assert spaces.nb201.official_index and spaces.nats_sss.official_index
  assert isinstance(nb101, spaces.SearchSpace)


def test_sample_mutate_neighbours_stay_valid():
  rng = np.random.default_rng(0)
  samples = nb101.sample(rng, 20)
  assert samples.shape == (20, 26) and all(nb101.is_valid(e) for e in samples)
  for e in samples[:5]:
    m = nb101.mutate(rng, e)
    assert nb101.is_valid(m) and not np.array_equal(m, e)
  readme = nb101.encode(README_CELL)
  nbhd = nb101.neighbours(readme)
  # 5 live vertices x 2 other ops, plus the valid single edge flips
  assert all(nb101.is_valid(e) for e in nbhd)
  assert np.sum(np.any(nbhd[:, 21:] != readme[21:], axis=1)) == 10
  assert all(np.sum(e != readme) == 1 for e in nbhd)


def test_vertex_channels_and_costs():
  cell = nb101.prune(nb101.encode(README_CELL))
  # output fed by 4 vertices: 128 / 4 = 32 each; vertex 3 (feeds 4 only) takes 32
  assert vertex_channels(128, 128, cell.matrix) == [128, 32, 32, 32, 32, 32, 128]
  assert vertex_channels(64, 130, cell.matrix) == [64, 33, 33, 32, 32, 32, 130]
  # stem 3x3x3x128 + BN, 9 projections 1x1 into each width, classifier 512*10 + 10
  bare = nb101.encode(BARE)
  stem = 27 * 128 + 256
  proj = 3 * (128 * 128 + 256) + (128 * 256 + 512) + 2 * (256 * 256 + 512) + (
      256 * 512 + 1024) + 2 * (512 * 512 + 1024)
  assert nb101.num_params(bare) == stem + proj + 5130
  assert nb101.num_params(nb101.encode(README_CELL)) > nb101.num_params(bare)
  assert nb101.flops(bare) == 27 * 128 * 1024 + 3 * 128 * 128 * 1024 + (
      128 * 256 + 2 * 256 * 256) * 256 + (256 * 512 + 2 * 512 * 512) * 64 + 5130
