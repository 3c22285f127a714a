"""Output selection by subscriber counts, and the frame -> engine -> output messages path.

ROS 2 message stand-ins come from rosbags; the model-dependent tests use the real default
model from ../shared.
"""

import dataclasses

import cv2
import numpy as np
import pytest
from conftest import ONE_PERSON, live_defaults, reference_input, ros2_types

from bodypix_ros.frame_outputs import (
    OUTPUT_NAMES,
    OutputSelection,
    engine_request,
    render_outputs,
    segment_frame,
)
from bodypix_ros.render import render_overlay
from bodypix_ros.result import SegmentationResult
from bodypix_ros.ros.image_codec import color_fields, decode_compressed, decode_image
from bodypix_ros.ros.outputs import (
    FailClosedLatch,
    multi_person_missing,
    output_fields,
    output_messages,
    select_outputs,
)
from bodypix_ros.ros.params import updated_live_config


def live(**changes):
    """The live config after `changes` (parameter name -> value) on top of the defaults."""
    return updated_live_config(live_defaults(), changes)


def ros_header(sec=0, nanosec=0, frame_id=""):
    types = ros2_types()
    return types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id
    )


def render_fields(frame, result, selection, config, message=None):
    """The node's output image fields of `result` on a frame decoded from `message`."""
    return output_fields(render_outputs(frame.rgb, result, selection, config), frame, message)


def segment_fields(engine, frame, selection, config, message=None):
    """(result, output image fields) of a frame decoded from `message`, as the node has them."""
    outputs = segment_frame(engine, frame.rgb, selection, config)
    return outputs.result, output_fields(outputs.images, frame, message)


class RecordingEngine:
    """Delegates to a real engine and records the keyword arguments of every decode call."""

    def __init__(self, engine):
        self.engine = engine
        self.calls = []

    def run_network(self, frame, settings, **kwargs):
        return self.engine.run_network(frame, settings, **kwargs)

    def decode(self, run, settings, **kwargs):
        self.calls.append(kwargs)
        return self.engine.decode(run, settings, **kwargs)


def test_fail_closed_latch_closes_on_the_first_loss_while_enabled_until_reset():
    latch = FailClosedLatch()
    assert not latch.frame_lost(False, "dropped while disabled") and not latch.closed
    assert latch.frame_lost(True, "a frame failed") and latch.closed
    assert not latch.frame_lost(True, "another one")  # closing is logged once
    assert latch.cause == "a frame failed"
    latch.reset()
    assert not latch.closed and latch.cause is None


def test_no_subscriber_means_no_inference():
    selection = select_outputs({name: 0 for name in OUTPUT_NAMES}, multi_person_enabled=True)
    assert not selection.any and selection.names == ()
    assert not select_outputs({}, multi_person_enabled=True).any


def test_only_subscribed_enabled_outputs_are_selected():
    selection = select_outputs(
        {"mask": 2, "overlay": 0, "part_labels": 1}, multi_person_enabled=False
    )
    assert selection == OutputSelection(
        mask=True, part_labels=True, instances=False, overlay=False, anonymized=False
    )
    assert selection.names == ("mask", "part_labels")


def test_instances_need_the_multi_person_decode_enabled():
    counts = {"instances": 1}
    assert not select_outputs(counts, multi_person_enabled=False).any
    assert select_outputs(counts, multi_person_enabled=True).names == ("instances",)


@pytest.mark.parametrize("counts,mode,enabled,missing", [
    ({"instances": 1}, "parts", False, True),
    ({"overlay": 1}, "persons", False, True),
    ({"overlay": 1}, "parts", False, False),
    ({"overlay": 0, "instances": 0}, "persons", False, False),
    ({"instances": 1, "overlay": 1}, "persons", True, False),
])
def test_multi_person_missing_when_its_outputs_are_wanted_but_disabled(
    counts, mode, enabled, missing
):
    config = live(overlay_mode=mode, **{"multi_person.enabled": enabled})
    assert multi_person_missing(counts, config) is missing


@pytest.mark.parametrize("selected,mode,enabled,expected", [
    (("mask",), "parts", True, (False, False)),
    (("part_labels",), "mask", True, (True, False)),
    (("overlay",), "parts", False, (True, False)),
    (("overlay",), "mask", True, (False, False)),
    (("overlay",), "persons", True, (False, True)),
    (("overlay",), "persons", False, (False, False)),
    (("instances",), "parts", True, (False, True)),
    (("mask", "instances"), "parts", False, (False, False)),
])
def test_engine_stages_follow_the_selected_outputs(selected, mode, enabled, expected):
    selection = OutputSelection(**{name: name in selected for name in OUTPUT_NAMES})
    config = live(overlay_mode=mode, **{"multi_person.enabled": enabled})
    assert tuple(engine_request(selection, config)) == expected


