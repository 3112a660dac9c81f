"""The DARTS cell space of NAS-Bench-301: a normal and a reduction cell, 8 (input, op) pairs each.

Encoding: 32 small ints, the normal cell then the reduction cell; per cell the 8 pairs of NASLib's
compact key in its order, each as ``input_node, op``: position ``16 * cell + 2 * j`` is pair j's
input node, ``16 * cell + 2 * j + 1`` its op (an index into :data:`OPS`, NASLib's nasbench301 order).
Pair j feeds intermediate node ``2 + j // 2``; input nodes are numbered as in DARTS (0 = the cell
two back, 1 = the previous cell, 2-5 = intermediate nodes), so pair j may read only nodes
``< 2 + j // 2``, and the two pairs of a node read different nodes. Each intermediate node sums its
two operated inputs; the cell concatenates nodes 2-5.

Two spellings come in (as in the columns of NAS-Bench-Suite-Zero's ``zc_nasbench301.json`` data):
a DARTS ``Genotype(normal=[(op, input), ...], normal_concat=[2, 3, 4, 5], reduce=[...],
reduce_concat=[2, 3, 4, 5])`` string (the canonical arch string, :meth:`DartsSpace.decode`) and
NASLib's compact key ``[[(input, op), ...8], [...8]]`` (:meth:`DartsSpace.key`). The space has no
official index: benchmarks key DARTS cells by these strings. References: Liu et al. 2019, DARTS
(quark0/darts ``genotypes.py``); Siems et al. 2020, NAS-Bench-301; automl/NASLib @ 6639fd15
``naslib/search_spaces/nasbench301/{conversions,graph}.py``.
"""

from __future__ import annotations

import ast
from typing import Sequence

import numpy as np

from ._base import as_rng, check_encoding

_SPACE = "darts"
#: The op vocabulary, in NASLib's nasbench301 compact order (no ``none``: DARTS cells have none).
OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
       "dil_conv_3x3", "dil_conv_5x5")
MAX_POOL, AVG_POOL, SKIP, SEP3, SEP5, DIL3, DIL5 = range(len(OPS))
CELLS = ("normal", "reduce")
PAIRS = 8  # two per intermediate node
NODES = 4  # intermediate nodes per cell
CONCAT = (2, 3, 4, 5)
ENCODING_LENGTH = len(CELLS) * PAIRS * 2


def pair_target(j: int) -> int:
  """The intermediate node (2-5) that pair `j` (0-7) feeds."""
  return 2 + j // 2


def _choices() -> tuple[int, ...]:
  out = []
  for _ in CELLS:
    for j in range(PAIRS):
      out += [pair_target(j), len(OPS)]
  return tuple(out)


CHOICES = _choices()
# Ordered pairs of distinct inputs per node (2*1, 3*2, 4*3, 5*4) times 7 ops per pair, per cell.
_CELL_SIZE = int(np.prod([(k + 2) * (k + 1) for k in range(NODES)])) * len(OPS) ** PAIRS

NO_INDEX_MSG = (
    "The darts space has no official index (NAS-Bench-301's cells are keyed by their genotype): "
    "`{what}` is not available. Use encode/decode (genotype strings or NASLib compact keys) instead; "
    "`jaxnas score --space darts` numbers the architectures of FILE by line.")


