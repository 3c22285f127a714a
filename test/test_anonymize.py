"""Privacy filter: what is covered (target dilated by the margin), by what, and nothing else."""

import numpy as np
import pytest
from conftest import SHARED, require_shared

from bodypix_ros.anonymize import AnonymizeSettings, anonymize, blur_sigma, pixelate
from bodypix_ros.effects import FACE_PARTS, gaussian_blur, parts_mask
from bodypix_ros.errors import SettingsError
from bodypix_ros.parts import PART_NAMES
from bodypix_ros.result import SegmentationResult

PHOTOS = tuple(sorted((SHARED / "images").rglob("*.jpg")))


def disc_dilation(mask: np.ndarray, margin: int) -> np.ndarray:
    """(H, W) bool: pixels within Euclidean distance `margin` of a nonzero pixel of `mask`."""
    import cv2

    offsets = np.arange(-margin, margin + 1)
    disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= margin ** 2).astype(np.uint8)
    return cv2.dilate((mask > 0).astype(np.uint8), disc) > 0


def method_output(frame, settings):
    """The whole frame as the method renders it: (H, W, 3) uint8."""
    if settings.method == "blur":
        return gaussian_blur(frame, blur_sigma(frame.shape[:2], settings.strength))
    if settings.method == "pixelate":
        return pixelate(frame, int(settings.strength))
    return np.broadcast_to(np.array(settings.color, np.uint8), frame.shape)


_SEGMENTED = {}


def segmented(engine, path):
    """(frame, result) for a shared photo, segmented once with part labels."""
    if path not in _SEGMENTED:
        from PIL import Image

        with Image.open(path) as image:
            frame = np.array(image.convert("RGB"))
        _SEGMENTED[path] = frame, engine.segment(frame)
    return _SEGMENTED[path]


@pytest.mark.parametrize("method", ["blur", "pixelate", "fill"])
@pytest.mark.parametrize("target", ["persons", "faces"])
@pytest.mark.parametrize("path", PHOTOS, ids=lambda path: path.stem)
def test_the_dilated_target_is_covered_and_nothing_else(engine, path, target, method):
    require_shared()
    frame, result = segmented(engine, path)
    settings = AnonymizeSettings(target=target, method=method, strength=12, margin=9,
                                 color=(255, 0, 255))
    target_pixels = (result.person_mask if target == "persons"
                     else parts_mask(result.part_labels, FACE_PARTS))
    assert target_pixels.any(), f"no {target} found in {path.name}"
    covered = disc_dilation(target_pixels, settings.margin)
    before = frame.copy()
    out = anonymize(frame, result, settings)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert (frame == before).all()
    assert (out[~covered] == frame[~covered]).all(), "a pixel beyond the margin changed"
    assert (out[covered] == method_output(frame, settings)[covered]).all()
    changed = (out != frame).any(axis=2)[covered].mean()
    assert changed > 0.9, f"only {changed:.1%} of the covered pixels changed"


def test_a_frame_without_persons_passes_unchanged():
    frame = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    result = SegmentationResult(person_mask=np.zeros((30, 40), np.uint8),
                                part_labels=np.zeros((30, 40), np.uint8))
    for target in ("persons", "faces"):
        out = anonymize(frame, result, AnonymizeSettings(target=target, method="fill"))
        assert (out == frame).all() and out is not frame


def test_a_part_list_covers_only_those_parts():
    labels = np.zeros((40, 40), np.uint8)
    labels[5:10, 5:10] = PART_NAMES.index("left_hand") + 1
    labels[25:30, 25:30] = PART_NAMES.index("torso_front") + 1
    result = SegmentationResult(person_mask=np.where(labels > 0, 255, 0).astype(np.uint8),
                                part_labels=labels)
    settings = AnonymizeSettings(target="right_hand, left_hand", method="fill", margin=2,
                                 color=(9, 9, 9))
    assert settings.target == "left_hand,right_hand"
    out = anonymize(np.zeros((40, 40, 3), np.uint8), result, settings)
    assert (out[3:12, 5:10] == 9).all() and (out[12:, :] == 0).all()


def test_a_part_target_without_part_labels_refuses_rather_than_covering_less():
    result = SegmentationResult(person_mask=np.full((4, 4), 255, np.uint8))
    with pytest.raises(ValueError, match="part labels"):
        anonymize(np.zeros((4, 4, 3), np.uint8), result, AnonymizeSettings(target="faces"))


def test_pixelate_takes_each_cells_mean():
    frame = np.random.default_rng(1).integers(0, 256, (23, 31, 3), dtype=np.uint8)
    out = pixelate(frame, 8)
    for y in range(0, 23, 8):
        for x in range(0, 31, 8):
            cell = frame[y:y + 8, x:x + 8].reshape(-1, 3).astype(float)
            assert (out[y:y + 8, x:x + 8] == np.rint(cell.mean(axis=0))).all()


@pytest.mark.parametrize("changes, message", [
    ({"target": "elbows"}, "unknown part name"),
    ({"target": ""}, "empty"),
    ({"method": "smudge"}, "method 'smudge' is not one of blur, pixelate, fill"),
    ({"strength": 0.5}, r"strength 0.5 is outside \[2.0, 200.0\]"),
    # 1-pixel cells would publish the raw frame as 'anonymized'
    ({"method": "pixelate", "strength": 1.4}, r"strength 1.4 is outside \[2.0, 200.0\]"),
    ({"margin": -1}, "margin -1"),
    ({"margin": 2.5}, "margin 2.5"),
    ({"color": (0, 0, 256)}, "color"),
])
def test_bad_settings_name_the_setting(changes, message):
    with pytest.raises(SettingsError, match=message):
        AnonymizeSettings(**changes)
