"""The notebooks run top to bottom (small sizes, CPU), as a Colab user would run them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
# Small sizes for the suite: the quickstart scores 8 cells of C=4, N=1 networks on 16 images.
SMALL = {"JAXNAS_NOTEBOOK_SMALL": "1", "JAXNAS_SHARED_DATA": str(SHARED_DATA)}


def _run(name, monkeypatch):
  nbformat = pytest.importorskip("nbformat")
  nbclient = pytest.importorskip("nbclient")
  for k, v in SMALL.items():
    monkeypatch.setenv(k, v)
  nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
  nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                          resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
  errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]
  assert not errors
  return nb


def _text(nb) -> str:
  return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))


def test_ntk_study_runs(monkeypatch):
  _run("ntk_study.ipynb", monkeypatch)


def test_quickstart_runs(monkeypatch, tmp_path):
  nb = _run("quickstart.ipynb", monkeypatch)
  out = _text(nb)
  assert "(8, 4)" in out  # 8 cells x 4 proxies
  if (SHARED_DATA / "cifar10_5000.npz").is_file() and (SHARED_DATA / "nb201_cifar.csv").is_file():
    assert "SYNTHETIC" not in out
    for name in ("params", "flops", "synflow", "nwot"):
      assert f"{name} " in out and "rho" in out
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, "the scatter plot was not displayed"
  else:
    assert "SYNTHETIC" in out


def test_notebooks_install_from_the_clone_not_pypi():
  """jaxnas is not on PyPI: no notebook may `pip install jaxnas` by name."""
  for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
    text = path.read_text()
    assert "install -q jaxnas" not in text and "install jaxnas" not in text, path.name
    assert 'find_spec(\\"jaxnas\\")' in text, f"{path.name} has no skip-if-installed install cell"
