"""Helpers for ROS tests: find the colcon install, run an installed executable, spin rclpy.

ROS tests skip when rclpy or the colcon install is missing (a plain ``pip install -e .``
user), but fail instead when ``FINETRACK_REQUIRE_ROS=1`` (set by ``scripts/test.sh``), so CI
cannot pass by skipping them. The test process must run with the install sourced
(``source install/setup.bash``): the generated message libraries are found through
``LD_LIBRARY_PATH``, which a running process cannot change.

Each pytest process uses its own ``ROS_DOMAIN_ID`` and localhost-only discovery, so tests
running in parallel on one machine do not hear each other.

Typical use (import the fixtures into the test module so pytest finds them)::

    from ros_helpers import rclpy_node, ros_install  # noqa: F401  (fixtures)
    from ros_helpers import installed_executable, running_process, wait_for_messages

    pytestmark = pytest.mark.ros

    def test_x(ros_install, rclpy_node):
        exe = installed_executable(ros_install, "finetrack_ros", "finetrack_node")
        with running_process([exe]) as proc:
            msgs = wait_for_messages(rclpy_node, MsgType, "/finetrack_node/topic")
"""
from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from finetrack_ros import package_paths
from finetrack_ros.ros import runtime

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_ROS_VAR = "FINETRACK_REQUIRE_ROS"
PACKAGE = "finetrack_ros"


def _domain_id() -> int:
    """One DDS domain per pytest process (valid ids 1..101 on default ports).

    The pytest-xdist workers of one run (``PYTEST_XDIST_WORKER`` gw0, gw1, ...) share a
    parent and take consecutive ids, so they never collide with each other.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return 1 + (os.getppid() * 8 + int(worker[2:])) % 101
    return 1 + os.getpid() % 101


DOMAIN_ID = _domain_id()
# How long an installed executable gets to exit after SIGINT before it is killed, s.
# Default wait for messages, discovery and predicates, s (the CI machine is slow and shared).
DEFAULT_TIMEOUT_S = 20.0


def ros_required() -> bool:
    """Return True when ROS tests must fail rather than skip (``FINETRACK_REQUIRE_ROS=1``)."""
    return os.environ.get(REQUIRE_ROS_VAR, "0") not in ("", "0")


def ros_unavailable(reason: str) -> None:
    """Skip the test, or fail it when ROS is required. Never returns."""
    if ros_required():
        pytest.fail(f"{REQUIRE_ROS_VAR}=1 but ROS is unavailable: {reason}", pytrace=False)
    pytest.skip(f"ROS unavailable: {reason} (run scripts/test.sh)")


def import_ros_module(name: str) -> Any:
    """Import a ROS module (``sensor_msgs.msg``, ``rclpy``, ...) as ``pytest.importorskip``.

    Returns the module, or skips when it is missing, but fails under
    ``FINETRACK_REQUIRE_ROS=1``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        ros_unavailable(f"cannot import {name} ({err})")


@dataclass(frozen=True)
class RosInstall:
    """A colcon install space holding finetrack_ros (and its underlay)."""

    root: Path  # e.g. <repo>/install

    def prefix(self, package: str = PACKAGE) -> Path:
        """Install prefix of ``package`` (colcon's isolated layout)."""
        return self.root / package


def find_install(root: Path | None = None) -> RosInstall:
    """Find the sourced colcon install of finetrack_ros, or skip/fail saying what is missing."""
    try:
        import rclpy  # noqa: F401
    except ImportError as err:
        ros_unavailable(f"cannot import rclpy ({err})")
    if root is None:  # the sourced install (colcon test in any workspace), else ours
        prefix = package_paths.installed_prefix()
        root = prefix.parent if prefix is not None else REPO_ROOT / "install"
    root = Path(root)
    marker = root / PACKAGE / "share" / PACKAGE / "package.xml"
    if not marker.is_file():
        ros_unavailable(f"no colcon install at {root} (missing {marker})")
    prefixes = os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
    if str(root / PACKAGE) not in prefixes:
        ros_unavailable(f"{root}/setup.bash is not sourced (AMENT_PREFIX_PATH={prefixes})")
    try:
        import finetrack_ros.msg  # noqa: F401  (the generated messages)
    except ImportError as err:
        ros_unavailable(f"cannot import the generated finetrack_ros.msg ({err})")
    return RosInstall(root)


@pytest.fixture(scope="session")
def ros_install() -> RosInstall:
    """Return the sourced colcon install (skips, or fails under FINETRACK_REQUIRE_ROS=1)."""
    return find_install()


