"""Benchmark ground truth: accuracy tables from CSV or from NATS-Bench files."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np


class BenchmarkTable(NamedTuple):
  """Per-architecture ground truth keyed by official index.

  Attributes:
    index: (M,) official indices.
    arch: (M,) arch strings.
    columns: numeric columns by name, each (M,) float64.
    source: where the table came from.
  """

  index: np.ndarray
  arch: np.ndarray
  columns: Mapping[str, np.ndarray]
  source: str

  def column(self, name: str) -> np.ndarray:
    if name not in self.columns:
      raise ValueError(f"Column {name!r} not in {self.source}; available: {', '.join(self.columns)}.")
    return self.columns[name]

  def lookup(self, indices, column: str) -> np.ndarray:
    """Values of `column` for official `indices` (ValueError if an index is absent)."""
    values = self.column(column)
    pos = {int(i): k for k, i in enumerate(self.index)}
    idx = np.asarray(indices, np.int64).ravel()
    missing = [int(i) for i in idx if int(i) not in pos]
    if missing:
      raise ValueError(f"{len(missing)} indices are not in {self.source}, e.g. {missing[:5]}.")
    return values[[pos[int(i)] for i in idx]]

  def dense(self, column: str, size: int) -> np.ndarray:
    """`column` as a (size,) float64 array indexed by official index; NaN where a row is absent.

    Search strategies look scores up by index under ``jit``, so a table of a sample of the space
    becomes an array over the whole space.
    """
    values = self.column(column)
    if int(size) != size or size < 1:
      raise ValueError(f"`size` must be a positive integer, got {size!r}.")
    if self.index.size and (self.index.min() < 0 or self.index.max() >= size):
      bad = self.index[(self.index < 0) | (self.index >= size)][0]
      raise ValueError(f"{self.source}: index {int(bad)} is outside [0, {size}).")
    out = np.full(int(size), np.nan)
    out[self.index] = values
    return out


def load_table(path) -> BenchmarkTable:
  """A CSV (or gzip-compressed ``.csv.gz``) with columns ``index``, ``arch`` and numeric columns.

  Ground truth (accuracies, training seconds) and proxy score tables (``jaxnas score`` output, the
  whole-space ``nb201_proxies_all.csv.gz``) share this format. Duplicate indices are rejected.
  """
  p = Path(path).expanduser()
  if not p.is_file():
    raise FileNotFoundError(f"Benchmark table not found: {p}.")
  opener = gzip.open if p.name.endswith(".gz") else open
  with opener(p, "rt", newline="") as fh:
    reader = csv.DictReader(fh)
    fields = reader.fieldnames or []
    for need in ("index", "arch"):
      if need not in fields:
        raise ValueError(f"{p}: a benchmark table needs an {need!r} column; has {fields}.")
    rows = list(reader)
  if not rows:
    raise ValueError(f"{p}: the table has no rows.")
  index = np.asarray([int(r["index"]) for r in rows], np.int64)
  uniq, counts = np.unique(index, return_counts=True)
  if np.any(counts > 1):
    raise ValueError(f"{p}: index {int(uniq[counts > 1][0])} appears {int(counts.max())} times.")
  arch = np.asarray([r["arch"] for r in rows])
  columns = {}
  for f in fields:
    if f in ("index", "arch"):
      continue
    try:
      columns[f] = np.asarray([float(r[f]) if r[f] != "" else np.nan for r in rows], np.float64)
    except ValueError:
      continue  # non-numeric column: not ground truth
  return BenchmarkTable(index, arch, columns, str(p))


def load_nats_bench(path, *, space: str = "tss", dataset: str = "cifar10", hp: str = "200",
                    metric: str = "test-accuracy") -> BenchmarkTable:
  """Ground truth from the user's NATS-Bench files via the optional ``nats_bench`` package.

  Args:
    path: the NATS-Bench benchmark file or directory (e.g. ``NATS-tss-v1_0-3ffb9-simple``).
    space: 'tss' (topology = NB201 cells) or 'sss' (size).
    dataset: 'cifar10', 'cifar10-valid', 'cifar100' or 'ImageNet16-120'.
    hp: training schedule ('12' or '200' for tss, '90' for sss).
    metric: key of ``api.get_more_info`` (e.g. 'test-accuracy', 'valid-accuracy').
  """
  try:
    import nats_bench  # optional extra
  except ImportError:
    raise ImportError("load_nats_bench needs the optional package: pip install 'jaxnas[nats]' "
                      "(nats_bench), plus the NATS-Bench files.") from None
  if space not in ("tss", "sss"):
    raise ValueError(f"`space` must be 'tss' or 'sss', got {space!r}.")
  if not Path(path).expanduser().exists():
    raise FileNotFoundError(f"NATS-Bench files not found: {path}.")
  api = nats_bench.create(str(Path(path).expanduser()), space, fast_mode=True, verbose=False)
  n = len(api)
  values = np.empty(n, np.float64)
  arch = []
  for i in range(n):
    info = api.get_more_info(i, dataset, hp=hp, is_random=False)
    if metric not in info:
      raise ValueError(f"NATS-Bench info has no {metric!r}; keys: {sorted(info)}.")
    values[i] = float(info[metric])
    arch.append(api.arch(i))
  name = f"{dataset}_{metric.replace('-', '_')}_{hp}ep"
  return BenchmarkTable(np.arange(n), np.asarray(arch), {name: values}, f"NATS-Bench {space} {path}")


def merge_tables(tables) -> BenchmarkTable:
  """Columns of several tables over the same architectures as one table (rows by index).

  Rows are the union of the tables' indices, sorted; a column is NaN where its table lacks a row.
  Raises ValueError when two tables share a column name or disagree on an index's arch string.
  """
  tables = list(tables)
  if not tables:
    raise ValueError("`tables` must hold at least one BenchmarkTable, got none.")
  index = np.unique(np.concatenate([t.index for t in tables]))
  pos = {int(i): k for k, i in enumerate(index)}
  arch = np.full(index.size, "", dtype=object)
  columns: dict[str, np.ndarray] = {}
  for t in tables:
    rows = np.asarray([pos[int(i)] for i in t.index], np.int64)
    clash = [a for a, b in zip(arch[rows], t.arch) if a and a != b]
    if clash:
      raise ValueError(f"{t.source} disagrees with an earlier table on an arch string, e.g. "
                       f"{clash[0]!r}.")
    arch[rows] = t.arch
    for name, col in t.columns.items():
      if name in columns:
        raise ValueError(f"Column {name!r} appears in more than one table (again in {t.source}).")
      full = np.full(index.size, np.nan)
      full[rows] = col
      columns[name] = full
  return BenchmarkTable(index, arch.astype(str), columns, " + ".join(t.source for t in tables))
