"""Multi-person decoding (issue 3): TFJS `decodeMultiplePoses` / `decodeMultipleMasksCPU` ports.

Synthetic grids check the decoding rules; the real models check parity with the original
TFJS BodyPix outputs in ../shared/reference and the invariants of the instance image.
"""

import functools
import json

import numpy as np
import pytest
from conftest import (
    PARITY_PART_AGREEMENT,
    PARITY_PERSON_IOU,
    REFERENCE,
    REFERENCE_MODELS,
    REFERENCE_STEMS,
    grid_size,
    load_engine,
    read_png,
    reference_input,
)

from bodypix_ros import multi_person
from bodypix_ros.geometry import input_geometry
from bodypix_ros.multi_person import decode_persons
from bodypix_ros.multi_person.candidates import max_heap_order, root_candidates
from bodypix_ros.multi_person.instance_masks import InstanceMatcher, assign_instances
from bodypix_ros.multi_person.poses import EDGES, KEYPOINT_IDS, decode_multiple_poses, scale_poses
from bodypix_ros.result import NetworkOutputs
from bodypix_ros.settings import MultiPersonSettings, SegmentationSettings

MULTI = SegmentationSettings().with_changes(**{"multi_person.enabled": True})
FIVE_PEOPLE = "five_people_fauxels-3184419"
STRIDE = 16


# ---------------------------------------------------------------- synthetic grids

def grid_outputs(height: int, width: int) -> NetworkOutputs:
    """All-zero outputs on a (height, width) grid: no keypoint, offsets and displacements 0."""
    def zeros(channels):
        return np.zeros((height, width, channels), dtype=np.float32)
    return NetworkOutputs(segments=zeros(1), part_heatmaps=zeros(24), heatmaps=zeros(17),
                          short_offsets=zeros(34), long_offsets=zeros(34),
                          displacement_fwd=zeros(32), displacement_bwd=zeros(32))


def face_pose(x: float, y: float, face_score: float = 0.9) -> np.ndarray:
    """(17, 3) pose with every keypoint at (x, y); face keypoints score face_score, others 0."""
    keypoints = np.zeros((17, 3))
    keypoints[:, 0], keypoints[:, 1] = x, y
    keypoints[:5, 2] = face_score
    return keypoints


def test_root_candidates_are_local_maxima_at_or_above_threshold():
    heatmaps = np.zeros((5, 6, 17))
    heatmaps[1, 1, 0] = heatmaps[1, 2, 0] = (
        0.8  # plateau: TFJS keeps both (no neighbour is greater)
    )
    heatmaps[3, 4, 0] = 0.6
    heatmaps[3, 5, 0] = 0.7                        # grid edge: window clipped, beats (3, 4)
    heatmaps[0, 0, 3] = 0.5                        # exactly the threshold counts
    heatmaps[4, 0, 3] = 0.49
    found = root_candidates(heatmaps, 0.5)
    assert sorted(zip(found.grid_y, found.grid_x, found.keypoint)) == [
        (0, 0, 3), (1, 1, 0), (1, 2, 0), (3, 5, 0)]
    assert found.scores.tolist() == [heatmaps[y, x, k] for y, x, k in
                                     zip(found.grid_y, found.grid_x, found.keypoint)]


def test_root_threshold_is_compared_in_doubles_as_tfjs():
    # float32(0.7) is 0.699999988...: below a 0.7 threshold in doubles (TFJS), equal to it in
    # float32.
    heatmaps = np.zeros((3, 3, 17), np.float32)
    heatmaps[1, 1, 0] = 0.7
    heatmaps[1, 1, 1] = np.nextafter(np.float32(0.7), np.float32(1.0))
    assert root_candidates(heatmaps, 0.7).keypoint.tolist() == [1]


def test_max_heap_order_is_descending_score():
    scores = np.random.default_rng(3).permutation(200) / 200.0
    assert list(max_heap_order(scores.tolist())) == np.argsort(-scores).tolist()


def test_max_heap_order_breaks_ties_like_the_tfjs_heap():
    # Enqueue 0, 1, 2 (equal): nothing swims; dequeue moves the last element (2) to the root.
    assert list(max_heap_order([1.0, 1.0, 1.0])) == [0, 2, 1]


