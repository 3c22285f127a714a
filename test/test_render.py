"""Renderers: colour tables and the integer overlay blend."""

import numpy as np
import pytest

from bodypix_ros.parts import PERSON_COLORS, RAINBOW_PART_COLORS
from bodypix_ros.render import color_parts, color_persons, overlay_labels, render_overlay
from bodypix_ros.result import SegmentationResult


def test_color_parts_uses_the_tfjs_rainbow_and_background():
    labels = np.array([[0, 1, 24]], np.uint8)
    colored = color_parts(labels, background=(255, 255, 255))
    assert colored.tolist() == [[[255, 255, 255], RAINBOW_PART_COLORS[0].tolist(),
                                 RAINBOW_PART_COLORS[23].tolist()]]


def test_person_colors_cycle_through_the_palette():
    instances = np.array([[1, len(PERSON_COLORS) + 1, 2]], np.uint8)
    colored = color_persons(instances)
    assert (colored[0, 0] == colored[0, 1]).all() and (colored[0, 0] != colored[0, 2]).any()


def test_overlay_matches_float_blend_within_one_level():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    labels = rng.integers(0, 25, (20, 30), dtype=np.uint8)
    for alpha in (0.0, 0.3, 0.7, 1.0):
        out = overlay_labels(frame, labels, RAINBOW_PART_COLORS, alpha)
        colors = color_parts(labels).astype(np.float64)
        expected = np.where(labels[:, :, None] > 0, frame * (1 - alpha) + colors * alpha, frame)
        assert np.abs(out - expected).max() <= 1.0
        assert (out[labels == 0] == frame[labels == 0]).all()


def test_render_overlay_modes_and_fallback():
    frame = np.full((4, 4, 3), 100, np.uint8)
    mask = np.zeros((4, 4), np.uint8)
    mask[1:3, 1:3] = 255
    result = SegmentationResult(person_mask=mask)
    for mode in ("parts", "persons", "mask"):
        out = render_overlay(frame, result, mode, 1.0)
        assert (out[1, 1] == (0, 255, 0)).all() and (out[0, 0] == 100).all()
    with pytest.raises(ValueError, match="overlay mode"):
        render_overlay(frame, result, "sparkles")
    with pytest.raises(ValueError, match="alpha"):
        render_overlay(frame, result, "mask", 1.5)
