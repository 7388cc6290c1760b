"""Shared fixtures. Tests that read ../shared/data skip when it is absent."""
from __future__ import annotations

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


def _pets09_work(tmp_path_factory) -> Path:
    """Return the run's PETS09 network folder, one for all pytest-xdist workers of the run."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    return root / "pets09_networks"


def _run_owner_pid() -> int:
    """Return the test run's main process: the xdist controller, else this process."""
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()


@pytest.fixture(scope="session", autouse=True)
def _pets09_trainings_start_early(request, tmp_path_factory):
    """Start the PETS09 trainings with the run when a selected test needs them.

    They take minutes of CPU; started here, the other tests run meanwhile and the PETS09
    tests find them done or nearly done.
    """
    if SHARED_DATA.is_dir() and any("pets09_networks" in getattr(item, "fixturenames", ())
                                    for item in request.session.items):
        from pets09_split import start_training

        start_training(SHARED_DATA, REPO_ROOT, _pets09_work(tmp_path_factory), _run_owner_pid())


@pytest.fixture(scope="session")
def pets09_networks(shared_data, tmp_path_factory) -> Path:
    """Return the ``--work`` folder of ``bench defaults`` holding the PETS09 Re-ID networks.

    Trained once per test run (about 3 min of both cores: four trainings, two at a time) in
    the background from the run's start, shared by the PETS09 tests and the xdist workers.
    """
    from pets09_split import start_training, wait_for_networks

    work = _pets09_work(tmp_path_factory)
    start_training(shared_data, REPO_ROOT, work, _run_owner_pid())  # if not started yet
    return wait_for_networks(work)
