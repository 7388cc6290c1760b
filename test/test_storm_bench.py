"""``finetrack bench storm`` prints its two parts (issue 22); figures are not judged here.

The tracker runs (ours and dense) each in a process of their own and report median, p95 and
peak memory; the node part runs the installed node and reports that the frame after the
storm was tracked with both boxes, and that the cut was logged.
"""
from __future__ import annotations

import argparse

import pytest
from ros_helpers import ros_install  # noqa: F401  (fixture)

from finetrack_ros.bench import storm


def test_tracker_runs_report_time_and_memory_in_their_own_process():
    ours = storm.tracker_run(60, "ours", frames=4, warmup=2)
    dense = storm.tracker_run(60, "dense", frames=4, warmup=2)
    for run in (ours, dense):
        assert run.objects == 60 and run.median_ms > 0 and run.p95_ms >= run.median_ms
        assert run.peak_mb >= 0
    row = storm._tracker_row(ours, dense)
    assert row.split()[0] == "60" and len(row.split()) == 8


def test_bad_arguments_are_refused_naming_them():
    args = argparse.Namespace(frames=0, warmup=1, objects=[10], storm_boxes=10,
                              no_node=True, no_dense=True, params=[], dense_frames=1)
    with pytest.raises(ValueError, match="--frames >= 1"):
        storm.run(args)


@pytest.mark.ros
def test_the_node_part_tracks_the_frame_after_a_storm(ros_install):  # noqa: F811
    result = storm.node_storm(3_000, {"max_detections": 50}, warm_frames=3)
    assert result.tracks_after == 2 and result.cut_logged
    assert result.next_good_s >= result.storm_reply_s > 0
    assert "next good frame tracked" in result.text()
