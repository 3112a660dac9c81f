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
from ._network import Network as Network
from ._network import nats_size_network as nats_size_network
from ._network import nb201_network as nb201_network
from ._network import network as network
from ._network import supernet as supernet
from ._network import with_arch as with_arch
from ._tiny import TinyNetwork as TinyNetwork
from ._tiny import nb201_widths as nb201_widths

from . import _init

INITS = _init.INITS
"""Weight initialisations of :meth:`Network.init`: ``"pytorch"`` (PyTorch's layer defaults),
``"normal"`` (N(0, 1), the re-initialisation of Zen-NAS and SWAP), ``"kaiming_normal"`` (AZ-NAS's)."""

__all__ = [
    "Activation", "DartsNet", "DartsNetwork", "INITS", "Network", "Output", "TinyNetwork", "init_from_shapes", "nats_size_network",
    "darts_network", "nb201_network", "nb201_widths", "network", "supernet", "with_arch",
]
