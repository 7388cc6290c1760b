"""Running ROS 2 pieces from Python: the colcon install, node subprocesses, an rclpy context.

Shared by ``finetrack demo``, the online replay (:mod:`finetrack_ros.ros.online_replay`) and
the ROS tests (``test/ros_helpers.py`` adds only pytest's skip/fail on top). Importing this module
needs no ROS; :func:`rclpy_session` imports rclpy when called.

Every run picks a DDS domain (``ROS_DOMAIN_ID``) and localhost-only discovery, so demos and
tests running side by side on one machine do not hear each other's ``/finetrack_node``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from finetrack_ros import package_paths

PACKAGE = package_paths.PACKAGE
NODE_EXECUTABLE = package_paths.NODE_EXECUTABLE
# DDS domain ids usable on default ports are 0..101; 0 is everyone's default, so avoid it.
MAX_DOMAIN_ID = 101
# Seconds a node subprocess gets to exit after SIGINT before it is killed.
STOP_TIMEOUT_S = 10.0
# Poll period of spin loops, seconds (one executor turn at most this long).
SPIN_PERIOD_S = 0.02


def pick_domain_id() -> int:
    """``ROS_DOMAIN_ID`` when set, else one derived from this process id (1..101)."""
    value = os.environ.get("ROS_DOMAIN_ID", "")
    if value.strip():
        return int(value)
    return 1 + os.getpid() % MAX_DOMAIN_ID


def ros_environment(domain_id: int, overrides: Optional[dict] = None) -> dict[str, str]:
    """Build the environment of ROS subprocesses.

    This process's environment plus ``domain_id``, localhost discovery and unbuffered
    Python output.
    """
    env = dict(os.environ)
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               PYTHONUNBUFFERED="1")
    env.update(large_images_environment())
    env.update(overrides or {})
    return env


def large_images_environment() -> dict[str, str]:
    """Select the shipped large-images Fast DDS profile, unless a profile is already set.

    As the launch files do: without it 640x480 frames left shared memory and a reliable
    lock-step exchange of them ran at about 1 frame/s (``finetrack bench soak
    --frame-size 640x480``), with it at 190.
    """
    profile = package_paths.large_images_profile()
    if profile is None or os.environ.get(package_paths.PROFILE_VARIABLE):
        return {}
    return {package_paths.PROFILE_VARIABLE: str(profile)}


def check_ros_available(install_root: Optional[Path] = None) -> None:
    """Raise ValueError saying how to fix it when ROS pieces are missing.

    Checked: rclpy, the sourced colcon install of finetrack_ros (found through the ament
    index, or at ``install_root``) and the generated messages.
    """
    fix = ("build with colcon and `source install/setup.bash` (in a checkout: "
           "scripts/setup_env.sh, or scripts/demo.sh, does both)")
    try:
        import rclpy  # noqa: F401
    except ImportError as err:
        raise ValueError(f"rclpy cannot be imported ({err}); {fix}") from None
    prefix = _prefix(install_root)
    marker = None if prefix is None else prefix / "share" / PACKAGE / "package.xml"
    if marker is None or not marker.is_file():
        where = f"missing {marker}" if marker else "not in AMENT_PREFIX_PATH"
        raise ValueError(f"no sourced colcon install of {PACKAGE} ({where}); {fix}")
    try:
        import vision_msgs.msg  # noqa: F401

        import finetrack_ros.msg  # noqa: F401
    except ImportError as err:
        raise ValueError(f"the generated messages cannot be imported ({err}): the install's "
                         f"setup.bash is not sourced; {fix}") from None


def _prefix(install_root: Optional[Path]) -> Optional[Path]:
    """finetrack_ros's install prefix: ``install_root/finetrack_ros`` or the sourced one."""
    if install_root is not None:
        return Path(install_root) / PACKAGE
    return package_paths.installed_prefix()


