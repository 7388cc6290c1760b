"""Running this package's launch files under real ``launch`` / ``launch_ros`` in tests.

``launch``, ``launch_ros`` and ``ros2launch`` have no PyPI wheels; ``../shared/vendor/
ros2_launch`` holds them for tests (the product never uses that folder). Tests skip when the
folder is absent (a user's machine), fail when it is present but does not import (CI must
run them), and fail under ``FINETRACK_REQUIRE_ROS=1`` when ROS itself is broken
(``ros_helpers.find_install``). ``test/fake_ros2/ros2`` is the ``ros2`` command: ``ros2
launch`` through ``ros2launch.api``, ``ros2 bag play|record`` with this package's player and
recorder. Every launch gets a marker in its environment, inherited by what it starts, so a
test finds any process a launch left behind.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from ros_helpers import REPO_ROOT, ros_environment

VENDOR = REPO_ROOT.parent / "shared" / "vendor" / "ros2_launch" / "python"
FAKE_ROS2_DIR = REPO_ROOT / "test" / "fake_ros2"
MARKER_VARIABLE = "FINETRACK_LAUNCH_TEST"
# Seconds a launch gets to end after SIGINT (it SIGINTs its processes, then SIGTERM after 5).
STOP_TIMEOUT_S = 30.0


def launch_environment(with_fake_ros2: bool = True) -> dict[str, str]:
    """Build the environment of a test launch; skips without the vendored packages.

    This run's domain, the vendored launch packages on PYTHONPATH, test/fake_ros2 first on
    PATH (or no ros2 at all) and a fresh marker.
    """
    if not VENDOR.is_dir():
        pytest.skip(f"launch / launch_ros not vendored at {VENDOR} (tests only; CI has them)")
    env = ros_environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(VENDOR), env.get("PYTHONPATH")]))
    probe = subprocess.run([sys.executable, "-c", "import ros2launch.api, launch_ros"],
                           env=env, capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        pytest.fail(f"vendored launch packages in {VENDOR} do not import (pip install "
                    f"osrf-pycommon lark): {probe.stderr.strip().splitlines()[-1:]}",
                    pytrace=False)
    if with_fake_ros2:
        env["PATH"] = f"{FAKE_ROS2_DIR}{os.pathsep}{env['PATH']}"
    else:  # no ros2 anywhere on PATH: only the venv's bin and the system's
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                      if not (Path(p) / "ros2").exists())
    env[MARKER_VARIABLE] = uuid.uuid4().hex
    return env


class LaunchRun:
    """``ros2 launch ...`` (the command line as a user types it) in its own session."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path,
                 cwd: Path | None = None) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        args = command.split()
        assert args[0] == "ros2", command
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen(
                [sys.executable, str(FAKE_ROS2_DIR / "ros2"), *args[1:]], env=env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=cwd)
        self.started = time.monotonic()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        """Exit code; fails the test (with the output) when it does not end in time."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"'{self.command}' did not end within {timeout:.0f} s:\n"
                        f"{self.output()[-4000:]}", pytrace=False)

    def stop(self) -> int:
        """SIGINT (Ctrl-C) and wait for the launch to end."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return self.wait(STOP_TIMEOUT_S)

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()

    def leftovers(self, grace_s: float = 3.0) -> list[str]:
        """Command lines of live processes this launch started (none after a clean end)."""
        deadline = time.monotonic() + grace_s
        while True:
            found = marked_processes(self.env[MARKER_VARIABLE])
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


def marked_processes(marker: str) -> list[str]:
    """Live (not zombie) processes whose environment holds ``MARKER_VARIABLE=marker``."""
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def kill_marked(marker: str) -> None:
    """Kill whatever a test launch left behind (after the test recorded it)."""
    for line in marked_processes(marker):
        try:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        except ProcessLookupError:
            pass
