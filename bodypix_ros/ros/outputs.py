"""Which outputs the node computes for a frame, and its output images as message fields. No ROS.

Only outputs with a subscriber are computed: no subscriber, no inference.
"""

from typing import Callable, Dict, Mapping

import numpy as np

from bodypix_ros.frame_outputs import (
    MONO_OUTPUTS,
    OUTPUT_NAMES,
    SOURCE_ENCODED_OUTPUTS,
    OutputSelection,
)
from bodypix_ros.ros.image_codec import (
    DecodedFrame,
    ImageFields,
    color_fields,
    mono8_fields,
    reencode_image,
)
from bodypix_ros.ros.params import LiveConfig


def select_outputs(subscriber_counts: Mapping[str, int],
                   multi_person_enabled: bool) -> OutputSelection:
    """Output name -> subscriber count (disabled outputs absent) -> the outputs to compute.

    Instances need the multi-person decode, so they are computed only when it is enabled.
    """
    wanted = {name: subscriber_counts.get(name, 0) > 0 for name in OUTPUT_NAMES}
    wanted["instances"] = wanted["instances"] and multi_person_enabled
    return OutputSelection(**wanted)


def multi_person_missing(subscriber_counts: Mapping[str, int], live: LiveConfig) -> bool:
    """Whether instances or the persons overlay have subscribers while multi_person is off."""
    persons_overlay = subscriber_counts.get("overlay", 0) > 0 and live.overlay_mode == "persons"
    wanted = subscriber_counts.get("instances", 0) > 0 or persons_overlay
    return wanted and not live.settings.multi_person.enabled


def output_fields(images: Mapping[str, np.ndarray], frame: DecodedFrame,
                  message) -> Dict[str, ImageFields]:
    """Output name -> image fields of the outputs of `frame`, decoded from `message`.

    mono8 label images; rgb8 colour images, bgr8 when the input frame was blue-first; the
    anonymized frame in the encoding of a raw input `message` (rgb8/bgr8 for a compressed one).
    """
    def fields(name: str, image: np.ndarray) -> ImageFields:
        if name in MONO_OUTPUTS:
            return mono8_fields(image)
        if name in SOURCE_ENCODED_OUTPUTS and hasattr(message, "encoding"):
            return reencode_image(message, frame.rgb, image)
        return color_fields(image, frame.bgr_ordered)

    return {name: fields(name, image) for name, image in images.items()}


def output_messages(image_type: Callable, header, outputs: Mapping[str, ImageFields],
                    wrap_data: Callable = lambda data: data) -> Dict[str, object]:
    """Output name -> `image_type(header=header, ...)` message carrying the input's header.

    wrap_data converts the uint8 data array to what the message type stores
    (rclpy: array.array('B'); rosbags: the array itself).
    """
    return {name: image_type(header=header,
                             **fields._replace(data=wrap_data(fields.data))._asdict())
            for name, fields in outputs.items()}


class FailClosedLatch:
    """anonymize.fail_closed: once a frame is lost, the anonymized output stops until reset.

    A lost frame is one that failed (decode or segmentation), was dropped because the node
    fell behind, or was lost in transport. Only counts while `enabled` (the parameter's value)
    is true; the node resets the latch whenever the parameter is set, so a closed latch always
    means the parameter was on when the frame was lost.
    """

    def __init__(self):
        self.cause = None

    def frame_lost(self, enabled: bool, cause: str) -> bool:
        """Note a lost frame; True when this closes the latch (log it once)."""
        if enabled and self.cause is None:
            self.cause = cause
            return True
        return False

    @property
    def closed(self) -> bool:
        """Whether the anonymized output is stopped: checked when a frame is taken and again
        before it is published (a frame still in flight was taken before the loss).
        """
        return self.cause is not None

    def reset(self) -> None:
        """Open again (the parameter was set)."""
        self.cause = None
