"""Population scoring: many architectures, one compiled program (jit + shard_map over a device
mesh, lax.map / vmap per device, chunks), across processes with JAX's distributed runtime.

## Guide

:func:`score_population` scores a population of encodings with a list of proxies in one XLA
program: the space's masked supernet takes the encoding as a traced input, so one compiled program
serves every cell; members are mapped with ``lax.map`` (the CPU default) or ``vmap``, in fixed-size
chunks, with the images passed as arguments (a second population never recompiles) and the members
sharded over every device of every process (``shard_map`` over a device mesh, ``jax.distributed``
across hosts).

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
"""

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
