import pickle
import sys
import types

import jax
import numpy as np
import pytest

from jaxnas import data

from ..conftest import CIFAR_NPZ, NB201_CSV, needs_file


def _fake_cifar10(root, n=6):
  d = root / "cifar-10-batches-py"
  d.mkdir()
  rng = np.random.default_rng(0)
  for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
    x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    with open(d / name, "wb") as fh:
      pickle.dump({b"data": x, b"labels": list(rng.integers(0, 10, n))}, fh)
  return d


def test_load_cifar10_pickles_channel_order(tmp_path):
  d = _fake_cifar10(tmp_path)
  imgs = data.load_cifar(tmp_path, dataset="cifar10", split="train")
  assert imgs.x.shape == (30, 32, 32, 3) and imgs.x.dtype == np.uint8 and imgs.num_classes == 10
  with open(d / "data_batch_1", "rb") as fh:
    raw = pickle.load(fh, encoding="bytes")[b"data"][0]
  assert imgs.x[0, 0, 0, 0] == raw[0] and imgs.x[0, 0, 0, 1] == raw[1024] and imgs.x[0, 0, 1, 0] == raw[1]
  assert data.load_cifar(d, split="test").x.shape == (6, 32, 32, 3)
  (d / "data_batch_3").unlink()
  with pytest.raises(FileNotFoundError, match="data_batch_3"):
    data.load_cifar(tmp_path)
  with pytest.raises(FileNotFoundError, match="CIFAR directory not found"):
    data.load_cifar(tmp_path / "nope")


def test_load_cifar100_fine_labels(tmp_path):
  d = tmp_path / "cifar-100-python"
  d.mkdir()
  for split in ("train", "test"):
    with open(d / split, "wb") as fh:
      pickle.dump({b"data": np.zeros((4, 3072), np.uint8), b"fine_labels": [0, 99, 5, 7],
                   b"coarse_labels": [0, 1, 2, 3]}, fh)
  imgs = data.load_cifar(tmp_path, dataset="cifar100")
  assert imgs.num_classes == 100 and list(imgs.y) == [0, 99, 5, 7]


def test_npz_validation(tmp_path):
  p = tmp_path / "a.npz"
  np.savez(p, x=np.zeros((4, 32, 32, 3), np.uint8), y=np.arange(4))
  assert data.load_npz(p).num_classes == 4
  with pytest.raises(ValueError, match="labels go up to 3 but num_classes=2"):
    data.load_npz(p, num_classes=2)
  np.savez(p, x=np.zeros((4, 32, 32, 3), np.float32), y=np.arange(4))
  with pytest.raises(TypeError, match="uint8"):
    data.load_npz(p)
  np.savez(p, x=np.zeros((4, 3, 32, 32), np.uint8), y=np.arange(4))
  with pytest.raises(ValueError, match="NHWC with 3 channels"):
    data.load_npz(p)
  np.savez(p, x=np.zeros((4, 32, 32, 3), np.uint8))
  with pytest.raises(ValueError, match="missing \\['y'\\]"):
    data.load_npz(p)
  np.savez(p, x=np.zeros((4, 32, 32, 3), np.uint8), y=np.arange(3))
  with pytest.raises(ValueError, match="labels must have shape \\(4,\\)"):
    data.load_npz(p)
  with pytest.raises(FileNotFoundError):
    data.load_npz(tmp_path / "missing.npz")
  text = tmp_path / "scores.npz"
  text.write_text("index,arch\n")
  with pytest.raises(ValueError, match=f"{text} is not an .npz file: .* starts with b'index,ar'"):
    data.load_npz(text)
  np.save(tmp_path / "x.npy", np.zeros((4, 32, 32, 3), np.uint8))
  with pytest.raises(ValueError, match=r"x.npy is not an .npz file \(an .npy array"):
    data.load_npz(tmp_path / "x.npy")


