"""BodyPix 2.0 person segmentation for ROS 2 and plain Python.

The public surface, as the README's Python example uses it::

    from bodypix_ros import BodyPixEngine, SegmentationSettings, render_overlay

Importing the package is cheap: each name below is imported on first use, and
TensorFlow loads only when an engine is built. Subpackages: `model` (names, the
download store, the TFJS graph loader, TFLite), `ros` (the node and its ROS-free
parts), `cli` (the `bodypix-ros` command line).
"""

from importlib import import_module

from bodypix_ros.version import __version__

_EXPORTS = {
    "BodyPixEngine": "bodypix_ros.engine",
    "SegmentationSettings": "bodypix_ros.settings",
    "MultiPersonSettings": "bodypix_ros.settings",
    "SegmentationResult": "bodypix_ros.result",
    "Person": "bodypix_ros.result",
    "render_overlay": "bodypix_ros.render",
    "OVERLAY_MODES": "bodypix_ros.render",
    "PART_NAMES": "bodypix_ros.parts",
    "KEYPOINT_NAMES": "bodypix_ros.parts",
    "BodyPixError": "bodypix_ros.errors",
    "ModelError": "bodypix_ros.errors",
    "SettingsError": "bodypix_ros.errors",
    "FrameError": "bodypix_ros.errors",
}
"""Public name -> the module that defines it."""

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    """Import a public name's module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bodypix_ros' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