def synthetic_result(height=6, width=8):
    """A small hand-made result: a person block with two parts and one instance."""
    mask = np.zeros((height, width), np.uint8)
    mask[1:5, 2:6] = 255
    parts = np.where(mask > 0, 13, 0).astype(np.uint8)
    parts[1, 2:6] = 1
    instances = (mask > 0).astype(np.uint8)
    return SegmentationResult(person_mask=mask, part_labels=parts, instances=instances)


@pytest.mark.parametrize("bgr_ordered", [False, True])
def test_overlay_goes_out_in_the_inputs_channel_order(bgr_ordered):
    types = ros2_types()
    rgb = np.random.default_rng(3).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    message = types["sensor_msgs/msg/Image"](header=ros_header(frame_id="cam"),
                                             **color_fields(rgb, bgr_ordered)._asdict())
    frame = decode_image(message)
    result = synthetic_result()
    config = live(overlay_mode="parts", overlay_alpha=0.5)
    outputs = render_fields(frame, result, OutputSelection(*[True] * len(OUTPUT_NAMES)), config,
                            message)
    assert set(outputs) == set(OUTPUT_NAMES)
    assert outputs["overlay"].encoding == ("bgr8" if bgr_ordered else "rgb8")
    assert outputs["anonymized"].encoding == ("bgr8" if bgr_ordered else "rgb8")
    header = ros_header(5, 6, "cam")
    messages = output_messages(types["sensor_msgs/msg/Image"], header, outputs)
    expected_overlay = render_overlay(rgb, result, "parts", 0.5)
    np.testing.assert_array_equal(decode_image(messages["overlay"]).rgb, expected_overlay)
    for name, image in (("mask", result.person_mask), ("part_labels", result.part_labels),
                        ("instances", result.instances)):
        assert messages[name].encoding == "mono8"
        np.testing.assert_array_equal(np.asarray(messages[name].data).reshape(image.shape), image)


def test_outputs_the_result_lacks_are_left_out():
    result = dataclasses.replace(synthetic_result(), part_labels=None, instances=None)
    frame = decode_image(_rgb8_message(np.zeros((6, 8, 3), np.uint8)))
    outputs = render_fields(frame, result, OutputSelection(True, True, True, False, False), live())
    assert set(outputs) == {"mask"}


def test_output_messages_carry_the_input_header_and_wrap_data():
    types = ros2_types()
    header = ros_header(1234, 5678, "camera_optical")
    outputs = render_fields(
        decode_image(_rgb8_message(np.zeros((6, 8, 3), np.uint8))),
        synthetic_result(),
        OutputSelection(True, False, False, True, False),
        live(overlay_mode="mask"),
    )
    wrapped = []
    messages = output_messages(types["sensor_msgs/msg/Image"], header, outputs,
                               wrap_data=lambda data: wrapped.append(len(data)) or data)
    assert sorted(wrapped) == sorted(len(fields.data) for fields in outputs.values())
    for message in messages.values():
        assert message.header.stamp.sec == 1234 and message.header.stamp.nanosec == 5678
        assert message.header.frame_id == "camera_optical"
        assert (message.height, message.width) == (6, 8)


def _rgb8_message(rgb, sec=0, nanosec=0, frame_id=""):
    return ros2_types()["sensor_msgs/msg/Image"](header=ros_header(sec, nanosec, frame_id),
                                                 **color_fields(rgb)._asdict())


def input_messages(rgb):
    """The same picture as raw messages in several encodings and as a PNG CompressedImage."""
    types = ros2_types()
    header = ros_header(1700000000, 42, "camera")
    height, width = rgb.shape[:2]
    alpha = np.full((height, width, 1), 255, np.uint8)
    layouts = {"rgb8": rgb, "bgr8": rgb[:, :, ::-1], "rgba8": np.concatenate([rgb, alpha], axis=2),
               "bgra8": np.concatenate([rgb[:, :, ::-1], alpha], axis=2)}
    messages = {}
    for encoding, pixels in layouts.items():
        data = np.ascontiguousarray(pixels).reshape(-1)
        messages[encoding] = types["sensor_msgs/msg/Image"](
            header=header, height=height, width=width, encoding=encoding, is_bigendian=0,
            step=width * pixels.shape[2], data=data)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    messages["png"] = types["sensor_msgs/msg/CompressedImage"](
        header=header, format="bgr8; png compressed bgr8", data=png.reshape(-1))
    return messages


