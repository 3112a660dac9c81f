"""Behaviour unchanged on NB201: a sample of the committed scores in benchmarks/results/
regenerates equal (float32 tolerance) with the settings its meta file records."""

import csv
import json

import jax
import numpy as np
import pytest

from jaxnas import data, population, proxies
from jaxnas.spaces import nb201

from .conftest import CIFAR_NPZ, ROOT

RESULTS = ROOT / "benchmarks" / "results"
SCORES = RESULTS / "correlation_nb201_classic_scores.csv"
SAMPLE = ("nwot", "params", "flops")  # the cheap columns; synflow needs a second (BN-free) network
CELLS = 2  # the first rows of the file


@pytest.mark.skipif(not CIFAR_NPZ.is_file(), reason=f"needs the shared CIFAR-10 sample {CIFAR_NPZ}")
def test_committed_classic_scores_regenerate():
  meta = json.loads(SCORES.with_name(SCORES.name + ".meta.json").read_text())
  assert meta["space"] == "nb201" and set(SAMPLE) <= set(meta["proxies"])
  with SCORES.open() as f:
    rows = list(csv.DictReader(f))[:CELLS]
  index = np.array([int(r["index"]) for r in rows])
  enc = nb201.encoding_of(index)
  assert [nb201.decode(e) for e in enc] == [r["arch"] for r in rows]
  # As `jaxnas score` builds them: images from the spec, one batch per proxy of its recorded size.
  images = data.from_spec(f"npz:{CIFAR_NPZ}", seed=meta["seed"])
  plist = [proxies.get(n) for n in SAMPLE]
  batches = {n: data.select(images, meta["batch_sizes"][n], meta["seed"], augmented=False)
             for n in SAMPLE}
  init = meta["init"] if isinstance(meta["init"], str) else None
  with jax.enable_x64(True):  # as the CLI
    got = population.score_exact(enc, plist, batches, jax.random.key(meta["seed"]), space="nb201",
                                 init=init)
  want = np.array([[float(r[n]) for n in SAMPLE] for r in rows])
  np.testing.assert_allclose(got, want, rtol=1e-5)
