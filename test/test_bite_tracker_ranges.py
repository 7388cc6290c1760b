"""Every TrackerConfig field with a range refuses a value just outside either bound.

Fields are read from ``dataclasses.fields(TrackerConfig)`` when the tests are collected, so
a new field is covered as soon as it declares its range. Each way a value comes in is
checked: the constructor, a YAML parameter file, ``--set``, and the node's parameters (the
``settings`` table the node validates with, and, under ROS, the real node's
``set_parameters``). "Just outside" is the next float past the bound (one past it for an
integer); the bound itself is accepted.
"""
from __future__ import annotations

import dataclasses
import math
import re

import pytest
import yaml
from ros_helpers import rclpy_node, ros_install  # noqa: F401  (fixtures)

from finetrack_ros import settings
from finetrack_ros.tracker import TrackerConfig

FIELDS = dataclasses.fields(TrackerConfig)
NUMBERS = (int, float)


def _is_number(field: dataclasses.Field) -> bool:
    return type(field.default) in NUMBERS


def _bounds() -> list[tuple[str, str, float, float]]:
    """(field name, "low"/"high", the bound, the nearest value outside it) of every range."""
    cases = []
    for field in FIELDS:
        low, high = field.metadata.get("low"), field.metadata.get("high")
        if low is None and high is None:
            continue
        kind = type(field.default)
        for side, bound, away in (("low", low, -math.inf), ("high", high, math.inf)):
            bound = kind(bound)
            outside = bound + (1 if away > 0 else -1) if kind is int else math.nextafter(bound,
                                                                                        away)
            cases.append((field.name, side, bound, outside))
    return cases


BOUNDS = _bounds()


def _yaml_scalar(value: float) -> str:
    return yaml.safe_dump(value).splitlines()[0]


def test_every_number_field_declares_a_range_that_holds_its_defaults():
    """A range is what the checks below test: a number field without one escapes them all."""
    numbers = [f for f in FIELDS if _is_number(f)]
    assert len(numbers) >= 19
    for field in numbers:
        low, high = field.metadata.get("low"), field.metadata.get("high")
        assert low is not None and high is not None, f"TrackerConfig.{field.name}: no range"
        assert low < high and low <= field.default <= high, field.name
        node_default = settings.BY_NAME[f"tracker.{field.name}"].default
        assert low <= node_default <= high, field.name
    for field in FIELDS:
        if not _is_number(field):
            assert field.metadata.get("low") is None and field.metadata.get("high") is None
    assert len(BOUNDS) == 2 * len(numbers)


@pytest.mark.parametrize("name, side, bound, outside", BOUNDS,
                         ids=[f"{name}-{side}" for name, side, _, _ in BOUNDS])
def test_just_outside_a_bound_is_refused_naming_the_field(tmp_path, name, side, bound,
                                                          outside):
    refused = rf"tracker\.{re.escape(name)} = .*outside"
    with pytest.raises(ValueError, match=rf"TrackerConfig\.{re.escape(name)} = .*outside"):
        TrackerConfig(**{name: outside})
    # a ROS 2 parameter file, as `finetrack track --config` and the node's params file
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"tracker": {name: outside}}}}))
    with pytest.raises(ValueError, match=rf"params\.yaml: {refused}"):
        TrackerConfig.from_yaml(path)
    # --set NAME=VALUE (finetrack track / bench)
    with pytest.raises(ValueError, match=rf"--set: {refused}"):
        TrackerConfig().with_overrides([f"{name}={_yaml_scalar(outside)}"])
    # the node's parameter table: each parameter change, and NAME=VALUE of the node tools
    with pytest.raises(ValueError, match=refused):
        settings.validate(f"tracker.{name}", outside)
    with pytest.raises(ValueError, match=refused):
        settings.parse_value(f"tracker.{name}", _yaml_scalar(outside))

    # the bound itself is inside
    assert getattr(TrackerConfig(**{name: bound}), name) == bound
    path.write_text(yaml.safe_dump({"tracker": {name: bound}}))
    assert getattr(TrackerConfig.from_yaml(path), name) == bound
    assert getattr(TrackerConfig().with_overrides([f"{name}={_yaml_scalar(bound)}"]),
                   name) == bound
    settings.validate(f"tracker.{name}", bound)


@pytest.mark.ros
def test_the_node_refuses_each_value_just_outside_a_tracker_range(rclpy_node):  # noqa: F811
    """The real node (rclpy, in this process): its descriptors and its parameter check."""
    from rclpy.parameter import Parameter

    from finetrack_ros.ros.finetrack_node import FineTrackNode

    node = FineTrackNode(context=rclpy_node.node.context)
    try:
        for name, side, bound, outside in BOUNDS:
            (result,) = node.set_parameters([Parameter(f"tracker.{name}", value=outside)])
            assert not result.successful, f"tracker.{name} = {outside!r} ({side}) was accepted"
            assert f"tracker.{name}" in result.reason, result.reason
            assert node.get_parameter(f"tracker.{name}").value != outside
            (result,) = node.set_parameters([Parameter(f"tracker.{name}", value=bound)])
            assert result.successful, f"tracker.{name} = {bound!r}: {result.reason}"
    finally:
        node.destroy_node()
