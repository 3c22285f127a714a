"""The shortcut to frame resolution gives what TF resize + crop_and_resize + threshold/argmax give.
"""

import numpy as np
import pytest
from conftest import grid_size

from bodypix_ros.frame_labels import frame_labels, resized_values
from bodypix_ros.geometry import crop_box, input_geometry


def to_input_size(grid, input_size):
    """(h, w, C) grid -> (H_in, W_in, C) float32, as TFJS scales the network outputs."""
    import tensorflow as tf

    return tf.raw_ops.ResizeBilinear(
        images=grid[None], size=input_size, align_corners=True
    ).numpy()[0]


def tf_reference(geometry, person_scores, threshold, part_heatmaps):
    """TFJS's own composition, in TensorFlow: resize and crop_and_resize every channel, then
    decide."""
    import tensorflow as tf

    part_logits = to_input_size(part_heatmaps, geometry.input_size)
    box = np.asarray(crop_box(geometry), np.float32)[None]
    person = tf.image.crop_and_resize(
        person_scores[None, :, :, None], box, [0], geometry.frame_size
    )
    parts = tf.image.crop_and_resize(tf.sigmoid(part_logits)[None], box, [0], geometry.frame_size)
    labels = tf.cast(tf.argmax(parts[0], axis=-1) + 1, tf.uint8).numpy()
    return np.where(person[0, :, :, 0].numpy() > threshold, labels, 0)


@pytest.mark.parametrize("frame_size, fraction, stride", [
    ((480, 640), 0.5, 16), ((720, 1280), 0.25, 8), ((861, 1049), 0.5, 16),
    ((101, 333), 1.0, 16), ((333, 101), 0.73, 8), ((64, 48), 2.0, 32),
])
def test_frame_labels_match_tf_crop_and_resize(frame_size, fraction, stride):
    geometry = input_geometry(frame_size, fraction, stride)
    rng = np.random.default_rng(sum(frame_size))
    grid_h, grid_w = grid_size(geometry)
    # random network outputs, upsampled as TFJS does, so regions and boundaries form
    segments = rng.normal(0, 4.0, (grid_h, grid_w, 1)).astype(np.float32)
    person_scores = 1.0 / (1.0 + np.exp(-to_input_size(segments, geometry.input_size)[:, :, 0]))
    part_heatmaps = rng.normal(0, 3.0, (grid_h, grid_w, 24)).astype(np.float32)
    part_argmax = np.argmax(to_input_size(part_heatmaps, geometry.input_size), axis=-1).astype(
        np.uint8
    )
    expected = tf_reference(geometry, person_scores, 0.7, part_heatmaps)
    labels = frame_labels(geometry, person_scores, 0.7, part_heatmaps, part_argmax)
    assert labels.shape == frame_size and labels.dtype == np.uint8
    assert 0.05 < (expected > 0).mean() < 0.95
    assert (labels == expected).mean() >= 0.9999
    mask_only = frame_labels(geometry, person_scores, 0.7)
    assert np.array_equal(mask_only > 0, expected > 0)


@pytest.mark.parametrize("frame_size", [(1, 1), (1, 40), (40, 1)])
@pytest.mark.parametrize("fraction", [0.1, 2.0])
def test_one_pixel_frame_sides_match_tf_crop_and_resize(frame_size, fraction):
    # A 1-pixel side without padding is a 1-pixel network input side: every frame pixel samples it.
    geometry = input_geometry(frame_size, fraction, 16)
    assert min(geometry.input_size) >= 1
    rng = np.random.default_rng(7)
    person_scores = rng.uniform(0.0, 1.0, geometry.input_size).astype(np.float32)
    part_heatmaps = rng.normal(0.0, 3.0, grid_size(geometry) + (24,)).astype(np.float32)
    part_argmax = np.argmax(to_input_size(part_heatmaps, geometry.input_size), axis=-1).astype(
        np.uint8
    )
    labels = frame_labels(geometry, person_scores, 0.5, part_heatmaps, part_argmax)
    assert labels.shape == frame_size
    np.testing.assert_array_equal(
        labels, tf_reference(geometry, person_scores, 0.5, part_heatmaps)
    )


@pytest.mark.parametrize("input_size, grid_size", [((241, 321), (16, 21)), ((161, 97), (21, 13)),
                                                    ((1, 17), (1, 2)), ((33, 1), (2, 1))])
def test_resized_values_are_tf_resize_bilinear_bit_for_bit(input_size, grid_size):
    grid = np.random.default_rng(3).normal(0.0, 5.0, grid_size + (24,)).astype(np.float32)
    expected = to_input_size(grid, input_size).reshape(-1, 24)
    pixels = np.random.default_rng(4).choice(
        len(expected), size=min(500, len(expected)), replace=False
    )
    np.testing.assert_array_equal(resized_values(grid, input_size, pixels), expected[pixels].T)
