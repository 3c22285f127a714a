"""Which outputs the node computes for a frame, and the output images it publishes. No ROS.

Only outputs with a subscriber are computed: no subscriber, no inference; the part
labels and the instance decode run only when a wanted output needs them.
"""

from typing import Callable, Dict, Mapping, NamedTuple, Tuple

from bodypix_ros.render import render_overlay
from bodypix_ros.result import SegmentationResult
from bodypix_ros.ros.image_codec import DecodedFrame, ImageFields, color_fields, mono8_fields
from bodypix_ros.ros.params import OUTPUT_TOPIC_PARAMETERS, LiveConfig

OUTPUT_NAMES = tuple(OUTPUT_TOPIC_PARAMETERS)
"""'mask', 'part_labels', 'instances', 'overlay'."""


class OutputSelection(NamedTuple):
    """The outputs to compute for one frame."""

    mask: bool
    part_labels: bool
    instances: bool
    overlay: bool

    @property
    def any(self) -> bool:
        """Whether the frame needs inference at all."""
        return any(self)

    @property
    def names(self):
        """Names of the selected outputs."""
        return tuple(name for name, wanted in zip(OUTPUT_NAMES, self) if wanted)


class EngineRequest(NamedTuple):
    """Keyword arguments of `BodyPixEngine.segment` for a selection."""

    part_labels: bool
    instances: bool


def select_outputs(subscriber_counts: Mapping[str, int], multi_person_enabled: bool) -> OutputSelection:
    """Output name -> subscriber count (disabled outputs absent) -> the outputs to compute.

    Instances need the multi-person decode, so they are computed only when it is enabled.
    """
    wanted = {name: subscriber_counts.get(name, 0) > 0 for name in OUTPUT_NAMES}
    wanted["instances"] = wanted["instances"] and multi_person_enabled
    return OutputSelection(**wanted)


def multi_person_missing(subscriber_counts: Mapping[str, int], live: LiveConfig) -> bool:
    """Whether instances or the persons overlay have subscribers while multi_person.enabled is false."""
    persons_overlay = subscriber_counts.get("overlay", 0) > 0 and live.overlay_mode == "persons"
    wanted = subscriber_counts.get("instances", 0) > 0 or persons_overlay
    return wanted and not live.settings.multi_person.enabled


def engine_request(selection: OutputSelection, live: LiveConfig) -> EngineRequest:
    """Which expensive stages the selected outputs need (overlay_mode decides the overlay's)."""
    overlay_mode = live.overlay_mode if selection.overlay else None
    return EngineRequest(
        part_labels=selection.part_labels or overlay_mode == "parts",
        instances=live.settings.multi_person.enabled and (selection.instances or overlay_mode == "persons"))


def render_outputs(frame: DecodedFrame, result: SegmentationResult, selection: OutputSelection,
                   live: LiveConfig) -> Dict[str, ImageFields]:
    """Selected output name -> image fields, each at the frame's resolution.

    mask, part_labels, instances: mono8; overlay: rgb8, or bgr8 when the frame was blue-first.
    An output the result lacks (e.g. instances with the decode disabled) is left out.
    """
    images = {"mask": result.person_mask, "part_labels": result.part_labels,
              "instances": result.instances}
    outputs = {name: mono8_fields(images[name]) for name in selection.names
               if name in images and images[name] is not None}
    if selection.overlay:
        overlay = render_overlay(frame.rgb, result, live.overlay_mode, live.overlay_alpha)
        outputs["overlay"] = color_fields(overlay, frame.bgr_ordered)
    return outputs


def segment_frame(engine, frame: DecodedFrame, selection: OutputSelection,
                  live: LiveConfig) -> Tuple[SegmentationResult, Dict[str, ImageFields]]:
    """Run `engine` on the frame for the selected outputs -> (result, output image fields)."""
    request = engine_request(selection, live)
    result = engine.segment(frame.rgb, live.settings, part_labels=request.part_labels,
                            instances=request.instances)
    return result, render_outputs(frame, result, selection, live)


def output_messages(image_type: Callable, header, outputs: Mapping[str, ImageFields],
                    wrap_data: Callable = lambda data: data) -> Dict[str, object]:
    """Output name -> `image_type(header=header, ...)` message carrying the input's header.

    wrap_data converts the uint8 data array to what the message type stores
    (rclpy: array.array('B'); rosbags: the array itself).
    """
    return {name: image_type(header=header, **fields._replace(data=wrap_data(fields.data))._asdict())
            for name, fields in outputs.items()}
