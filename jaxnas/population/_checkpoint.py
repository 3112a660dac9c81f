"""Resumable score files: the CSV and settings file that ``jaxnas score`` writes, kept safe.

A score file is a CSV (``index, arch, one column per proxy``) next to a settings file
``OUT.meta.json``. Rows are appended (and fsynced) as chunks finish, so a killed run loses at most
the chunk in flight; a rerun with the same settings reads back the valid rows and scores the rest,
and the file is finally rewritten in the requested order, byte for byte what an uninterrupted run
writes. While a run writes, it holds an exclusive lock (``fcntl.flock`` on ``OUT.lock``), so a
second run on the same file is refused instead of interleaving rows with the first.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple, Optional, Sequence

import numpy as np

try:
  import fcntl
except ImportError:  # not POSIX: runs are not locked
  fcntl = None

log = logging.getLogger("jaxnas")

#: How to start again, appended to every refusal to resume.
RECOVER = "pass --overwrite to score from scratch into it, or choose another --out"


class OutputLockedError(ValueError):
  """Another run holds the lock of a score file."""


def meta_path(out) -> Path:
  """The settings file of score file `out`: ``OUT.meta.json``."""
  return Path(str(out) + ".meta.json")


def _lock_path(out) -> Path:
  return Path(str(out) + ".lock")


def _holder(path: Path) -> str:
  try:
    text = path.read_text().strip()
  except OSError:
    text = ""
  return text or "a process that has not written its name yet"


def _command() -> str:
  """This process's command line as typed (``python -m jaxnas`` shows as ``jaxnas``)."""
  argv = list(sys.argv) or ["python"]
  if Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "jaxnas":
    argv[0] = "jaxnas"
  return " ".join(argv)


@contextlib.contextmanager
def lock_output(out) -> Iterator[Path]:
  """Holds an exclusive lock on score file `out` (``fcntl.flock`` on ``OUT.lock``) for the block.

  The lock file names its holder (pid, host, start time, command); a second run gets an
  :class:`OutputLockedError` that names the first. The lock is released when the block ends or
  the process dies (kill -9 included: the kernel drops it), and its file is removed on release
  (while still locked, so a run waiting on the old file notices and retries on a new one).
  """
  path = _lock_path(out)
  if fcntl is None:
    log.warning("no fcntl on this platform: %s is not locked against a second run", out)
    yield path
    return
  path.parent.mkdir(parents=True, exist_ok=True)
  while True:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      raise OutputLockedError(
          f"{out} is being written by another run ({_holder(path)}; lock {path}). Wait for it to "
          "finish (then rerun to resume), stop it, or choose another --out.") from None
    try:
      same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
      same = False
    if same:
      break
    os.close(fd)  # the holder removed this file as we opened it: lock the new one
  try:
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    holder = f"pid {os.getpid()} on {socket.gethostname()}, started {started}: {_command()}"
    os.ftruncate(fd, 0)
    os.write(fd, holder.encode())
    os.fsync(fd)
    yield path
  finally:
    with contextlib.suppress(OSError):
      os.unlink(path)
    os.close(fd)


def _fsync_dir(path: Path) -> None:
  with contextlib.suppress(OSError):
    fd = os.open(path.parent, os.O_RDONLY)
    try:
      os.fsync(fd)
    finally:
      os.close(fd)


