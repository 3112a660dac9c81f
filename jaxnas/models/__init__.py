"""Networks of the search spaces as pure Flax modules (the only place jaxnas imports Flax).

## Guide

Networks are built from encodings, layer for layer xautodl's ``TinyNetwork``, plus a **masked
supernet** (``nb201_network(None)``) that takes the encoding as a traced input, so one compiled
program serves all 15,625 NB201 cells.

One network by hand: `net = jaxnas.models.nb201_network((3, 3, 3, 1, 3, 3))`,
`variables = net.init(jax.random.key(0))` (PyTorch's default init; `init="normal"` for the N(0,1)
re-initialisation of Zen/SWAP, `init="kaiming_normal"` for AZ-NAS's; the CLI's `--init`),
`logits = net(variables, x, train=True)`, and any proxy:
`jaxnas.proxies.nwot(net, variables, jaxnas.proxies.Batch(x), key)`.

DARTS / NAS-Bench-301 cells: `jaxnas.models.network("darts", genotype_or_key)` builds NASLib's
nasbench301 network (the one NAS-Bench-Suite-Zero scored, C=32, 8 cells), `variant="darts"` DARTS's
evaluation network (C=36, 20 cells) (:mod:`jaxnas.models._darts`); `supernet("darts")` the op-switch
supernet of both (:mod:`jaxnas.models._darts_supernet`), equal to them in float64.

### Where a new search space goes

Encodings (validation, strings, indices, sampling) in a module of ``jaxnas/spaces``; the network in
a module here: a :class:`Network` subclass (a ``flax.struct.dataclass``) around its Flax module,
declaring ``capabilities`` and ``layout`` (:mod:`jaxnas.protocol`) and implementing the methods
the capabilities name (``active``, ``num_params``, ``flops``, ...); builders for the exact network,
the masked supernet (or None) and the cost counts; then one :class:`SpaceSpec` line in
``_registry.SPACES``. ``network(space, enc)`` and ``supernet(space)`` look the space up there;
proxies read only what the network declares, so no proxy file changes.
NAS-Bench-101: `jaxnas.models.network("nb101", enc)` (or `nb101_network(arch string | NASLib key)`)
is zero-cost-nas's ``nasbench1.Network`` for one cell, exact networks only (see ``_nb101``'s
docstring for why no supernet), with the same method surface and captures.

### The masked supernet

The masked supernet holds both conv candidates on every edge. With ``supernet_impl="switch"``
(default) each edge is a ``lax.switch``, so when members are scored one after another
(``method="map"``) only the chosen op runs and the supernet spends no extra FLOPs; under ``vmap``,
or with ``supernet_impl="mask"``, every candidate runs. The five identical cells of a stage are one
``nn.scan``, fully unrolled (XLA:CPU runs the backward pass of a rolled loop of convolutions much
slower than the unrolled one). A stage of one cell (``N=1``) is called without a scan, with the
same variable layout: JAX's linearisation of even a length-1 scan costs seconds of tracing.
Convolutions inside the ``switch`` branches define their gradients as plain NHWC convolutions
(``models._layers.conv2d_same_grad_layout``): with JAX's generic rule XLA:CPU leaves them in a
layout its fast convolution cannot take. The price: forward-mode differentiation (``jax.jvp``) is
not available through the ``switch`` supernet's convolutions (use ``supernet_impl="mask"`` or exact
networks for it). Float64 tests check, for 7 edge cases (every op on every edge, both kinds of
zero-output cell) and a random cell, that the supernet's logits and gradients equal the exact
network's and that unselected parameters get exactly zero gradient; more random cells are compared
with exact networks through the population engine (``tests/population``). Costs measured side by
side: `benchmarks/README.md` (the masked supernet) and ``benchmarks/results/supernet_nb201.md``.
"""

from ._darts import DartsNet as DartsNet
from ._darts import DartsNetwork as DartsNetwork
from ._darts import darts_network as darts_network
from ._init import init_from_shapes as init_from_shapes
from ._layers import Activation as Activation
from ._layers import Output as Output
from ._nb201 import NB201Network as NB201Network
from ._nb201 import nats_size_network as nats_size_network
from ._nb201 import nb201_network as nb201_network
from ._network import Network as Network
from ._network import with_arch as with_arch
from ._registry import SpaceSpec as SpaceSpec
from ._registry import network as network
from ._registry import space_spec as space_spec
from ._registry import supernet as supernet
from ._nb101 import NB101Net as NB101Net
from ._nb101 import nb101_network as nb101_network
from ._tiny import TinyNetwork as TinyNetwork
from ._tiny import nb201_widths as nb201_widths

from . import _init, _nb201
from . import _registry

SPACES = _registry.SPACES
"""Every search space by name: its :class:`SpaceSpec` (encodings, exact network, supernet or None,
cost counts); :func:`space_spec` looks one up with a clear error."""


def clear_caches() -> None:
  """Empty the caches this package owns: compiled weight-initialisation programs, traced variable
  shapes and per-width Layouts (they hold compiled executables and Flax modules; a long-running
  process that builds many network layouts can release them)."""
  _init._compiled_init.cache_clear()
  _init.variable_shapes.cache_clear()
  _nb201.tiny_layout.cache_clear()

INITS = _init.INITS
"""Weight initialisations of :meth:`Network.init`: ``"pytorch"`` (PyTorch's layer defaults),
``"normal"`` (N(0, 1), the re-initialisation of Zen-NAS and SWAP), ``"kaiming_normal"`` (AZ-NAS's)."""

__all__ = [
    "Activation", "DartsNet", "DartsNetwork", "INITS", "NB101Net", "NB201Network", "Network", "Output",
    "SPACES", "SpaceSpec", "TinyNetwork", "clear_caches", "darts_network", "init_from_shapes",
    "nats_size_network", "nb101_network", "nb201_network", "nb201_widths", "network", "space_spec",
    "supernet", "with_arch",
]
