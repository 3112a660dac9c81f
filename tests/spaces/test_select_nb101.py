"""Selecting architectures of a space without an official index (nb101) from a FILE."""

import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.spaces import nb101

BARE = "000001/00000/0000/000/00/0|conv3x3,conv3x3,conv3x3,conv3x3,conv3x3"
README = "111010/00001/0001/100/01/1|conv1x1,conv3x3,conv3x3,conv3x3,maxpool3x3"


def test_file_lines_are_the_index_and_repeats_of_a_graph_are_scored_once(tmp_path, caplog):
  key = str(nb101.to_naslib(nb101.encode(README)))
  # the bare cell again, with a dangling vertex 1: the same network after pruning
  dangling = "100001/00000/0000/000/00/0|maxpool3x3,conv1x1,conv3x3,conv3x3,conv3x3"
  f = tmp_path / "cells.txt"
  f.write_text(f"# nb101 cells\n{BARE}\n\n{key}  # NASLib key\n{dangling}\n")
  sel = spaces.select_archs(nb101, str(f))
  assert sel.indices.tolist() == [1, 3]
  assert sel.archs == (BARE, README)
  assert np.array_equal(sel.encodings_of([3]), nb101.encode(README)[None])
  assert sel.arch_of(1) == BARE
  assert "line 5 repeats line 2" in caplog.text


def test_errors_name_the_line_and_the_spec(tmp_path):
  f = tmp_path / "bad.txt"
  f.write_text(f"{BARE}\n{BARE.replace('000001', '000000')}\n")
  with pytest.raises(ValueError, match=r"bad.txt:2: .*no path from the input"):
    spaces.select_archs(nb101, str(f))
  with pytest.raises(ValueError, match="no official index, so all"):
    spaces.select_archs(nb101, "random:5")


def test_official_spaces_select_as_before():
  sel = spaces.select_archs(spaces.nb201, "3:5")
  assert sel.indices.tolist() == [3, 4]
  assert sel.arch_of(4) == spaces.nb201.decode(spaces.nb201.encoding_of(4))