class DartsSpace:
  """NAS-Bench-301 / DARTS cells as 32-int encodings (see the module docstring).

  ``size`` counts encodings (ordered input pairs, as NASLib's compact key does), about 3.3e20;
  :meth:`canonical` merges the two orders of a node's pairs.
  """

  name = _SPACE
  size = _CELL_SIZE ** len(CELLS)
  encoding_length = ENCODING_LENGTH
  choices_per_position = CHOICES
  official_index = False

  # ---- encoding ---------------------------------------------------------------------------------
  def _check(self, encoding) -> np.ndarray:
    """Validate one encoding or a batch (last axis 32): ranges, then the DARTS cell rules."""
    enc = check_encoding(encoding, CHOICES, _SPACE)
    pairs = enc.reshape(enc.shape[:-1] + (len(CELLS), NODES, 2, 2))
    same = pairs[..., 0, 0] == pairs[..., 1, 0]
    if np.any(same):
      where = tuple(np.argwhere(same)[0])
      cell, node = where[-2], where[-1]
      raise ValueError(
          f"`encoding` for darts: the two pairs of intermediate node {2 + node} of the {CELLS[cell]} "
          f"cell (pairs {2 * node} and {2 * node + 1}) both read node {int(pairs[where][0, 0])}; a "
          "DARTS node's two inputs must differ.")
    return enc

  def is_valid(self, encoding) -> bool:
    """True for one well-formed encoding of this space (never raises)."""
    try:
      enc = self._check(encoding)
    except (TypeError, ValueError):
      return False
    return enc.ndim == 1

  def cells(self, encoding) -> tuple[tuple[tuple[int, int], ...], ...]:
    """``(normal, reduce)``, each 8 ``(input_node, op)`` pairs (NASLib's compact key as tuples)."""
    enc = self._check(encoding)
    if enc.ndim != 1:
      raise ValueError(f"`encoding` must be one darts encoding (32,), got shape {enc.shape}.")
    return tuple(tuple((int(enc[c * 16 + 2 * j]), int(enc[c * 16 + 2 * j + 1]))
                       for j in range(PAIRS)) for c in range(len(CELLS)))

  def from_cells(self, cells) -> np.ndarray:
    """The encoding of ``[normal, reduce]`` lists of 8 ``(input_node, op)`` pairs (compact key)."""
    if not isinstance(cells, (list, tuple)) or len(cells) != len(CELLS):
      raise ValueError(f"A darts compact key must be [normal, reduce], two lists of 8 (input_node, "
                       f"op) pairs; got {cells!r}.")
    flat = []
    for c, cell in enumerate(cells):
      if not isinstance(cell, (list, tuple)) or len(cell) != PAIRS:
        raise ValueError(f"The {CELLS[c]} cell of a darts compact key must have 8 (input_node, op) "
                         f"pairs, got {cell!r}.")
      for j, pair in enumerate(cell):
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)):
          raise ValueError(f"Pair {j} of the {CELLS[c]} cell must be (input_node, op) ints, got "
                           f"{pair!r}.")
        flat += [int(pair[0]), int(pair[1])]
    return self._check(np.asarray(flat, np.int64))

  def encode(self, arch) -> np.ndarray:
    """Encoding of a DARTS Genotype string or a NASLib compact key (string or nested sequence).

    Strings are parsed with :mod:`ast` (``literal_eval``); nothing is evaluated.
    """
    if isinstance(arch, (list, tuple)):
      return self.from_cells(arch)
    if not isinstance(arch, str):
      raise TypeError(f"`arch` must be a DARTS Genotype string or a NASLib compact key, got "
                      f"{type(arch).__name__}.")
    text = arch.strip()
    if text.startswith("Genotype"):
      return self._from_genotype(text)
    try:
      cells = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      raise ValueError(f"`arch` is neither a DARTS Genotype(...) string nor a NASLib compact key "
                       f"'[[(input, op), ...], [...]]': {arch!r}.") from None
    return self.from_cells(cells)

  def _from_genotype(self, text: str) -> np.ndarray:
    try:
      call = ast.parse(text, mode="eval").body
    except SyntaxError:
      raise ValueError(f"`arch` is not a parsable Genotype(...) string: {text!r}.") from None
    if (not isinstance(call, ast.Call) or getattr(call.func, "id", None) != "Genotype"
        or call.args):
      raise ValueError("`arch` must be Genotype(normal=[...], normal_concat=[2, 3, 4, 5], "
                       f"reduce=[...], reduce_concat=[2, 3, 4, 5]) with keywords, got {text!r}.")
    try:
      fields = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except ValueError:
      raise ValueError(f"Genotype fields must be literals, got {text!r}.") from None
    want = {"normal", "normal_concat", "reduce", "reduce_concat"}
    if set(fields) != want:
      raise ValueError(f"A Genotype needs exactly the fields {sorted(want)}, got {sorted(fields)}.")
    cells = []
    for cell in CELLS:
      if list(fields[cell + "_concat"]) != list(CONCAT):
        raise ValueError(f"{cell}_concat must be [2, 3, 4, 5] (every NAS-Bench-301 cell "
                         f"concatenates its 4 intermediate nodes), got {fields[cell + '_concat']!r}.")
      entries = fields[cell]
      if not isinstance(entries, (list, tuple)) or len(entries) != PAIRS:
        raise ValueError(f"Genotype {cell} must list 8 (op, input_node) pairs, got {entries!r}.")
      pairs = []
      for j, entry in enumerate(entries):
        if not isinstance(entry, (list, tuple)) or len(entry) != 2 or entry[0] not in OPS:
          raise ValueError(f"Genotype {cell}[{j}] must be (op, input_node) with op in {OPS}, got "
                           f"{entry!r}.")
        pairs.append((entry[1], OPS.index(entry[0])))
      cells.append(pairs)
    return self.from_cells(cells)

  def decode(self, encoding) -> str:
    """The canonical arch string: the DARTS Genotype, as ``str(genotype)`` prints it."""
    parts = []
    for name, cell in zip(CELLS, self.cells(encoding)):
      body = ", ".join(f"('{OPS[o]}', {i})" for i, o in cell)
      parts.append(f"{name}=[{body}], {name}_concat=[2, 3, 4, 5]")
    return f"Genotype({', '.join(parts)})"

  def key(self, encoding) -> str:
    """NASLib's compact key string ``[[(input, op), ...], [...]]`` (the csv's ``key`` column)."""
    return "[" + ", ".join("[" + ", ".join(f"({i}, {o})" for i, o in cell) + "]"
                           for cell in self.cells(encoding)) + "]"

  def canonical(self, encoding) -> np.ndarray:
    """The encoding with each node's two pairs sorted (input, then op): equal for two encodings
    exactly when they build the same network (a node sums its two inputs, so their order is
    immaterial). Batches (last axis 32) are canonicalised row by row."""
    enc = self._check(encoding)
    pairs = enc.reshape(enc.shape[:-1] + (len(CELLS), NODES, 2, 2)).copy()
    a, b = pairs[..., 0, :], pairs[..., 1, :]
    swap = (a[..., 0] > b[..., 0]) | ((a[..., 0] == b[..., 0]) & (a[..., 1] > b[..., 1]))
    lo = np.where(swap[..., None], b, a)
    hi = np.where(swap[..., None], a, b)
    return np.stack([lo, hi], axis=-2).reshape(enc.shape)

  def fingerprint(self, encoding) -> str:
    """A string key for de-duplication: the compact key of :meth:`canonical`."""
    return self.key(self.canonical(encoding))

  def identity(self, encoding) -> str:
    """What names the network for scoring (``population.member_ids``): :meth:`fingerprint`, so a
    cell listed with a node's two inputs swapped gets the same weights and scores."""
    return self.fingerprint(encoding)

  # ---- no official index ------------------------------------------------------------------------
  def index_of(self, encoding) -> int:
    raise ValueError(NO_INDEX_MSG.format(what="index_of"))

  def encoding_of(self, index: int) -> np.ndarray:
    raise ValueError(NO_INDEX_MSG.format(what="encoding_of"))

  def all_encodings(self) -> np.ndarray:
    raise ValueError(NO_INDEX_MSG.format(what="all_encodings") + " (The space holds ~3.3e20 "
                     "encodings; use sample.)")

  def sample_indices(self, rng, n: int) -> np.ndarray:
    raise ValueError(NO_INDEX_MSG.format(what="sample_indices"))

  # ---- moves --------------------------------------------------------------------------------------
  def sample(self, rng, n: int) -> np.ndarray:
    """`n` random encodings (n, 32), drawn as NASLib's nasbench301 ``sample_random_architecture``:
    per node k (0-3), two distinct inputs in ``range(k + 2)`` in random order and a uniform op for
    each pair, independently for both cells (a NumPy Generator, not NumPy's global state, so the
    distribution is NASLib's, the draws are not)."""
    if isinstance(n, bool) or int(n) != n or n < 0:
      raise ValueError(f"`n` must be a non-negative integer, got {n!r}.")
    gen = as_rng(rng)
    out = np.zeros((int(n), ENCODING_LENGTH), np.int64)
    for row in out:
      for k in range(NODES):
        ops = gen.integers(0, len(OPS), 4)
        for c in range(len(CELLS)):
          inputs = gen.choice(k + 2, 2, replace=False)
          for m in range(2):
            j = 2 * k + m
            row[16 * c + 2 * j] = inputs[m]
            row[16 * c + 2 * j + 1] = ops[2 * c + m]
    return out

  def mutate(self, rng, encoding) -> np.ndarray:
    """One random change, as NASLib's nasbench301 ``mutate`` (mutation_rate 1): pick a cell, a
    pair and whether its op or its input changes; a new op is uniform over all 7, a new input
    uniform over the pair's allowed nodes and rejected if it equals the node's other input;
    repeated until the encoding differs."""
    enc = self._check(encoding)
    if enc.ndim != 1:
      raise ValueError(f"`encoding` must be one darts encoding (32,), got shape {enc.shape}.")
    gen = as_rng(rng)
    while True:
      new = enc.copy()
      c, j, what = int(gen.integers(2)), int(gen.integers(PAIRS)), int(gen.integers(2))
      pos = 16 * c + 2 * j
      if what == 1:
        new[pos + 1] = gen.integers(len(OPS))
      else:
        choice = int(gen.integers(pair_target(j)))
        other = 16 * c + 2 * (j + 1 - 2 * (j % 2))
        if new[other] != choice:
          new[pos] = choice
      if not np.array_equal(new, enc):
        return new

  def neighbours(self, encoding) -> np.ndarray:
    """All encodings one change away, as NASLib's nasbench301 ``get_nbhd`` lists them (not
    shuffled): per cell and pair, every other op, then every other allowed input that is not the
    node's other input."""
    enc = self._check(encoding)
    if enc.ndim != 1:
      raise ValueError(f"`encoding` must be one darts encoding (32,), got shape {enc.shape}.")
    out = []
    for c in range(len(CELLS)):
      for j in range(PAIRS):
        pos = 16 * c + 2 * j
        for op in range(len(OPS)):
          if op != enc[pos + 1]:
            e = enc.copy()
            e[pos + 1] = op
            out.append(e)
        other = 16 * c + 2 * (j + 1 - 2 * (j % 2))
        for node in range(pair_target(j)):
          if node not in (enc[other], enc[pos]):
            e = enc.copy()
            e[pos] = node
            out.append(e)
    return np.stack(out)

  # ---- costs --------------------------------------------------------------------------------------
  def num_params(self, encoding, *, num_classes: int = 10, variant: str = "naslib") -> int:
    """Trainable parameters (BN affine included) of the network ``jaxnas.models.network('darts',
    encoding, variant=variant)`` builds (see :func:`macro_cost`)."""
    return macro_cost(self.cells(encoding), num_classes=num_classes, variant=variant)[0]

  def flops(self, encoding, *, num_classes: int = 10, image_size: int = 32,
            variant: str = "naslib") -> int:
    """Multiply-accumulates per image of its conv and linear layers (see :func:`macro_cost`)."""
    return macro_cost(self.cells(encoding), num_classes=num_classes, image_size=image_size,
                      variant=variant)[1]


