"""Data: image batches (CIFAR, .npz, synthetic) and benchmark ground-truth tables.

- **Images.** `--data synthetic` (the default) is Gaussian noise and is labelled SYNTHETIC in every
  output; use it to try jaxnas, not to compare with papers. Real data: download the CIFAR-10/100
  *python version* from https://www.cs.toronto.edu/~kriz/cifar.html and point jaxnas at the extracted
  directory (`--data cifar10:~/data/cifar-10-batches-py`, `data.load_cifar`), or at an `.npz` with
  `x` (uint8 NHWC) and `y` (`--data npz:PATH`, `data.load_npz`). Batches are drawn from the training
  split with a seeded permutation and normalised with the CIFAR mean/std that the references use.
- **Ground truth.** `jaxnas correlate --truth` and `data.load_table` read a CSV with `index`, `arch`
  and accuracy columns (e.g. one exported from NAS-Bench-201). With the optional package
  (`pip install "jaxnas[nats]"`) and your NATS-Bench files, `data.load_nats_bench(path, space="tss"|"sss",
  dataset=..., hp=...)` builds the same table from the official benchmark.
- Tests and benchmarks read reference copies from `../shared/data/` and skip with a reason when it
  is absent; no dataset or benchmark file is part of this repository.
"""

from jaxnas.protocol import Batch as Batch

from ._images import Images as Images
from ._images import augment as augment
from ._images import from_spec as from_spec
from ._images import load_cifar as load_cifar
from ._images import load_npz as load_npz
from ._images import normalise as normalise
from ._images import select as select
from ._images import synthetic_batch as synthetic_batch
from ._images import synthetic_images as synthetic_images
from ._tables import BenchmarkTable as BenchmarkTable
from ._tables import load_nats_bench as load_nats_bench
from ._tables import load_table as load_table
from ._tables import merge_tables as merge_tables

from . import _images

CIFAR10_MEAN = _images.CIFAR10_MEAN
"""CIFAR-10 per-channel mean (RGB, 0-1 scale), as zero-cost-nas, NASLib and NASWOT normalise."""
CIFAR10_STD = _images.CIFAR10_STD
"""CIFAR-10 per-channel standard deviation (RGB, 0-1 scale), the references' constants."""
CIFAR100_MEAN = _images.CIFAR100_MEAN
"""CIFAR-100 per-channel mean (RGB, 0-1 scale), the references' constants."""
CIFAR100_STD = _images.CIFAR100_STD
"""CIFAR-100 per-channel standard deviation (RGB, 0-1 scale), the references' constants."""

__all__ = [
    "Batch", "BenchmarkTable", "CIFAR100_MEAN", "CIFAR100_STD", "CIFAR10_MEAN", "CIFAR10_STD",
    "Images", "augment", "from_spec", "load_cifar", "load_nats_bench", "load_npz", "load_table",
    "merge_tables", "normalise", "select", "synthetic_batch", "synthetic_images",
]
