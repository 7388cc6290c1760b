"""``finetrack bench soak``: the real node runs N frames and the RSS series is printed."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from ros_helpers import REPO_ROOT, ros_environment, ros_install  # noqa: F401  (fixture)

from finetrack_ros.bench.soak import SoakResult

pytestmark = pytest.mark.ros

SAMPLE = re.compile(r"^\s*(\d+)\s+(\d+\.\d)$")


@pytest.mark.slow
def test_soak_prints_the_rss_series_and_the_growth(ros_install):  # noqa: F811
    done = subprocess.run(
        [sys.executable, "-m", "finetrack_ros.cli", "bench", "soak", "--frames", "30",
         "--every", "10", "--warmup", "10"],
        cwd=REPO_ROOT, env=ros_environment(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    samples = [(int(m.group(1)), float(m.group(2))) for m in map(SAMPLE.match, lines) if m]
    assert [frame for frame, _ in samples] == [0, 10, 20, 30]
    assert all(100.0 < mb < 4000.0 for _, mb in samples), samples  # a real process's RSS
    growth = [line for line in lines if line.startswith("growth after warm-up (frame 10 to 30)")]
    assert len(growth) == 1, done.stdout
    printed = float(re.search(r": ([+-]\d+\.\d) MB", growth[0]).group(1))
    assert printed == pytest.approx(samples[-1][1] - samples[1][1], abs=0.15), growth[0]


def test_growth_is_measured_from_the_first_sample_after_warmup():
    result = SoakResult(samples=[(0, 300.0), (500, 360.0), (1000, 362.0), (1500, 361.0)])
    assert result.growth_after(500) == (1.0, 360.0, 362.0)
    assert result.growth_after(5000) == (0.0, 361.0, 361.0)  # warm-up past the end: last only


@pytest.mark.slow
def test_soak_times_the_node_with_given_parameters(ros_install):  # noqa: F811
    """``--set`` reaches the real node (its configure log names the backend); bad ones fail."""
    done = subprocess.run(
        [sys.executable, "-m", "finetrack_ros.cli", "bench", "soak", "--frames", "6",
         "--every", "3", "--warmup", "3", "--mode", "detector", "--frame-size", "640x480",
         "--set", "backend=onnxruntime", "--set", "reid.enabled=false"],
        cwd=REPO_ROOT, env=ros_environment(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "640x480 bgr8" in done.stdout and "frames/s" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "finetrack_ros.cli", "bench", "soak", "--set", "backend=tensorrt"],
        cwd=REPO_ROOT, env=ros_environment(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "parameter 'backend' = 'tensorrt'" in bad.stderr


def test_ros_subprocesses_get_the_large_images_profile(monkeypatch):
    from finetrack_ros import package_paths
    from finetrack_ros.ros import runtime

    monkeypatch.delenv(package_paths.PROFILE_VARIABLE, raising=False)
    env = runtime.ros_environment(7)
    assert env[package_paths.PROFILE_VARIABLE] == str(package_paths.large_images_profile())
    monkeypatch.setenv(package_paths.PROFILE_VARIABLE, "/my/profile.xml")  # the user's wins
    assert runtime.ros_environment(7)[package_paths.PROFILE_VARIABLE] == "/my/profile.xml"
