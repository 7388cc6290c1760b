"""Tracking metrics (HOTA, CLEAR, Identity) with TrackEval's MOTChallenge definitions."""
from finetrack_ros.eval.metrics import (
    COMBINED,
    FIELDS,
    SequencePair,
    detect_benchmark,
    evaluate_sequences,
)

__all__ = ["COMBINED", "FIELDS", "SequencePair", "detect_benchmark", "evaluate_sequences"]
