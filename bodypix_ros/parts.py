"""Names and colours of the 24 BodyPix body parts and the 17 pose keypoints.

Order and palette are those of TFJS body-pix 2.2 (`part_channels.ts`,
`keypoints.ts`, `output_rendering_util.ts`).
"""

import numpy as np

PART_NAMES = (
    "left_face", "right_face",
    "left_upper_arm_front", "left_upper_arm_back",
    "right_upper_arm_front", "right_upper_arm_back",
    "left_lower_arm_front", "left_lower_arm_back",
    "right_lower_arm_front", "right_lower_arm_back",
    "left_hand", "right_hand",
    "torso_front", "torso_back",
    "left_upper_leg_front", "left_upper_leg_back",
    "right_upper_leg_front", "right_upper_leg_back",
    "left_lower_leg_front", "left_lower_leg_back",
    "right_lower_leg_front", "right_lower_leg_back",
    "left_feet", "right_feet",
)
"""BodyPix part k is PART_NAMES[k]; label images store k + 1 (0 = background)."""

PART_IDS = {name: index for index, name in enumerate(PART_NAMES)}

RAINBOW_PART_COLORS = np.array([
    (110, 64, 170), (143, 61, 178), (178, 60, 178), (210, 62, 167),
    (238, 67, 149), (255, 78, 125), (255, 94, 99), (255, 115, 75),
    (255, 140, 56), (239, 167, 47), (217, 194, 49), (194, 219, 64),
    (175, 240, 91), (135, 245, 87), (96, 247, 96), (64, 243, 115),
    (40, 234, 141), (28, 219, 169), (26, 199, 194), (33, 176, 213),
    (47, 150, 224), (65, 125, 224), (84, 101, 214), (99, 81, 195),
], dtype=np.uint8)
"""(24, 3) uint8 RGB: TFJS `rainbow` palette, row k is part k."""

KEYPOINT_NAMES = (
    "nose", "leftEye", "rightEye", "leftEar", "rightEar",
    "leftShoulder", "rightShoulder", "leftElbow", "rightElbow",
    "leftWrist", "rightWrist", "leftHip", "rightHip",
    "leftKnee", "rightKnee", "leftAnkle", "rightAnkle",
)
"""The 17 PoseNet keypoints, in the network's heatmap channel order."""
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

PERSON_COLORS = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
    (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230),
    (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195),
], dtype=np.uint8)
"""(16, 3) uint8 RGB: person i (1-based) is drawn in row (i - 1) % 16."""
