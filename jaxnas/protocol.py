"""The network contract: what a proxy may ask of a network, declared by the network.

``models`` (which builds networks) and ``proxies`` (which score them) both import this module and
nothing of each other. A network declares the :class:`Capability` values it provides
(``net.capabilities``, see :func:`declare`) and, with ``Capability.LAYOUT``, a :class:`Layout` of
facts about its reference implementation (``net.layout``). A proxy asks for what it needs with
:func:`require` (a clear error naming the proxy, the network and what is missing) or :func:`has`
(optional extras such as active-parameter masks); it never probes attributes or parses names.

A plain function ``apply_fn(variables, x, train=True)`` (e.g. a Flax ``module.apply``) declares
nothing and is taken to provide logits and JAX's own forward mode (:data:`PLAIN`).
"""

from __future__ import annotations

import enum
from typing import Any, Callable, NamedTuple, Optional, Protocol, runtime_checkable

import jax


class Batch(NamedTuple):
  """One batch of images (NHWC float) and optional integer labels (N,)."""

  x: Any
  y: Any = None


class Capability(enum.Enum):
  """What a network may provide beyond ``net(variables, x, train=True) -> logits``."""

  LOGITS = "logits"
  #: ``capture=True``: a tuple of ``Activation`` records (``.pre``, the activation function's input;
  #: ``.weight``, how many activation modules read it; ``.wrapped``; ``.kind``, the function's name
  #: in :data:`ACTIVATIONS`).
  ACTIVATIONS = "activations"
  #: ``capture="outputs"``: a tuple of ``Output`` records (``.value``; ``.weight``, how many modules
  #: of the reference network output it; ``.block``, how many ReLU-conv-BN block modules do).
  OUTPUTS = "outputs"
  #: ``capture="cells"``: the stem's and every block's output, in order (AZ-NAS).
  CELLS = "cells"
  #: ``net.gates(variables, x)``: per-sample all-ones output gates (the ``'gates'`` collection).
  GATES = "gates"
  #: ``net.deltas(variables, x)``: per-sample all-zero weight offsets (``'deltas'``).
  DELTAS = "deltas"
  #: ``net.probes(variables, x)``: all-zero block-input probes (``'probes'``); their order is the
  #: Layout's ``probes``.
  PROBES = "probes"
  #: ``net.active(variables)``: bool pytree, True where the architecture uses a variable.
  ACTIVE = "active"
  #: ``net.num_params()`` and ``net.flops(image_size)``: the architecture's counts.
  COUNTS = "counts"
  #: ``jax.jvp`` works through the network (no ``custom_vjp`` layers).
  JVP = "jvp"
  #: the Layout's ``param_order``: the reference framework's parameter order.
  PARAM_ORDER = "param_order"
  #: ``net.layout``: a :class:`Layout`.
  LAYOUT = "layout"
  #: the last ``capture=True`` record is the activation whose pooled output the classifier reads
  #: (xautodl's head ReLU; RBFleX-NAS's y). DARTS networks pool the last cell's output directly.
  HEAD = "head"


PLAIN = frozenset({Capability.LOGITS, Capability.JVP})
"""What a network that declares nothing (a plain ``apply_fn``) is taken to provide."""

ACTIVATIONS: dict[str, Callable] = {"relu": jax.nn.relu}
"""Activation functions by the name captured ``Activation`` records carry (``.kind``): a space with
other activation functions adds them here, and the proxies that apply them follow."""


class BlockRef(NamedTuple):
  """A block of a network, tagged where its tensors sit.

  Attributes:
    key: the top-level key of the block's leaves in a per-block collection (``probes``).
    position: the block's position among the outputs of ``capture="cells"`` (1 = the first block
      after the stem); a stacked key holds blocks ``position, position + 1, ...`` on axis 0.
    count: blocks stacked under `key` (leaves carry them on axis 0), or 1 for an unstacked block.
    stage: the resolution stage the block belongs to (0, 1, ...; a downsampling block opens one).
    kind: what the block is ('cell', 'reduction', ...), as the network names it.
  """

  key: str
  position: int
  count: int = 1
  stage: int = 0
  kind: str = "cell"
  stacked: bool = False


