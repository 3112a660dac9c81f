"""NAS-Bench-101 cell space: 7-vertex DAGs with 3 ops on the 5 intermediate vertices.

Reference: Ying et al., "NAS-Bench-101: Towards Reproducible Neural Architecture Search", ICML
2019; google-research/nasbench ``nasbench/lib/model_spec.py`` (``ModelSpec._prune``,
``hash_spec``), ``nasbench/lib/graph_util.py`` (``hash_module``) and ``nasbench/api.py``
(``_check_spec``), as NASLib copies them (``naslib/utils/nb101_api.py``); NASLib's tuple keys:
``naslib/search_spaces/nasbench101/conversions.py`` (``convert_spec_to_tuple``).

There is no official index: NAS-Bench-101 looks cells up by the MD5 fingerprint of the pruned
graph (:meth:`NB101Space.hash`), so :attr:`NB101Space.official_index` is False and
``index_of`` / ``encoding_of`` / ``all_encodings`` raise.
"""

from __future__ import annotations

import ast
import hashlib
import re
from typing import NamedTuple, Sequence

import numpy as np

from ._base import as_rng, check_encoding

#: NAS-Bench-101's op vocabulary in its canonical order (``config['available_ops']``); encoding
#: values of the op positions index it, and the graph hash labels vertices by this index.
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: Short op names of the arch string.
OP_ABBREV: tuple[str, ...] = ("conv3x3", "conv1x1", "maxpool3x3")
CONV3X3, CONV1X1, MAXPOOL3X3 = 0, 1, 2
#: NASLib's op list of its 56-int tuple keys (not NB101's canonical order).
NASLIB_OPS: tuple[str, ...] = ("input", "output", "maxpool3x3", "conv1x1-bn-relu",
                               "conv3x3-bn-relu")
NUM_VERTICES = 7
MAX_EDGES = 9
#: The upper-triangular adjacency entries (source, target) in encoding order (row-major).
EDGES: tuple[tuple[int, int], ...] = tuple(
    (i, j) for i in range(NUM_VERTICES) for j in range(i + 1, NUM_VERTICES))
NUM_EDGE_BITS = len(EDGES)  # 21
NUM_OPS = NUM_VERTICES - 2  # 5
_CHOICES = (2,) * NUM_EDGE_BITS + (len(OPS),) * NUM_OPS
_SPACE = "nb101"
#: Number of distinct cells (unique graph hashes) in NAS-Bench-101.
NUM_UNIQUE = 423_624

_ARCH = re.compile(r"^\s*([01]{6})/([01]{5})/([01]{4})/([01]{3})/([01]{2})/([01])\s*\|(.*)$")


class Spec(NamedTuple):
  """A cell as NAS-Bench-101 stores it: (V, V) 0/1 upper-triangular matrix and V vertex labels
  (``input``, op names, ``output``)."""

  matrix: np.ndarray
  ops: tuple[str, ...]


class PrunedCell(NamedTuple):
  """The computation graph of a cell after NAS-Bench-101's pruning.

  Attributes:
    matrix: (n, n) int adjacency of the n vertices on an input-to-output path (input first,
      output last), in their original order.
    ops: the n - 2 interior op codes (indices into :data:`OPS`).
    vertices: the original vertex numbers (0..6) kept, ascending.
  """

  matrix: np.ndarray
  ops: tuple[int, ...]
  vertices: tuple[int, ...]


def matrix_of(encoding) -> np.ndarray:
  """(7, 7) int adjacency of one encoding."""
  enc = np.asarray(encoding)
  m = np.zeros((NUM_VERTICES, NUM_VERTICES), np.int64)
  for pos, (i, j) in enumerate(EDGES):
    m[i, j] = enc[pos]
  return m


