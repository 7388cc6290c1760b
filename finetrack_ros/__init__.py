"""finetrack_ros: the FineTrack multi-object tracker (Ren et al., CVPR 2023) for ROS 2.

The core (tracker, networks, evaluation, training, simulation, bags) imports without ROS;
only ``finetrack_ros.ros`` needs rclpy.
"""
# When Python starts in the repository root, this source package shadows the colcon-installed
# copy that holds the generated ``finetrack_ros.msg`` module; merge the two search paths.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
