"""Search spaces: architectures as small integer encodings (pure Python/NumPy, no Flax).

Each space is a stateless object with the :class:`SearchSpace` interface; the module-level
instances :data:`nb201`, :data:`nats_sss` and :data:`nb101` are the ones to use.

NB201 facts the tests check against `../shared/data`: all 15,625 (index, arch) pairs (the official
order is Python's `random.seed(88)` shuffle, computed, not shipped); the 341 zero-output cells (all
at 10% on CIFAR-10); 6,466 non-isomorphic cells under the benchmark's convention (xautodl
`to_unique_str(consider_zero=True)`), 5,390 when zero terms are dropped (`canonical(..., semantic=True)`);
parameter and FLOP ranges 0.07-1.53 M and 7.78-220.1 M.

NB101 facts the tests check against `../shared/data/nb101_naslib.csv`: NAS-Bench-101's graph hash of
every one of the 500 NASLib keys (292 distinct cells after pruning), the published hashes of the
README cell and of the bare input -> output cell.
"""

from ._base import SearchSpace as SearchSpace
from ._darts import DartsSpace as DartsSpace
from ._nats import NATSSizeSpace as NATSSizeSpace
from ._nb101 import NB101Space as NB101Space
from ._nb201 import NB201Space as NB201Space
from ._nb201 import parse_arch_list as parse_arch_list
from ._select import Selection as Selection
from ._select import parse_archs as parse_archs
from ._select import select_archs as select_archs
from . import _darts, _nats, _nb101, _nb201

nb201 = _nb201.nb201
"""The NAS-Bench-201 cell space (:class:`NB201Space`): 15,625 cells, each 6 op codes."""
nats_sss = _nats.nats_sss
"""The NATS-Bench size space (:class:`NATSSizeSpace`): 32,768 channel configurations, 5 codes each."""
nb101 = _nb101.nb101
"""The NAS-Bench-101 cell space (:class:`NB101Space`): 7-vertex DAGs, 26 codes each; no official
index (cells are looked up by graph hash)."""
NB101_OPS = _nb101.OPS
"""NB101's op vocabulary in its canonical order; an encoding's last 5 integers index it."""
NB201_OPS = _nb201.OPS
"""NB201's op vocabulary; an encoding's integers index it (``none``, ``skip_connect``, ...)."""
NB201_EDGES = _nb201.EDGES
"""NB201's cell edges as (target node, source node), in arch-string order."""
NATS_CHANNELS = _nats.CHANNELS
"""The size space's channel choices per layer: code d means ``NATS_CHANNELS[d] = 8 * (d + 1)``."""

darts = _darts.darts
"""The NAS-Bench-301 / DARTS cell space (:class:`DartsSpace`): 32 ints, normal then reduction cell."""
DARTS_OPS = _darts.OPS
"""DARTS ops in NASLib's nasbench301 order (``max_pool_3x3`` ... ``dil_conv_5x5``)."""

SPACES = {"nb201": nb201, "nats_sss": nats_sss, "nb101": nb101, "darts": darts}
"""The spaces by name, as the CLI's ``--space`` and :func:`get` look them up."""


def get(name: str):
  """Space by name ('nb201', 'nats_sss', 'nb101' or 'darts'); ValueError listing valid names
  otherwise."""
  try:
    return SPACES[name]
  except KeyError:
    raise ValueError(f"Unknown search space {name!r}; valid: {', '.join(SPACES)}.") from None


__all__ = [
    "DARTS_OPS", "DartsSpace", "NATS_CHANNELS", "NATSSizeSpace", "NB101Space", "NB101_OPS",
    "NB201Space", "NB201_EDGES", "NB201_OPS", "SPACES", "SearchSpace", "Selection", "darts", "get",
    "nats_sss", "nb101", "nb201", "parse_arch_list", "parse_archs", "select_archs",
]
