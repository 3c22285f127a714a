"""Multi-person decoding (TFJS body-pix 2.2 `segmentMultiPerson`): poses, instance ids, person
records.

Pure numpy on the network's grid outputs; no TensorFlow here.
"""

from typing import List, Tuple

import numpy as np

from bodypix_ros.geometry import InputGeometry
from bodypix_ros.multi_person.instance_masks import InstanceMatcher, assign_instances
from bodypix_ros.multi_person.poses import decode_multiple_poses, scale_poses
from bodypix_ros.result import NetworkOutputs, Person
from bodypix_ros.settings import MultiPersonSettings

__all__ = ["decode_persons"]


def person_records(
    instances: np.ndarray, keypoints: np.ndarray, scores: np.ndarray
) -> List[Person]:
    """Persons of an (H, W) uint8 instance image; keypoints (n, 17, 3) / scores (n,) of instance
    1..n.
    """
    persons = []
    for index in range(scores.size):
        mask = instances == index + 1
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size:
            columns = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
            box = (int(columns[0]), int(rows[0]), int(columns[-1]), int(rows[-1]))
        else:
            box = (-1, -1, -1, -1)
        persons.append(
            Person(
                score=float(scores[index]),
                keypoints=keypoints[index].astype(np.float32),
                box=box,
                pixel_count=int(np.count_nonzero(mask)),
            )
        )
    return persons


def decode_persons(outputs: NetworkOutputs, geometry: InputGeometry, person_mask: np.ndarray,
                   settings: MultiPersonSettings) -> Tuple[np.ndarray, List[Person]]:
    """Poses and per-person instance ids of one frame, as TFJS `segmentMultiPerson`.

    outputs: grid outputs (heatmaps already sigmoid); person_mask: (H, W) bool at frame
    resolution (TFJS `segmentation`). Returns instances (H, W) uint8 (0 = background,
    i = i-th person by decreasing pose score; only poses scoring >= score_threshold) and
    the persons, persons[i - 1] being instance i (keypoints in frame pixels).
    """
    keypoints, scores = decode_multiple_poses(
        outputs, geometry.output_stride, settings.max_detections,
        settings.score_threshold, settings.nms_radius)
    kept = scores >= settings.score_threshold
    keypoints, scores = scale_poses(keypoints[kept], geometry), scores[kept]
    rank = np.argsort(-scores, kind="stable")
    labels = np.empty(scores.size, dtype=np.uint8)
    labels[rank] = np.arange(1, scores.size + 1)
    matcher = InstanceMatcher(outputs.long_offsets, geometry, keypoints,
                              settings.refine_steps, settings.min_keypoint_score)
    instances = assign_instances(np.asarray(person_mask, dtype=bool), matcher, labels)
    return instances, person_records(instances, keypoints[rank], scores[rank])
