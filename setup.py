from glob import glob

from setuptools import find_packages, setup

PACKAGE = "bodypix_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="BodyPix 2.0 multi-person body segmentation for ROS 2 and plain Python",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
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
    },
    zip_safe=True,
    entry_points={
        "console_scripts": [
            "bodypix-ros = bodypix_ros.cli.main:main",
            "segment_node = bodypix_ros.ros.node:main",
        ],
    },
)
