"""BodyPix 2.0 person segmentation for ROS 2 and plain Python.

Importing the package is cheap: TensorFlow loads only when an engine is built.
"""

__version__ = "0.1.0"
