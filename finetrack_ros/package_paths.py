"""Where this package's installed files are: share folder, shipped weights, config, node.

On a ROS 2 machine the colcon install is the product: ``share/finetrack_ros/`` holds
``launch/``, ``config/`` and ``weights/`` and ``lib/finetrack_ros/finetrack_node`` the node,
found through the ament index (``AMENT_PREFIX_PATH``, set by ``source install/setup.bash``),
as ``ros2 launch`` / ``ros2 run`` find them. Without a sourced install (``pip install -e .``,
the offline tools) the source checkout has the same layout (``launch/``, ``config/``,
``weights/`` beside ``package.xml``) and is used instead. Importing this module needs no ROS.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

PACKAGE = "finetrack_ros"
NODE_EXECUTABLE = "finetrack_node"
# A source checkout: the folder above this package, when it holds package.xml.
SOURCE_ROOT = Path(__file__).resolve().parents[1]
# Shipped demo files (weights/README.md says how the weights were trained).
DEMO_DETECTOR = "detector_nano_demo.pth"
DEMO_REID = "reid_demo.pth"
DEMO_PARAMS = "demo.yaml"
# Fast DDS reads its XML profile from this variable when a process creates its participant.
PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"
PROFILE_FILE = "fastdds_large_images.xml"
# File names of shipped demo weights end so.
DEMO_WEIGHTS_SUFFIX = "_demo.pth"
DEMO_WEIGHTS_NOTE = ("demo weights: trained only on this package's synthetic street scenes "
                     "(weights/README.md), not for a real camera; pass detector_weights:= and "
                     "reid_weights:= (or set detector.checkpoint / reid.checkpoint)")


def installed_prefix() -> Optional[Path]:
    """Install prefix of finetrack_ros in the sourced ROS environment, or None."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        return None
    try:
        return Path(get_package_prefix(PACKAGE))
    except (PackageNotFoundError, ValueError, KeyError, LookupError, OSError):
        # OSError: AMENT_PREFIX_PATH unset (no ROS environment sourced)
        return None


def share_dir() -> Path:
    """``share/finetrack_ros`` of the sourced install, else the source checkout.

    Raises:
        FileNotFoundError: neither exists (a plain pip install without its data files).
    """
    prefix = installed_prefix()
    if prefix is not None and (prefix / "share" / PACKAGE).is_dir():
        return prefix / "share" / PACKAGE
    if (SOURCE_ROOT / "package.xml").is_file():
        return SOURCE_ROOT
    raise FileNotFoundError(f"{PACKAGE}: no sourced ROS 2 install (AMENT_PREFIX_PATH) and no "
                            f"source checkout at {SOURCE_ROOT}; source install/setup.bash")


def weights_dir() -> Path:
    """Return the shipped weights folder (``share/finetrack_ros/weights`` or a checkout's)."""
    return share_dir() / "weights"


def config_dir() -> Path:
    """Return the shipped parameter files' folder (``share/finetrack_ros/config``, ...)."""
    return share_dir() / "config"


def large_images_profile() -> Optional[Path]:
    """Return the shipped Fast DDS profile for large images, or None when it is missing.

    Its 64 MB shared-memory segments keep 640x480 and larger frames in shared memory (with
    Fast DDS's default 0.5 MB segments they go over UDP in fragments, and a reliable
    exchange of 640x480 frames fell to about 1 frame/s).
    """
    path = config_dir() / PROFILE_FILE
    return path if path.is_file() else None


def node_executable() -> Path:
    """``lib/finetrack_ros/finetrack_node`` of the sourced install (what ``ros2 run`` runs).

    Raises:
        FileNotFoundError: finetrack_ros is not in the sourced environment, or the
            executable is missing.
    """
    prefix = installed_prefix()
    if prefix is None:
        raise FileNotFoundError(f"{PACKAGE} is not in the sourced ROS 2 environment "
                                "(AMENT_PREFIX_PATH): build it with colcon and source "
                                "install/setup.bash (scripts/setup_env.sh does both)")
    exe = prefix / "lib" / PACKAGE / NODE_EXECUTABLE
    if not exe.is_file():
        raise FileNotFoundError(f"installed executable missing: {exe}")
    return exe


def is_demo_weights(path: str | Path) -> bool:
    """Check whether ``path`` is one of the shipped demo weights (``*_demo.pth``)."""
    return bool(path) and Path(path).name.endswith(DEMO_WEIGHTS_SUFFIX)


def describe_models(pipeline, flat: dict) -> str:
    """Say what a configured pipeline loaded (the node's configure log line).

    ``flat`` holds the node's parameter values; the demo weights are named as such.
    """
    parts, used = [], []
    detector = getattr(pipeline, "detector", None)
    if detector is not None:
        parts.append(f"detector {detector.describe()}")
        used.append(flat.get("detector.checkpoint", ""))
        stored = list(detector.info.class_names)
        if stored and list(flat.get("class_names", ())) != stored:
            parts.append(f"checkpoint class names {stored} differ from class_names "
                         f"{list(flat.get('class_names', ()))}")
    extractor = getattr(pipeline, "extractor", None)
    if extractor is not None:
        from finetrack_ros.inference.options import describe

        parts.append(f"Re-ID weights {flat.get('reid.checkpoint')} "
                     f"({describe(extractor.options)})")
        used.append(flat.get("reid.checkpoint", ""))
    if any(is_demo_weights(path) for path in used):
        parts.append(DEMO_WEIGHTS_NOTE)
    return "; ".join(parts) or "no networks (external detections, IoU only)"
