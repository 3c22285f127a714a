"""Renderers: colour tables and the overlay blend."""

import numpy as np
import pytest

from bodypix_ros.parts import PERSON_COLORS, RAINBOW_PART_COLORS
from bodypix_ros.render import color_labels, overlay_labels, render_overlay
from bodypix_ros.result import SegmentationResult


def test_color_parts_uses_the_tfjs_rainbow_and_background():
    labels = np.array([[0, 1, 24]], np.uint8)
    colored = color_labels(labels, RAINBOW_PART_COLORS, background=(255, 255, 255))
    assert colored.tolist() == [[[255, 255, 255], RAINBOW_PART_COLORS[0].tolist(),
                                 RAINBOW_PART_COLORS[23].tolist()]]


def test_person_colors_cycle_through_the_palette():
    instances = np.array([[1, len(PERSON_COLORS) + 1, 2]], np.uint8)
    colored = color_labels(instances, PERSON_COLORS)
    assert (colored[0, 0] == colored[0, 1]).all() and (colored[0, 0] != colored[0, 2]).any()


def reference_overlay(frame, labels, palette, alpha):
    """Float64 blend, rounded to nearest; label k >= 1 takes palette row (k - 1) % K."""
    palette = np.asarray(palette, np.float64).reshape(-1, 3)
    colors = palette[(labels.astype(np.int64) - 1) % len(palette)]
    blended = np.round(frame * (1.0 - alpha) + colors * alpha)
    return np.where(labels[:, :, None] > 0, blended, frame).astype(np.uint8)


def random_case(seed, shape=(40, 60)):
    """Random frame, and labels 0..255 (so wrapping every palette) inside a box off the edges."""
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    labels = np.zeros(shape, np.uint8)
    labels[5:-7, 3:-9] = rng.integers(0, 256, (shape[0] - 12, shape[1] - 12), dtype=np.uint8)
    return frame, labels


@pytest.mark.parametrize("palette", [RAINBOW_PART_COLORS, PERSON_COLORS, [(0, 255, 0)]])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3, 0.5, 0.7, 0.95, 1.0])
def test_overlay_matches_float_reference(palette, alpha):
    frame, labels = random_case(1)
    before = frame.copy()
    out = overlay_labels(frame, labels, palette, alpha)
    expected = reference_overlay(frame, labels, palette, alpha)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert (out[labels == 0] == frame[labels == 0]).all()
    assert (frame == before).all()


def test_overlay_alpha_zero_keeps_frame_and_one_gives_exact_colors():
    frame, labels = random_case(2)
    assert (overlay_labels(frame, labels, RAINBOW_PART_COLORS, 0.0) == frame).all()
    out = overlay_labels(frame, labels, RAINBOW_PART_COLORS, 1.0)
    assert (out == reference_overlay(frame, labels, RAINBOW_PART_COLORS, 1.0)).all()
    labelled = labels > 0
    assert (out[labelled] == RAINBOW_PART_COLORS[(labels[labelled].astype(int) - 1) % 24]).all()


def test_overlay_wraps_labels_beyond_the_palette():
    frame = np.zeros((1, 4, 3), np.uint8)
    labels = np.array([[1, 25, 49, 255]], np.uint8)  # 255 -> row 254 % 24 = 14
    out = overlay_labels(frame, labels, RAINBOW_PART_COLORS, 1.0)
    assert out[0].tolist() == RAINBOW_PART_COLORS[[0, 0, 0, 14]].tolist()


def test_overlay_without_labels_returns_a_copy_of_the_frame():
    frame, _ = random_case(3)
    out = overlay_labels(frame, np.zeros(frame.shape[:2], np.uint8), RAINBOW_PART_COLORS, 0.7)
    assert (out == frame).all() and out is not frame
    out[0, 0] = 1 - frame[0, 0]
    assert (out[0, 0] != frame[0, 0]).all()


def test_overlay_accepts_a_non_contiguous_frame_view():
    frame, labels = random_case(4)
    bgr = frame[:, :, ::-1]
    out = overlay_labels(bgr, labels, RAINBOW_PART_COLORS, 0.6)
    expected = reference_overlay(bgr, labels, RAINBOW_PART_COLORS, 0.6)
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert (out[labels == 0] == bgr[labels == 0]).all()


@pytest.mark.parametrize("alpha", [-0.1, 1.01, float("nan")])
def test_overlay_rejects_alpha_outside_unit_interval(alpha):
    frame, labels = random_case(5)
    with pytest.raises(ValueError, match="alpha"):
        overlay_labels(frame, labels, RAINBOW_PART_COLORS, alpha)


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


def test_effect_overlay_modes_draw_the_tfjs_effects():
    from bodypix_ros.effects import blur_parts, bokeh, pixelated_mask

    frame = np.random.default_rng(6).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    mask = np.zeros((40, 50), np.uint8)
    mask[10:30, 10:40] = 255
    labels = np.where(mask > 0, 13, 0).astype(np.uint8)
    labels[10:15, 20:30] = 1
    result = SegmentationResult(person_mask=mask, part_labels=labels)
    np.testing.assert_array_equal(render_overlay(frame, result, "bokeh"), bokeh(frame, mask))
    np.testing.assert_array_equal(render_overlay(frame, result, "blur_parts"),
                                  blur_parts(frame, labels))
    np.testing.assert_array_equal(
        render_overlay(frame, result, "pixelate", 0.4),
        pixelated_mask(frame, color_labels(labels, RAINBOW_PART_COLORS, (255, 255, 255)),
                       opacity=0.4))
    without_labels = SegmentationResult(person_mask=mask)
    for mode in ("blur_parts", "pixelate"):  # fall back to the mask colours
        out = render_overlay(frame, without_labels, mode, 1.0)
        assert (out[20, 20] == (0, 255, 0)).all() and (out[0, 0] == frame[0, 0]).all()
