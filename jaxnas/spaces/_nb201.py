"""NAS-Bench-201 (and NATS-Bench topology) cell space.

Reference: Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture
Search", ICLR 2020; xautodl ``CellStructure`` and AutoDL-Projects' benchmark generator.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from typing import Sequence

import numpy as np

from ._base import EncodedSpace, check_encoding, check_index, mixed_radix_digits, mixed_radix_index

#: The one canonical op vocabulary of NB201 (order = integer codes in encodings).
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NONE, SKIP, CONV1X1, CONV3X3, AVG_POOL = range(5)

#: Edges as (target node, source node), in arch-string order: 1<-0 | 2<-0, 2<-1 | 3<-0, 3<-1, 3<-2.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

NUM_NODES = 4
_CHOICES = (len(OPS),) * len(EDGES)
_SPACE = "nb201"
_ENTRY = re.compile(r"^([a-z0-9_]+)~(\d+)$")


def _fmt_ops() -> str:
  return ", ".join(OPS)


@functools.lru_cache(maxsize=1)
def _official_order() -> tuple[np.ndarray, np.ndarray]:
  """(product position of official index i, official index of product position p).

  The benchmark enumerates cells in product order and then applies Python's
  ``random.seed(88); random.shuffle(list)``. The permutation depends only on the list length, so
  shuffling the positions reproduces it with the standard library (no table is shipped).
  """
  perm = list(range(len(OPS) ** len(EDGES)))
  random.Random(88).shuffle(perm)
  to_product = np.asarray(perm, dtype=np.int64)
  to_official = np.empty_like(to_product)
  to_official[to_product] = np.arange(to_product.size)
  to_product.setflags(write=False)
  to_official.setflags(write=False)
  return to_product, to_official


class NB201Space(EncodedSpace):
  """The NB201 cell space: 6 edges x 5 ops = 15,625 cells.

  Encoding: 6 op codes (indices into :data:`OPS`) for the edges in :data:`EDGES` order, which is the
  order of the arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

  Example:
    >>> from jaxnas.spaces import nb201
    >>> enc = nb201.encoding_of(9930)
    >>> nb201.decode(enc)
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
    >>> int(nb201.index_of(enc))
    9930
  """

  name = _SPACE
  ops = OPS
  edges = EDGES
  size = len(OPS) ** len(EDGES)
  encoding_length = len(EDGES)
  choices_per_position = _CHOICES

  # -- string / encoding / index ------------------------------------------------------------
  def encode(self, arch: str) -> np.ndarray:
    """Arch string -> encoding (int64, shape (6,)). Raises ValueError naming the bad token."""
    if not isinstance(arch, str):
      raise TypeError(f"`arch` must be an NB201 arch string, got {type(arch).__name__}.")
    text = arch.strip()
    nodes = text.split("+")
    if len(nodes) != NUM_NODES - 1:
      raise ValueError(
          f"NB201 arch string must have {NUM_NODES - 1} '+'-separated node groups, got "
          f"{len(nodes)} in {arch!r}. Expected e.g. '|nor_conv_3x3~0|+|none~0|skip_connect~1|+"
          "|avg_pool_3x3~0|nor_conv_1x1~1|none~2|'."
      )
    enc = np.zeros(len(EDGES), dtype=np.int64)
    pos = 0
    for target, group in enumerate(nodes, start=1):
      if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
        raise ValueError(f"NB201 node group {target} must look like '|op~k|...|', got {group!r}.")
      entries = group[1:-1].split("|")
      if len(entries) != target:
        raise ValueError(
            f"NB201 node {target} must have {target} incoming edges, got {len(entries)} in "
            f"{group!r}."
        )
      for source, entry in enumerate(entries):
        m = _ENTRY.match(entry)
        if m is None:
          raise ValueError(f"NB201 edge token {entry!r} (node {target}) is not of the form 'op~k'.")
        op, src = m.group(1), int(m.group(2))
        if op not in OPS:
          raise ValueError(
              f"Unknown NB201 op {op!r} in token {entry!r} (node {target}, edge {source}); valid ops: "
              f"{_fmt_ops()}."
          )
        if src != source:
          raise ValueError(
              f"NB201 token {entry!r} (node {target}) must read from node {source}, got ~{src}."
          )
        enc[pos] = OPS.index(op)
        pos += 1
    return enc

  def decode(self, encoding) -> str:
    """Encoding -> official arch string."""
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    if enc.ndim != 1:
      raise ValueError(f"`encoding` must be one architecture (shape (6,)), got shape {enc.shape}.")
    groups = []
    pos = 0
    for target in range(1, NUM_NODES):
      items = []
      for source in range(target):
        items.append(f"{OPS[enc[pos]]}~{source}")
        pos += 1
      groups.append("|" + "|".join(items) + "|")
    return "+".join(groups)

  def index_of(self, encoding) -> np.ndarray:
    """Encoding(s) (..., 6) -> official NB201 index(es)."""
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    _, to_official = _official_order()
    return to_official[mixed_radix_index(enc, _CHOICES)]

  def encoding_of(self, index) -> np.ndarray:
    """Official NB201 index(es) -> encoding(s) (..., 6)."""
    idx = check_index(index, self.size, _SPACE)
    to_product, _ = _official_order()
    return mixed_radix_digits(to_product[idx], _CHOICES)

  def all_encodings(self) -> np.ndarray:
    """All 15,625 encodings, row i = official index i."""
    return self.encoding_of(np.arange(self.size))

  # -- graph utilities ----------------------------------------------------------------------
  def is_zero_output(self, encoding) -> np.ndarray:
    """True where every path from node 0 to node 3 passes through ``none``: output is all zero.

    Exactly 341 of the 15,625 cells are such; they train to chance accuracy (10% on CIFAR-10).
    """
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    live = enc != NONE
    reach1 = live[..., 0]
    reach2 = live[..., 1] | (reach1 & live[..., 2])
    reach3 = live[..., 3] | (reach1 & live[..., 4]) | (reach2 & live[..., 5])
    return ~reach3

  def canonical(self, encoding, *, semantic: bool = False) -> str:
    """Isomorphism-canonical form of a cell, as a string (equal strings => same function).

    Default: xautodl's ``CellStructure.to_unique_str(consider_zero=True)``, the convention behind
    the commonly quoted 6,466 non-isomorphic NB201 cells: ``skip_connect`` passes its input
    through, a ``none`` edge (or an edge out of a zero node) becomes the term ``'#'``, and a node is
    the sorted sum of its terms. That convention keeps ``'#'`` terms in sums (so ``a`` and ``a+#``
    differ) and does not recognise a node whose terms are all ``'#'`` as zero.

    With ``semantic=True`` zero terms are dropped and all-zero nodes are zero, so cells that compute
    the same function always share a form: 5,390 classes (all 341 zero-output cells become
    ``'#'``). Both are checked over the whole space in the tests.
    """
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    nodes = {0: "0"}
    for target in range(1, NUM_NODES):
      terms = []
      for pos, (t, source) in enumerate(EDGES):
        if t != target:
          continue
        op, x = int(enc[pos]), nodes[source]
        if op == NONE or x == "#":
          if not semantic:
            terms.append("#")
          continue
        terms.append(x if op == SKIP else f"({x})@{OPS[op]}")
      nodes[target] = "+".join(sorted(terms)) if terms else "#"
    return nodes[NUM_NODES - 1]

  def num_params(self, encoding, *, num_classes: int = 10, variant: str = "xautodl", C: int = 16,
                 N: int = 5) -> int:
    """Number of trainable parameters of the exact network (see :mod:`jaxnas.models`).

    `variant='xautodl'` is the official network (cell convs without bias, affine cell BN);
    `variant='zero_cost_nas'` counts zero-cost-nas's cell (conv bias, non-affine BN) without the
    masked-out candidate ops it also keeps. The all-conv3x3 cell has 1,531,546 (1.53 M).
    """
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    _check_variant(variant)
    widths = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
    from jaxnas.models._cost import macro_cost  # network costs live with the networks

    return macro_cost(enc, widths, num_classes, 32, variant)[0]

  def flops(self, encoding, *, num_classes: int = 10, image_size: int = 32, variant: str = "xautodl",
            C: int = 16, N: int = 5) -> int:
    """Multiply-accumulates per image of conv and linear layers (incl. bias adds).

    Follows xautodl's ``get_model_infos`` (the benchmark's own FLOP counter): Conv2d and Linear
    are counted, pooling, BN and ReLU are not. The all-conv3x3 cell gives 220.1 M on 32x32 inputs.
    """
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    _check_variant(variant)
    widths = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
    from jaxnas.models._cost import macro_cost  # network costs live with the networks

    return macro_cost(enc, widths, num_classes, image_size, variant)[1]


def _check_variant(variant: str) -> None:
  if variant not in ("xautodl", "zero_cost_nas"):
    raise ValueError(f"`variant` must be 'xautodl' or 'zero_cost_nas', got {variant!r}.")


def product_order_strings() -> list[str]:
  """All arch strings in the benchmark generator's product order (before the shuffle)."""
  space = NB201Space()
  return [space.decode(np.asarray(e)) for e in itertools.product(range(len(OPS)), repeat=6)]


def parse_arch_list(items: Sequence[str | int]) -> np.ndarray:
  """Encodings from a list of official indices and/or arch strings."""
  space = NB201Space()
  out = []
  for item in items:
    if isinstance(item, (int, np.integer)) or (isinstance(item, str) and item.strip().isdigit()):
      out.append(space.encoding_of(int(item)))
    else:
      out.append(space.encode(str(item)))
  return np.stack(out) if out else np.zeros((0, len(EDGES)), dtype=np.int64)


nb201 = NB201Space()
