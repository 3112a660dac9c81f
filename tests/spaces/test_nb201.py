import csv

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxnas import spaces
from jaxnas.spaces import nb201
from jaxnas.spaces._nb201 import EDGES, OPS, product_order_strings

from ..conftest import NB201_CSV, ROOT, needs_file

encodings = st.lists(st.integers(0, 4), min_size=6, max_size=6).map(np.asarray)


@needs_file(NB201_CSV)
def test_all_15625_index_arch_pairs_match_benchmark_table():
  with open(NB201_CSV, newline="") as fh:
    rows = list(csv.DictReader(fh))
  assert len(rows) == 15625
  idx = np.asarray([int(r["index"]) for r in rows])
  enc = nb201.encoding_of(idx)
  mismatches = [int(i) for i, e, r in zip(idx, enc, rows) if nb201.decode(e) != r["arch"]]
  assert mismatches == []
  assert np.array_equal(nb201.index_of(np.stack([nb201.encode(r["arch"]) for r in rows])), idx)


@needs_file(NB201_CSV)
def test_zero_output_cells_are_the_341_at_chance_accuracy():
  with open(NB201_CSV, newline="") as fh:
    rows = {int(r["index"]): float(r["cifar10_test_acc"]) for r in csv.DictReader(fh)}
  zero = np.flatnonzero(nb201.is_zero_output(nb201.all_encodings()))
  assert len(zero) == 341
  assert {rows[int(i)] for i in zero} == {10.0}


def test_official_order_is_a_permutation_with_known_anchors():
  enc = nb201.all_encodings()
  assert len({tuple(e) for e in enc}) == 15625
  assert nb201.decode(enc[9930]) == ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
                                     "|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
  strings = product_order_strings()
  assert strings[0] == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
  assert strings[1] == "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"


def _zero_by_paths(enc):
  """Brute force: is there any 0->3 path avoiding 'none'?"""
  adj = {(t, s): enc[p] != 0 for p, (t, s) in enumerate(EDGES)}
  paths = [[(1, 0), (3, 1)], [(3, 0)], [(2, 0), (3, 2)], [(1, 0), (2, 1), (3, 2)]]
  return not any(all(adj[e] for e in path) for path in paths)


@given(encodings)
def test_zero_output_matches_path_enumeration(enc):
  assert bool(nb201.is_zero_output(enc)) == _zero_by_paths(enc)


@given(encodings)
def test_encode_decode_index_round_trip(enc):
  s = nb201.decode(enc)
  assert np.array_equal(nb201.encode(s), enc)
  assert np.array_equal(nb201.encoding_of(nb201.index_of(enc)), enc)


def test_canonical_counts_match_benchmark_convention_and_semantic_form():
  enc = nb201.all_encodings()
  assert len({nb201.canonical(e) for e in enc}) == 6466  # NAS-Bench-201 / NAS-Bench-Suite-Zero
  semantic = [nb201.canonical(e, semantic=True) for e in enc]
  assert len(set(semantic)) == 5390
  zero = nb201.is_zero_output(enc)
  assert {s for s, z in zip(semantic, zero) if z} == {"#"}


def test_canonical_identifies_isomorphic_cells():
  # Both compute conv3x3(x) + conv1x1(x): the two intermediate nodes swap roles.
  a = nb201.encode("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|")
  c = nb201.encode("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|")
  assert nb201.canonical(a, semantic=True) == nb201.canonical(c, semantic=True)
  # The benchmark convention keeps the 'none' terms ('#') and so tells them apart.
  assert nb201.canonical(a) != nb201.canonical(c)
  # Reordering the inputs of a node never matters, in either convention.
  e = nb201.encode("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|")
  f = nb201.encode("|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|")
  assert nb201.canonical(e) == nb201.canonical(f)
  d = nb201.encode("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|nor_conv_3x3~2|")
  assert nb201.canonical(a, semantic=True) != nb201.canonical(d, semantic=True)


@pytest.mark.parametrize("bad, match", [
    ("|nor_conv_3x3~0|+|none~0|none~1|", "3 '\\+'-separated"),
    ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "Unknown NB201 op 'conv'.*valid ops: none, "
     "skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "must read from node 0"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 must have 2 incoming edges"),
    ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "not of the form"),
])
def test_encode_errors_name_the_problem(bad, match):
  with pytest.raises(ValueError, match=match):
    nb201.encode(bad)


def test_encoding_and_index_validation():
  with pytest.raises(ValueError, match="position 2; valid values there are 0..4"):
    nb201.decode([0, 0, 5, 0, 0, 0])
  with pytest.raises(ValueError, match="6 entries"):
    nb201.decode([0, 0, 0])
  with pytest.raises(TypeError, match="integers"):
    nb201.decode([0.5] * 6)
  with pytest.raises(ValueError, match=r"\[0, 15625\)"):
    nb201.encoding_of(15625)
  with pytest.raises(TypeError):
    nb201.encode(123)
  assert not nb201.is_valid([9, 0, 0, 0, 0, 0]) and nb201.is_valid([4, 0, 0, 0, 0, 0])


