"""The test helpers themselves: a missing ROS module skips, or fails when ROS is required."""
from __future__ import annotations

import json

import pytest
from ros_helpers import REQUIRE_ROS_VAR, import_ros_module

MISSING = "finetrack_no_such_ros_pkg.msg"


def test_missing_ros_module_fails_when_ros_is_required(monkeypatch):
    monkeypatch.setenv(REQUIRE_ROS_VAR, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_ROS_VAR}=1.*{MISSING}"):
        import_ros_module(MISSING)


@pytest.mark.parametrize("value", ["0", ""])
def test_missing_ros_module_skips_otherwise(monkeypatch, value):
    monkeypatch.setenv(REQUIRE_ROS_VAR, value)
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        import_ros_module(MISSING)


def test_present_module_is_returned():
    assert import_ros_module("json") is json
