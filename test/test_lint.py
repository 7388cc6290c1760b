"""Lint as the ROS 2 Python ecosystem expects (ament_flake8 / ament_pep257 level), with ruff.

Pyflakes, pycodestyle at 100 columns, import order and pep257 docstrings (``ruff.toml``).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKED = ["finetrack_ros", "test", "launch", "setup.py"]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff")
    assert ruff, "ruff is not installed: it is in the test extras (pip install -e .[test])"
    done = subprocess.run([ruff, "check", "--no-cache", *CHECKED], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
