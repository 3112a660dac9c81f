"""JAX's own runtime for population runs: multi-process start-up and the persistent compilation cache."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Optional

import jax

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