def nose_root_outputs():
    """A nose at grid cell (2, 2) scoring 0.9 whose forward displacement points at a left eye."""
    outputs = grid_outputs(8, 8)
    outputs.heatmaps[2, 2, KEYPOINT_IDS["nose"]] = 0.9
    outputs.heatmaps[3, 4, KEYPOINT_IDS["leftEye"]] = 0.7
    edge = EDGES.index((KEYPOINT_IDS["nose"], KEYPOINT_IDS["leftEye"]))
    outputs.displacement_fwd[2, 2, edge] = 16.0       # y, input pixels
    outputs.displacement_fwd[2, 2, 16 + edge] = 32.0  # x
    outputs.short_offsets[3, 4, KEYPOINT_IDS["leftEye"]] = 1.5
    outputs.short_offsets[3, 4, 17 + KEYPOINT_IDS["leftEye"]] = -2.0
    return outputs


def test_pose_follows_displacements_then_short_offsets():
    keypoints, scores = decode_multiple_poses(nose_root_outputs(), STRIDE, 10, 0.5, 20.0)
    # The left eye's own maximum is within nmsRadius of the decoded eye: one pose.
    assert keypoints.shape == (1, 17, 3)
    nose, eye = keypoints[0, KEYPOINT_IDS["nose"]], keypoints[0, KEYPOINT_IDS["leftEye"]]
    assert nose.tolist() == [2 * STRIDE, 2 * STRIDE, pytest.approx(0.9)]
    # (32 + 16, 32 + 32) is nearest cell (3, 4); its leftEye short offset is (1.5, -2).
    assert eye.tolist() == [4 * STRIDE - 2.0, 3 * STRIDE + 1.5, pytest.approx(0.7)]
    # Keypoints the chain reaches through zero displacements sit on the nose, score 0.
    assert keypoints[0, KEYPOINT_IDS["rightAnkle"]].tolist() == [2 * STRIDE, 2 * STRIDE, 0.0]
    assert scores[0] == pytest.approx((0.9 + 0.7) / 17)


def two_noses(distance_cells: int) -> NetworkOutputs:
    outputs = grid_outputs(4, 4 + distance_cells)
    outputs.heatmaps[2, 1, KEYPOINT_IDS["nose"]] = 0.9
    outputs.heatmaps[2, 1 + distance_cells, KEYPOINT_IDS["nose"]] = 0.8
    return outputs


def test_nms_radius_is_in_input_pixels():
    outputs = two_noses(2)  # roots 32 input pixels apart
    far, far_scores = decode_multiple_poses(outputs, STRIDE, 10, 0.5, nms_radius=31.0)
    assert far_scores == pytest.approx([0.9 / 17, 0.8 / 17])
    assert far[1, 0, :2].tolist() == [3 * STRIDE, 2 * STRIDE]
    near, _ = decode_multiple_poses(outputs, STRIDE, 10, 0.5, nms_radius=32.0)
    assert len(near) == 1


def test_max_detections_keeps_the_highest_roots():
    keypoints, scores = decode_multiple_poses(two_noses(3), STRIDE, 1, 0.5, 20.0)
    assert len(keypoints) == 1 and scores[0] == pytest.approx(0.9 / 17)


def test_scale_poses_maps_the_padded_input_onto_the_frame():
    geometry = input_geometry((480, 500), 0.5, STRIDE)
    assert any(geometry.padding)
    input_h, input_w = geometry.input_size
    corners = np.array([[[0.0, 0.0, 0.3], [input_w, input_h, 0.6]]])
    scaled = scale_poses(corners, geometry)
    pad = geometry.padding
    assert scaled[0, 0].tolist() == pytest.approx([-pad.left, -pad.top, 0.3])
    assert scaled[0, 1].tolist() == pytest.approx([500 + pad.right, 480 + pad.bottom, 0.6])


def matcher_scene(far_pose_face_score: float = 0.9):
    """A 64x128 frame at full resolution (5x9 grid, no padding). Cells of columns 0-3 send
    the walk far right (clamped at the last column, where the offset is 0); others stay."""
    geometry = input_geometry((64, 128), 1.0, STRIDE)
    assert grid_size(geometry) == (5, 9) and not any(geometry.padding)
    long_offsets = np.zeros((5, 9, 34), dtype=np.float32)
    long_offsets[:, :4, 17:22] = 200.0
    right, left = face_pose(127.0, 32.0), face_pose(40.0, 32.0, far_pose_face_score)
    return geometry, long_offsets, np.stack([right, left])