class Layout(NamedTuple):
  """Facts about a network's reference implementation that proxies need (static).

  Attributes:
    probes: one :class:`BlockRef` per top-level key of ``net.probes(...)`` (AZ-NAS's block order
      and stage grouping).
    max_modules: the most modules of the reference network that output one captured tensor
      (``Output.weight`` never exceeds it; MeCo_opt draws this many channel subsets per tensor).
    param_order: ``param_order(names, cell) -> rank tuple or None``: the position, in the reference
      framework's ``named_parameters()`` order, of the module owning the leaf at path `names`
      (a tuple of key names; `cell` the index on a stacked leaf's axis 0, else None); None for leaves
      outside the reference's layout (they come after, in tree order). None: no such order.
    reference: the reference implementation the network follows, for messages.
  """

  probes: tuple[BlockRef, ...] = ()
  max_modules: int = 1
  param_order: Optional[Callable[[tuple, Optional[int]], Optional[tuple]]] = None
  reference: str = ""


@runtime_checkable
class NetworkProtocol(Protocol):
  """A network proxies can score: callable as ``net(variables, x, *, train=True, capture=False)``,
  with ``capabilities`` (a frozenset of :class:`Capability`) and, with ``Capability.LAYOUT``,
  ``layout``; the methods each capability names (``gates``, ``deltas``, ``probes``, ``active``,
  ``num_params``, ``flops``) where declared."""

  capabilities: frozenset

  def __call__(self, variables, x, **kwargs) -> Any: ...


class CapabilityError(TypeError):
  """A proxy asked a network for something it does not declare."""


def declare(*caps: Capability) -> frozenset:
  """The frozenset a network returns as ``capabilities``; rejects anything not a Capability."""
  bad = [c for c in caps if not isinstance(c, Capability)]
  if bad:
    raise TypeError(f"declare: expected jaxnas.protocol.Capability values, got {bad!r}.")
  return frozenset(caps) | {Capability.LOGITS}


def capabilities(net) -> frozenset:
  """What `net` declares (``net.capabilities``), :data:`PLAIN` for a network that declares nothing."""
  caps = getattr(net, "capabilities", None)
  if caps is None:
    return PLAIN
  if not isinstance(caps, frozenset) or any(not isinstance(c, Capability) for c in caps):
    raise TypeError(f"{type(net).__name__}.capabilities must be a frozenset of "
                    f"jaxnas.protocol.Capability (use jaxnas.protocol.declare), got {caps!r}.")
  return caps


def has(net, cap: Capability) -> bool:
  """Whether `net` declares `cap`."""
  return cap in capabilities(net)


def require(net, cap: Capability, *, proxy: str, why: str = "") -> None:
  """:class:`CapabilityError` naming `proxy`, the network and `cap` unless `net` declares `cap`."""
  if not has(net, cap):
    declared = sorted(c.value for c in capabilities(net))
    raise CapabilityError(
        f"{proxy} needs the network's {cap.value!r} capability{' (' + why + ')' if why else ''}, "
        f"which {type(net).__name__} does not declare (it declares {declared}); pass a network "
        "that does, e.g. a jaxnas.models network (see jaxnas.protocol).")


def layout(net, *, proxy: str) -> Layout:
  """``net.layout`` after :func:`require` of ``Capability.LAYOUT``."""
  require(net, Capability.LAYOUT, proxy=proxy)
  lay = net.layout
  if not isinstance(lay, Layout):
    raise TypeError(f"{proxy}: {type(net).__name__}.layout must be a jaxnas.protocol.Layout, "
                    f"got {type(lay).__name__}.")
  return lay


def activate(record, *, proxy: str):
  """The activation function's output for a captured activation record (``record.kind``)."""
  kind = getattr(record, "kind", "relu")
  if kind not in ACTIVATIONS:
    raise ValueError(f"{proxy}: captured activation of kind {kind!r} has no function in "
                     f"jaxnas.protocol.ACTIVATIONS (known: {sorted(ACTIVATIONS)}).")
  return ACTIVATIONS[kind](record.pre)


__all__ = ["ACTIVATIONS", "Batch", "BlockRef", "Capability", "CapabilityError", "Layout",
           "NetworkProtocol", "PLAIN", "activate", "capabilities", "declare", "has", "layout",
           "require"]