@pytest.fixture
def rclpy_node(ros_install: RosInstall) -> Iterator[RclpyTestNode]:
    """Yield an rclpy node in the test process, on this run's domain."""
    with rclpy_test_node() as test_node:
        yield test_node


def ros_environment(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment for ROS processes of this test run.

    That is :func:`runtime.ros_environment` on this run's domain.
    """
    return runtime.ros_environment(DOMAIN_ID, overrides)


def installed_executable(install: RosInstall, package: str, name: str) -> Path:
    """``lib/<package>/<name>`` of the install (the test fails when it is missing)."""
    try:
        return runtime.installed_executable(install.root, package, name)
    except FileNotFoundError as err:
        pytest.fail(str(err), pytrace=False)


class RunningProcess(runtime.NodeProcess):
    """An installed executable running as a subprocess; its output goes to a log file."""

    def assert_running(self) -> None:
        try:
            self.check_running()
        except RuntimeError as err:
            pytest.fail(str(err), pytrace=False)


@contextmanager
def running_process(command: list[str | Path], env: dict[str, str] | None = None
                    ) -> Iterator[RunningProcess]:
    """Run ``command`` with :func:`ros_environment`; stopped (SIGINT, then kill) on exit."""
    with tempfile.TemporaryDirectory(prefix="finetrack_ros_test_") as tmp, \
            runtime.running_node(command, env or ros_environment(), Path(tmp) / "output.log",
                                 RunningProcess) as proc:
        yield proc


class RclpyTestNode(runtime.RclpySession):
    """An rclpy node in the test process whose waits fail the test on timeout."""

    def spin_until(self, predicate: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT_S,
                   what: str = "condition") -> None:
        """Spin until ``predicate()`` is true; fail naming ``what`` after ``timeout`` s."""
        if not super().spin_until(predicate, timeout):
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)


@contextmanager
def rclpy_test_node(name: str = "finetrack_test") -> Iterator[RclpyTestNode]:
    """Yield a node on this run's domain (see :func:`ros_environment`), shut down on exit."""
    with runtime.rclpy_session(name, DOMAIN_ID) as session:
        yield RclpyTestNode(session.node, session.executor)


def wait_for_subscribers(test_node: RclpyTestNode, publisher: Any, count: int = 1,
                         timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Spin until ``publisher`` is matched with at least ``count`` subscriptions."""
    test_node.spin_until(lambda: publisher.get_subscription_count() >= count, timeout,
                         f"{count} subscriber(s) on {publisher.topic_name}")


def wait_for_publishers(test_node: RclpyTestNode, topic: str, count: int = 1,
                        timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Spin until ``topic`` has at least ``count`` publishers."""
    test_node.spin_until(lambda: test_node.node.count_publishers(topic) >= count, timeout,
                         f"{count} publisher(s) on {topic}")


class MessageCollector:
    """Subscribes ``topic`` and keeps every message received, in order."""

    def __init__(self, test_node: RclpyTestNode, msg_type: Any, topic: str,
                 qos: Any = 10) -> None:
        self.test_node = test_node
        self.topic = topic
        self.messages: list[Any] = []
        self.subscription = test_node.node.create_subscription(
            msg_type, topic, self.messages.append, qos)

    def wait_matched(self, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Spin until a publisher of ``topic`` is matched (its first message will not be lost)."""
        self.test_node.spin_until(lambda: self.subscription.get_publisher_count() >= 1,
                                  timeout, f"a publisher matched on {self.topic}")

    def wait_for(self, predicate: Callable[[list[Any]], bool],
                 timeout: float = DEFAULT_TIMEOUT_S, what: str = "messages") -> list[Any]:
        """Spin until ``predicate(messages)``; fail naming ``what`` and the topic."""
        self.test_node.spin_until(lambda: predicate(self.messages), timeout,
                                  f"{what} on {self.topic} (got {len(self.messages)})")
        return self.messages

    def wait_for_count(self, count: int, timeout: float = DEFAULT_TIMEOUT_S) -> list[Any]:
        return self.wait_for(lambda msgs: len(msgs) >= count, timeout, f"{count} message(s)")


def wait_for_messages(test_node: RclpyTestNode, msg_type: Any, topic: str, count: int = 1,
                      timeout: float = DEFAULT_TIMEOUT_S, qos: Any = 10) -> list[Any]:
    """Subscribe ``topic`` and return once ``count`` messages arrived (fail on timeout)."""
    collector = MessageCollector(test_node, msg_type, topic, qos)
    try:
        return collector.wait_for_count(count, timeout)
    finally:
        test_node.node.destroy_subscription(collector.subscription)
