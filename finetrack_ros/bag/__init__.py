"""rosbag2 without ROS (``rosbags``): write, read, export and replay bags.

* :mod:`.typestore` — ROS 2 Kilted types + vision_msgs 4.x + finetrack_ros messages;
* :mod:`.messages`, :mod:`.track_messages` — numpy ↔ message objects (the node mirrors them);
* :mod:`.bag_writer` — atomic bag writing; :mod:`.writer` — MOT sequences and videos → bags;
* :mod:`.reader` — frames paired with detections, clear errors, :func:`.reader.play`;
* :mod:`.mot_export` — a Detection2DArray topic → MOTChallenge text;
* :mod:`.replay` — deterministic offline replay through ``TrackingPipeline``.
"""