#: The two networks of the space: (C, layers) of NASLib's nasbench301 graph as NAS-Bench-Suite-Zero
#: scored it (channels [32, 64, 128] at NASLib @ 6639fd15; NASLib's a4412f18, Oct 2022, later cut
#: them to [16, 32, 64]) and of the DARTS evaluation network (quark0/darts ``train.py``).
VARIANTS = {"naslib": (32, 8), "darts": (36, 20)}


def check_variant(variant: str) -> None:
  if variant not in VARIANTS:
    raise ValueError(f"`variant` must be one of {tuple(VARIANTS)}, got {variant!r}.")


def macro_layout(C: int, layers: int) -> list[tuple[int, int, int, bool, bool]]:
  """Per cell (C_prev_prev, C_prev, C_cell, reduction, reduction_prev) of DARTS's NetworkCIFAR
  (stem 3C, reductions at layers // 3 and 2 * layers // 3, cell output 4 * C_cell)."""
  c_pp, c_p, c_cur = 3 * C, 3 * C, C
  out = []
  red_prev = False
  for i in range(layers):
    red = i in (layers // 3, 2 * layers // 3)
    if red:
      c_cur *= 2
    out.append((c_pp, c_p, c_cur, red, red_prev))
    red_prev = red
    c_pp, c_p = c_p, 4 * c_cur
  return out


def _bn(c: int, affine: bool) -> int:
  return 2 * c if affine else 0


def op_cost(op: int, C: int, stride: int, hw_out: int, variant: str,
            batch_norm: bool = True) -> tuple[int, int]:
  """(params, MACs) of one cell op on C channels producing an `hw_out`-pixel map."""
  affine = variant == "darts" and batch_norm
  if op in (MAX_POOL, AVG_POOL):
    return 0, 0
  if op == SKIP:
    if stride == 1:
      return 0, 0
    return C * (C // 2) * 2 + _bn(C, affine), C * (C // 2) * 2 * hw_out
  k = 3 if op in (SEP3, DIL3) else 5
  one = k * k * C + C * C  # depthwise + pointwise
  if op in (SEP3, SEP5):  # two stacked (ReLU, depthwise, pointwise, BN) halves
    return 2 * one + 2 * _bn(C, affine), one * hw_out + one * hw_out
  return one + _bn(C, affine), one * hw_out


def macro_cost(cells, *, num_classes: int = 10, image_size: int = 32, variant: str = "naslib",
               C: int | None = None, layers: int | None = None,
               batch_norm: bool = True) -> tuple[int, int]:
  """(params, MACs) of the DARTS network around `cells` ((normal, reduce) compact pairs).

  Counts conv and linear weights and affine BN parameters; MACs of convs and the classifier (BN and
  pooling excluded, as xautodl's ``get_model_infos`` and NB201's FLOP column count them);
  ``batch_norm=False``: the network without BatchNorm (NASLib's synflow copy).
  """
  bn = 2 if batch_norm else 0  # affine parameters per channel of an affine BN
  check_variant(variant)
  C = VARIANTS[variant][0] if C is None else C
  layers = VARIANTS[variant][1] if layers is None else layers
  hw = image_size * image_size
  params = 3 * 3 * 3 * 3 * C + bn * 3 * C
  macs = 3 * 3 * 3 * 3 * C * hw
  c_last = 3 * C
  for c_pp, c_p, c_cur, red, red_prev in macro_layout(C, layers):
    if red_prev:  # FactorizedReduce(c_pp, c_cur), affine in both variants
      params += c_pp * (c_cur // 2) * 2 + bn * c_cur
      macs += c_pp * (c_cur // 2) * 2 * hw
    else:
      params += c_pp * c_cur + bn * c_cur
      macs += c_pp * c_cur * hw
    params += c_p * c_cur + bn * c_cur
    macs += c_p * c_cur * hw
    out_hw = hw // 4 if red else hw
    for j, (node, op) in enumerate(cells[1 if red else 0]):
      stride = 2 if red and node < 2 else 1
      p, m = op_cost(op, c_cur, stride, out_hw, variant, batch_norm)
      params, macs = params + p, macs + m
    hw = out_hw
    c_last = 4 * c_cur
  params += c_last * num_classes + num_classes
  macs += c_last * num_classes + num_classes
  return int(params), int(macs)


def parse_arch_list(items: Sequence) -> np.ndarray:
  """Encodings (n, 32) of Genotype strings and/or compact keys."""
  space = DartsSpace()
  out = [space.encode(item) for item in items]
  return np.stack(out) if out else np.zeros((0, ENCODING_LENGTH), dtype=np.int64)


darts = DartsSpace()