def test_pixels_follow_long_offsets_to_the_nearest_pose():
    geometry, long_offsets, poses = matcher_scene()
    matcher = InstanceMatcher(
        long_offsets, geometry, poses, refine_steps=10, min_keypoint_score=0.3
    )
    instances = assign_instances(np.ones((64, 128), bool), matcher, np.array([1, 2], np.uint8))
    # Columns 0-3 end at x = 127 and join the right pose although the left one is nearer.
    assert (instances[:, :41] == 1).all()
    # Pixels that stay put join the nearer pose: left one up to x = 83, right one beyond.
    assert (instances[:, 64:77] == 2).all()
    assert (instances[:, 92:] == 1).all()
    ys, xs = np.nonzero(np.ones((64, 128), bool))
    per_pixel = matcher.owners(ys, xs).reshape(64, 128) + 1
    np.testing.assert_array_equal(instances, per_pixel)


def test_poses_without_confident_face_keypoints_own_nothing():
    geometry, long_offsets, poses = matcher_scene(far_pose_face_score=0.3)  # not > 0.3
    matcher = InstanceMatcher(
        long_offsets, geometry, poses, refine_steps=10, min_keypoint_score=0.3
    )
    instances = assign_instances(np.ones((64, 128), bool), matcher, np.array([1, 2], np.uint8))
    assert (instances == 1).all()


def test_walks_leaving_the_grid_upwards_are_clamped_not_lost():
    # TFJS reads outside its offset grid here (NaN: no owner); the port clamps and assigns.
    geometry, long_offsets, poses = matcher_scene()
    long_offsets[..., :5] = -500.0
    matcher = InstanceMatcher(
        long_offsets, geometry, poses, refine_steps=10, min_keypoint_score=0.3
    )
    instances = assign_instances(np.ones((64, 128), bool), matcher, np.array([1, 2], np.uint8))
    assert (instances > 0).all()


def test_no_pose_gives_no_person():
    geometry = input_geometry((64, 128), 1.0, STRIDE)
    mask = np.zeros((64, 128), bool)
    mask[10:50, 20:60] = True
    instances, persons = decode_persons(grid_outputs(5, 9), geometry, mask, MultiPersonSettings())
    assert persons == [] and instances.shape == (64, 128) and not instances.any()


# ---------------------------------------------------------------- real models vs TFJS

@functools.lru_cache(maxsize=None)
def segment_reference(model: str, stem: str):
    return load_engine(model).segment(
        reference_input(stem), MULTI, part_labels=True, instances=True
    )


def reference_people(model: str, stem: str):
    folder = REFERENCE / model / stem
    people = json.loads((folder / "instances.json").read_text())["people"]
    instances = read_png(folder / "instances.png")
    unowned = (read_png(folder / "person_mask.png") > 0) & (instances == 0)
    return people, instances, unowned, read_png(folder / "multi_parts.png")


def match_by_iou(mine: np.ndarray, theirs: np.ndarray, count: int, valid: np.ndarray):
    """(count, count) IoU of instance i + 1 vs j + 1 over `valid` pixels, and the best j per i."""
    pairs = np.bincount(mine[valid].astype(np.intp) * (count + 1) + theirs[valid],
                        minlength=(count + 1) ** 2).reshape(count + 1, count + 1)
    inter = pairs[1:, 1:]
    union = pairs[1:].sum(1)[:, None] + pairs[:, 1:].sum(0)[None, :] - inter
    iou = inter / np.maximum(union, 1)
    return iou, iou.argmax(axis=1)


@pytest.mark.parametrize("model", REFERENCE_MODELS)
@pytest.mark.parametrize("stem", REFERENCE_STEMS)
def test_parity_with_tfjs_segment_multi_person(model, stem):
    result = segment_reference(model, stem)
    people, expected, unowned, expected_parts = reference_people(model, stem)
    assert len(result.persons) == len(people)
    if not people:
        assert not result.instances.any()
        return
    valid = ~unowned  # pixels the original left without owner are not compared
    iou, best = match_by_iou(result.instances, expected, len(people), valid)
    assert sorted(best) == list(range(len(people))), f"not one-to-one: IoU {iou}"
    for index, person in enumerate(result.persons):
        reference = people[best[index]]["pose"]
        assert iou[index, best[index]] >= PARITY_PERSON_IOU
        assert person.score == pytest.approx(reference["score"], abs=5e-3)
        expected_keypoints = np.array(
            [[k["x"], k["y"], k["score"]] for k in reference["keypoints"]]
        )
        confident = expected_keypoints[:, 2] >= 0.5
        error = np.hypot(*(person.keypoints[confident, :2] - expected_keypoints[confident, :2]).T)
        assert error.max(initial=0.0) <= 2.0
    parts = result.person_part_labels
    labelled = ((parts > 0) | (expected_parts > 0)) & valid
    assert (parts[labelled] == expected_parts[labelled]).mean() >= PARITY_PART_AGREEMENT


