"""Selecting architectures of a space from a short text spec (used by the CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def parse_archs(space, spec: str) -> np.ndarray:
  """Official indices selected by `spec`, in the order given.

  Specs: ``all`` | ``START:STOP`` (official indices, half-open) | ``random:N[:SEED]`` (N distinct
  indices, uniform, sorted; SEED defaults to 0) | a FILE with one official index or arch string per
  line (blank lines and ``#`` comments ignored).
  """
  if not isinstance(spec, str) or not spec.strip():
    raise ValueError("`archs` must be all, START:STOP, random:N[:SEED] or a file path.")
  spec = spec.strip()
  if spec == "all":
    return np.arange(space.size)
  if spec.startswith("random:"):
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[1:]):
      raise ValueError(f"`archs` random spec must be random:N or random:N:SEED, got {spec!r}.")
    n = int(parts[1])
    seed = int(parts[2]) if len(parts) == 3 else 0
    return space.sample_indices(np.random.default_rng(seed), n)
  path = Path(spec).expanduser()
  if path.is_file():
    items = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
      text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("|") else line.strip()
      if not text:
        continue
      try:
        if text.isdigit():
          items.append(int(space.index_of(space.encoding_of(int(text)))))
        else:
          items.append(int(space.index_of(space.encode(text))))
      except ValueError as e:
        raise ValueError(f"{path}:{lineno}: {e}") from None
    if not items:
      raise ValueError(f"{path} lists no architectures.")
    return np.asarray(items, np.int64)
  if ":" in spec:
    a, _, b = spec.partition(":")
    if a.isdigit() and b.isdigit():
      start, stop = int(a), int(b)
      if not 0 <= start < stop <= space.size:
        raise ValueError(f"`archs` range must satisfy 0 <= START < STOP <= {space.size}, got {spec!r}.")
      return np.arange(start, stop)
  raise ValueError(f"`archs` must be all, START:STOP, random:N[:SEED] or an existing file; got {spec!r}.")
