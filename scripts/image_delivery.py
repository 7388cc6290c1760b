#!/usr/bin/env python3
"""Measure how many camera frames a subscriber in another process receives, on one host.

    python scripts/image_delivery.py                          # 1280x720 bgr8, 30 Hz, 10 s
    python scripts/image_delivery.py --sub-qos best_effort --pub-qos reliable
    FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA python scripts/image_delivery.py

A publisher process (a camera driver stand-in: ``sensor_msgs/Image``, keep last 1, QoS
``--pub-qos``) sends ``--frames`` frames at ``--rate``; a subscriber process (finetrack_node's
image QoS: keep last 1, ``--sub-qos``) counts the distinct frames it received and does
nothing else, so every loss is the transport's. Both run with this environment (RMW, Fast DDS
transport settings) on their own ``ROS_DOMAIN_ID``. Prints one line: received / sent.
Needs the sourced ROS 2 environment (rclpy, sensor_msgs).
"""
import argparse
import os
import subprocess
import sys
import time

QOS_CHOICES = ("best_effort", "reliable", "best_available")


def qos_profile(name):
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    reliability = {"best_effort": ReliabilityPolicy.BEST_EFFORT,
                   "reliable": ReliabilityPolicy.RELIABLE,
                   "best_available": ReliabilityPolicy.BEST_AVAILABLE}[name]
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=reliability)


def subscribe(args):
    """Count distinct frame ids until ``--idle`` s pass without a frame after the first."""
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("delivery_subscriber")
    seen = set()
    if args.raw:  # serialized bytes: no Python message is built (the frame id is inside)
        node.create_subscription(Image, "delivery/image", lambda m: seen.add(bytes(m[12:40])),
                                 qos_profile(args.sub_qos), raw=True)
    else:
        node.create_subscription(Image, "delivery/image",
                                 lambda m: seen.add(m.header.frame_id), qos_profile(args.sub_qos))
    last, deadline = time.monotonic(), time.monotonic() + args.timeout
    count = 0
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        if len(seen) != count:
            count, last = len(seen), time.monotonic()
        elif count and time.monotonic() - last > args.idle:
            break
    print(len(seen), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


def publish(args):
    """Wait for the subscriber, then send the frames at the rate; returns frames sent."""
    import numpy as np
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("delivery_camera")
    pub = node.create_publisher(Image, "delivery/image", qos_profile(args.pub_qos))
    deadline = time.monotonic() + args.timeout
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(1.0)  # discovery settles on both sides
    msg = Image(height=args.height, width=args.width, encoding="bgr8", step=args.width * 3)
    msg.data = np.random.default_rng(0).integers(0, 255, args.height * args.width * 3,
                                                 dtype=np.uint8).tobytes()
    start = time.monotonic()
    for i in range(args.frames):
        time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
        msg.header.frame_id = str(i)
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
    time.sleep(1.0)  # let reliable resends finish
    node.destroy_node()
    rclpy.try_shutdown()
    return args.frames


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--rate", type=float, default=30.0, help="frames per second (30)")
    parser.add_argument("--frames", type=int, default=300, help="frames sent (300)")
    parser.add_argument("--pub-qos", choices=QOS_CHOICES, default="reliable",
                        help="camera publisher reliability (reliable: most drivers' default)")
    parser.add_argument("--sub-qos", choices=QOS_CHOICES, default="best_available",
                        help="subscriber reliability (finetrack_node image_qos)")
    parser.add_argument("--raw", action="store_true",
                        help="subscriber takes serialized bytes (no Python message built)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--idle", type=float, default=3.0)
    parser.add_argument("--role", choices=("both", "sub"), default="both", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "sub":
        subscribe(args)
        return 0
    env = dict(os.environ)
    env.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 101))
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.update(env)
    sub = subprocess.Popen([sys.executable, __file__, "--role", "sub", *sys.argv[1:]],
                           env=env, stdout=subprocess.PIPE, text=True)
    sent = publish(args)
    received = int(sub.communicate(timeout=args.timeout)[0].split()[-1])
    transports = os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "DEFAULT")
    profile = os.path.basename(os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE", "")) or "none"
    print(f"{args.width}x{args.height} bgr8 at {args.rate:g} Hz, publisher {args.pub_qos}, "
          f"subscriber {args.sub_qos}, {os.environ.get('RMW_IMPLEMENTATION', 'default RMW')}, "
          f"FASTDDS_BUILTIN_TRANSPORTS={transports}, profile {profile}: "
          f"received {received} / {sent} = {100.0 * received / sent:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
