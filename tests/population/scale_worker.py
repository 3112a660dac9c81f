"""Scores one small population in a fresh process (run by test_scale.py as a subprocess).

``python -m tests.population.scale_worker OUT [--single] [--coordinator H:P --num-processes N
--process-id I]``: writes the score matrix to OUT (.npy). The number of CPU devices comes from
XLA_FLAGS, set by the caller before JAX starts.
"""

import argparse

import jax
import numpy as np

from jaxnas import population, proxies
from jaxnas.proxies import Batch
from jaxnas.spaces import nb201

SMALL = {"C": 4, "N": 1}
FAST = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
# 7 members: not a multiple of the device count. NWOT reads the weights, so a member scored with
# another member's key (or image shard) would show.
INDICES = np.array([9930, 0, 11, 123, 5000, 15624, 777])
NAMES = ("nwot",)


def population_scores(mesh=None, chunk_size=1) -> np.ndarray:
  x = jax.random.normal(jax.random.key(3), (8, 8, 8, 3))
  with jax.enable_x64(True):
    return population.score_population(nb201.encoding_of(INDICES), [proxies.get(n) for n in NAMES],
                                       Batch(x), jax.random.key(0), network_kwargs=SMALL,
                                       chunk_size=chunk_size, mesh=mesh, compiler_options=FAST)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("out")
  ap.add_argument("--single", action="store_true", help="also score on the first device alone")
  ap.add_argument("--coordinator")
  ap.add_argument("--num-processes", type=int)
  ap.add_argument("--process-id", type=int)
  args = ap.parse_args()
  if args.coordinator:
    population.initialize_distributed(args.coordinator, args.num_processes, args.process_id)
  result = {"sharded": population_scores(), "num_devices": len(jax.devices()),
            "process_count": jax.process_count()}
  if args.single:
    result["single"] = population_scores(population.population_mesh(jax.devices()[:1]))
  np.save(args.out, result, allow_pickle=True)


if __name__ == "__main__":
  main()
