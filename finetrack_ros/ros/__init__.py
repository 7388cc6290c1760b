"""The ROS 2 layer of finetrack_ros.

It holds the lifecycle node, rclpy message classes, the rclpy bag player/recorder and the
process helpers. Needs rclpy and the colcon-built package (``scripts/setup_env.sh``);
nothing in the core imports it. The per-frame work (decode, stamps, detections, pipeline) is
:mod:`finetrack_ros.frame_path`, shared with the offline tools.
"""
