"""The CLI keeps XLA's C++ log (its "Very slow compile?" alarm, printed as an error) off the terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from jaxnas import cli

from .conftest import ROOT

# XLA's alarm fires only after two minutes of compilation; an unwritable dump directory makes the
# same C++ logger print an error line (E1204 12:00:00.000000 ... dump.cc:118] ...) at once.
PROBE = ("from jaxnas import cli; cli._quiet_xla_log(); import jax; "
         "print(float(jax.jit(lambda x: x + 1)(1.0)))")
ERROR_LINE = re.compile(r"^E\d{4} ", re.M)


def _probe(**env):
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu",
         "XLA_FLAGS": "--xla_dump_to=/proc/jaxnas-no-such-dir", **env}
  env = {k: v for k, v in env.items() if v is not None}
  r = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                     timeout=300)
  assert r.returncode == 0, r.stderr
  assert r.stdout.strip() == "2.0"
  return r.stderr


def test_cli_process_prints_no_xla_error_lines():
  assert not ERROR_LINE.search(_probe(TF_CPP_MIN_LOG_LEVEL=None, JAX_LOGGING_LEVEL=None))


def test_users_own_log_level_wins():
  assert ERROR_LINE.search(_probe(TF_CPP_MIN_LOG_LEVEL="0", JAX_LOGGING_LEVEL=None))


def test_main_quiets_the_log_first(monkeypatch, tmp_path):
  calls = []
  monkeypatch.setattr(cli, "_quiet_xla_log", lambda: calls.append(1))
  assert cli.main(["correlate", "--scores", str(tmp_path / "none.csv"), "--truth",
                   str(tmp_path / "none.csv")]) == 2
  assert calls == [1]
