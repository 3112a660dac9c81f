"""Networks of the search spaces as pure Flax modules (the only place jaxnas imports Flax)."""

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
    "Activation", "INITS", "Network", "Output", "TinyNetwork", "init_from_shapes", "nats_size_network",
    "nb201_network", "nb201_widths", "network", "supernet", "with_arch",
]
