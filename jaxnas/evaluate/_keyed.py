"""Ground truth keyed by architecture (a ``key`` column) rather than by official index."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np


def _identity(space, arch) -> str:
  """What makes two architectures the same network in `space`: ``space.identity`` (nb101: the
  graph hash) where the space defines it, else its arch string."""
  enc = space.encode(arch)
  ident = getattr(space, "identity", None)
  return ident(enc) if ident is not None else space.decode(enc)


def keyed_truth(space, archs: Sequence[str], path, column: str) -> np.ndarray:
  """`column` of the CSV at `path` for each of `archs`, matching its ``key`` column through the
  space: a key and an arch match when ``space.encode`` of both is the same network
  (``space.identity``; for nb101 the NAS-Bench-101 graph hash, so a NASLib tuple key with dangling
  vertices matches the canonical arch string ``jaxnas score`` writes). Rows of one network with
  different values (NAS-Bench-101's csv holds one of three training repeats per row) give their
  mean. ValueError naming the first arch absent from the table."""
  p = Path(path).expanduser()
  if not p.is_file():
    raise FileNotFoundError(f"Truth table not found: {p}.")
  with open(p, newline="") as fh:
    reader = csv.DictReader(fh)
    fields = reader.fieldnames or []
    if "key" not in fields or column not in fields:
      raise ValueError(f"{p}: a keyed truth table needs columns 'key' and {column!r}; has {fields}.")
    sums: dict = {}
    for r in reader:
      try:
        ident = _identity(space, r["key"])
      except (TypeError, ValueError) as e:
        raise ValueError(f"{p}:{reader.line_num}: key {r['key']!r}: {e}") from None
      s = sums.setdefault(ident, [0.0, 0])
      s[0] += float(r[column])
      s[1] += 1
  out = np.empty(len(archs))
  for k, a in enumerate(archs):
    ident = _identity(space, a)
    if ident not in sums:
      raise ValueError(f"arch {a!r} ({space.name}) has no row in {p}.")
    total, count = sums[ident]
    out[k] = total / count
  return out
