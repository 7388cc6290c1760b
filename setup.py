"""pip install of finetrack_ros without ROS: ``pip install -e .``.

The ROS build uses CMakeLists.txt.
"""
from glob import glob

from setuptools import find_packages, setup

setup(
    name="finetrack_ros",
    version="0.1.0",
    description=("FineTrack multi-object tracker (CVPR 2023) for ROS 2: "
                 "YOLOX + part-based Re-ID + ByteTrack"),
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["finetrack_ros", "finetrack_ros.*"]),
    # Message definitions: the bag tools register them with rosbags when ROS is absent.
    data_files=[("share/finetrack_ros/msg", glob("msg/*.msg"))],
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "opencv-python-headless>=4.8",
        "lap>=0.5",
        "pyyaml>=6",
        "tqdm>=4.60",
        "rosbags>=0.10",
        "trackeval>=1.3",
        "motmetrics>=1.4",
        "matplotlib>=3.7",
        "torch>=2.1",
    ],
    extras_require={
        "export": ["onnx>=1.15", "onnxruntime>=1.17"],
        # osrf-pycommon, lark: what the vendored ROS 2 launch packages need in the launch tests
        # pytest-xdist: scripts/test.sh runs two workers
        "test": ["pytest>=7", "pytest-xdist>=3.5", "hypothesis>=6.100", "ruff==0.17.6",
                 "osrf-pycommon>=2", "lark>=1"],
    },
    entry_points={"console_scripts": ["finetrack = finetrack_ros.cli:main"]},
)
