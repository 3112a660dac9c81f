"""Search spaces: architectures as small integer encodings (pure Python/NumPy, no Flax).

Each space is a stateless object with the :class:`SearchSpace` interface; the module-level
instances :data:`nb201` and :data:`nats_sss` are the ones to use.
"""

from ._base import SearchSpace as SearchSpace
from ._nats import CHANNELS as NATS_CHANNELS
from ._nats import NATSSizeSpace as NATSSizeSpace
from ._nats import nats_sss as nats_sss
from ._nb201 import EDGES as NB201_EDGES
from ._nb201 import OPS as NB201_OPS
from ._nb201 import NB201Space as NB201Space
from ._nb201 import nb201 as nb201
from ._nb201 import parse_arch_list as parse_arch_list
from ._select import parse_archs as parse_archs

SPACES = {"nb201": nb201, "nats_sss": nats_sss}


def get(name: str):
  """Space by name ('nb201' or 'nats_sss'); ValueError listing valid names otherwise."""
  try:
    return SPACES[name]
  except KeyError:
    raise ValueError(f"Unknown search space {name!r}; valid: {', '.join(SPACES)}.") from None


__all__ = [
    "NATS_CHANNELS", "NATSSizeSpace", "NB201Space", "NB201_EDGES", "NB201_OPS", "SPACES",
    "SearchSpace", "get", "nats_sss", "nb201", "parse_arch_list", "parse_archs",
]
