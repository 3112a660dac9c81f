"""The API reference site builds (pdoc), documents every public symbol, and the docstrings' ``>>>``
examples run (doctest)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import jaxnas

SUBPACKAGES = [n for n in jaxnas.__all__ if inspect.ismodule(getattr(jaxnas, n))]
# pdoc cannot resolve NamedTuple __init__ annotations postponed with `from __future__ import
# annotations` (it looks names up in the wrong namespace); the page still renders.
PDOC_ANNOTATION_WARNING = "ignore:Error parsing type annotation:UserWarning"


def _modules():
  """Every module of the package, private ones included (their docstrings hold the examples)."""
  names = ["jaxnas"] + [m.name for m in pkgutil.walk_packages(jaxnas.__path__, "jaxnas.")]
  return [n for n in names if n != "jaxnas.__main__"]


def test_every_subpackage_is_public():
  assert set(SUBPACKAGES) >= {"data", "evaluate", "models", "ntk", "population", "proxies", "spaces"}


@pytest.mark.filterwarnings(PDOC_ANNOTATION_WARNING)
def test_api_site_builds(tmp_path):
  pdoc = pytest.importorskip("pdoc", reason="pdoc is in the test and docs extras")
  pdoc.pdoc("jaxnas", output_directory=tmp_path)
  for sub in SUBPACKAGES:
    page = tmp_path / "jaxnas" / f"{sub}.html"
    assert page.is_file(), f"no page for jaxnas.{sub}"
    html = page.read_text()
    module = importlib.import_module(f"jaxnas.{sub}")
    for name in module.__all__:
      assert f'id="{name}"' in html, f"jaxnas.{sub}.{name} is missing from {page.name}"
  assert "jaxnas/population.html" in (tmp_path / "jaxnas.html").read_text()


@pytest.mark.filterwarnings(PDOC_ANNOTATION_WARNING)
@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_public_symbols_have_docstrings(sub):
  """As the site shows them: a function, class or module its own docstring, a constant the string
  after its assignment in the subpackage's ``__init__``."""
  pdoc_doc = pytest.importorskip("pdoc.doc", reason="pdoc is in the test and docs extras")
  module = pdoc_doc.Module(importlib.import_module(f"jaxnas.{sub}"))
  assert module.docstring.strip(), f"jaxnas.{sub} has no module docstring"
  missing = []
  for name in module.obj.__all__:
    member = module.get(name)
    if member is None or not member.docstring.strip():
      missing.append(name)
  assert not missing, f"jaxnas.{sub}: public symbols without a docstring: {missing}"


def test_docstring_examples_run():
  """Every ``>>>`` example in the package's docstrings, as ``python -m doctest`` would run it."""
  finder = doctest.DocTestFinder(exclude_empty=True)
  runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
  ran = []
  for name in _modules():
    module = importlib.import_module(name)
    for test in finder.find(module, name, globs={}):
      if test.examples:
        runner.run(test)
        ran.append(test.name)
  results = runner.summarize(verbose=False)
  assert results.failed == 0, f"{results.failed} doctest example(s) failed (output above)"
  assert results.attempted >= 10, (results, ran)  # the examples are found at all