@needs_file(CIFAR_NPZ)
def test_shared_cifar_npz_and_deterministic_batches():
  imgs = data.load_npz(CIFAR_NPZ)
  assert imgs.x.shape == (4000, 32, 32, 3)  # the training rows only
  b64, b128 = data.select(imgs, 64, 0), data.select(imgs, 128, 0)
  np.testing.assert_array_equal(b64.x, b128.x[:64])  # batches of one seed are prefixes
  assert not np.array_equal(data.select(imgs, 64, 1).y, b64.y)
  m = np.asarray(data.normalise(imgs.x)).reshape(-1, 3).mean(0)
  assert np.all(np.abs(m) < 0.1)  # CIFAR statistics roughly centre the data
  with pytest.raises(ValueError, match="has 4000 images"):
    data.select(imgs, 5000, 0)


def _torchvision_crop_flip(img, top, left, mirrored, padding=4):
  """RandomCrop(padding, fill 0) + RandomHorizontalFlip for given draws, pixel by pixel."""
  h, w, c = img.shape
  out = np.zeros_like(img)
  for r in range(h):
    for q in range(w):
      src_r, src_q = top + r - padding, left + q - padding  # position in the unpadded image
      if 0 <= src_r < h and 0 <= src_q < w:
        out[r, (w - 1 - q) if mirrored else q] = img[src_r, src_q]
  return out


def test_augment_is_the_reference_crop_and_flip():
  rng = np.random.default_rng(3)
  x = rng.integers(1, 256, size=(300, 8, 8, 3), dtype=np.uint8)  # no 0 pixel: borders are padding
  out = data.augment(x, seed=5)
  assert out.shape == x.shape and out.dtype == np.uint8
  draws = []
  for img, aug in zip(x, out):
    found = [(t, l, m) for t in range(9) for l in range(9) for m in (False, True)
             if np.array_equal(_torchvision_crop_flip(img, t, l, m), aug)]
    assert len(found) == 1, found  # every output is exactly one crop-and-flip of its input
    draws.append(found[0])
  tops, lefts, flips = map(np.asarray, zip(*draws))
  assert set(tops) == set(range(9)) and set(lefts) == set(range(9))  # offsets 0..2 * padding
  assert 0.4 < flips.mean() < 0.6  # flipped with probability 1/2 (300 draws: +-0.087 at 3 sigma)
  np.testing.assert_array_equal(data.augment(x[:17], seed=5), out[:17])  # prefix-stable
  assert not np.array_equal(data.augment(x, seed=6), out)
  np.testing.assert_array_equal(data.augment(x, seed=5, padding=0, flip=False), x)
  with pytest.raises(TypeError, match="`x` must be uint8 NHWC"):
    data.augment(x.astype(np.float32), seed=0)
  with pytest.raises(ValueError, match="`padding`"):
    data.augment(x, seed=0, padding=-1)


def test_select_augmented_batches():
  imgs = data.synthetic_images(0, n=50)
  plain, aug = data.select(imgs, 20, 1), data.select(imgs, 20, 1, augmented=True)
  np.testing.assert_array_equal(plain.y, aug.y)  # same images, same labels
  order = np.random.default_rng(1).permutation(50)[:20]
  np.testing.assert_allclose(aug.x, data.normalise(data.augment(imgs.x[order], 1)))
  assert not np.allclose(plain.x, aug.x)
  np.testing.assert_array_equal(data.select(imgs, 7, 1, augmented=True).x, aug.x[:7])


def test_normalise_and_synthetic():
  x = np.full((1, 2, 2, 3), 255, np.uint8)
  np.testing.assert_allclose(np.asarray(data.normalise(x))[0, 0, 0],
                             (1 - np.array(data.CIFAR10_MEAN)) / np.array(data.CIFAR10_STD), rtol=1e-6)
  with pytest.raises(TypeError, match="uint8"):
    data.normalise(x.astype(np.float32))
  b = data.synthetic_batch(jax.random.key(0), 5, num_classes=3)
  assert b.x.shape == (5, 32, 32, 3) and int(b.y.max()) < 3
  imgs = data.from_spec("synthetic")
  assert imgs.synthetic and "synthetic" in imgs.source
  for bad in ("cifar10", "npz:"):
    with pytest.raises(ValueError, match="--data"):
      data.from_spec(bad)
  with pytest.raises(ValueError, match="Unknown data kind 'imagenet'"):
    data.from_spec("imagenet:/x")


