from glob import glob

from setuptools import find_packages, setup

PACKAGE = "bodypix_ros"
ROS_WHEELS = ("ros-jazzy-rclpy[fastrtps]", "ros-jazzy-sensor-msgs", "ros-jazzy-diagnostic-msgs",
              "ros-jazzy-std-msgs", "ros-jazzy-rcl-interfaces")
"""ROS 2 Jazzy's rclpy and messages as PyPI wheels, for machines without a ROS install."""
ROS_WHEELS_EXIST = ("platform_system == 'Linux' and platform_machine == 'x86_64'"
                    " and platform_python_implementation == 'CPython'"
                    " and python_version >= '3.10' and python_version < '3.14'")

setup(
    name=PACKAGE,
    version="0.1.0",
    description="BodyPix 2.0 multi-person body segmentation for ROS 2 and plain Python",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={f"{PACKAGE}.ros": ["fastdds_large_images.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config",
         glob("config/*.yaml") + [f"{PACKAGE}/ros/fastdds_large_images.xml"]),
    ],
    install_requires=[
        "numpy>=1.21",
        "opencv-python-headless",
        "pillow>=8",
        "tf-bodypix>=0.4.2",
        "tensorflow-cpu>=2.13; platform_machine == 'x86_64'",
        "tensorflow>=2.13; platform_machine != 'x86_64'",
    ],
    extras_require={
        "demo": ["scikit-image"],
        "bag": ["rosbags>=0.10.11"],
        "test": ["pytest", "rosbags>=0.10.11", "pyyaml", "ruff>=0.5"],
        # never together with a sourced apt ROS (two rclpy builds on one path)
        "ros": [f"{wheel}; {ROS_WHEELS_EXIST}" for wheel in ROS_WHEELS],
    },
    zip_safe=True,
    entry_points={
        "console_scripts": [
            "bodypix-ros = bodypix_ros.cli.main:main",
            "segment_node = bodypix_ros.ros.node:main",
        ],
    },
)
