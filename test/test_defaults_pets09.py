"""The node's tracker defaults are no worse than the paper's association on real footage.

Issue 20: a default chosen on synthetic scenes (an ungated gallery at a fixed threshold, a
1 s track memory at 7 fps) lost identity quality on real frames. Here, on PETS09-S2L1-dev, the
command that chose the defaults (``finetrack bench defaults``) takes tiny Re-ID networks
trained on each half (frames 1-200, and 201-397; training seed 0, 200 iterations, one thread
each: the session's shared ``pets09_networks``, exactly what bench defaults would train) and
scores tracking on the other half with the node's defaults and with the paper's association
alone (no gallery, no relink, no part weighting, no adaptive Re-ID,
ByteTrack's track memory). The defaults must score at least as well in HOTA and IDF1 on both
halves, within TOLERANCE.

Measured (seeds 0-4, docs/identity.md, "Defaults measured on real footage"): defaults minus
paper, per network, HOTA +1.3 to +6.5 and IDF1 +3.0 to +12.3; with seed 0, +3.2 / +6.0 and
+1.7 / +5.0.
The defaults before issue 20 (an ungated gallery at 0.45, 1 s memory, part weighting off)
score 50.27 HOTA / 76.75 IDF1 against the paper's 50.48 / 77.36 on frames 201-397 with seed
0: this test fails on them (checked by running it with the old NODE_TRACKER_DEFAULTS).
About 40 s once the networks exist (four tracking runs).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pets09_split import PETS09_SPLITS

pytestmark = pytest.mark.slow

SEQUENCE = "PETS09-S2L1-dev"
SPLITS = ("1-200:201-397", "201-397:1-200")  # train the Re-ID on the first, score the second
# HOTA / IDF1 points the defaults may lose to the paper on a split: float noise of training
# on another CPU, far below the measured margins (the old defaults lost 0.2 and 0.6 here)
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def rows(shared_data, repo_root, pets09_networks, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("defaults") / "rows.json"
    splits = [f"{a}-{b}:{c}-{d}" for (a, b), (c, d) in PETS09_SPLITS.values()]
    assert splits == list(SPLITS)
    # the networks are in --work already (trained once per session): bench trains none
    cmd = [sys.executable, "-m", "finetrack_ros.cli", "bench", "defaults",
           "--seq", str(shared_data / SEQUENCE), "--splits", *SPLITS, "--seeds", "0",
           "--work", str(pets09_networks), "--rows", "paper", "defaults", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=repo_root, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "train-reid" not in proc.stderr  # no training: the shared networks were found
    print(proc.stdout)
    return {row["row"]: row["cells"] for row in json.loads(out.read_text())}


@pytest.mark.parametrize("split", range(len(SPLITS)))
@pytest.mark.parametrize("metric", ["HOTA", "IDF1"])
def test_defaults_score_at_least_the_papers_association(rows, split, metric):
    name = list(rows["paper"])[split]
    paper, defaults = rows["paper"][name][0][metric], rows["defaults"][name][0][metric]
    assert defaults >= paper - TOLERANCE, f"{name}: {metric} defaults {defaults:.2f} < " \
                                          f"paper {paper:.2f}"


def test_both_halves_were_scored(rows):
    assert len(rows["defaults"]) == len(SPLITS)
    assert all(len(cells) == 1 for cells in rows["defaults"].values())
