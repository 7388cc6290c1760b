"""Shared fixtures. Tests that read ../shared/data skip when it is absent."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return the real MOTChallenge data beside the repository; the test skips without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pets09_networks(shared_data, repo_root, tmp_path_factory) -> Path:
    """Return the ``--work`` folder of ``bench defaults`` holding the PETS09 Re-ID networks.

    Trained once per test run (about 1.5 min on 2 cores) and shared by the PETS09 tests. The
    pytest-xdist workers of a run share one folder: the first to need it trains under a file
    lock, the others wait for it and find the networks there.
    """
    from pets09_split import train_pets09_networks

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    with open(root / "pets09_networks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return train_pets09_networks(shared_data, repo_root, root / "pets09_networks")
