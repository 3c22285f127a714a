"""Inference settings with the TFJS names, defaults and valid ranges.

Every setting is validated on construction; an invalid value raises
`SettingsError` whose message names the setting, the value and what is valid.
The ROS node validates `ros2 param set` requests with these same classes.
"""

import math
from dataclasses import dataclass, field, fields, replace
from typing import Tuple, Union

from bodypix_ros.errors import SettingsError
from bodypix_ros.parts import PART_NAMES

INTERNAL_RESOLUTION_NAMES = {"low": 0.25, "medium": 0.5, "high": 0.75, "full": 1.0}
INTERNAL_RESOLUTION_RANGE = (0.1, 2.0)
REFINE_STEPS_RANGE = (1, 20)
MAX_DETECTIONS_RANGE = (1, 255)




def internal_resolution_fraction(value: Union[str, float]) -> float:
    """`low|medium|high|full` or a number in [0.1, 2.0] -> fraction of the frame size."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key in INTERNAL_RESOLUTION_NAMES:
            return INTERNAL_RESOLUTION_NAMES[key]
        try:
            value = float(key)
        except ValueError:
            raise SettingsError(
                f"internal_resolution {value!r} is not one of "
                f"{', '.join(INTERNAL_RESOLUTION_NAMES)} nor a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"internal_resolution must be a name or a number, not {value!r}")
    low, high = INTERNAL_RESOLUTION_RANGE
    if not low <= float(value) <= high:
        raise SettingsError(f"internal_resolution {value} is outside [{low}, {high}]")
    return float(value)


def _check_unit_interval(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name} {value!r} is outside [0.0, 1.0]")
    return float(value)


def _check_int(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingsError(f"{name} {value!r} is not an integer in [{low}, {high}]")
    return value


def check_part_filter(names) -> Tuple[str, ...]:
    """Part names to keep (empty = all parts) -> tuple of known names, in TFJS order."""
    if isinstance(names, str):
        names = [name for name in names.replace(",", " ").split() if name]
    names = tuple(names)
    unknown = [name for name in names if name not in PART_NAMES]
    if unknown:
        raise SettingsError(
            f"unknown part name(s) {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(PART_NAMES)}")
    return tuple(name for name in PART_NAMES if name in names)


@dataclass(frozen=True)
class MultiPersonSettings:
    """Knobs of TFJS `segmentMultiPerson` (names in snake_case, same defaults)."""

    enabled: bool = False
    max_detections: int = 10
    score_threshold: float = 0.4
    nms_radius: float = 20.0
    min_keypoint_score: float = 0.3
    refine_steps: int = 10

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            raise SettingsError(
                f"multi_person.enabled must be true or false, not {self.enabled!r}"
            )
        _check_int("max_detections", self.max_detections, *MAX_DETECTIONS_RANGE)
        _check_unit_interval("score_threshold", self.score_threshold)
        _check_unit_interval("min_keypoint_score", self.min_keypoint_score)
        _check_int("refine_steps", self.refine_steps, *REFINE_STEPS_RANGE)
        if (isinstance(self.nms_radius, bool) or not isinstance(self.nms_radius, (int, float))
                or not 0 < self.nms_radius < math.inf):
            raise SettingsError(
                f"nms_radius {self.nms_radius!r} must be a positive number of pixels"
            )


@dataclass(frozen=True)
class SegmentationSettings:
    """Per-frame settings of the engine.

    internal_resolution: `low|medium|high|full` or a fraction in [0.1, 2.0];
    segmentation_threshold: person probability above which a pixel is person;
    part_filter: part names to keep in the part labels (empty = all).
    """

    internal_resolution: Union[str, float] = "medium"
    segmentation_threshold: float = 0.7
    part_filter: Tuple[str, ...] = ()
    multi_person: MultiPersonSettings = field(default_factory=MultiPersonSettings)

    def __post_init__(self):
        internal_resolution_fraction(self.internal_resolution)
        _check_unit_interval("segmentation_threshold", self.segmentation_threshold)
        object.__setattr__(self, "part_filter", check_part_filter(self.part_filter))
        if not isinstance(self.multi_person, MultiPersonSettings):
            raise SettingsError("multi_person must be a MultiPersonSettings")

    @property
    def resolution_fraction(self) -> float:
        """internal_resolution as a fraction of the frame size."""
        return internal_resolution_fraction(self.internal_resolution)

    def with_changes(self, **changes) -> "SegmentationSettings":
        """A validated copy; keys `multi_person.X` change the multi-person knobs."""
        valid = [f.name for f in fields(self)] + [
            f"multi_person.{f.name}" for f in fields(self.multi_person)
        ]
        unknown = [key for key in changes if key not in valid]
        if unknown:
            raise SettingsError(f"unknown setting(s) {', '.join(map(repr, unknown))}; "
                                f"valid: {', '.join(valid)}")
        multi = {key.split(".", 1)[1]: value for key, value in changes.items()
                 if key.startswith("multi_person.")}
        plain = {
            key: value for key, value in changes.items() if not key.startswith("multi_person.")
        }
        if multi:
            plain["multi_person"] = replace(plain.get("multi_person", self.multi_person), **multi)
        return replace(self, **plain)
