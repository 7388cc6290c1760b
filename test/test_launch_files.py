"""The launch files, checked without ``launch``/``launch_ros`` (no PyPI wheels): they parse,
every launch argument they use is declared, every parameter they pass is one finetrack_node
declares, remapped and recorded topics are the node's, and the rviz config shows its image."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from finetrack_ros import settings as node_settings

REPO = Path(__file__).resolve().parents[1]
MAIN_LAUNCH = REPO / "launch" / "finetrack.launch.py"
BAG_LAUNCH = REPO / "launch" / "finetrack_bag_eval.launch.py"
NODE_SOURCE = REPO / "finetrack_ros" / "ros" / "finetrack_node.py"
# Parameters every ROS node has, beside the ones finetrack_node declares.
BUILTIN_PARAMETERS = {"use_sim_time"}
DEPLOYMENT_ARGUMENTS = {"image_topic", "params_file", "detector_weights", "reid_weights",
                        "device", "use_sim_time", "namespace", "use_rviz",
                        "external_detections"}


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def declared_arguments(tree: ast.Module) -> set[str]:
    """Names in the ``arguments = [(name, default, description), ...]`` table."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "arguments":
            return {elt.elts[0].value for elt in node.value.elts}
    raise AssertionError("no 'arguments' table")


def used_arguments(tree: ast.Module) -> set[str]:
    """String arguments of LaunchConfiguration(...) and of the local ``arg(...)`` helper."""
    names = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", "") in
                ("LaunchConfiguration", "arg") and node.args
                and isinstance(node.args[0], ast.Constant)):
            names.add(node.args[0].value)
    return names


def node_parameters_passed(tree: ast.Module) -> set[str]:
    """Keys of the ``overrides`` dict literal and of ``overrides[...] = ...`` assignments."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            target = node.targets[0]
            if getattr(target, "id", "") == "overrides" and isinstance(node.value, ast.Dict):
                keys |= {k.value for k in node.value.keys}
            if isinstance(target, ast.Subscript) and getattr(target.value, "id", "") == "overrides":
                keys.add(target.slice.value)
    return keys


def string_constants(tree: ast.Module) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


@pytest.mark.parametrize("path", [MAIN_LAUNCH, BAG_LAUNCH], ids=lambda p: p.name)
def test_launch_file_parses_and_uses_only_declared_arguments(path):
    tree = parse(path)
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in tree.body)
    assert used_arguments(tree) <= declared_arguments(tree)


def test_main_launch_has_the_deployment_arguments():
    assert DEPLOYMENT_ARGUMENTS <= declared_arguments(parse(MAIN_LAUNCH))


def test_every_parameter_passed_is_declared_by_the_node():
    from finetrack_ros.settings import BY_NAME

    declared = set(BY_NAME) | {"autostart"} | BUILTIN_PARAMETERS
    passed = node_parameters_passed(parse(MAIN_LAUNCH))
    assert {"autostart", "detector.checkpoint", "reid.checkpoint", "device"} <= passed
    assert passed <= declared, passed - declared
    assert '"autostart"' in NODE_SOURCE.read_text()


def test_remapped_topics_are_the_nodes_inputs():
    tree = parse(MAIN_LAUNCH)
    sources = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "remappings":
            sources |= {elt.elts[0].value for elt in node.value.elts}
    assert sources == {"image", "image/compressed", "detections"}
    node_strings = string_constants(parse(NODE_SOURCE))
    assert sources <= node_strings


def test_bag_launch_passes_only_arguments_the_main_launch_declares():
    tree = parse(BAG_LAUNCH)
    passed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "launch_arguments":
            passed |= {k.value for k in node.value.func.value.keys}
    assert "use_sim_time" in passed
    assert passed <= declared_arguments(parse(MAIN_LAUNCH))


def test_bag_launch_records_topics_the_node_publishes():
    tree = parse(BAG_LAUNCH)
    recorded = next(ast.literal_eval(n.value) for n in ast.walk(tree)
                    if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "RECORDED")
    published = {s[2:] for s in string_constants(parse(NODE_SOURCE)) if s.startswith("~/")}
    assert "tracks" in recorded and set(recorded) <= published
    assert {"--clock", "--use-sim-time"} <= string_constants(tree)


def test_params_file_keys_are_node_parameters():
    params = yaml.safe_load((REPO / "config" / "finetrack.yaml").read_text())
    flat = {}
    for key, value in params["/**"]["ros__parameters"].items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    declared = set(node_settings.BY_NAME) | {"autostart"}
    assert set(flat) <= declared, set(flat) - declared
    for name, value in flat.items():
        if name in node_settings.BY_NAME:
            node_settings.validate(name, value)


def test_rviz_config_shows_the_annotated_image():
    config = yaml.safe_load((REPO / "config" / "finetrack.rviz").read_text())
    displays = config["Visualization Manager"]["Displays"]
    images = [d for d in displays if d["Class"] == "rviz_default_plugins/Image"]
    assert images and images[0]["Topic"]["Value"] == "finetrack_node/annotated_image"
    assert '"~/annotated_image"' in NODE_SOURCE.read_text()
    assert 'NODE_NAME = "finetrack_node"' in NODE_SOURCE.read_text()
