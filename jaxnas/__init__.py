"""jaxnas: training-free neural architecture search in JAX.

Data flows one way: ``spaces`` (encodings) -> ``models`` (Flax networks, the only Flax import) ->
``proxies`` and ``ntk`` (pure scores and kernels) -> ``population`` (one compiled program per
population) -> ``evaluate``,
``aggregate`` (training-free or learned, differentiable combinations of proxy scores) and ``search``
(strategies over encodings and score tables);
``data`` supplies batches and benchmark tables; ``cli`` is a thin adapter. ``protocol`` is the
contract between networks and proxies (what a network declares, what a proxy may ask of it).
"""

__version__ = "0.1.0"

from jaxnas import aggregate as aggregate
from jaxnas import data as data
from jaxnas import evaluate as evaluate
from jaxnas import models as models
from jaxnas import ntk as ntk
from jaxnas import population as population
from jaxnas import protocol as protocol
from jaxnas import proxies as proxies
from jaxnas import search as search
from jaxnas import spaces as spaces

__all__ = ["aggregate", "data", "evaluate", "models", "ntk", "population", "protocol", "proxies",
           "search", "spaces", "__version__"]
