"""Zero-cost proxies: pure functions ``(apply_fn, variables, batch, key) -> scalar``.

Each proxy is a plain function (call it directly) and a :class:`Proxy` record with its metadata
(direction, labels, reference, the network its reference scored). :data:`REGISTRY` maps names to
records for the CLI and tests.
"""

from ._base import ApplyFn as ApplyFn
from ._base import Batch as Batch
from ._base import Proxy as Proxy
from ._base import ProxyFn as ProxyFn
from ._nwot import activation_kernel as activation_kernel
from ._nwot import naswot_kernel as naswot_kernel
from ._nwot import nwot as nwot
from ._registry import REGISTRY as REGISTRY
from ._registry import get as get
from ._registry import parse as parse
from ._size import flops as flops
from ._size import num_params as num_params
from ._synflow import synflow as synflow
from ._synflow import synflow_per_weight as synflow_per_weight

__all__ = [
    "ApplyFn", "Batch", "Proxy", "ProxyFn", "REGISTRY", "activation_kernel", "flops", "get",
    "naswot_kernel", "num_params", "nwot", "parse", "synflow", "synflow_per_weight",
]
