"""Population scoring: many architectures, one compiled program (jit + shard_map over a device
mesh, lax.map / vmap per device, chunks), across processes with JAX's distributed runtime."""

from ._runtime import compiler_options as compiler_options
from ._runtime import count_cache_events as count_cache_events
from ._runtime import default_cache_dir as default_cache_dir
from ._runtime import initialize_distributed as initialize_distributed
from ._runtime import reuse_host_memory as reuse_host_memory
from ._score import ScoreTiming as ScoreTiming
from ._score import available_memory as available_memory
from ._score import draw_keys as draw_keys
from ._score import member_keys as member_keys
from ._score import population_mesh as population_mesh
from ._score import score_exact as score_exact
from ._score import score_population as score_population

from . import _runtime, _score

METHODS = _score.METHODS
"""How members are mapped on each device: ``"map"`` (``lax.map``, one member's memory, the CPU
default) or ``"vmap"`` (every member of a chunk at once)."""
REUSE_HOST_MEMORY_ENV = _runtime.REUSE_HOST_MEMORY_ENV
"""glibc's malloc settings of :func:`reuse_host_memory` as environment variables, for a process
started by a shell (``env MALLOC_ARENA_MAX=1 ... jaxnas score ...``)."""

__all__ = ["METHODS", "ScoreTiming", "available_memory", "compiler_options", "count_cache_events",
           "default_cache_dir", "draw_keys", "initialize_distributed", "member_keys",
           "population_mesh", "REUSE_HOST_MEMORY_ENV", "reuse_host_memory", "score_exact",
           "score_population"]
