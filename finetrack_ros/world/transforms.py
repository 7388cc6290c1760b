"""A tf tree without tf2: transforms of a bag composed in numpy (no ROS import).

:class:`TransformTree` holds the ``geometry_msgs/TransformStamped`` of ``/tf_static`` (valid at
every time) and ``/tf`` (valid at their header stamp) as tf2 does: each child frame has one
parent. :meth:`TransformTree.lookup` returns ``target_from_source`` at a stamp by walking both
frames up to their common ancestor and composing translation + quaternion chains; a dynamic
link is interpolated between the two stamps around the asked one (translation linearly,
rotation by slerp), exactly at a stored stamp it is that transform. A stamp outside a dynamic
link's stored span, an unknown frame or two unconnected trees raise :class:`LookupError`
naming the frames (tf2's extrapolation and connectivity errors).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import numpy as np

from finetrack_ros.world.camera import Pose

NS_PER_SEC = 1_000_000_000


@dataclass
class _Link:
    """One child frame's link to its parent: static, or stamped samples (sorted by stamp)."""

    parent: str
    static: Optional[tuple] = None  # (translation (3,), quaternion xyzw (4,))
    stamps: list = field(default_factory=list)
    samples: list = field(default_factory=list)  # (translation, quaternion) per stamp


def _slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions (x, y, z, w), the shorter way round."""
    dot = float(q0 @ q1)
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly equal: linear is exact to float precision
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    angle = np.arccos(dot)
    return (np.sin((1 - t) * angle) * q0 + np.sin(t * angle) * q1) / np.sin(angle)


def _unit(q) -> np.ndarray:
    q = np.asarray(q, np.float64)
    return q / np.linalg.norm(q)


class TransformTree:
    """Transforms of ``/tf_static`` and ``/tf``; ``target_from_source`` at any covered stamp."""

    def __init__(self) -> None:
        self.links: dict[str, _Link] = {}

    @property
    def frames(self) -> list[str]:
        """Every frame named by a transform, sorted."""
        return sorted(set(self.links) | {link.parent for link in self.links.values()})

    def add(self, parent: str, child: str, translation, rotation_xyzw, stamp_ns: int = 0,
            static: bool = True) -> None:
        """Store ``parent_from_child`` (a static one replaces any earlier one of the child)."""
        parent, child = parent.lstrip("/"), child.lstrip("/")
        pose = Pose.from_xyzw(translation, rotation_xyzw, f"transform '{parent}' <- '{child}'")
        sample = (pose.translation, _unit(rotation_xyzw))
        link = self.links.get(child)
        if link is None or link.parent != parent:
            link = self.links[child] = _Link(parent)
        if static:
            link.static = sample
            return
        at = bisect.bisect_left(link.stamps, stamp_ns)
        if at < len(link.stamps) and link.stamps[at] == stamp_ns:
            link.samples[at] = sample
        else:
            link.stamps.insert(at, stamp_ns)
            link.samples.insert(at, sample)

    def add_message(self, msg: Any, static: bool) -> int:
        """Store every transform of a tf2_msgs/TFMessage (any message class); return the count."""
        for t in msg.transforms:
            stamp = int(t.header.stamp.sec) * NS_PER_SEC + int(t.header.stamp.nanosec)
            tr, q = t.transform.translation, t.transform.rotation
            self.add(t.header.frame_id, t.child_frame_id, [tr.x, tr.y, tr.z],
                     [q.x, q.y, q.z, q.w], stamp, static)
        return len(msg.transforms)

    def _parent_from_child(self, child: str, stamp_ns: int) -> Pose:
        link = self.links[child]
        if link.static is not None:
            translation, quaternion = link.static
        else:
            translation, quaternion = self._sample(child, link, stamp_ns)
        return Pose.from_xyzw(translation, quaternion)

    @staticmethod
    def _sample(child: str, link: _Link, stamp_ns: int) -> tuple:
        stamps = link.stamps
        if not stamps or stamp_ns < stamps[0] or stamp_ns > stamps[-1]:
            span = (f"{stamps[0] / NS_PER_SEC:.3f} .. {stamps[-1] / NS_PER_SEC:.3f}"
                    if stamps else "none")
            raise LookupError(f"transform '{link.parent}' <- '{child}' at "
                              f"{stamp_ns / NS_PER_SEC:.3f} s: outside the stored stamps "
                              f"({span})")
        at = bisect.bisect_left(stamps, stamp_ns)
        if stamps[at] == stamp_ns:
            return link.samples[at]
        (t0, q0), (t1, q1) = link.samples[at - 1], link.samples[at]
        w = (stamp_ns - stamps[at - 1]) / (stamps[at] - stamps[at - 1])
        return t0 + w * (t1 - t0), _slerp(q0, q1, w)

    def _chain(self, frame: str) -> list[str]:
        """``frame`` and its ancestors up to the root."""
        chain, seen = [frame], {frame}
        while chain[-1] in self.links:
            parent = self.links[chain[-1]].parent
            if parent in seen:
                raise LookupError(f"tf: frames {' -> '.join(chain + [parent])} form a loop")
            chain.append(parent)
            seen.add(parent)
        return chain

    def _root_from(self, chain: Iterable[str], stamp_ns: int) -> Pose:
        """Return the pose of ``chain[0]`` in ``chain[-1]`` (composed link by link)."""
        pose = Pose(np.eye(3), np.zeros(3))
        for child in list(chain)[:-1]:
            link = self._parent_from_child(child, stamp_ns)
            pose = Pose(link.rotation @ pose.rotation, link.apply(pose.translation[None])[0])
        return pose

    def lookup(self, target: str, source: str, stamp_ns: int) -> Pose:
        """Return ``target_from_source`` at ``stamp_ns`` (see the module docstring)."""
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source:
            return Pose(np.eye(3), np.zeros(3))
        known = self.frames
        for frame in (target, source):
            if frame not in known:
                raise LookupError(f"tf: frame '{frame}' is in no transform of the bag "
                                  f"(frames: {', '.join(known) or 'none'})")
        up_source, up_target = self._chain(source), self._chain(target)
        common = next((f for f in up_source if f in up_target), None)
        if common is None:
            raise LookupError(f"tf: '{source}' and '{target}' are not connected (roots "
                              f"'{up_source[-1]}' and '{up_target[-1]}')")
        ancestor_from_source = self._root_from(up_source[:up_source.index(common) + 1],
                                               stamp_ns)
        ancestor_from_target = self._root_from(up_target[:up_target.index(common) + 1],
                                               stamp_ns)
        inverse = ancestor_from_target.inverse()
        return Pose(inverse.rotation @ ancestor_from_source.rotation,
                    inverse.apply(ancestor_from_source.translation[None])[0])