def _atomic_write(path: Path, write: Callable) -> None:
  """`write(fh)` into ``PATH.tmp``, fsync, rename over `path`: readers see the old or new file."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(path.name + ".tmp")
  with open(tmp, "w", newline="") as fh:
    write(fh)
    fh.flush()
    os.fsync(fh.fileno())
  os.replace(tmp, path)
  _fsync_dir(path)


def write_meta(path, meta: Mapping) -> None:
  """Writes settings file `path` atomically (temporary file, fsync, rename)."""
  _atomic_write(Path(path), lambda fh: fh.write(json.dumps(dict(meta), indent=1)))


def read_meta(path, *, out=None) -> Optional[dict]:
  """The settings in `path` (None if it does not exist).

  Raises ValueError naming the file and the cause when it is not a JSON object.
  """
  path = Path(path)
  if not path.exists():
    return None
  what = f"the settings file of {out}" if out is not None else "a settings file"
  try:
    meta = json.loads(path.read_text())
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise ValueError(f"{path} ({what}) cannot be read: {e}.") from None
  if not isinstance(meta, dict):
    raise ValueError(f"{path} ({what}) holds a JSON {type(meta).__name__}, expected an object of "
                     "settings.")
  return meta


def write_rows(path, header: Sequence[str], rows: Iterable[Sequence]) -> None:
  """Writes score CSV `path` (header, then `rows`) atomically (temporary file, fsync, rename)."""
  def write(fh):
    w = csv.writer(fh)
    w.writerow(header)
    w.writerows(rows)

  _atomic_write(Path(path), write)


def append_rows(path, rows: Iterable[Sequence]) -> None:
  """Appends `rows` to the score CSV `path` and fsyncs it (a kill loses no finished row)."""
  with open(path, "a", newline="") as fh:
    csv.writer(fh).writerows(rows)
    fh.flush()
    os.fsync(fh.fileno())


def format_row(index: int, arch: str, scores: Iterable[float]) -> list[str]:
  """A score row as written: the index, the arch string, each score as ``repr(float)``."""
  return [str(int(index)), arch] + [repr(float(v)) for v in scores]


class Rows(NamedTuple):
  """Rows read back from a score CSV.

  Attributes:
    rows: index -> fields (strings) of each valid row (the first one if an index repeats).
    invalid: one message per complete row that is not valid (``FILE:LINE: why``); its
      architecture is scored again.
    torn: 1 if the file ends in a line without its terminator (cut by a kill), else 0.
  """

  rows: dict
  invalid: list
  torn: int


def _is_score(text: str) -> bool:
  if text != text.strip() or "_" in text:
    return False
  try:
    float(text)
  except ValueError:
    return False
  return True


def _arch_or_error(arch_of, index: int) -> str:
  try:
    return arch_of(index)
  except (ValueError, IndexError) as e:
    return f"no such architecture: {e}"


def read_rows(path, header: Sequence[str], *, arch_of: Optional[Callable[[int], str]] = None
              ) -> Rows:
  """Reads and validates the rows of score CSV `path`.

  A row is valid if its line terminator was written (the csv module writes ``\\r\\n``; a line
  torn by a kill mid-write, even inside its last number, is dropped), it has one field per
  column, its index is an integer, its arch string is ``arch_of(index)`` (when given) and every
  score is a number (``nan`` and ``inf`` included). Raises ValueError if the header is not
  `header`.
  """
  path = Path(path)
  with open(path, newline="") as fh:
    lines = fh.read().splitlines(keepends=True)
  found = next(csv.reader([lines[0]])) if lines else []
  if found != list(header):
    raise ValueError(f"{path} exists with columns {found}, not {list(header)}; {RECOVER}.")
  rows, invalid, torn = {}, [], 0
  for lineno, line in enumerate(lines[1:], start=2):
    if not line.endswith("\n"):
      torn = 1
      continue
    fields = next(csv.reader([line]), [])
    why = None
    if len(fields) != len(header):
      why = f"{len(fields)} fields, expected {len(header)}"
    elif not re.fullmatch(r"0|[1-9][0-9]*", fields[0]):
      why = f"index {fields[0]!r} is not a plain non-negative integer"
    elif arch_of is not None and fields[1] != (arch := _arch_or_error(arch_of, int(fields[0]))):
      why = f"arch {fields[1]!r} is not that of index {fields[0]} ({arch})"
    else:
      bad = [(name, v) for name, v in zip(header[2:], fields[2:]) if not _is_score(v)]
      if bad:
        why = f"score {bad[0][1]!r} in column {bad[0][0]!r} is not a number"
    if why:
      invalid.append(f"{path}:{lineno}: {why}")
    else:
      rows.setdefault(int(fields[0]), fields)
  return Rows(rows, invalid, torn)


def _has_rows(path: Path) -> bool:
  """Whether `path` holds anything after its header line (a data row, complete or torn)."""
  with open(path, newline="") as fh:
    fh.readline()
    return bool(fh.read(1))


def resume_rows(out, meta: Mapping, header: Sequence[str], wanted: Sequence[int], *,
                arch_of: Optional[Callable[[int], str]] = None, defaults: Mapping = (),
                overwrite: bool = False) -> dict:
  """The valid rows already in score file `out` (index -> fields) that a run with settings
  `meta` may keep, for the indices in `wanted`.

  A missing or empty file, or one with only a header (whatever its settings file says, since
  nothing would be lost), is a fresh output: ``{}``. Otherwise its settings file must exist and
  equal `meta` (a key missing there reads as its value in `defaults`: settings added after the
  file was written); if not, ValueError names the files, the differing settings and how to
  recover. Invalid rows (see :func:`read_rows`) are logged and scored again.
  """
  out = Path(out)
  if overwrite or not out.exists() or not _has_rows(out):
    return {}
  mpath = meta_path(out)
  try:
    old = read_meta(mpath, out=out)
  except ValueError as e:
    raise ValueError(f"{e} Restore it, or {RECOVER}.") from None
  if old is None:
    raise ValueError(f"{out} has rows but its settings file {mpath} is missing, so they cannot "
                     f"be checked against this run's settings. Restore {mpath.name}, or {RECOVER}.")
  defaults = dict(defaults)
  differ = [k for k in meta if old.get(k, defaults.get(k)) != meta[k]]
  if differ:
    shown = "; ".join(f"{k}: {old.get(k, defaults.get(k))!r} there, {meta[k]!r} now"
                      for k in differ[:4])
    raise ValueError(f"{out} exists and was made with other settings ({shown}; see {mpath}); "
                     f"{RECOVER}.")
  got = read_rows(out, header, arch_of=arch_of)
  if got.invalid:
    log.warning("%s: %d invalid row(s) will be scored again: %s", out, len(got.invalid),
                "; ".join(got.invalid[:3]) + ("; ..." if len(got.invalid) > 3 else ""))
  return {i: got.rows[i] for i in wanted if i in got.rows}


def agree_on_done(done: Mapping, wanted: Sequence[int], error: Optional[str]) -> np.ndarray:
  """Multi-process runs: process 0's view of the finished rows (a bool per `wanted` index), sent
  to every process, since all must score the same remaining architectures. If process 0 could
  not resume (`error`, its message), every process raises ValueError."""
  import jax
  from jax.experimental import multihost_utils

  state = np.zeros(len(wanted) + 1, np.int32)
  if jax.process_index() == 0:
    state[0] = error is not None
    state[1:] = [i in done for i in wanted]
  state = np.asarray(multihost_utils.broadcast_one_to_all(state))
  if state[0]:
    raise ValueError(error or "process 0 refused to start (see its error message).")
  return state[1:].astype(bool)
