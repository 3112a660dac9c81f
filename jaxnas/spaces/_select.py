"""Selecting architectures of a space from a short text spec (used by the CLI)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("jaxnas")


def parse_archs(space, spec: str) -> np.ndarray:
  """Official indices selected by `spec`, in the order given, each once.

  Specs: ``all`` | ``START:STOP`` (official indices, half-open) | ``random:N[:SEED]`` (N distinct
  indices, uniform, sorted; SEED defaults to 0) | a FILE with one official index or arch string per
  line (blank lines and ``#`` comments ignored; an architecture listed again, by index or by arch
  string, is logged as a warning and kept once, at its first line).

  ``random:N:SEED`` is ``np.sort(default_rng(SEED).choice(space.size, N, replace=False))``
  (the space's ``sample_indices``). Samples of one seed are nested (``random:500:0``
  is a subset of ``random:1000:0``) only where NumPy draws by a tail shuffle, i.e. on spaces of
  more than 10,000 cells for N > size // 50 (NB201: N >= 313; NATS-SSS: N >= 656). Smaller N are
  drawn by Floyd's algorithm and share few cells with larger samples (``random:200:0`` has 19 of
  ``random:1000:0``'s cells, ``random:12:1`` none of ``random:50:1``'s). Not changed: nesting
  them would change samples that committed benchmark results were computed on (``random:200:0``).
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
          items.append((lineno, int(space.index_of(space.encoding_of(int(text))))))
        else:
          items.append((lineno, int(space.index_of(space.encode(text)))))
      except ValueError as e:
        raise ValueError(f"{path}:{lineno}: {e}") from None
    if not items:
      raise ValueError(f"{path} lists no architectures.")
    first: dict[int, int] = {}
    repeats = []
    for lineno, index in items:
      if index in first:
        repeats.append(f"line {lineno} repeats index {index} of line {first[index]}")
      else:
        first[index] = lineno
    if repeats:
      log.warning("%s: %d architecture(s) listed more than once, scored once: %s", path,
                  len(repeats), "; ".join(repeats[:5]) + ("; ..." if len(repeats) > 5 else ""))
    return np.asarray(list(first), np.int64)
  if ":" in spec:
    a, _, b = spec.partition(":")
    if a.isdigit() and b.isdigit():
      start, stop = int(a), int(b)
      if not 0 <= start < stop <= space.size:
        raise ValueError(f"`archs` range must satisfy 0 <= START < STOP <= {space.size}, got {spec!r}.")
      return np.arange(start, stop)
  raise ValueError(f"`archs` must be all, START:STOP, random:N[:SEED] or an existing file; got {spec!r}.")
