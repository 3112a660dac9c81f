"""Selecting architectures of a space from a short text spec (used by the CLI)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

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


class Selection(NamedTuple):
  """Architectures chosen for scoring.

  Attributes:
    indices: (P,) int64 row ids: official indices, or for a space without an official index the
      0-based line numbers of the FILE the architectures were listed in.
    encodings: (P, L) int64 encodings, row k for ``indices[k]``.
    archs: (P,) arch strings (for a space without an official index its canonical string:
      ``space.decode(space.canonical(e))`` where the space has ``canonical``).
  """

  indices: np.ndarray
  encodings: np.ndarray
  archs: tuple

  def arch_of(self, index: int) -> str:
    return self.archs[self._pos()[int(index)]]

  def encodings_of(self, indices) -> np.ndarray:
    pos = self._pos()
    return self.encodings[[pos[int(i)] for i in np.asarray(indices).ravel()]].reshape(
        -1, self.encodings.shape[1])

  def _pos(self) -> dict:
    return {int(i): k for k, i in enumerate(self.indices)}


def select_archs(space, spec: str) -> Selection:
  """The architectures `spec` selects (see :func:`parse_archs`), with their encodings and arch
  strings. A space with an official index takes every spec :func:`parse_archs` takes; one without
  (``space.official_index`` False: nb101) takes a FILE only, one architecture per line in any form
  ``space.encode`` accepts (for nb101: arch strings, NASLib tuple keys), blank lines and ``#``
  comments ignored. Its ``index`` is the 0-based line number; each architecture is checked valid
  (``space.check_valid`` where the space has it), and one listed again (same ``space.identity``,
  for nb101 the same graph hash: the same network) is logged as a warning and kept once, at its
  first line. Its encoding is ``space.canonical(e)`` where the space has ``canonical``."""
  if getattr(space, "official_index", True):
    idx = parse_archs(space, spec)
    enc = space.encoding_of(idx)
    return Selection(idx, enc, tuple(space.decode(e) for e in enc))
  if not isinstance(spec, str) or not spec.strip():
    raise ValueError(f"`archs` for {space.name} must be a FILE listing architectures.")
  path = Path(spec.strip()).expanduser()
  if not path.is_file():
    raise ValueError(f"`archs` for {space.name} must be an existing FILE with one architecture per "
                     f"line ({space.name} has no official index, so all, START:STOP and random:N "
                     f"do not apply); got {spec!r}.")
  canonical = getattr(space, "canonical", None)
  check = getattr(space, "check_valid", None)
  identity = getattr(space, "identity", space.decode)
  first: dict = {}
  rows, repeats = [], []
  for lineno, line in enumerate(path.read_text().splitlines()):
    text = line.split("#", 1)[0].strip()
    if not text:
      continue
    try:
      enc = space.encode(text)
      if check is not None:
        check(enc)
      ident = identity(enc)
      if canonical is not None:
        enc = canonical(enc)
    except (TypeError, ValueError) as e:
      raise ValueError(f"{path}:{lineno + 1}: {e}") from None
    if ident in first:
      repeats.append(f"line {lineno + 1} repeats line {first[ident] + 1}")
      continue
    first[ident] = lineno
    rows.append((lineno, enc))
  if not rows:
    raise ValueError(f"{path} lists no architectures.")
  if repeats:
    log.warning("%s: %d architecture(s) listed more than once, scored once: %s", path,
                len(repeats), "; ".join(repeats[:5]) + ("; ..." if len(repeats) > 5 else ""))
  enc = np.stack([e for _, e in rows]).astype(np.int64)
  return Selection(np.asarray([i for i, _ in rows], np.int64), enc,
                   tuple(space.decode(e) for e in enc))
