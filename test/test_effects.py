"""TFJS effects: Gaussian blur, bokeh, body-part blur, drawn and pixelated masks.

The agreement test renders from the same segmentation the tfjs-models render_util test used
(`three_people_{binary,colored}_segmentation.png`) with that test's settings, on the exact pixels
the original decoded from three_people.jpg.
"""

import numpy as np
import pytest
from conftest import REFERENCE, SHARED, read_png, require_shared
from test_anonymize import disc_dilation

from bodypix_ros.effects import blur_parts, bokeh, draw_mask, gaussian_blur, pixelated_mask
from bodypix_ros.parts import PART_NAMES, RAINBOW_PART_COLORS
from bodypix_ros.render import color_labels

TFJS_IMAGES = SHARED / "images" / "tfjs-models"


def random_frame(seed, shape=(60, 80, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("sigma", [0.8, 2.0, 3.0, 7.5, 16.0, 31.0])
def test_gaussian_blur_agrees_with_a_true_gaussian(sigma):
    import cv2

    frame = cv2.resize(random_frame(int(sigma * 10), (30, 40, 3)), (320, 240))  # smooth-ish
    exact = cv2.GaussianBlur(frame, (0, 0), sigma).astype(int)
    approx = gaussian_blur(frame, sigma)
    assert approx.shape == frame.shape and approx.dtype == np.uint8
    difference = np.abs(approx - exact)
    assert difference.mean() < 1.5 and difference.max() <= 8
    assert np.abs(frame.astype(int) - exact).mean() > 5 * difference.mean()  # blur did something


def test_bokeh_keeps_persons_and_blurs_the_background():
    frame = random_frame(1)
    mask = np.zeros(frame.shape[:2], np.uint8)
    mask[10:50, 20:60] = 255
    out = bokeh(frame, mask, background_blur=3, edge_blur=2)
    assert (out[20:40, 30:50] == frame[20:40, 30:50]).all()
    assert (out[:2] == gaussian_blur(frame, 3)[:2]).all()
    edge = out[10:50, 19].astype(int)  # just outside: a mix of both
    assert (np.abs(edge - frame[10:50, 19]).mean() > 1
            and np.abs(edge - gaussian_blur(frame, 3)[10:50, 19]).mean() > 1)


def test_blur_parts_blurs_only_the_chosen_parts():
    frame = random_frame(2)
    labels = np.zeros(frame.shape[:2], np.uint8)
    labels[5:30, 5:30] = PART_NAMES.index("left_face") + 1
    labels[30:55, 40:75] = PART_NAMES.index("torso_front") + 1
    out = blur_parts(frame, labels, edge_blur=0)
    assert (out[5:30, 5:30] == gaussian_blur(frame, 3)[5:30, 5:30]).all()
    assert (out[30:, 30:] == frame[30:, 30:]).all()


def test_draw_mask_blends_with_opacity():
    frame, mask = random_frame(3), random_frame(4)
    out = draw_mask(frame, mask, opacity=0.25)
    expected = np.rint(frame * 0.75 + mask * 0.25)
    assert np.abs(out - expected).max() <= 1


def test_pixelated_mask_has_a_white_grid_and_cells():
    frame = np.zeros((40, 50, 3), np.uint8)
    mask = np.full((40, 50, 3), 100, np.uint8)
    out = pixelated_mask(frame, mask, opacity=1.0, cell=10)
    assert (out[5, 5] == 100).all() and (out[5, 9] == 178).all() and (out[9, 9] == 216).all()
    with pytest.raises(ValueError, match="cell"):
        pixelated_mask(frame, mask, cell=0)
    with pytest.raises(ValueError, match="opacity"):
        draw_mask(frame, mask, opacity=1.5)


def tfjs_case():
    """(frame, person mask 0/255, part labels) of the tfjs-models render_util test."""
    require_shared()
    frame = read_png(REFERENCE / "inputs" / "three_people.png")[..., :3]
    mask = np.where(read_png(TFJS_IMAGES / "three_people_binary_segmentation.png") > 0, 255, 0)
    colored = read_png(TFJS_IMAGES / "three_people_colored_segmentation.png")
    labels = np.where(colored[..., 3] >= 128, colored[..., 0].astype(int) + 1, 0)
    return frame, mask.astype(np.uint8), labels.astype(np.uint8)


def test_effects_agree_with_the_tfjs_renderings():
    """Settings of tfjs-models shared/calculators/render_util_test.ts: drawMask(white on black,
    0.7, blur 3), drawPixelatedMask(rainbow on white, defaults 0.7, 0, 10), drawBokehEffect and
    blurBodyPart([0, 1]) with defaults (3, 3). Compared where the reference is opaque (its canvas
    blur fades to transparent at the frame border; ours reflects) and, for the two blurs, where
    the effect applies (background; faces and 6 px around)."""
    frame, mask, labels = tfjs_case()
    bokeh_reference = read_png(TFJS_IMAGES / "three_people_bokeh_effect.png")[..., :3]
    white_on_black = np.repeat(mask[:, :, None], 3, axis=2)
    rendered = {
        "bokeh_effect": bokeh(frame, mask),
        # inside persons, where the faces are, the bokeh reference holds the very pixels the
        # original decoded (their colours differ from inputs/three_people.png on the faces)
        "blur_body_parts": blur_parts(bokeh_reference, labels),
        "draw_mask": draw_mask(frame, white_on_black, 0.7, 3),
        "pixelated_mask": pixelated_mask(
            frame, color_labels(labels, RAINBOW_PART_COLORS, (255, 255, 255))),
    }
    changed = {"bokeh_effect": mask == 0,
               "blur_body_parts": disc_dilation(np.isin(labels, (1, 2)), 6)}
    for name, ours in rendered.items():
        reference = read_png(TFJS_IMAGES / f"three_people_{name}.png").astype(int)
        compared = (reference[..., 3] == 255) & changed.get(name, True)
        difference = np.abs(ours - reference[..., :3])[compared]
        source = bokeh_reference if name == "blur_body_parts" else frame
        untouched = np.abs(source - reference[..., :3])[compared]
        assert difference.mean() < 2.5, name
        assert (difference.max(axis=1) <= 8).mean() > 0.89, name
        assert difference.mean() < 0.75 * untouched.mean(), name
