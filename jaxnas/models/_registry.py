"""One :class:`SpaceSpec` per search space: its encodings, exact network, masked supernet and cost
counts. Adding a space = a module in ``jaxnas/spaces`` (encodings), one in ``jaxnas/models`` (the
network, a :class:`Network` subclass declaring its capabilities and Layout) and one line in
:data:`SPACES` here."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

from jaxnas import spaces

from . import _darts, _darts_supernet, _nats, _nb101, _nb201
from ._network import Network


class SpaceSpec(NamedTuple):
  """Everything jaxnas knows about one search space.

  Attributes:
    name: the space's name (``--space`` on the command line).
    space: its encoding object (``jaxnas.spaces``: validation, strings, indices, sampling).
    network: ``network(encoding, **options) -> Network``: the exact network of one encoding.
    supernet: ``supernet(**options) -> Network`` with ``arch=None`` (bind encodings with
      :func:`jaxnas.models.with_arch`), or None where only exact networks exist.
    costs: ``costs(encoding, **options) -> (parameters, MACs per image)`` of the exact network,
      counted without building it.
    engine: what :func:`jaxnas.population.score_population` runs by default, ``'supernet'`` or
      ``'exact'`` (one compiled program per architecture): the faster on CPU, as measured in
      ``benchmarks/results/`` (its ``engine=`` argument overrides it; ``make_scorer`` always holds
      the supernet).
  """

  name: str
  space: Any
  network: Callable[..., Network]
  supernet: Optional[Callable[..., Network]]
  costs: Callable[..., tuple]
  engine: str = "supernet"


SPACES: dict[str, SpaceSpec] = {  # adding a space: one line here
    "nb201": SpaceSpec("nb201", spaces.nb201, _nb201.nb201_network, _nb201.nb201_supernet,
                       _nb201.nb201_costs),
    "nats_sss": SpaceSpec("nats_sss", spaces.nats_sss, _nb201.nats_sss_network, _nats.nats_supernet,
                          _nb201.nats_sss_costs),
    "nb101": SpaceSpec("nb101", spaces.nb101, _nb101.nb101_network, None, _nb101.nb101_costs),
    "darts": SpaceSpec("darts", spaces.darts, _darts.darts_network, _darts_supernet.darts_supernet,
                       _darts.darts_costs, engine="exact"),  # benchmarks/results/darts_supernet.md
}
"""Every search space by name: its :class:`SpaceSpec`."""


def space_spec(name: str) -> SpaceSpec:
  """The :class:`SpaceSpec` of space `name`; ValueError listing the known spaces otherwise."""
  try:
    return SPACES[name]
  except (KeyError, TypeError):
    raise ValueError(f"Unknown search space {name!r}; known spaces: "
                     f"{', '.join(repr(n) for n in SPACES)}.") from None


def supernet(space: str, **kwargs) -> Optional[Network]:
  """The masked supernet of a search space, or None where only exact networks exist."""
  spec = space_spec(space)
  return None if spec.supernet is None else spec.supernet(**kwargs)


def network(space: str, encoding, **kwargs) -> Network:
  """The exact network of one encoding of a search space."""
  return space_spec(space).network(encoding, **kwargs)
