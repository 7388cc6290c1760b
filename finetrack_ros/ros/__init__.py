"""The ROS 2 layer of finetrack_ros: image conversion and the node.

``image_conversion`` needs only numpy and OpenCV to read messages (it also reads ``rosbags``
messages); the node and the message writers need rclpy and the colcon-built package
(``scripts/setup_env.sh``). Nothing here is imported by the core modules.
"""
