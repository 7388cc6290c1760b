"""``finetrack bench camera-motion`` runs end to end on a short scene and prints both tables."""
from __future__ import annotations

import pytest

from finetrack_ros.cli import main


@pytest.mark.slow
def test_bench_prints_cost_and_benefit(capsys):
    assert main(["bench", "camera-motion", "--frames", "30", "--seeds", "7", "--pan", "30"]) == 0
    out = capsys.readouterr().out
    assert "| sparse |" in out and "| ecc |" in out
    rows = [line for line in out.splitlines() if line.startswith("| none |")]
    assert len(rows) == 1 and len(rows[0].split("|")) == 8
