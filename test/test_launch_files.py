"""The launch files, checked statically (no launch / launch_ros; test_launch_run.py runs them).

They parse, every argument they read is declared, every parameter they pass is one
finetrack_node declares, remapped and recorded topics are the node's, the rviz config shows
its image, and what they install (demo params, weights, transport profile) exists.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from finetrack_ros import settings

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / "launch"
MAIN_LAUNCH = LAUNCH / "finetrack.launch.py"
BAG_LAUNCH = LAUNCH / "finetrack_bag_eval.launch.py"
COMMON = REPO / "finetrack_ros" / "ros" / "launch_common.py"
PACKAGE_PATHS = REPO / "finetrack_ros" / "package_paths.py"
NODE_SOURCE = REPO / "finetrack_ros" / "ros" / "finetrack_node.py"
# Parameters every ROS node has, beside the ones finetrack_node declares.
BUILTIN_PARAMETERS = {"use_sim_time"}
DEPLOYMENT_ARGUMENTS = {"image_topic", "detections_topic", "params_file", "detector_weights",
                        "reid_weights", "device", "use_sim_time", "namespace", "use_rviz",
                        "external_detections", "log_level"}


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def argument_table(tree: ast.Module, name: str) -> set[str]:
    """First elements of the (name, default, description) tuples assigned to ``name``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == name:
            return {elt.elts[0].value for elt in node.value.elts if isinstance(elt, ast.Tuple)}
    return set()


def declared(path: Path) -> set[str]:
    return argument_table(parse(path), "ARGUMENTS") | argument_table(parse(COMMON),
                                                                      "NODE_ARGUMENTS")


def arguments_read(tree: ast.Module) -> set[str]:
    """Keys of ``args["..."]`` subscripts (the performed launch arguments)."""
    return {n.slice.value for n in ast.walk(tree) if isinstance(n, ast.Subscript)
            and getattr(n.value, "id", "") == "args" and isinstance(n.slice, ast.Constant)}


def string_constants(tree: ast.Module) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


@pytest.mark.parametrize("path", [MAIN_LAUNCH, BAG_LAUNCH], ids=lambda p: p.name)
def test_launch_file_reads_only_declared_arguments(path):
    tree = parse(path)
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in tree.body)
    assert arguments_read(tree) | arguments_read(parse(COMMON)) <= declared(path)


def test_main_launch_has_the_deployment_arguments():
    assert DEPLOYMENT_ARGUMENTS <= declared(MAIN_LAUNCH)
    assert "start_delay" not in declared(BAG_LAUNCH)  # play starts on the node's activation


def test_every_parameter_passed_is_declared_by_the_node():
    tree = parse(COMMON)
    passed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and \
                getattr(node.targets[0], "id", "") in ("overrides", "weights"):
            passed |= {k.value for k in node.value.keys}
    assert {"autostart", "use_sim_time", "detector.checkpoint", "reid.checkpoint"} <= passed
    assert passed <= set(settings.BY_NAME) | {"autostart"} | BUILTIN_PARAMETERS
    assert '"device"' in COMMON.read_text()


def test_remapped_topics_are_the_nodes_inputs():
    sources = set()
    for node in ast.walk(parse(COMMON)):
        if isinstance(node, ast.keyword) and node.arg == "remappings":
            sources |= {elt.elts[0].value for elt in node.value.elts}
    assert sources == {"image", "image/compressed", "detections"}
    assert sources <= string_constants(parse(NODE_SOURCE))


def test_bag_launch_records_topics_the_node_publishes():
    tree = parse(BAG_LAUNCH)
    recorded = next(ast.literal_eval(n.value) for n in ast.walk(tree)
                    if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "RECORDED")
    published = {s[2:] for s in string_constants(parse(NODE_SOURCE)) if s.startswith("~/")}
    assert "tracks" in recorded and set(recorded) <= published
    assert {"--clock", "--use-sim-time", "--delay"} <= string_constants(tree)


def test_log_levels_are_the_ones_rcl_accepts():
    levels = next(ast.literal_eval(n.value) for n in ast.walk(parse(COMMON))
                  if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "LOG_LEVELS")
    assert set(levels) == {"debug", "info", "warn", "error", "fatal"}


def test_shipped_files_the_launch_uses_exist_and_are_installed():
    cmake = (REPO / "CMakeLists.txt").read_text()
    # the launch helper takes the shipped file names from package_paths
    constants = string_constants(parse(COMMON)) | string_constants(parse(PACKAGE_PATHS))
    for name in ("demo.yaml", "finetrack.yaml", "fastdds_large_images.xml"):
        assert name in constants and (REPO / "config" / name).is_file(), name
    for name in ("detector_nano_demo.pth", "reid_demo.pth"):
        assert name in constants and (REPO / "weights" / name).is_file(), name
        assert f"weights/{name}" in cmake, f"CMakeLists.txt does not install weights/{name}"


def test_demo_params_fit_the_demo_weights():
    from finetrack_ros.detector.checkpoint import read_checkpoint

    params = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["/**"]["ros__parameters"]
    _, info = read_checkpoint(REPO / "weights" / "detector_nano_demo.pth")
    assert params["detector"]["size"] in ("auto", info.size)
    assert tuple(params["detector"]["input_size"]) == info.input_size
    assert len(params["class_names"]) == info.num_classes


def test_rviz_config_shows_the_annotated_image():
    config = yaml.safe_load((REPO / "config" / "finetrack.rviz").read_text())
    displays = config["Visualization Manager"]["Displays"]
    images = [d for d in displays if d["Class"] == "rviz_default_plugins/Image"]
    assert images and images[0]["Topic"]["Value"] == "finetrack_node/annotated_image"
    assert '"~/annotated_image"' in NODE_SOURCE.read_text()
    assert 'NODE_NAME = "finetrack_node"' in NODE_SOURCE.read_text()
