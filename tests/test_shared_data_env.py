"""The tests find real data through the variable the package and README name, DND_DATA."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_real_data_tests_look_in_dnd_data(tmp_path):
    empty = tmp_path / "no-data-here"
    empty.mkdir()
    env = {**os.environ, "DND_DATA": str(empty)}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "tests/test_paired.py::test_sdf_strict_mode_raises_at_first_bad_record"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "1 skipped" in out.stdout, out.stdout + out.stderr
    assert f"real dataset file not present: {empty}/qm9/gdb1k.sdf.gz" in out.stdout