def prune(matrix, ops: Sequence[int]) -> PrunedCell | None:
  """NAS-Bench-101's ``ModelSpec._prune``: keep the vertices reachable from the input and reaching
  the output. None when the input does not reach the output (an invalid spec)."""
  m = np.asarray(matrix, np.int64)
  n = m.shape[0]
  fwd, frontier = {0}, [0]
  while frontier:
    top = frontier.pop()
    for v in range(top + 1, n):
      if m[top, v] and v not in fwd:
        fwd.add(v)
        frontier.append(v)
  bwd, frontier = {n - 1}, [n - 1]
  while frontier:
    top = frontier.pop()
    for v in range(0, top):
      if m[v, top] and v not in bwd:
        bwd.add(v)
        frontier.append(v)
  keep = sorted(fwd & bwd)
  if len(keep) < 2:
    return None
  sub = m[np.ix_(keep, keep)]
  return PrunedCell(sub, tuple(int(ops[v - 1]) for v in keep[1:-1]), tuple(keep))


def hash_module(matrix, labeling: Sequence[int]) -> str:
  """NAS-Bench-101's ``graph_util.hash_module``: the isomorphism-invariant MD5 fingerprint of an
  adjacency matrix and its vertex labels (-1 input, -2 output, else the op's index in :data:`OPS`)."""
  m = np.asarray(matrix)
  n = m.shape[0]
  in_edges = np.sum(m, axis=0).tolist()
  out_edges = np.sum(m, axis=1).tolist()
  hashes = [hashlib.md5(str(h).encode("utf-8")).hexdigest()
            for h in zip(out_edges, in_edges, labeling)]
  for _ in range(n):
    new = []
    for v in range(n):
      ins = "".join(sorted(hashes[w] for w in range(n) if m[w, v]))
      outs = "".join(sorted(hashes[w] for w in range(n) if m[v, w]))
      new.append(hashlib.md5((ins + "|" + outs + "|" + hashes[v]).encode("utf-8")).hexdigest())
    hashes = new
  return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()


def vertex_channels(in_channels: int, out_channels: int, matrix) -> list[int]:
  """NAS-Bench-101's ``ComputeVertexChannels`` for a pruned (n, n) matrix: the output's channels
  are split evenly over the vertices feeding it (the first ``out % k`` get one more); every other
  interior vertex gets the largest width among its successors."""
  m = np.asarray(matrix)
  n = m.shape[0]
  ch = [0] * n
  ch[0], ch[n - 1] = in_channels, out_channels
  if n == 2:
    return ch
  in_degree = np.sum(m[1:], axis=0)
  if out_channels < int(in_degree[n - 1]):
    raise ValueError(f"nb101: {out_channels} output channels cannot be split over the "
                     f"{int(in_degree[n - 1])} vertices feeding the cell output (each needs >= 1).")
  interior, correction = divmod(out_channels, int(in_degree[n - 1]))
  for v in range(1, n - 1):
    if m[v, n - 1]:
      ch[v] = interior + (1 if correction else 0)
      correction -= 1 if correction else 0
  for v in range(n - 3, 0, -1):
    if not m[v, n - 1]:
      for dst in range(v + 1, n - 1):
        if m[v, dst]:
          ch[v] = max(ch[v], ch[dst])
  return ch


