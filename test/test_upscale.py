"""The shortcut to frame resolution gives what TF crop_and_resize + threshold/argmax give."""

import numpy as np
import pytest

from bodypix_ros.geometry import crop_box, input_geometry
from bodypix_ros.upscale import frame_labels


def tf_reference(geometry, person_scores, threshold, part_logits):
    """TFJS's own composition, in TensorFlow: crop_and_resize every channel, then decide."""
    import tensorflow as tf

    box = np.asarray(crop_box(geometry), np.float32)[None]
    person = tf.image.crop_and_resize(person_scores[None, :, :, None], box, [0], geometry.frame_size)
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
    grid_h, grid_w = geometry.grid_size
    # smooth random fields, upsampled like the network outputs are, so regions and boundaries form
    import tensorflow as tf
    def field(channels, scale):
        coarse = rng.normal(0, scale, (1, grid_h, grid_w, channels)).astype(np.float32)
        return tf.raw_ops.ResizeBilinear(images=coarse, size=geometry.input_size,
                                         align_corners=True).numpy()[0]
    person_scores = 1.0 / (1.0 + np.exp(-field(1, 4.0)[:, :, 0]))
    part_logits = field(24, 3.0)
    part_argmax = np.argmax(part_logits, axis=-1).astype(np.uint8)
    expected = tf_reference(geometry, person_scores, 0.7, part_logits)
    labels = frame_labels(geometry, person_scores, 0.7, part_logits, part_argmax)
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
    part_logits = rng.normal(0.0, 3.0, geometry.input_size + (24,)).astype(np.float32)
    part_argmax = np.argmax(part_logits, axis=-1).astype(np.uint8)
    labels = frame_labels(geometry, person_scores, 0.5, part_logits, part_argmax)
    assert labels.shape == frame_size
    np.testing.assert_array_equal(labels, tf_reference(geometry, person_scores, 0.5, part_logits))
