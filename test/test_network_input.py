"""The network input built with OpenCV is TFJS's pad + TF1 ResizeBilinear, to float32 rounding."""

import numpy as np
import pytest

from bodypix_ros.geometry import input_geometry
from bodypix_ros.network_input import IMAGENET_MEAN, network_input, resize_to_input


def tf_padded_resize(frame, geometry):
    """TFJS `padAndResizeTo`, in TensorFlow: zero padding, then ResizeBilinear (TF1 legacy)."""
    import tensorflow as tf

    pad = geometry.padding
    padded = tf.pad(frame, [[pad.top, pad.bottom], [pad.left, pad.right], [0, 0]])
    return tf.raw_ops.ResizeBilinear(images=padded[None], size=geometry.input_size, align_corners=False,
                                     half_pixel_centers=False).numpy()[0]


@pytest.mark.parametrize("frame_size, fraction, stride", [
    ((480, 640), 0.5, 16), ((720, 1280), 0.5, 16), ((1080, 1440), 0.5, 8), ((861, 1049), 0.73, 16),
    ((333, 101), 1.0, 16), ((64, 48), 2.0, 32), ((1, 40), 0.1, 16), ((40, 1), 2.0, 16), ((1, 1), 1.0, 16),
])
def test_resize_matches_tf_padding_and_legacy_resize(frame_size, fraction, stride):
    geometry = input_geometry(frame_size, fraction, stride)
    frame = np.random.default_rng(sum(frame_size)).integers(0, 256, frame_size + (3,), dtype=np.uint8)
    resized = resize_to_input(frame, geometry)
    assert resized.shape == tuple(geometry.input_size) + (3,) and resized.dtype == np.float32
    np.testing.assert_allclose(resized, tf_padded_resize(frame, geometry), rtol=0, atol=1e-4)


def test_normalisation_per_architecture():
    geometry = input_geometry((96, 128), 0.5, 16)
    frame = np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    resized = tf_padded_resize(frame, geometry)
    mobilenet, resnet = network_input(frame, geometry, "mobilenet"), network_input(frame, geometry, "resnet50")
    assert mobilenet.shape == resnet.shape == (1,) + resized.shape and mobilenet.dtype == np.float32
    np.testing.assert_allclose(mobilenet[0], resized / 127.5 - 1.0, atol=1e-4)
    np.testing.assert_allclose(resnet[0], resized + IMAGENET_MEAN, atol=0.01)