def test_every_encoding_gives_all_outputs_at_input_size_with_input_header(engine):
    types = ros2_types()
    rgb = cv2.resize(reference_input(ONE_PERSON), (320, 240), interpolation=cv2.INTER_AREA)
    reference = engine.segment(rgb, live().settings)
    recording = RecordingEngine(engine)
    selection = OutputSelection(mask=True, part_labels=True, instances=False, overlay=True,
                                anonymized=False)
    for name, message in input_messages(rgb).items():
        frame = decode_compressed(message) if name == "png" else decode_image(message)
        _, outputs = segment_fields(recording, frame, selection, live(), message)
        messages = output_messages(types["sensor_msgs/msg/Image"], message.header, outputs)
        assert set(messages) == {"mask", "part_labels", "overlay"}, name
        for output in messages.values():
            assert output.header == message.header, name
            assert (output.height, output.width) == rgb.shape[:2], name
        assert messages["overlay"].encoding == (
            "bgr8" if name in ("bgr8", "bgra8", "png") else "rgb8"
        )
        mask = np.asarray(messages["mask"].data).reshape(rgb.shape[:2])
        np.testing.assert_array_equal(mask, reference.person_mask, err_msg=name)
        labels = np.asarray(messages["part_labels"].data).reshape(rgb.shape[:2])
        np.testing.assert_array_equal(labels, reference.part_labels, err_msg=name)
    assert all(call == {"part_labels": True, "instances": False} for call in recording.calls)
    assert (reference.person_mask > 0).mean() > 0.05  # the photo does show a person


def test_mask_only_skips_part_labels_and_instances(engine):
    rgb = cv2.resize(reference_input(ONE_PERSON), (160, 120), interpolation=cv2.INTER_AREA)
    recording = RecordingEngine(engine)
    config = live(**{"multi_person.enabled": True})
    result, outputs = segment_fields(recording, decode_image(_rgb8_message(rgb)),
                                    select_outputs({"mask": 1}, multi_person_enabled=True), config)
    assert recording.calls == [{"part_labels": False, "instances": False}]
    assert result.part_labels is None and result.instances is None
    assert set(outputs) == {"mask"}


def test_instances_are_published_when_subscribed_and_enabled(engine):
    rgb = cv2.resize(reference_input(ONE_PERSON), (320, 240), interpolation=cv2.INTER_AREA)
    recording = RecordingEngine(engine)
    config = live(**{"multi_person.enabled": True}, overlay_mode="persons")
    selection = select_outputs({"instances": 1, "overlay": 1}, multi_person_enabled=True)
    result, outputs = segment_fields(
        recording, decode_image(_rgb8_message(rgb)), selection, config
    )
    assert recording.calls == [{"part_labels": False, "instances": True}]
    assert set(outputs) == {"instances", "overlay"}
    instances = np.asarray(outputs["instances"].data).reshape(rgb.shape[:2])
    np.testing.assert_array_equal(instances, result.instances)
    assert instances.max() >= 1 and not instances[result.person_mask == 0].any()


@pytest.mark.parametrize("target,mode,part_labels", [
    ("persons", "mask", False), ("faces", "mask", True), ("left_hand", "mask", True),
    ("persons", "blur_parts", True), ("persons", "pixelate", True), ("persons", "bokeh", False),
])
def test_part_labels_are_computed_for_part_targets_and_part_effects(target, mode, part_labels):
    selection = OutputSelection.of(("overlay", "anonymized"))
    config = live(overlay_mode=mode, **{"anonymize.target": target})
    assert engine_request(selection, config).part_labels is part_labels
    assert not engine_request(OutputSelection.of(("mask",)), config).part_labels


def test_a_frame_without_persons_passes_unchanged_through_the_anonymized_output():
    types = ros2_types()
    rgb = np.random.default_rng(4).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    message = _rgb8_message(rgb)
    result = SegmentationResult(person_mask=np.zeros((6, 8), np.uint8))
    outputs = render_fields(decode_image(message), result, OutputSelection.of(("anonymized",)),
                            live(), message)
    published = output_messages(types["sensor_msgs/msg/Image"], message.header, outputs)
    np.testing.assert_array_equal(published["anonymized"].data, message.data)
    covered = render_fields(decode_image(message), synthetic_result(),
                            OutputSelection.of(("anonymized",)),
                            live(**{"anonymize.method": "fill", "anonymize.margin": 0}), message)
    pixels = np.asarray(covered["anonymized"].data).reshape(6, 8, 3)
    assert (pixels[synthetic_result().person_mask > 0] == 0).all()