class NB101Space:
  """NAS-Bench-101 cells as 26 small integers.

  Encoding: the 21 upper-triangular adjacency bits of the 7x7 matrix, row-major (entry (i, j),
  i < j, = 1: an edge from vertex i to vertex j; vertex 0 is the input, 6 the output), then the op
  of each intermediate vertex 1..5 as its index in :data:`OPS` (conv3x3-bn-relu 0, conv1x1-bn-relu
  1, maxpool3x3 2: NAS-Bench-101's canonical order). An encoding is a *raw* spec: vertices that lie
  on no input-to-output path are allowed and pruned (:meth:`prune`) before hashing or building, as
  NAS-Bench-101 does; :meth:`canonical` gives the pruned cell back as an encoding.

  Arch string (:meth:`decode`, round-trips through :meth:`encode`): the upper triangle row by row,
  rows separated by ``/`` (row i lists the edges from vertex i to vertices i+1..6), then ``|`` and
  the five ops, comma-separated (``conv3x3``, ``conv1x1``, ``maxpool3x3``; the ``-bn-relu`` names
  are accepted too). NAS-Bench-101's README example cell::

    111010/00001/0001/100/01/1|conv1x1,conv3x3,conv3x3,conv3x3,maxpool3x3

  :meth:`encode` also takes NASLib's 56-int tuple keys (``'(0, 1, 1, ...)'``: 49 matrix entries,
  then 7 indices into :data:`NASLIB_OPS`), and :meth:`from_spec` a (matrix, ops) pair.

  Valid (:meth:`is_valid`, :meth:`check_valid`): the input reaches the output, and the pruned
  graph has at most 9 edges (NAS-Bench-101's ``_check_spec``).
  """

  name = _SPACE
  official_index = False
  #: Proxies of ``jaxnas.proxies.REGISTRY`` that cannot be scored here, with the reason
  #: (``jaxnas.population.check_supported`` refuses them by name before anything runs).
  unsupported_proxies = {
      "rbflex": "jaxnas's RBFleX follows the reference's NB201 script, which reads the outputs of "
                "xautodl's ReLU-conv-BN blocks (records that three modules output) beside the "
                "ReLUs, with kernel widths fitted on NB201; the NB101 network has conv-BN-ReLU "
                "blocks instead, so those records would be other tensors",
  }
  size = NUM_UNIQUE
  encoding_length = NUM_EDGE_BITS + NUM_OPS
  choices_per_position = _CHOICES
  ops = OPS

  # -- encodings ------------------------------------------------------------------------------
  def _one(self, encoding) -> np.ndarray:
    enc = check_encoding(encoding, _CHOICES, _SPACE)
    if enc.ndim != 1:
      raise ValueError(f"`encoding` must be one nb101 cell (shape (26,)), got shape {enc.shape}.")
    return enc

  def from_spec(self, matrix, ops) -> np.ndarray:
    """Encoding of a (7, 7) 0/1 upper-triangular `matrix` and 7 vertex labels `ops` (``input``,
    five of :data:`OPS`, ``output``), as NAS-Bench-101's ``ModelSpec`` takes them."""
    m = np.asarray(matrix)
    if m.shape != (NUM_VERTICES, NUM_VERTICES):
      raise ValueError(f"nb101 `matrix` must be 7x7, got shape {m.shape}.")
    if not np.all((m == 0) | (m == 1)):
      values = sorted(set(m.ravel().tolist()))
      raise ValueError(f"nb101 `matrix` must hold only 0 and 1, got values {values}.")
    if np.any(np.tril(m) != 0):
      i, j = np.argwhere(np.tril(m) != 0)[0]
      raise ValueError(f"nb101 `matrix` must be strictly upper triangular (a DAG in vertex order); "
                       f"entry [{i}][{j}] is 1.")
    ops = list(ops)
    if len(ops) != NUM_VERTICES or ops[0] != "input" or ops[-1] != "output":
      raise ValueError(f"nb101 `ops` must be 7 labels, 'input' first and 'output' last, got {ops!r}.")
    codes = []
    for v, op in enumerate(ops[1:-1], start=1):
      if op not in OPS:
        raise ValueError(f"nb101 op {op!r} of vertex {v} is not one of {list(OPS)}.")
      codes.append(OPS.index(op))
    bits = [int(m[i, j]) for i, j in EDGES]
    return np.asarray(bits + codes, np.int64)

  def spec(self, encoding) -> Spec:
    """The (matrix, ops) pair of an encoding (raw: unpruned)."""
    enc = self._one(encoding)
    ops = tuple(OPS[o] for o in enc[NUM_EDGE_BITS:])
    return Spec(matrix_of(enc), ("input",) + ops + ("output",))

  def from_naslib(self, key) -> np.ndarray:
    """Encoding of NASLib's 56-int tuple key (a tuple/list or its ``str``)."""
    if isinstance(key, str):
      try:
        key = ast.literal_eval(key.strip())
      except (ValueError, SyntaxError):
        raise ValueError(f"NASLib nb101 key must be a tuple of 56 ints, got {key!r}.") from None
    vals = list(key) if isinstance(key, (tuple, list, np.ndarray)) else None
    if vals is None or len(vals) != NUM_VERTICES * NUM_VERTICES + NUM_VERTICES or not all(
        isinstance(v, (int, np.integer)) for v in vals):
      raise ValueError(f"NASLib nb101 key must be a tuple of 56 ints (49 matrix entries, 7 op "
                       f"indices), got {key!r}.")
    labels = []
    for v, o in enumerate(vals[49:]):
      if not 0 <= o < len(NASLIB_OPS):
        raise ValueError(f"NASLib nb101 key: op index {o} of vertex {v} is not in 0..4 "
                         f"({list(NASLIB_OPS)}).")
      labels.append(NASLIB_OPS[o])
    return self.from_spec(np.asarray(vals[:49]).reshape(NUM_VERTICES, NUM_VERTICES), labels)

  def to_naslib(self, encoding) -> tuple[int, ...]:
    """NASLib's 56-int tuple key of an encoding (raw, as given)."""
    sp = self.spec(encoding)
    return tuple(int(v) for v in sp.matrix.ravel()) + tuple(NASLIB_OPS.index(o) for o in sp.ops)

  def encode(self, arch) -> np.ndarray:
    """Encoding of an arch string (see the class docstring), a NASLib tuple key (tuple or string),
    or a ``(matrix, ops)`` pair / dict with those keys."""
    if isinstance(arch, dict):
      if set(arch) != {"matrix", "ops"}:
        raise ValueError(f"nb101 spec dict must have keys 'matrix' and 'ops', got {sorted(arch)}.")
      return self.from_spec(arch["matrix"], arch["ops"])
    if isinstance(arch, (tuple, list)) and len(arch) == 2:
      return self.from_spec(*arch)
    if isinstance(arch, (tuple, list)):
      return self.from_naslib(arch)
    if not isinstance(arch, str):
      raise TypeError(f"nb101 `arch` must be an arch string, a NASLib key or (matrix, ops), got "
                      f"{type(arch).__name__}.")
    text = arch.strip()
    if text.startswith("("):
      return self.from_naslib(text)
    m = _ARCH.match(text)
    if not m:
      raise ValueError(
          f"nb101 arch must look like '111010/00001/0001/100/01/1|conv1x1,conv3x3,conv3x3,conv3x3,"
          f"maxpool3x3' (the adjacency rows of vertices 0..5, then 5 ops) or a NASLib key "
          f"'(0, 1, ...)'; got {arch!r}.")
    bits = [int(c) for c in "".join(m.groups()[:6])]
    names = [t.strip() for t in m.group(7).split(",")]
    if len(names) != NUM_OPS:
      raise ValueError(f"nb101 arch {arch!r} lists {len(names)} ops; expected 5.")
    codes = []
    for v, op in enumerate(names, start=1):
      if op in OP_ABBREV:
        codes.append(OP_ABBREV.index(op))
      elif op in OPS:
        codes.append(OPS.index(op))
      else:
        raise ValueError(f"nb101 op {op!r} of vertex {v} in {arch!r} is not one of "
                         f"{list(OP_ABBREV)}.")
    return np.asarray(bits + codes, np.int64)

  def decode(self, encoding) -> str:
    enc = self._one(encoding)
    rows, pos = [], 0
    for i in range(NUM_VERTICES - 1):
      k = NUM_VERTICES - 1 - i
      rows.append("".join(str(int(b)) for b in enc[pos:pos + k]))
      pos += k
    return "/".join(rows) + "|" + ",".join(OP_ABBREV[o] for o in enc[NUM_EDGE_BITS:])

  # -- NB101 semantics --------------------------------------------------------------------------
  def prune(self, encoding) -> PrunedCell | None:
    """The pruned cell (:class:`PrunedCell`), or None when the input does not reach the output."""
    enc = self._one(encoding)
    return prune(matrix_of(enc), enc[NUM_EDGE_BITS:])

  def check_valid(self, encoding) -> PrunedCell:
    """The pruned cell of a valid encoding; ValueError saying what is wrong otherwise."""
    enc = self._one(encoding)
    cell = prune(matrix_of(enc), enc[NUM_EDGE_BITS:])
    if cell is None:
      raise ValueError(f"nb101 cell {self.decode(enc)!r} is invalid: no path from the input "
                       "(vertex 0) to the output (vertex 6).")
    edges = int(cell.matrix.sum())
    if edges > MAX_EDGES:
      raise ValueError(f"nb101 cell {self.decode(enc)!r} is invalid: {edges} edges after pruning "
                       f"dangling vertices; NAS-Bench-101 allows at most {MAX_EDGES}.")
    return cell

  def is_valid(self, encoding) -> bool:
    """True for one well-formed, valid cell (never raises)."""
    try:
      self.check_valid(encoding)
    except (TypeError, ValueError):
      return False
    return True

  def hash(self, encoding) -> str:
    """NAS-Bench-101's model hash (``ModelSpec.hash_spec``), the dataset's lookup key."""
    cell = self.check_valid(encoding)
    return hash_module(cell.matrix, [-1] + list(cell.ops) + [-2])

  def identity(self, encoding) -> str:
    """What makes two encodings the same network here: the graph hash."""
    return self.hash(encoding)

  def canonical(self, encoding) -> np.ndarray:
    """The pruned cell as an encoding: kept interior vertices renumbered 1, 2, ... in order, the
    output at vertex 6, unused vertices without edges and with op conv3x3 (NASLib's
    ``convert_to_cell`` padding). Equal for encodings that differ only in pruned parts."""
    cell = self.check_valid(encoding)
    n = cell.matrix.shape[0]
    new = [*range(n - 1), NUM_VERTICES - 1]  # pruned vertex k -> new vertex number
    m = np.zeros((NUM_VERTICES, NUM_VERTICES), np.int64)
    for a in range(n):
      for b in range(n):
        m[new[a], new[b]] = cell.matrix[a, b]
    ops = list(cell.ops) + [CONV3X3] * (NUM_OPS - len(cell.ops))
    return np.asarray([int(m[i, j]) for i, j in EDGES] + ops, np.int64)

  # -- official index: none -------------------------------------------------------------------
  def _no_index(self, what: str):
    raise ValueError(f"nb101 has no official index ({what}): NAS-Bench-101 looks cells up by graph "
                     "hash (`nb101.hash(encoding)`); list cells by arch string or NASLib key.")

  def index_of(self, encoding):
    self._no_index("index_of")

  def encoding_of(self, index):
    self._no_index("encoding_of")

  def all_encodings(self):
    self._no_index("all_encodings")

  def sample_indices(self, rng, n: int):
    self._no_index("sample_indices")

  # -- moves --------------------------------------------------------------------------------------
  def sample(self, rng, n: int) -> np.ndarray:
    """`n` valid cells (n, 26), as NASLib's ``sample_random_architecture``: every adjacency bit
    and op uniform, redrawn until valid (uniform over valid raw specs)."""
    if int(n) != n or n < 0:
      raise ValueError(f"`n` must be a non-negative integer, got {n!r}.")
    gen = as_rng(rng)
    hi = np.asarray(_CHOICES)
    out = []
    while len(out) < n:
      enc = gen.integers(0, hi, dtype=np.int64)
      if self.is_valid(enc):
        out.append(enc)
    return np.stack(out) if out else np.zeros((0, self.encoding_length), np.int64)

  def mutate(self, rng, encoding) -> np.ndarray:
    """NASLib's ``mutate`` (one edit): flip each adjacency bit with probability 1/7 and change each
    op with probability 1/3, redrawn until the result is valid and differs from `encoding`."""
    enc = self._one(encoding)
    gen = as_rng(rng)
    while True:
      new = enc.copy()
      flips = gen.random(NUM_EDGE_BITS) < 1 / NUM_VERTICES
      new[:NUM_EDGE_BITS] = np.where(flips, 1 - new[:NUM_EDGE_BITS], new[:NUM_EDGE_BITS])
      for k in range(NUM_OPS):
        if gen.random() < 1 / len(OPS):
          pos = NUM_EDGE_BITS + k
          new[pos] = (new[pos] + int(gen.integers(1, len(OPS)))) % len(OPS)
      if self.is_valid(new) and not np.array_equal(new, enc):
        return new

  def neighbours(self, encoding) -> np.ndarray:
    """NASLib's ``get_nbhd``: every other op on a vertex of the pruned graph, then every single
    edge flip, kept where valid."""
    enc = self._one(encoding)
    cell = self.prune(enc)
    kept = set(cell.vertices) if cell is not None else set()
    out = []
    for v in range(1, NUM_VERTICES - 1):
      if v not in kept:
        continue
      for op in range(len(OPS)):
        if op != enc[NUM_EDGE_BITS + v - 1]:
          e = enc.copy()
          e[NUM_EDGE_BITS + v - 1] = op
          out.append(e)
    for pos in range(NUM_EDGE_BITS):
      e = enc.copy()
      e[pos] = 1 - e[pos]
      if self.is_valid(e):
        out.append(e)
    return np.stack(out) if out else np.zeros((0, self.encoding_length), np.int64)

  # -- costs -----------------------------------------------------------------------------------
  def num_params(self, encoding, *, num_classes: int = 10, stem_channels: int = 128,
                 num_stacks: int = 3, cells_per_stack: int = 3, batch_norm: bool = True) -> int:
    """Trainable parameters of the zero-cost-nas / NASLib PyTorch network (BN affine included)."""
    return network_cost(self.check_valid(encoding), num_classes, 32, stem_channels, num_stacks,
                        cells_per_stack, batch_norm)[0]

  def flops(self, encoding, *, num_classes: int = 10, image_size: int = 32,
            stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3) -> int:
    """Multiply-accumulates per image of the conv and linear layers (bias of the classifier
    counted, as xautodl's ``get_model_infos`` counts NB201's)."""
    return network_cost(self.check_valid(encoding), num_classes, image_size, stem_channels,
                        num_stacks, cells_per_stack, True)[1]