@pytest.mark.parametrize("model", REFERENCE_MODELS)
@pytest.mark.parametrize("stem", REFERENCE_STEMS)
def test_instances_partition_the_person_mask(model, stem):
    result = segment_reference(model, stem)
    instances, persons = result.instances, result.persons
    assert instances.dtype == np.uint8 and instances.shape == result.person_mask.shape
    if persons:
        np.testing.assert_array_equal(instances > 0, result.person_mask > 0)
    else:
        assert not instances.any()
    assert set(np.unique(instances)) <= set(range(len(persons) + 1))
    scores = [person.score for person in persons]
    assert scores == sorted(scores, reverse=True)
    assert min(scores, default=1.0) >= MULTI.multi_person.score_threshold
    geometry = load_engine(model).geometry(instances.shape, MULTI)
    cell = geometry.output_stride * max(geometry.input_scale)  # frame pixels per grid cell
    for index, person in enumerate(persons, start=1):
        own = instances == index
        assert person.pixel_count == own.sum()
        rows, cols = np.flatnonzero(own.any(axis=1)), np.flatnonzero(own.any(axis=0))
        assert person.box == (cols[0], rows[0], cols[-1], rows[-1])
        for x, y, score in person.keypoints:
            inside = 0 <= x < instances.shape[1] and 0 <= y < instances.shape[0]
            if score >= 0.5 and inside:  # confident keypoints lie on or next to the own mask
                y0, x0 = max(int(y - cell), 0), max(int(x - cell), 0)
                assert own[y0:int(y + cell) + 1, x0:int(x + cell) + 1].any(), (index, x, y)


def test_person_pixels_stay_unowned_when_no_pose_has_a_confident_face_keypoint():
    """The documented exception to 'instances cover the person mask'."""
    settings = MULTI.with_changes(**{"multi_person.min_keypoint_score": 1.0})
    result = load_engine(REFERENCE_MODELS[0]).segment(reference_input(FIVE_PEOPLE), settings)
    assert result.persons and result.person_mask.any()
    assert not result.instances.any()


def decode_inputs(model: str, frame: np.ndarray):
    """The (outputs, geometry, person_mask, settings) the engine hands to decode_persons."""
    captured = []

    def capture(*args):
        captured.append(args)
        return decode_persons(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(multi_person, "decode_persons", capture)
        load_engine(model).segment(frame, MULTI, part_labels=False, instances=True)
    return captured[0]


def test_block_corners_match_every_pixel_matching():
    outputs, geometry, person_mask, settings = decode_inputs(REFERENCE_MODELS[0],
                                                             reference_input(FIVE_PEOPLE))
    instances, persons = decode_persons(outputs, geometry, person_mask, settings)
    keypoints = np.stack([person.keypoints for person in persons]).astype(np.float64)
    matcher = InstanceMatcher(outputs.long_offsets, geometry, keypoints,
                              settings.refine_steps, settings.min_keypoint_score)
    ys, xs = np.nonzero(person_mask)
    per_pixel = np.zeros_like(instances)
    per_pixel[ys, xs] = matcher.owners(ys, xs) + 1
    assert len(persons) == 5
    assert (per_pixel != instances).sum() <= 1e-3 * ys.size


def test_max_detections_one_gives_one_person():
    settings = MULTI.with_changes(**{"multi_person.max_detections": 1})
    result = load_engine(REFERENCE_MODELS[0]).segment(reference_input(FIVE_PEOPLE), settings)
    assert len(result.persons) == 1
    assert set(np.unique(result.instances)) == {0, 1}


def test_frame_without_people_gives_no_person():
    result = load_engine(REFERENCE_MODELS[0]).segment(np.full((480, 640, 3), 128, np.uint8), MULTI)
    assert result.persons == []
    assert not result.instances.any() and not result.person_mask.any()