@needs_file(NB201_CSV)
def test_shared_nb201_table():
  t = data.load_table(NB201_CSV)
  assert len(t.index) == 15625
  c10, c100 = t.column("cifar10_test_acc"), t.column("cifar100_test_acc")
  assert c10.max() == pytest.approx(94.3733) and set(t.index[c10 == c10.max()]) == {6111, 13714}
  assert c100.max() == pytest.approx(73.5133) and t.index[np.argmax(c100)] == 9930
  assert t.lookup([9930], "cifar100_test_acc")[0] == pytest.approx(73.5133)
  with pytest.raises(ValueError, match="available: cifar10_test_acc"):
    t.column("imagenet")


def test_table_errors(tmp_path):
  p = tmp_path / "t.csv"
  p.write_text("index,acc\n0,1.0\n")
  with pytest.raises(ValueError, match="needs an 'arch' column"):
    data.load_table(p)
  p.write_text("index,arch,acc\n0,a,1.5\n1,b,2.5\n")
  t = data.load_table(p)
  with pytest.raises(ValueError, match="not in"):
    t.lookup([0, 7], "acc")


def test_nats_bench_adapter_with_a_stand_in_module(tmp_path, monkeypatch):
  class API:
    def __len__(self):
      return 3

    def get_more_info(self, i, dataset, hp, is_random):
      assert (dataset, hp, is_random) == ("cifar100", "90", False)
      return {"test-accuracy": 50.0 + i}

    def arch(self, i):
      return f"{8 * (i + 1)}:8:8:8:8"

  fake = types.ModuleType("nats_bench")
  fake.create = lambda path, space, fast_mode, verbose: API()
  monkeypatch.setitem(sys.modules, "nats_bench", fake)
  t = data.load_nats_bench(tmp_path, space="sss", dataset="cifar100", hp="90")
  assert list(t.column("cifar100_test_accuracy_90ep")) == [50.0, 51.0, 52.0]
  with pytest.raises(ValueError, match="`space`"):
    data.load_nats_bench(tmp_path, space="xyz")
  monkeypatch.setitem(sys.modules, "nats_bench", None)
  with pytest.raises(ImportError, match="jaxnas\\[nats\\]"):
    data.load_nats_bench(tmp_path)


def test_score_tables_gz_dense_and_merge(tmp_path):
  import gzip

  text = "index,arch,synflow,nwot\n3,a3,1.5,10\n0,a0,,20\n"
  with gzip.open(tmp_path / "s.csv.gz", "wt", newline="") as fh:
    fh.write(text)
  (tmp_path / "s.csv").write_text(text)
  gz, plain = data.load_table(tmp_path / "s.csv.gz"), data.load_table(tmp_path / "s.csv")
  np.testing.assert_array_equal(gz.index, plain.index)
  np.testing.assert_array_equal(gz.dense("synflow", 5), [np.nan, np.nan, np.nan, 1.5, np.nan])
  (tmp_path / "t.csv").write_text("index,arch,grasp\n0,a0,-1\n4,a4,2\n")
  m = data.merge_tables([gz, data.load_table(tmp_path / "t.csv")])
  np.testing.assert_array_equal(m.index, [0, 3, 4])
  assert m.arch.tolist() == ["a0", "a3", "a4"]
  np.testing.assert_array_equal(m.column("nwot"), [20, 10, np.nan])
  np.testing.assert_array_equal(m.column("grasp"), [-1, np.nan, 2])
  with pytest.raises(ValueError, match="more than one table"):
    data.merge_tables([gz, plain])
  with pytest.raises(ValueError, match="outside"):
    gz.dense("nwot", 3)
  (tmp_path / "d.csv").write_text("index,arch,x\n1,a,1\n1,a,2\n")
  with pytest.raises(ValueError, match="index 1 appears 2 times"):
    data.load_table(tmp_path / "d.csv")
