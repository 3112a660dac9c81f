"""Population scoring: many architectures, one compiled program (jit + shard_map over a device
mesh, lax.map / vmap per device, chunks), across processes with JAX's distributed runtime; the
resumable, locked score files the CLI writes."""

from ._checkpoint import OutputLockedError as OutputLockedError
from ._checkpoint import Rows as Rows
from ._checkpoint import agree_on_done as agree_on_done
from ._checkpoint import append_rows as append_rows
from ._checkpoint import format_row as format_row
from ._checkpoint import lock_output as lock_output
from ._checkpoint import meta_path as meta_path
from ._checkpoint import read_meta as read_meta
from ._checkpoint import read_rows as read_rows
from ._checkpoint import resume_rows as resume_rows
from ._checkpoint import write_meta as write_meta
from ._checkpoint import write_rows as write_rows
from ._runtime import compiler_options as compiler_options
from ._runtime import count_cache_events as count_cache_events
from ._runtime import default_cache_dir as default_cache_dir
from ._runtime import initialize_distributed as initialize_distributed
from ._runtime import PeerLostError as PeerLostError
from ._runtime import peer_lost as peer_lost
from ._runtime import REUSE_HOST_MEMORY_ENV as REUSE_HOST_MEMORY_ENV
from ._runtime import reuse_host_memory as reuse_host_memory
from ._score import METHODS as METHODS
from ._score import ScoreTiming as ScoreTiming
from ._score import available_memory as available_memory
from ._score import draw_keys as draw_keys
from ._score import member_keys as member_keys
from ._score import population_mesh as population_mesh
from ._score import proxy_inits as proxy_inits
from ._score import score_exact as score_exact
from ._score import score_population as score_population

__all__ = ["METHODS", "OutputLockedError", "PeerLostError", "Rows", "ScoreTiming", "agree_on_done",
           "append_rows", "available_memory", "compiler_options", "count_cache_events",
           "default_cache_dir", "draw_keys", "format_row", "initialize_distributed",
           "lock_output", "member_keys", "meta_path", "peer_lost", "population_mesh", "proxy_inits",
           "read_meta", "read_rows", "REUSE_HOST_MEMORY_ENV", "resume_rows", "reuse_host_memory",
           "score_exact", "score_population", "write_meta", "write_rows"]