def installed_executable(install_root: Path, package: str, name: str) -> Path:
    """``lib/<package>/<name>`` of a colcon install, as ``ros2 run <package> <name>`` runs it."""
    exe = Path(install_root) / package / "lib" / package / name
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        raise FileNotFoundError(f"installed executable missing or not executable: {exe}")
    return exe


def node_command(install_root: Optional[Path] = None) -> list[str]:
    """Build the command starting ``finetrack_node`` as ``ros2 run`` would.

    The executable of the sourced install (ament index), or of the colcon install at
    ``install_root``.
    """
    if install_root is None:
        return [str(package_paths.node_executable())]
    return [str(installed_executable(install_root, PACKAGE, NODE_EXECUTABLE))]


def ros_args(parameters: dict[str, Any], remaps: dict[str, str]) -> list[str]:
    """``--ros-args -p name:=value ... -r from:=to ...`` (lists as YAML flow sequences)."""
    args = ["--ros-args"]
    for name, value in parameters.items():
        args += ["-p", f"{name}:={_param_text(value)}"]
    for source, target in remaps.items():
        args += ["-r", f"{source}:={target}"]
    return args


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_param_text(v) for v in value) + "]"
    if isinstance(value, str):
        return f"'{value}'" if value == "" or value.strip() != value else value
    return repr(value)


class NodeProcess:
    """A ROS executable running as a subprocess; stdout and stderr go to ``log_path``."""

    def __init__(self, command: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.command = [str(c) for c in command]
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(self.command, env=env, stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def check_running(self) -> None:
        """Raise RuntimeError with the process output when it has exited."""
        if self.popen.poll() is not None:
            raise RuntimeError(f"{Path(self.command[0]).name} exited with "
                               f"{self.popen.returncode}; its output ({self.log_path}):\n"
                               f"{self.output()[-4000:]}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGINT (like Ctrl-C), then kill after ``timeout`` s; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                # stuck: have it print its threads' stacks into the log (finetrack_node
                # registers faulthandler on SIGUSR1), then kill it
                self.popen.send_signal(signal.SIGUSR1)
                time.sleep(1.0)
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@contextmanager
def running_node(command: Sequence[str], env: dict[str, str], log_path: Path,
                 process_class: type = NodeProcess) -> Iterator[NodeProcess]:
    """Run a :class:`NodeProcess` (or ``process_class``) for the block.

    It is stopped (SIGINT, then kill) when the block ends.
    """
    proc = process_class(command, env, log_path)
    try:
        yield proc
    finally:
        proc.stop()


@dataclass
class RclpySession:
    """An rclpy node with its own context and executor (see :func:`rclpy_session`)."""

    node: Any
    executor: Any

    def spin_until(self, predicate: Callable[[], bool], timeout_s: float,
                   check: Optional[Callable[[], None]] = None) -> bool:
        """Spin until ``predicate()``; False after ``timeout_s``.

        ``check`` runs every turn (e.g. :meth:`NodeProcess.check_running`) and may raise.
        """
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if check is not None:
                check()
            if time.monotonic() > deadline:
                return False
            self.executor.spin_once(timeout_sec=SPIN_PERIOD_S)
        return True

    def spin_for(self, seconds: float) -> None:
        RclpySession.spin_until(self, lambda: False, seconds)


@contextmanager
def rclpy_session(name: str, domain_id: int, use_sim_time: bool = False
                  ) -> Iterator[RclpySession]:
    """Create an rclpy node on ``domain_id`` (localhost discovery) for the block."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # read by the RMW at init
    os.environ.update(large_images_environment())  # read when the participant is made
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    executor = SingleThreadedExecutor(context=context)
    overrides = [Parameter("use_sim_time", Parameter.Type.BOOL, use_sim_time)]
    node = rclpy.create_node(name, context=context, parameter_overrides=overrides)
    executor.add_node(node)
    try:
        yield RclpySession(node, executor)
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
