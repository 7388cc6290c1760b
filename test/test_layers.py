"""Layer rules of docs/architecture.md, read from the source (every import, lazy ones too).

* the core (everything but ``cli/``, ``bench/``, ``demo.py`` and ``ros/``) imports no ROS
  package and nothing of ``finetrack_ros.ros`` or the generated ``finetrack_ros.msg``;
* no module outside ``cli/`` imports ``finetrack_ros.cli`` (argument types shared with the
  bench live in ``finetrack_ros/arguments.py``);
* the package has no import cycle between modules;
* the node loads without ``rosbags`` (a bag library has no place on a robot's hot path);
* the inference choices (``inference/options.py``) load without torch;
* ``tracker/`` needs only numpy, lap and yaml (and ``boxes.py``); camera-motion estimation
  (OpenCV) is ``camera_motion.py``, outside it;
* the core never imports ``bench/`` or ``demo.py``.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "finetrack_ros"
# (ament_index_python is not among them: it only reads the install's file index, and
# package_paths.py falls back to the source checkout without it)
ROS_PACKAGES = {"rclpy", "rcl_interfaces", "sensor_msgs", "std_msgs", "vision_msgs",
                "builtin_interfaces", "geometry_msgs", "rosidl_runtime_py", "launch",
                "launch_ros"}
APP_PREFIXES = ("finetrack_ros.cli", "finetrack_ros.bench", "finetrack_ros.demo")
# what tracker/ may import besides the standard library and its own modules
TRACKER_IMPORTS = {"numpy", "lap", "yaml", "finetrack_ros.boxes"}
NODE_MODULE = "finetrack_ros.ros.finetrack_node"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, top_level_only: bool = False) -> set[str]:
    """Absolute module names imported by ``path`` (``from a import b`` gives a and a.b)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): p for p in PACKAGE_DIR.rglob("*.py")}


def is_app(name: str) -> bool:
    return name.startswith(APP_PREFIXES)


def is_ros_layer(name: str) -> bool:
    return name.startswith(("finetrack_ros.ros", "finetrack_ros.msg"))


def internal(names: set[str]) -> set[str]:
    """Return the package's own modules among ``names`` (``a.b.func`` → module ``a.b``)."""
    return {n for n in names if n in MODULES and n != "finetrack_ros"}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_app(n)
                                        and not is_ros_layer(n)))
def test_core_imports_no_ros(name):
    bad = {n for n in imports_of(MODULES[name])
           if n.split(".")[0] in ROS_PACKAGES or is_ros_layer(n)}
    assert not bad, f"{name} (core) imports ROS: {sorted(bad)}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES
                                        if not n.startswith("finetrack_ros.cli")))
def test_nothing_outside_the_cli_imports_it(name):
    bad = {n for n in imports_of(MODULES[name]) if n.startswith("finetrack_ros.cli")}
    assert not bad, f"{name} imports {sorted(bad)}: move the shared code into the library"


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (module → imported modules), or []."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return stack[stack.index(child):] + [child]
            if child not in state:
                cycle = visit(child)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def test_no_import_cycles():
    graph = {}
    for name, path in MODULES.items():
        # a package's __init__ importing its own modules is how packages re-export
        graph[name] = {n for n in internal(imports_of(path))
                       if not (path.name == "__init__.py" and n.startswith(name + "."))}
    assert find_cycle(graph) == []


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_the_node_loads_without_rosbags():
    """Modules loaded when the node starts (top-level imports, transitively) skip rosbags."""
    seen, todo = set(), [NODE_MODULE]
    while todo:
        name = todo.pop()
        if name in seen or name not in MODULES:
            continue
        seen.add(name)
        top = imports_of(MODULES[name], top_level_only=True)
        assert not any(n.split(".")[0] == "rosbags" for n in top), \
            f"{name}, loaded by the node, imports rosbags at load time"
        parents = {".".join(n.split(".")[:i]) for n in internal(top)
                   for i in range(2, n.count(".") + 2)}
        todo += internal(top) | internal(parents)
    assert "finetrack_ros.frame_path" in seen  # the walk really followed the imports


def test_the_inference_choices_load_without_torch():
    """argparse, the parameter table and the launch arguments read the choices torch-free."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "import finetrack_ros.arguments, finetrack_ros.inference.options, "
             "finetrack_ros.settings\n"
             "assert 'torch' not in sys.modules, 'torch loaded'\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", sorted(n for n in MODULES
                                        if n.startswith("finetrack_ros.tracker")))
def test_the_tracker_needs_only_numpy_lap_and_yaml(name):
    outside = {n for n in imports_of(MODULES[name])
               if n.split(".")[0] not in sys.stdlib_module_names
               and not n.startswith("finetrack_ros.tracker")}
    bad = {n for n in outside if n not in TRACKER_IMPORTS
           and n.split(".")[0] not in TRACKER_IMPORTS
           and not any(n.startswith(f"{allowed}.") for allowed in TRACKER_IMPORTS)}
    assert not bad, f"{name} imports {sorted(bad)}: tracker/ is numpy, lap and yaml only"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_app(n)))
def test_the_core_never_imports_the_applications(name):
    bad = {n for n in imports_of(MODULES[name])
           if n.startswith(("finetrack_ros.bench", "finetrack_ros.demo"))}
    assert not bad, f"{name} imports {sorted(bad)}: the library must not depend on bench/demo"