def test_num_params_and_flops_match_published_ranges():
  # NAS-Bench-201 paper: params 0.07-1.53 M, FLOPs 7.78-220.11 M (xautodl counters) on CIFAR-10.
  assert nb201.num_params([0] * 6) == 73306 and nb201.num_params([3] * 6) == 1531546
  assert nb201.flops([0] * 6) == 7783050 and nb201.flops([3] * 6) == 220119690
  assert nb201.num_params([3] * 6, num_classes=100) == 1531546 + 64 * 90 + 90
  assert nb201.num_params([3] * 6, variant="zero_cost_nas") == 1531546 - 5 * 6 * (16 + 32 + 64)


def test_sampling_mutation_neighbours_are_pure_and_valid(getkey):
  rng = np.random.default_rng(1)
  pop = nb201.sample(rng, 32)
  assert pop.shape == (32, 6) and all(nb201.is_valid(e) for e in pop)
  assert np.array_equal(nb201.sample(np.random.default_rng(1), 32), pop)
  assert np.array_equal(nb201.sample(jax.random.key(3), 5), nb201.sample(jax.random.key(3), 5))
  e = pop[0].copy()
  m = nb201.mutate(rng, e)
  assert np.array_equal(e, pop[0]) and np.sum(m != e) == 1
  nb = nb201.neighbours(e)
  assert nb.shape == (24, 6) and len({tuple(n) for n in nb}) == 24
  assert np.all(np.sum(nb != e, axis=1) == 1) and np.array_equal(e, pop[0])
  idx = nb201.sample_indices(np.random.default_rng(0), 200)
  assert len(set(idx.tolist())) == 200 and idx.max() < 15625
  with pytest.raises(TypeError, match="numpy.random.Generator or a jax.random key"):
    nb201.sample(0, 3)


def test_parse_archs_specs(tmp_path):
  assert np.array_equal(spaces.parse_archs(nb201, "5:8"), [5, 6, 7])
  assert len(spaces.parse_archs(nb201, "all")) == 15625
  r = spaces.parse_archs(nb201, "random:10:3")
  assert np.array_equal(r, spaces.parse_archs(nb201, "random:10:3")) and len(set(r)) == 10
  f = tmp_path / "archs.txt"
  f.write_text("9930\n# comment\n\n" + nb201.decode(nb201.encoding_of(11)) + "\n")
  assert np.array_equal(spaces.parse_archs(nb201, str(f)), [9930, 11])
  f.write_text("9930\n|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")
  with pytest.raises(ValueError, match="archs.txt:2: Unknown NB201 op 'bad'"):
    spaces.parse_archs(nb201, str(f))
  for bad in ("8:5", "random:x", "nofile.txt", "0:99999"):
    with pytest.raises(ValueError):
      spaces.parse_archs(nb201, bad)
  assert OPS[0] == "none"


def test_parse_archs_file_repeats_are_scored_once(tmp_path, caplog):
  f = tmp_path / "archs.txt"
  f.write_text("3\n5\n3\n" + nb201.decode(nb201.encoding_of(5)) + "\n7\n")
  with caplog.at_level("WARNING", logger="jaxnas"):
    assert spaces.parse_archs(nb201, str(f)).tolist() == [3, 5, 7]
  assert "2 architecture(s) listed more than once, scored once" in caplog.text
  assert "line 3 repeats index 3 of line 1; line 4 repeats index 5 of line 2" in caplog.text


def _committed_indices(name):
  path = ROOT / "benchmarks" / "results" / name
  if not path.exists():
    pytest.skip(f"{path} not in this checkout")
  with open(path, newline="") as fh:
    return sorted(int(r["index"]) for r in csv.DictReader(fh))


def test_random_samples_keep_the_cells_of_committed_results():
  """`random:N:SEED` is what the committed benchmark results were scored on; the documented
  nesting holds for N > size // 50 only (NumPy's tail shuffle) and fails below (Floyd)."""
  r1000 = spaces.parse_archs(nb201, "random:1000:0")
  assert r1000.tolist() == _committed_indices("correlation_nb201_classic_scores.csv")
  r200 = spaces.parse_archs(nb201, "random:200:0")
  assert r200.tolist() == _committed_indices("foundation_nb201_200_scores.csv")
  assert len(set(r200) & set(r1000)) == 19  # not nested below size // 50 = 312
  assert not set(spaces.parse_archs(nb201, "random:12:1")) & set(
      spaces.parse_archs(nb201, "random:50:1"))
  for small, big, seed in [(313, 1000, 0), (500, 1000, 1), (1000, 15625, 2)]:
    assert set(spaces.parse_archs(nb201, f"random:{small}:{seed}")) <= set(
        spaces.parse_archs(nb201, f"random:{big}:{seed}"))
  sss = spaces.nats_sss
  assert set(spaces.parse_archs(sss, "random:656:4")) <= set(
      spaces.parse_archs(sss, "random:900:4"))
