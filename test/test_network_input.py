"""The network input: zero padding to the input's aspect ratio, then TF1's legacy bilinear resize
(input pixel i samples padded pixel i * padded / input), then the architecture's normalisation,
checked against an independent numpy implementation of that definition."""

import numpy as np
import pytest

from bodypix_ros.geometry import input_geometry
from bodypix_ros.network_input import IMAGENET_MEAN, network_input


def legacy_resize_reference(frame, geometry):
    """Pad with zeros, then sample each axis at i * padded / input (in float32, as TF computes the
    positions) with linear weights, clamped."""
    pad = geometry.padding
    padded = np.pad(frame, ((pad.top, pad.bottom), (pad.left, pad.right), (0, 0))).astype(
        np.float64
    )
    for axis, (source, target) in enumerate(zip(padded.shape[:2], geometry.input_size)):
        positions = np.arange(target, dtype=np.float32) * (np.float32(source) / np.float32(target))
        positions = positions.astype(np.float64)
        low = np.floor(positions).astype(int)
        high = np.minimum(low + 1, source - 1)
        weight = (positions - low).reshape((-1, 1) if axis == 0 else (1, -1))[..., None]
        padded = np.take(padded, low, axis) * (1 - weight) + np.take(padded, high, axis) * weight
    return padded


@pytest.mark.parametrize("frame_size, fraction, stride", [
    ((480, 640), 0.5, 16), ((720, 1280), 0.5, 16), ((1080, 1440), 0.5, 8), ((861, 1049), 0.73, 16),
    ((333, 101), 1.0, 16), ((64, 48), 2.0, 32), ((1, 40), 0.1, 16), ((40, 1), 2.0, 16),
    ((1, 1), 1.0, 16),
])
def test_padding_resize_and_mobilenet_normalisation(frame_size, fraction, stride):
    geometry = input_geometry(frame_size, fraction, stride)
    frame = np.random.default_rng(sum(frame_size)).integers(
        0, 256, frame_size + (3,), dtype=np.uint8
    )
    batch = network_input(frame, geometry, "mobilenet")
    assert batch.shape == (1,) + tuple(geometry.input_size) + (3,) and batch.dtype == np.float32
    expected = legacy_resize_reference(frame, geometry) / 127.5 - 1.0
    np.testing.assert_allclose(batch[0], expected, rtol=0, atol=1e-4)


def test_resnet_adds_the_imagenet_mean():
    geometry = input_geometry((96, 128), 0.5, 16)
    frame = np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    expected = legacy_resize_reference(frame, geometry) + np.asarray(IMAGENET_MEAN)
    np.testing.assert_allclose(
        network_input(frame, geometry, "resnet50")[0], expected, rtol=0, atol=1e-3
    )
