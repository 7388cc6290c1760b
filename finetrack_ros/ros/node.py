"""Entry point of the installed ``finetrack_node`` executable: the lifecycle node."""
from finetrack_ros.ros.finetrack_node import main

__all__ = ["main"]
