"""Population scoring: many architectures, one compiled program (jit + shard_map over a device
mesh, lax.map / vmap per device, chunks), across processes with JAX's distributed runtime; the
resumable, locked score files the CLI writes.

## Guide

:func:`score_population` scores a population of encodings with a list of proxies in one XLA
program: the space's masked supernet takes the encoding as a traced input, so one compiled program
serves every cell; members are mapped with ``lax.map`` (the CPU default) or ``vmap``, in fixed-size
chunks, with the images passed as arguments (a second population never recompiles) and the members
sharded over every device of every process (``shard_map`` over a device mesh, ``jax.distributed``
across hosts).

A search loop that scores inside its own jitted step holds the pure scorer instead:
``score_fn = make_scorer(space, proxies, batch)``, then ``score_fn(encodings, keys)`` (traced;
``keys = member_keys(key, space.index_of(encodings))`` gives :func:`score_population`'s scores).
:func:`score_population` is the host driver around the same member function. Compiled programs
are cached per process (this package owns them); :func:`clear_caches` releases them.

### Scale: progress, chunks, devices, processes, the compilation cache

Scale. `score` shows a progress bar (architectures/second, ETA) that starts after compilation, and
reports tracing (`lower_s`) and XLA compilation (`compile_s`) apart from the run. Compiled programs
go to JAX's persistent compilation cache (`--compile-cache DIR`, default `$JAXNAS_CACHE/xla` or
`~/.cache/jaxnas/xla`; `none` turns it off), so a second command with the same settings loads the
program instead of compiling it (the summary counts cache hits and misses). `--chunk-size` is
architectures per device per compiled call (default: 1 with `--method map`, whose memory is one
architecture's whatever the chunk, and which then runs without a loop: XLA:CPU runs a network 2.5-3x
slower inside `lax.map`'s loop; with `--method vmap` as many as fit in half the free device
memory, from XLA's memory analysis of a one-architecture program). Members are sharded over every
device JAX sees. Several processes or hosts score one population together with JAX's distributed
runtime: run the same command in each with `--coordinator HOST:PORT --num-processes N --process-id I`
(or `--distributed` on a Cloud TPU pod or under Slurm, where JAX finds these itself); process 0
writes `--out`. In Python: `population.initialize_distributed(...)`, then `score_population` as
usual in every process (`mesh=` picks other devices; the library leaves JAX's compilation cache
option, `jax_compilation_cache_dir`, to you).

### XLA:CPU compiler options

On CPU, jaxnas compiles its programs with one XLA option of its own, per program (nothing global):
for float32 batches of 16 images or more, convolutions go to XLA's own emitter instead of YNNPACK,
whose gradients of batch-64 convolutions are slower in jaxlib 0.10; for a few images and in
float64 (synflow's one image) YNNPACK is the faster one and XLA's defaults stay.
:func:`compiler_options` returns the options for your own ``jax.jit``; ``compiler_options={}`` asks
:func:`score_population` for XLA's defaults, and an ``xla_cpu_experimental_ynn_fusion_type`` in
``XLA_FLAGS`` wins over jaxnas's choice. Measured: `benchmarks/README.md` (XLA:CPU options) and
``benchmarks/results/xla_cpu_options.md``.

### Host memory (opt-in)

XLA:CPU allocates every run's temporary buffers anew, and glibc unmaps large blocks when they are
freed, so each architecture faults its working memory in again. ``jaxnas score --host-memory reuse``
(in Python: :func:`reuse_host_memory` before the first JAX computation, or the environment
variables in :data:`REUSE_HOST_MEMORY_ENV`) makes glibc keep freed memory for reuse: faster per
architecture for the gradient proxies alone, at the price of resident memory, so the default stays
the C library's own. Measured: `benchmarks/README.md` (host memory).

### XLA's "Very slow compile?" message

XLA prints an error line from ``slow_operation_alarm.cc`` when a compilation passes two minutes
(an NB201 supernet program can, on a small or busy CPU). It is not an error. ``jaxnas score`` keeps
XLA's C++ log off the terminal for its own process; the library leaves logging to you: set
``TF_CPP_MIN_LOG_LEVEL=3`` before importing JAX to hide it in your program.

### 64-bit scores

The CLI runs with 64-bit JAX enabled for its own process (scoped with `jax.enable_x64`), because
synflow's reference is float64 and NB201 synflow scores (up to ~1e47) overflow float32. Networks and
images stay float32; the library itself never changes JAX's global configuration.

### Score files: lock, settings, resume

:func:`lock_output` takes an exclusive lock on ``OUT.lock`` (a second writer is refused with the
first one's pid, host, start time and command); :func:`write_meta` / :func:`read_meta` keep the
settings file ``OUT.meta.json`` (written atomically; a missing, corrupt or mismatching one is named
with the way out); :func:`resume_rows` keeps the valid rows of an earlier run (numbers or nan/inf,
the arch string of its index) so that a rerun scores only the rest, and :func:`append_rows` /
:func:`write_rows` add rows with fsync or replace the file atomically. A lost process of a
multi-process run is :class:`PeerLostError` (:func:`peer_lost`).
"""

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
from ._runtime import reuse_host_memory as reuse_host_memory
from ._score import ScoreTiming as ScoreTiming
from ._score import clear_caches as clear_caches
from ._score import make_scorer as make_scorer
from ._score import available_memory as available_memory
from ._score import draw_keys as draw_keys
from ._score import member_keys as member_keys
from ._score import population_mesh as population_mesh
from ._score import proxy_inits as proxy_inits
from ._score import score_exact as score_exact
from ._score import score_population as score_population

from . import _runtime, _score

METHODS = _score.METHODS
"""How members are mapped on each device: ``"map"`` (``lax.map``, one member's memory, the CPU
default) or ``"vmap"`` (every member of a chunk at once)."""
REUSE_HOST_MEMORY_ENV = _runtime.REUSE_HOST_MEMORY_ENV
"""glibc's malloc settings of :func:`reuse_host_memory` as environment variables, for a process
started by a shell (``env MALLOC_ARENA_MAX=1 ... jaxnas score ...``)."""

__all__ = ["METHODS", "OutputLockedError", "PeerLostError", "Rows", "ScoreTiming", "agree_on_done",
           "append_rows", "available_memory", "compiler_options", "count_cache_events",
           "clear_caches", "default_cache_dir", "draw_keys", "format_row", "initialize_distributed",
           "lock_output", "make_scorer", "member_keys", "meta_path", "peer_lost", "population_mesh", "proxy_inits",
           "read_meta", "read_rows", "REUSE_HOST_MEMORY_ENV", "resume_rows", "reuse_host_memory",
           "score_exact", "score_population", "write_meta", "write_rows"]
