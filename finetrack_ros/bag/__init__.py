"""rosbag2 without ROS (``rosbags``): write, read, export and replay bags.

* :mod:`.typestore` — ROS 2 Kilted types + vision_msgs 4.x + finetrack_ros messages;
* :mod:`.bag_writer` — atomic bag writing; :mod:`.writer` — MOT sequences and videos → bags;
* :mod:`.reader` — images paired with detections as the node pairs them, clear errors,
  :func:`.reader.play`;
* :mod:`.mot_export` — a Detection2DArray topic → MOTChallenge text;
* :mod:`.replay` — deterministic offline replay (:mod:`finetrack_ros.offline`) and its
  output bag.
Message building and reading is :mod:`finetrack_ros.messages`, shared with the node.
"""
