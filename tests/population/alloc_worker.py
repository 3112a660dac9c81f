"""Counts page faults of repeated XLA:CPU runs in a fresh process (run by test_host_memory.py).

``python -m tests.population.alloc_worker MODE`` with MODE ``default`` (glibc's settings),
``reuse`` (``population.reuse_host_memory()`` before JAX starts) or ``late`` (called after the
first computation: must warn). Prints a JSON object: the minor page faults of each run and what
``reuse_host_memory`` returned.
"""

import json
import resource
import sys
import warnings

import jax
import jax.numpy as jnp

from jaxnas import population

RUNS = 12


def main(mode: str) -> None:
  applied = None
  if mode == "reuse":
    applied = population.reuse_host_memory()
  # The product is a 64 MiB temporary buffer: above glibc's largest mmap threshold (32 MiB).
  f = jax.jit(lambda x: jnp.sum(jnp.sin(x @ x.T)))
  x = jnp.ones((4096, 1024), jnp.float32)
  caught = []
  if mode == "late":
    f(x).block_until_ready()
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      applied = population.reuse_host_memory()
  faults = []
  for _ in range(RUNS):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    f(x).block_until_ready()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
  print(json.dumps({"faults": faults, "applied": applied,
                    "warnings": [str(w.message) for w in caught]}))


if __name__ == "__main__":
  main(sys.argv[1])
