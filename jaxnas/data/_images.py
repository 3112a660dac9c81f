"""Image batches: CIFAR python-pickle directories, .npz files, and a synthetic Gaussian batch."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.protocol import Batch

#: Per-channel normalisation used by zero-cost-nas / NASLib / NASWOT for CIFAR (0-1 scale).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

_CIFAR_DIRS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


class Images(NamedTuple):
  """A labelled image set: uint8 NHWC pixels, int64 labels, where they came from."""

  x: np.ndarray
  y: np.ndarray
  source: str
  num_classes: int
  synthetic: bool = False


def _check_images(x, y, source: str, num_classes: Optional[int]) -> Images:
  x = np.asarray(x)
  y = np.asarray(y)
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f"{source}: images must be uint8 NHWC with 3 channels, got shape {x.shape}.")
  if x.dtype != np.uint8:
    raise TypeError(f"{source}: images must be uint8 (0-255), got dtype {x.dtype}.")
  if y.shape != (x.shape[0],):
    raise ValueError(f"{source}: labels must have shape ({x.shape[0]},), got {y.shape}.")
  if y.dtype.kind not in "iu":
    raise TypeError(f"{source}: labels must be integers, got dtype {y.dtype}.")
  if y.size and y.min() < 0:
    raise ValueError(f"{source}: labels must be >= 0, got min {int(y.min())}.")
  found = int(y.max()) + 1 if y.size else 0
  if num_classes is None:
    num_classes = found
  elif found > num_classes:
    raise ValueError(f"{source}: labels go up to {found - 1} but num_classes={num_classes}.")
  return Images(x, y.astype(np.int64), source, int(num_classes))


def load_cifar(path, *, dataset: str = "cifar10", split: str = "train") -> Images:
  """CIFAR-10/100 from the official python-pickle release.

  Args:
    path: the extracted directory (``cifar-10-batches-py`` / ``cifar-100-python``) or its parent.
    dataset: 'cifar10' or 'cifar100' (fine labels).
    split: 'train' or 'test'.
  """
  if dataset not in _CIFAR_DIRS:
    raise ValueError(f"`dataset` must be 'cifar10' or 'cifar100', got {dataset!r}.")
  if split not in ("train", "test"):
    raise ValueError(f"`split` must be 'train' or 'test', got {split!r}.")
  root = Path(path).expanduser()
  if (root / _CIFAR_DIRS[dataset]).is_dir():
    root = root / _CIFAR_DIRS[dataset]
  if not root.is_dir():
    raise FileNotFoundError(
        f"CIFAR directory not found: {root}. Download the python version from "
        "https://www.cs.toronto.edu/~kriz/cifar.html and extract it.")
  if dataset == "cifar10":
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    label_key, classes = b"labels", 10
  else:
    names, label_key, classes = [split], b"fine_labels", 100
  xs, ys = [], []
  for name in names:
    f = root / name
    if not f.is_file():
      raise FileNotFoundError(f"Missing CIFAR file {f} (expected {', '.join(names)} in {root}).")
    with open(f, "rb") as fh:
      d = pickle.load(fh, encoding="bytes")
    xs.append(np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    ys.append(np.asarray(d[label_key], np.int64))
  return _check_images(np.concatenate(xs), np.concatenate(ys), f"{dataset}:{root}", classes)


def load_npz(path, *, num_classes: Optional[int] = None, split: Optional[str] = "train") -> Images:
  """Images from an ``.npz`` with ``x`` (uint8 NHWC) and ``y`` (int labels).

  If the file has a ``split`` array (as ``cifar10_5000.npz`` does), only rows of `split` are kept
  (``split=None`` keeps all).
  """
  p = Path(path).expanduser()
  if not p.is_file():
    raise FileNotFoundError(f"npz file not found: {p}.")
  if not zipfile.is_zipfile(p):  # np.load would try it as .npy or pickle and say so
    with open(p, "rb") as fh:
      head = fh.read(8)
    kind = " (an .npy array: save x and y with np.savez)" if head.startswith(b"\x93NUMPY") else ""
    raise ValueError(f"{p} is not an .npz file{kind}: an .npz is a zip archive of arrays, as "
                     f"np.savez writes, but this file starts with {head!r}.")
  try:
    npz = np.load(p, allow_pickle=False)
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    raise ValueError(f"{p}: cannot read it as an .npz file: {e}") from None
  with npz as d:
    missing = [k for k in ("x", "y") if k not in d.files]
    if missing:
      raise ValueError(f"{p}: npz must contain arrays 'x' and 'y'; missing {missing}, has {d.files}.")
    x, y = d["x"], d["y"]
    if split is not None and "split" in d.files:
      keep = np.asarray(d["split"]).astype(str) == split
      if not keep.any():
        raise ValueError(f"{p}: no rows with split == {split!r}.")
      x, y = x[keep], y[keep]
  return _check_images(x, y, f"npz:{p}", num_classes)


def normalise(x, mean=CIFAR10_MEAN, std=CIFAR10_STD, *, dtype=jnp.float32) -> jax.Array:
  """uint8 0-255 NHWC images -> float, (x / 255 - mean) / std per channel."""
  x = np.asarray(x)
  if x.dtype != np.uint8:
    raise TypeError(f"`x` must be uint8 images (0-255), got {x.dtype}.")
  m = np.asarray(mean, np.float64)
  s = np.asarray(std, np.float64)
  if m.shape != (x.shape[-1],) or s.shape != (x.shape[-1],):
    raise ValueError(f"`mean`/`std` must have one value per channel ({x.shape[-1]}).")
  return jnp.asarray((x / 255.0 - m) / s, dtype)


# Seeds of augment()'s two streams, next to the user's seed: crop offsets, then flips.
_CROP_STREAM, _FLIP_STREAM = 0xC509, 0xF119


def augment(x, seed: int, *, padding: int = 4, flip: bool = True) -> np.ndarray:
  """The CIFAR training transform of the references' data loaders, on uint8 NHWC images.

  torchvision's ``RandomCrop(H, padding=padding)`` (zero fill: black borders, before any
  normalisation) then ``RandomHorizontalFlip()`` (probability 1/2), as the training loaders of
  zero-cost-nas (``get_cifar_dataloaders``), RBFleX-NAS and xautodl (which AZ-NAS's TE-NAS reads;
  it flips first, the same distribution) apply them; NASWOT's default strips both. Image i's crop
  offsets (top, left, each uniform in 0..2 * padding) and flip come from two NumPy streams seeded
  with `seed`, drawn in image order, so the first k outputs do not depend on how many images follow
  (the augmented batches of :func:`select` stay prefixes of each other).

  Returns:
    uint8 array of `x`'s shape.
  """
  x = np.asarray(x)
  if x.ndim != 4 or x.dtype != np.uint8:
    raise TypeError(f"`x` must be uint8 NHWC images, got dtype {x.dtype} and shape {x.shape}.")
  if int(padding) != padding or padding < 0:
    raise ValueError(f"`padding` must be a non-negative integer, got {padding!r}.")
  n, h, w, _ = x.shape
  p = int(padding)
  top, left = np.random.default_rng([seed, _CROP_STREAM]).integers(0, 2 * p + 1, size=(n, 2)).T
  padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
  rows = top[:, None] + np.arange(h)[None, :]  # (n, h)
  cols = left[:, None] + np.arange(w)[None, :]  # (n, w)
  out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
  if flip:
    mirrored = np.random.default_rng([seed, _FLIP_STREAM]).random(n) < 0.5
    out[mirrored] = out[mirrored, :, ::-1]
  return out


def select(images: Images, n: int, seed: int, *, mean=None, std=None,
           augmented: bool = False) -> Batch:
  """A deterministic batch of `n` distinct images: ``default_rng(seed).permutation`` order.

  Batches for different `n` with the same seed are prefixes of each other (so proxies with
  different reference batch sizes see the same first images). With `augmented`, the images pass
  through :func:`augment` (random crop with 4 zero pixels of padding, random horizontal flip,
  seeded by `seed`) before normalisation, as in the references' training loaders.
  """
  if int(n) != n or n < 1:
    raise ValueError(f"`n` must be a positive integer, got {n!r}.")
  if n > images.x.shape[0]:
    raise ValueError(f"Asked for a batch of {n} but {images.source} has {images.x.shape[0]} images.")
  order = np.random.default_rng(seed).permutation(images.x.shape[0])[: int(n)]
  if mean is None:
    c100 = images.num_classes == 100
    mean, std = (CIFAR100_MEAN, CIFAR100_STD) if c100 else (CIFAR10_MEAN, CIFAR10_STD)
  x = augment(images.x[order], seed) if augmented else images.x[order]
  return Batch(normalise(x, mean, std), jnp.asarray(images.y[order], jnp.int32))


def synthetic_batch(key: jax.Array, n: int, *, image_shape=(32, 32, 3), num_classes: int = 10,
                    dtype=jnp.float32) -> Batch:
  """SYNTHETIC data: N(0, 1) images (already 'normalised') and uniform random labels.

  The embedded default of the CLI, so that jaxnas runs with no download; outputs made from it
  are labelled synthetic. Not a substitute for real images when comparing with published numbers.
  """
  if int(n) != n or n < 1:
    raise ValueError(f"`n` must be a positive integer, got {n!r}.")
  kx, ky = jax.random.split(key)
  x = jax.random.normal(kx, (int(n),) + tuple(image_shape), dtype)
  y = jax.random.randint(ky, (int(n),), 0, num_classes, jnp.int32)
  return Batch(x, y)


def synthetic_images(seed: int, n: int = 512, num_classes: int = 10) -> Images:
  """A pool of synthetic uint8 images (Gaussian around mid-grey), for the same code path as real data."""
  rng = np.random.default_rng(seed)
  x = np.clip(rng.normal(127.5, 64.0, size=(n, 32, 32, 3)), 0, 255).astype(np.uint8)
  y = rng.integers(0, num_classes, size=n)
  return Images(x, y, "synthetic (Gaussian noise, not real images)", num_classes, synthetic=True)


def from_spec(spec: str, *, seed: int = 0) -> Images:
  """Images from a CLI data spec: 'synthetic' | 'cifar10:PATH' | 'cifar100:PATH' | 'npz:PATH'."""
  if spec == "synthetic":
    return synthetic_images(seed)
  kind, sep, path = spec.partition(":")
  if not sep or not path:
    raise ValueError(f"`--data` must be synthetic, cifar10:PATH, cifar100:PATH or npz:PATH; got {spec!r}.")
  path = os.path.expanduser(path)
  if kind in ("cifar10", "cifar100"):
    return load_cifar(path, dataset=kind, split="train")
  if kind == "npz":
    return load_npz(path)
  raise ValueError(f"Unknown data kind {kind!r} in {spec!r}; valid: synthetic, cifar10, cifar100, npz.")
