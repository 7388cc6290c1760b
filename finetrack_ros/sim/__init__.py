"""Synthetic street scenes in MOTChallenge layout with exact ground truth (issue #8).

``write_sequence(out_dir, SceneConfig(seed=...))`` renders a seeded sequence; iterate
``SceneGenerator(config)`` for frames and ground truth in memory.
"""
from finetrack_ros.sim.config import DetectionNoiseConfig, SceneConfig
from finetrack_ros.sim.scene import FrameTruth, SceneGenerator, SimFrame
from finetrack_ros.sim.writer import write_sequence

__all__ = ["DetectionNoiseConfig", "SceneConfig", "SceneGenerator", "SimFrame", "FrameTruth",
           "write_sequence"]