def _conv(cin, cout, k, hw, bn):
  return k * k * cin * cout + (2 * cout if bn else 0), k * k * cin * cout * hw


def cell_cost(cell: PrunedCell, cin: int, cout: int, hw: int, bn: bool = True) -> tuple[int, int]:
  """(params, MACs) of one cell: the interior convs and the 1x1 projections of the input."""
  ch = vertex_channels(cin, cout, cell.matrix)
  n = cell.matrix.shape[0]
  params = macs = 0
  for t in range(1, n - 1):
    op = cell.ops[t - 1]
    if op != MAXPOOL3X3:
      p, m = _conv(ch[t], ch[t], 3 if op == CONV3X3 else 1, hw, bn)
      params, macs = params + p, macs + m
  for t in range(1, n):
    if cell.matrix[0, t]:
      p, m = _conv(cin, ch[t], 1, hw, bn)
      params, macs = params + p, macs + m
  return params, macs


def network_cost(cell: PrunedCell, num_classes: int, image_size: int, stem_channels: int,
                 num_stacks: int, cells_per_stack: int, bn: bool) -> tuple[int, int]:
  """(params, MACs) of the NB101 network around `cell` (see :func:`cell_cost`)."""
  side = image_size
  params, macs = _conv(3, stem_channels, 3, side * side, bn)
  cin = cout = stem_channels
  for stack in range(num_stacks):
    if stack > 0:
      side //= 2  # MaxPool2d(2, 2)
      cout *= 2
    for _ in range(cells_per_stack):
      p, m = cell_cost(cell, cin, cout, side * side, bn)
      params, macs = params + p, macs + m
      cin = cout
  params += cout * num_classes + num_classes
  macs += cout * num_classes + num_classes
  return int(params), int(macs)


nb101 = NB101Space()
