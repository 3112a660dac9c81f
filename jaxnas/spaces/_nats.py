"""NATS-Bench size search space (SSS): 5 channel widths around a fixed NB201 cell.

Reference: Dong et al., "NATS-Bench: Benchmarking NAS Algorithms for Architecture Topology and
Size", TPAMI 2021; AutoDL-Projects ``exps/NATS-Bench/main-sss.py`` and xautodl
``DynamicShapeTinyNet``.
"""

from __future__ import annotations

import re

import numpy as np

from ._base import EncodedSpace, check_encoding, check_index, mixed_radix_digits, mixed_radix_index
from ._nb201 import nb201

#: Channel choices of every layer; encoding value d means CHANNELS[d] = 8 * (d + 1).
CHANNELS: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
NUM_LAYERS = 5
#: The fixed cell of the size space: NB201 index 9930.
CELL_INDEX = 9930
_CHOICES = (len(CHANNELS),) * NUM_LAYERS
_SPACE = "nats_sss"
_ARCH = re.compile(r"^\d+(:\d+){4}$")


class NATSSizeSpace(EncodedSpace):
  """NATS-Bench size space: 8^5 = 32,768 channel configurations ``'c1:c2:c3:c4:c5'``.

  Encoding: 5 integers d_k in 0..7 (channels 8 * (d_k + 1)). Official index: mixed radix base 8,
  layer 1 most significant. Layers: cell(c1) | resblock(c2) | cell(c3) | resblock(c4) | cell(c5).

  Example:
    >>> from jaxnas.spaces import nats_sss
    >>> nats_sss.decode(nats_sss.encoding_of(32767))
    '64:64:64:64:64'
  """

  name = _SPACE
  channels = CHANNELS
  size = len(CHANNELS) ** NUM_LAYERS
  encoding_length = NUM_LAYERS
  choices_per_position = _CHOICES

  @property
  def cell(self) -> np.ndarray:
    """NB201 encoding of the fixed cell (index 9930)."""
    return nb201.encoding_of(CELL_INDEX)

  def encode(self, arch: str) -> np.ndarray:
    if not isinstance(arch, str):
      raise TypeError(f"`arch` must be a NATS size string 'c1:c2:c3:c4:c5', got {type(arch).__name__}.")
    if not _ARCH.match(arch.strip()):
      raise ValueError(f"NATS size arch must look like '16:32:32:64:64' (5 widths), got {arch!r}.")
    widths = [int(t) for t in arch.strip().split(":")]
    for pos, w in enumerate(widths):
      if w not in CHANNELS:
        raise ValueError(
            f"NATS size width {w} at layer {pos + 1} of {arch!r} is not one of {list(CHANNELS)}."
        )
    return np.asarray([CHANNELS.index(w) for w in widths], dtype=np.int64)

  def decode(self, encoding) -> str:
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    if enc.ndim != 1:
      raise ValueError(f"`encoding` must be one architecture (shape (5,)), got shape {enc.shape}.")
    return ":".join(str(CHANNELS[d]) for d in enc)

  def widths(self, encoding) -> np.ndarray:
    """Channel widths (..., 5) of encoding(s)."""
    return np.asarray(CHANNELS)[check_encoding(encoding, _CHOICES, _SPACE)]

  def index_of(self, encoding) -> np.ndarray:
    return mixed_radix_index(check_encoding(encoding, _CHOICES, _SPACE), _CHOICES)

  def encoding_of(self, index) -> np.ndarray:
    return mixed_radix_digits(check_index(index, self.size, _SPACE), _CHOICES)

  def all_encodings(self) -> np.ndarray:
    return self.encoding_of(np.arange(self.size))

  def is_zero_output(self, encoding) -> np.ndarray:
    """Never: the fixed cell has a live path. Provided for interface parity with NB201."""
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    return np.zeros(enc.shape[:-1], dtype=bool)

  def num_params(self, encoding, *, num_classes: int = 10) -> int:
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    from jaxnas.models._cost import macro_cost  # network costs live with the networks

    return macro_cost(self.cell, [CHANNELS[d] for d in enc], num_classes, 32, "xautodl")[0]

  def flops(self, encoding, *, num_classes: int = 10, image_size: int = 32) -> int:
    """MACs per image of conv/linear layers (xautodl ``get_model_infos`` convention)."""
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    from jaxnas.models._cost import macro_cost  # network costs live with the networks

    return macro_cost(self.cell, [CHANNELS[d] for d in enc], num_classes, image_size, "xautodl")[1]


nats_sss = NATSSizeSpace()
