"""JAX's own runtime for population runs: multi-process start-up, the persistent compilation cache
and the XLA compiler options jaxnas compiles with."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator, Optional

import jax
import jax.numpy as jnp

CACHE_EVENTS = {
    "/jax/compilation_cache/cache_hits": "hits",
    "/jax/compilation_cache/cache_misses": "misses",
}


def default_cache_dir() -> Path:
  """``$JAXNAS_CACHE/xla``, by default ``~/.cache/jaxnas/xla``: where the CLI keeps compiled programs.

  The library never turns JAX's persistent compilation cache on itself (a process-wide option);
  in your own program: ``jax.config.update("jax_compilation_cache_dir", str(default_cache_dir()))``.
  """
  return Path(os.environ.get("JAXNAS_CACHE", Path.home() / ".cache" / "jaxnas")).expanduser() / "xla"


# XLA:CPU's YNNPACK libraries (DebugOptions.LibraryFusionType). jaxlib 0.10's default hands
# individual dots, reductions and convolutions to YNNPACK; this keeps the first two.
YNN_OPTION = "xla_cpu_experimental_ynn_fusion_type"
YNN_WITHOUT_CONVOLUTIONS = "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"
# Images per pass from which XLA's own float32 convolutions beat YNNPACK's (see compiler_options).
MIN_BATCH_WITHOUT_YNN_CONVOLUTIONS = 16


def compiler_options(platform: Optional[str] = None, *, batch_size: int = 64, dtype=jnp.float32) -> dict:
  """The XLA compiler options jaxnas compiles a program with, for `platform` (default: JAX's default
  backend), `batch_size` images per pass and convolutions in `dtype`.

  On CPU, for float32 batches of 16 images or more: XLA's defaults except that convolutions are left
  to XLA's own emitter instead of YNNPACK (``xla_cpu_experimental_ynn_fusion_type`` without
  ``INDIVIDUAL_CONVOLUTION``; YNNPACK keeps dots and reductions, whose float32 BatchNorm statistics
  are more accurate), because jaxlib 0.10's YNNPACK computes the gradients of batch-64 convolutions
  slower; on 1-4 images, and in float64, YNNPACK is faster and stays. Measured:
  ``benchmarks/README.md`` (XLA:CPU options), ``benchmarks/results/xla_cpu_options.md``.

  Otherwise, on a jaxlib that does not know the option, or when ``XLA_FLAGS`` sets it (your choice
  wins): ``{}``, XLA's defaults. Per-program options change nothing else in the process.
  :func:`score_population` and :func:`score_exact` use them (for their largest batch) unless given
  ``compiler_options``; for your own programs (proxies, NTKs)::

    jax.jit(fn, compiler_options=jaxnas.population.compiler_options(batch_size=len(x)))
  """
  platform = jax.default_backend() if platform is None else platform
  if (platform != "cpu" or batch_size < MIN_BATCH_WITHOUT_YNN_CONVOLUTIONS
      or jnp.dtype(dtype) != jnp.float32 or YNN_OPTION in os.environ.get("XLA_FLAGS", "")):
    return {}
  return dict(_cpu_options())


@functools.lru_cache(maxsize=None)
def _cpu_options() -> tuple:
  """The CPU options this jaxlib accepts (a tiny program compiled with them once per process)."""
  options = {YNN_OPTION: YNN_WITHOUT_CONVOLUTIONS}
  try:
    jax.jit(lambda x: x + 1).lower(jax.ShapeDtypeStruct((), jnp.float32)).compile(compiler_options=options)
  except jax.errors.JaxRuntimeError:
    return ()
  return tuple(options.items())


@contextlib.contextmanager
def count_cache_events() -> Iterator[dict]:
  """Counts persistent-cache hits and misses (JAX monitoring events) while the block runs."""
  counts = {"hits": 0, "misses": 0}

  def listener(event: str, **kwargs) -> None:
    if event in CACHE_EVENTS:
      counts[CACHE_EVENTS[event]] += 1

  jax.monitoring.register_event_listener(listener)
  try:
    yield counts
  finally:
    jax.monitoring.unregister_event_listener(listener)


def initialize_distributed(coordinator_address: Optional[str] = None,
                           num_processes: Optional[int] = None, process_id: Optional[int] = None,
                           *, local_device_ids=None, timeout_s: int = 300) -> None:
  """Join a multi-process run (``jax.distributed.initialize``) before any other JAX call.

  Without arguments JAX detects the cluster itself (Cloud TPU pods, Slurm, Open MPI, Kubernetes
  with the usual environment variables). Elsewhere give all three: `coordinator_address`
  ('host:port' of process 0, reachable from every process), `num_processes` and this process's
  `process_id` (0 .. num_processes - 1). Afterwards ``jax.devices()`` lists every process's
  devices and :func:`jaxnas.population.score_population` shards a population over all of them:
  every process runs the same call and receives every score.
  """
  given = [coordinator_address is not None, num_processes is not None, process_id is not None]
  if any(given) and not all(given):
    raise ValueError("Give `coordinator_address`, `num_processes` and `process_id` together (or "
                     "none of them, to let JAX detect a TPU pod or Slurm cluster); got "
                     f"coordinator_address={coordinator_address!r}, num_processes={num_processes!r}, "
                     f"process_id={process_id!r}.")
  if all(given):
    if not isinstance(coordinator_address, str) or ":" not in coordinator_address:
      raise ValueError(f"`coordinator_address` must be 'host:port', got {coordinator_address!r}.")
    if int(num_processes) < 1:
      raise ValueError(f"`num_processes` must be >= 1, got {num_processes!r}.")
    if not 0 <= int(process_id) < int(num_processes):
      raise ValueError(f"`process_id` must be in [0, {int(num_processes) - 1}], got {process_id!r}.")
  jax.distributed.initialize(coordinator_address, None if num_processes is None else int(num_processes),
                             None if process_id is None else int(process_id),
                             local_device_ids=local_device_ids, initialization_timeout=timeout_s)


class PeerLostError(RuntimeError):
  """A process of a multi-process run was lost (died, was killed, or its network went away)."""


# Lower-case fragments of the runtime errors a collective raises when a peer is gone (XLA:CPU's
# gloo: "UNKNOWN: Gloo AllGather failed: ... Connection closed by peer"; the coordination
# service: "UNAVAILABLE: ... heartbeat"; NCCL and TPU runtimes: "unavailable", "aborted").
_PEER_LOSS_MARKERS = ("gloo", "connection closed", "connection reset", "connection refused",
                      "broken pipe", "heartbeat", "unavailable:", "deadline_exceeded:", "aborted:",
                      "nccl", "barrier")


def peer_lost(error: BaseException, process_index: Optional[int] = None,
              process_count: Optional[int] = None) -> Optional[PeerLostError]:
  """A :class:`PeerLostError` for `error` if it is a collective of a multi-process run failing
  because another process is gone, else None.

  The collective raises (gloo on CPU raises a ValueError, other runtimes ``JaxRuntimeError``);
  without a catch, the survivor's Python exit then waits for JAX's shutdown barrier until the
  coordination service notices the missing heartbeats (100 s) and aborts the process with
  SIGABRT and a C++ stack trace. The message names the lost process when there are two (the
  runtime's error does not say which one it was otherwise) and says how to go on.
  `process_index` and `process_count` default to this process's.
  """
  index = jax.process_index() if process_index is None else int(process_index)
  count = jax.process_count() if process_count is None else int(process_count)
  text = str(error)
  if count < 2 or not isinstance(error, (ValueError, RuntimeError)):
    return None
  if not any(m in text.lower() for m in _PEER_LOSS_MARKERS):
    return None
  lost = (f"process {1 - index}" if count == 2
          else f"a process other than this one (process {index} of {count})")
  first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
  return PeerLostError(f"{lost} lost ({first}); rerun the same command on every process to "
                       "resume")


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
#: The same settings as environment variables, for a process started by a shell.
REUSE_HOST_MEMORY_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0",
                         "MALLOC_TRIM_THRESHOLD_": str(2 ** 63)}


def reuse_host_memory() -> bool:
  """Make this process's C allocator keep freed host memory for reuse (Linux with glibc only).

  XLA:CPU allocates each run's temporary buffers anew; glibc serves large allocations with ``mmap``
  and unmaps them on ``free``, so every run touches fresh pages that the kernel must fault in and
  zero. This sets glibc's ``mallopt`` so that freed memory stays in the process and is reused: one
  arena (``M_ARENA_MAX`` 1), no ``mmap`` for large blocks (``M_MMAP_MAX`` 0), never trim the heap
  (``M_TRIM_THRESHOLD`` -1). The cost is resident memory: the process keeps its peak heap, and the
  heap fragments where buffers of many sizes come and go; the seven classic proxies scored together
  are no faster. Hence opt-in. Measured (page faults, speed, resident memory):
  ``benchmarks/README.md`` (host memory).

  Process-wide, so jaxnas's library functions never call it; ``jaxnas score --host-memory reuse``
  does. Call it before the first JAX computation: JAX's CPU worker threads allocate from their own
  glibc arenas once they run, and those keep unmapping (a warning says so). Equivalently, start
  Python with the environment variables in :data:`REUSE_HOST_MEMORY_ENV`.

  Returns True if the settings were applied, False where the C library is not glibc (macOS,
  Windows, musl): nothing changes there.
  """
  if not sys.platform.startswith("linux"):
    return False
  try:
    libc = ctypes.CDLL(None)
    libc.gnu_get_libc_version  # noqa: B018  (glibc only)
  except (OSError, AttributeError):
    return False
  try:
    from jax._src import xla_bridge
    started = xla_bridge.backends_are_initialized()
  except (ImportError, AttributeError):
    started = False
  if started:
    warnings.warn("reuse_host_memory() called after JAX started its CPU runtime: memory that JAX's "
                  "worker threads allocate keeps being unmapped and faulted in again. Call it before "
                  "the first JAX computation, or set the environment variables in "
                  "jaxnas.population.REUSE_HOST_MEMORY_ENV.", RuntimeWarning, stacklevel=2)
  ok = [libc.mallopt(_M_ARENA_MAX, 1), libc.mallopt(_M_MMAP_MAX, 0), libc.mallopt(_M_TRIM_THRESHOLD, -1)]
  return all(ok)
