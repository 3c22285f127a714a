"""The one per-frame path: what to compute for a frame, and the output images drawn from it.

The node, the bag and video tools and `bodypix-ros segment` all call `segment_frame` (the node
in its two stages, `start_frame` then `finish_frame`), with one set of output names. Only
what a selected output needs is computed: the part labels and the multi-person decode run
only when a selected output (or the overlay mode, or the anonymize target) needs them.
No ROS, no TensorFlow here.
"""

from dataclasses import dataclass
from typing import Dict, NamedTuple

import numpy as np

from bodypix_ros.anonymize import AnonymizeSettings, anonymize
from bodypix_ros.render import PART_OVERLAY_MODES, render_overlay
from bodypix_ros.result import SegmentationResult
from bodypix_ros.settings import SegmentationSettings

OUTPUT_NAMES = ("mask", "part_labels", "instances", "overlay", "anonymized")
"""Every output, in this order everywhere: topics, bag topics, file names STEM.<name>.png."""

MONO_OUTPUTS = ("mask", "part_labels", "instances")
"""Outputs that are (H, W) uint8 label images; the others are (H, W, 3) uint8 RGB."""
SOURCE_ENCODED_OUTPUTS = ("anonymized",)
"""Outputs published in their input's own encoding (the frame with people covered)."""


@dataclass(frozen=True)
class RenderConfig:
    """How to segment and draw a frame: settings, overlay mode and opacity, anonymization."""

    settings: SegmentationSettings
    overlay_mode: str
    overlay_alpha: float
    anonymize: AnonymizeSettings


class OutputSelection(NamedTuple):
    """The outputs to compute for one frame (one flag per name of OUTPUT_NAMES)."""

    mask: bool
    part_labels: bool
    instances: bool
    overlay: bool
    anonymized: bool

    @classmethod
    def of(cls, names) -> "OutputSelection":
        """The selection of the given output names."""
        return cls(**{name: name in names for name in OUTPUT_NAMES})

    @property
    def any(self) -> bool:
        """Whether the frame needs inference at all."""
        return any(self)

    @property
    def names(self):
        """Names of the selected outputs."""
        return tuple(name for name, wanted in zip(OUTPUT_NAMES, self, strict=True) if wanted)


class EngineRequest(NamedTuple):
    """Keyword arguments of `BodyPixEngine.segment` (and its stages) for a selection."""

    part_labels: bool
    instances: bool


class FrameOutputs(NamedTuple):
    """One frame's result and its selected output images at the frame's resolution.

    images: output name -> (H, W) uint8 for MONO_OUTPUTS, else (H, W, 3) uint8 RGB.
    An output the result lacks (instances with the decode disabled) is left out.
    """

    result: SegmentationResult
    images: Dict[str, np.ndarray]


def engine_request(selection: OutputSelection, config: RenderConfig) -> EngineRequest:
    """Which expensive stages the selected outputs need.

    overlay_mode decides the overlay's, the anonymize target the anonymized output's.
    """
    overlay_mode = config.overlay_mode if selection.overlay else None
    multi_person = config.settings.multi_person.enabled
    parts_to_cover = selection.anonymized and config.anonymize.needs_part_labels
    return EngineRequest(
        part_labels=selection.part_labels or overlay_mode in PART_OVERLAY_MODES or parts_to_cover,
        instances=multi_person and (selection.instances or overlay_mode == "persons"))


def render_outputs(rgb: np.ndarray, result: SegmentationResult, selection: OutputSelection,
                   config: RenderConfig) -> Dict[str, np.ndarray]:
    """The selected output images of `result` on the (H, W, 3) uint8 RGB frame."""
    labels = {"mask": result.person_mask, "part_labels": result.part_labels,
              "instances": result.instances}
    images = {name: labels[name] for name in selection.names
              if name in labels and labels[name] is not None}
    if selection.overlay:
        images["overlay"] = render_overlay(rgb, result, config.overlay_mode, config.overlay_alpha)
    if selection.anonymized:
        images["anonymized"] = anonymize(rgb, result, config.anonymize)
    return images


class StartedFrame(NamedTuple):
    """A frame whose network stage ran (`start_frame`); `finish_frame` makes its outputs.

    rgb: (H, W, 3) uint8 RGB frame; run: the engine's NetworkRun of it; request: what the
    selection needs of the engine; selection, config: as given to `start_frame`.
    """

    rgb: np.ndarray
    run: object
    request: EngineRequest
    selection: OutputSelection
    config: RenderConfig


def segment_frame(engine, rgb: np.ndarray, selection: OutputSelection,
                  config: RenderConfig) -> FrameOutputs:
    """Run `engine` on the (H, W, 3) uint8 RGB frame for the selected outputs."""
    return finish_frame(engine, start_frame(engine, rgb, selection, config))


def start_frame(engine, rgb: np.ndarray, selection: OutputSelection,
                config: RenderConfig) -> StartedFrame:
    """The network stage of `segment_frame` (TensorFlow's part)."""
    request = engine_request(selection, config)
    run = engine.run_network(rgb, config.settings, part_labels=request.part_labels)
    return StartedFrame(rgb, run, request, selection, config)


def finish_frame(engine, started: StartedFrame) -> FrameOutputs:
    """The rest of `segment_frame`: decode and draw (numpy and OpenCV, no TensorFlow)."""
    request, config = started.request, started.config
    result = engine.decode(started.run, config.settings, part_labels=request.part_labels,
                           instances=request.instances)
    return FrameOutputs(result, render_outputs(started.rgb, result, started.selection, config))
