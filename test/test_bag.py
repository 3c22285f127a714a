"""`bodypix-ros bag` run in-process on a small rosbag2 built from the reference photos."""

import logging
import sys

import cv2
import numpy as np
import pytest
from conftest import REFERENCE_STEMS, reference_input, run_cli
from hostile_inputs import jpeg_declaring
from PIL import Image

from bodypix_ros.cli import bag
from bodypix_ros.render import render_overlay
from bodypix_ros.settings import SegmentationSettings

rosbags = pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
from rosbags.rosbag2 import Reader, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
RAW_TOPIC = "/camera/image_raw"
COMPRESSED_TOPIC = "/camera/image_raw/compressed"
FRAME_SIZE = (320, 240)
"""(width, height) of the bag's frames: reference photos downscaled, to keep the test fast."""


def small_photo(index: int) -> np.ndarray:
    """(240, 320, 3) uint8 RGB reference photo number `index`."""
    stem = REFERENCE_STEMS[index % len(REFERENCE_STEMS)]
    return np.asarray(Image.fromarray(reference_input(stem)).resize(FRAME_SIZE, Image.BILINEAR))


def header(index: int):
    types = TYPESTORE.types
    return types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=1_000 + index, nanosec=1_000 * index),
        frame_id=f"camera_{index}")


def raw_image(index: int, encoding: str, pixels: np.ndarray, row_padding: int = 0):
    """sensor_msgs/Image of `pixels` (H, W[, C]) with `row_padding` extra bytes per row."""
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.pad(rows, ((0, 0), (0, row_padding)))
    return TYPESTORE.types["sensor_msgs/msg/Image"](
        header=header(index), height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
        is_bigendian=0, step=padded.shape[1], data=padded.reshape(-1))


def compressed_image(index: int, image_format: str, extension: str, rgb: np.ndarray):
    ok, data = cv2.imencode(extension, np.ascontiguousarray(rgb[:, :, ::-1]))
    assert ok
    return TYPESTORE.types["sensor_msgs/msg/CompressedImage"](
        header=header(index), format=image_format, data=data.reshape(-1))


def bag_timestamp(index: int) -> int:
    """Receive time in the bag (ns), unlike the header stamp."""
    return 5_000_000_000 + 100_000_000 * index


class InputBag:
    """The test bag: messages per topic, and the RGB frame each message should decode to (None:
    skipped)."""

    def __init__(self, path):
        self.path = path
        gray = np.asarray(Image.fromarray(small_photo(2)).convert("L"))
        jpeg = compressed_image(5, "rgb8; jpeg compressed bgr8", ".jpg", small_photo(2))
        self.messages = {
            RAW_TOPIC: [
                (raw_image(0, "rgb8", small_photo(0), row_padding=8), small_photo(0)),
                (raw_image(1, "bgr8", small_photo(1)[:, :, ::-1]), small_photo(1)),
                (raw_image(2, "32FC1", np.zeros(FRAME_SIZE[::-1], np.float32)), None),
                (raw_image(3, "mono8", gray), np.repeat(gray[:, :, None], 3, axis=2)),
                (raw_image(4, "32FC1", np.ones(FRAME_SIZE[::-1], np.float32)), None),
            ],
            COMPRESSED_TOPIC: [
                (jpeg, cv2.imdecode(jpeg.data, cv2.IMREAD_COLOR)[:, :, ::-1]),
                (
                    compressed_image(6, "bgr8; png compressed bgr8", ".png", small_photo(3)),
                    small_photo(3),
                ),
            ],
        }
        with Writer(path, version=8) as writer:
            for topic, items in self.messages.items():
                msgtype = type(items[0][0]).__msgtype__
                connection = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
                for message, _ in items:
                    stamp = message.header.stamp
                    writer.write(connection, bag_timestamp(stamp.sec - 1_000),
                                 TYPESTORE.serialize_cdr(message, msgtype))
            chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=TYPESTORE)
            writer.write(
                chatter,
                bag_timestamp(0),
                TYPESTORE.serialize_cdr(
                    TYPESTORE.types["std_msgs/msg/String"](data="not an image"),
                    "std_msgs/msg/String",
                ),
            )


@pytest.fixture(scope="module")
def input_bag(tmp_path_factory):
    return InputBag(tmp_path_factory.mktemp("bags") / "input")


def run_bag(capsys, *arguments):
    """`bodypix-ros bag ARGUMENTS` on the shared models -> (status, stderr lines)."""
    status, _, stderr = run_cli(capsys, "bag", *arguments)
    return status, stderr


def read_bag(path):
    """Topic -> [(bag timestamp, message type, message)] in bag order."""
    topics = {}
    with Reader(path) as reader:
        for connection, timestamp, raw in reader.messages():
            message = TYPESTORE.deserialize_cdr(raw, connection.msgtype)
            topics.setdefault(connection.topic, []).append(
                (timestamp, connection.msgtype, message)
            )
    return topics


def image_pixels(message) -> np.ndarray:
    """(H, W) mono8 or (H, W, 3) rgb8/bgr8 pixels of an output Image (no row padding)."""
    channels = {"mono8": 1, "rgb8": 3, "bgr8": 3}[message.encoding]
    assert message.step == message.width * channels
    pixels = message.data.reshape(message.height, message.width, channels)
    return pixels[:, :, 0] if channels == 1 else pixels


def check_output(output, source, frame):
    """An output (timestamp, type, message) carries its source message's header, timestamp and
    size."""
    timestamp, msgtype, message = output
    assert msgtype == "sensor_msgs/msg/Image"
    assert timestamp == bag_timestamp(source.header.stamp.sec - 1_000)
    assert (message.header.stamp.sec, message.header.stamp.nanosec, message.header.frame_id) == (
        source.header.stamp.sec, source.header.stamp.nanosec, source.header.frame_id)
    assert (message.height, message.width) == frame.shape[:2]
    return image_pixels(message)


def test_raw_images_become_mask_parts_and_overlay_topics(
    input_bag, engine, capsys, caplog, tmp_path
):
    output_bag = tmp_path / "segmented"
    with caplog.at_level(logging.WARNING, logger="bodypix_ros"):
        status, stderr = run_bag(
            capsys,
            input_bag.path,
            "--topic",
            RAW_TOPIC,
            "--output-bag",
            output_bag,
            "--progress-every",
            "1",
        )

    assert status == 0, stderr
    topics = read_bag(output_bag)
    assert sorted(topics) == ["/bodypix/mask", "/bodypix/overlay", "/bodypix/part_labels"]
    segmented = [
        (message, frame) for message, frame in input_bag.messages[RAW_TOPIC] if frame is not None
    ]
    assert all(len(outputs) == len(segmented) for outputs in topics.values())
    for position, (source, frame) in enumerate(segmented):
        result = engine.segment(frame, SegmentationSettings())
        mask = check_output(topics["/bodypix/mask"][position], source, frame)
        parts = check_output(topics["/bodypix/part_labels"][position], source, frame)
        overlay = check_output(topics["/bodypix/overlay"][position], source, frame)
        assert 0.05 < np.mean(mask == 255) < 0.95
        np.testing.assert_array_equal(mask, result.person_mask)
        np.testing.assert_array_equal(parts, result.part_labels)
        blue_first = source.encoding == "bgr8"
        assert topics["/bodypix/overlay"][position][2].encoding == (
            "bgr8" if blue_first else "rgb8"
        )
        expected_overlay = render_overlay(frame, result, "parts", 0.7)
        np.testing.assert_array_equal(
            overlay, expected_overlay[:, :, ::-1] if blue_first else expected_overlay
        )

    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and record.name.startswith("bodypix_ros")
    ]
    assert len(warnings) == 1 and "32FC1" in warnings[0]
    progress = [line for line in stderr if line.startswith("[")]
    assert [line.split()[0] for line in progress] == ["[1/5]", "[2/5]", "[4/5]"]
    assert (
        "5 frames in, 3 segmented, 2 skipped (encoding '32FC1': 2); 9 images written" in stderr[-1]
    )


def test_compressed_images_with_instances_into_mcap(input_bag, engine, capsys, tmp_path):
    output_bag = tmp_path / "segmented"
    status, stderr = run_bag(
        capsys,
        input_bag.path,
        "--topic",
        COMPRESSED_TOPIC,
        "--output-bag",
        output_bag,
        "--multi-person",
        "--outputs",
        "instances,overlay",
        "--topic-prefix",
        "seg",
        "--storage",
        "mcap",
    )

    assert status == 0, stderr
    assert list(output_bag.glob("*.mcap"))
    topics = read_bag(output_bag)
    assert sorted(topics) == ["/seg/instances", "/seg/overlay"]
    settings = SegmentationSettings().with_changes(**{"multi_person.enabled": True})
    for position, (source, frame) in enumerate(input_bag.messages[COMPRESSED_TOPIC]):
        result = engine.segment(frame, settings, part_labels=False, instances=True)
        instances = check_output(topics["/seg/instances"][position], source, frame)
        overlay = check_output(topics["/seg/overlay"][position], source, frame)
        assert instances.max() >= 1
        np.testing.assert_array_equal(instances, result.instances)
        expected_overlay = render_overlay(frame, result, "persons", 0.7)
        blue_first = source.format.startswith("bgr8")
        np.testing.assert_array_equal(
            overlay, expected_overlay[:, :, ::-1] if blue_first else expected_overlay
        )


def test_interrupt_keeps_a_valid_bag_of_the_frames_done(input_bag, capsys, monkeypatch, tmp_path):
    calls = []

    def segment_then_interrupt(*arguments):
        calls.append(arguments)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real_segment_frame(*arguments)

    real_segment_frame = bag.segment_frame
    monkeypatch.setattr(bag, "segment_frame", segment_then_interrupt)
    output_bag = tmp_path / "partial"
    status, stderr = run_bag(
        capsys,
        input_bag.path,
        "--topic",
        RAW_TOPIC,
        "--output-bag",
        output_bag,
        "--outputs",
        "mask",
    )

    assert status == 130
    assert stderr[-1] == "bodypix-ros: error: interrupted"
    assert [len(messages) for messages in read_bag(output_bag).values()] == [1]


@pytest.mark.parametrize("arguments, status, message", [
    (["--topic", "/missing"], 2, f"in the bag: {RAW_TOPIC} (sensor_msgs/msg/Image), "
                                 f"{COMPRESSED_TOPIC} (sensor_msgs/msg/CompressedImage)"),
    (["--topic", "/chatter"], 2, "carries std_msgs/msg/String"),
    (["--topic", RAW_TOPIC, "--outputs", "instances"], 2, "needs --multi-person"),
    (["--topic", RAW_TOPIC, "--overlay-mode", "persons"], 2, "needs --multi-person"),
    (["--topic", RAW_TOPIC, "--outputs", "mask,depth"], 2, "is not a comma-separated list"),
    (["--topic", "/bodypix/mask"], 2, "is the input topic"),
])
def test_bad_command_lines_fail_with_one_line(
    input_bag, capsys, tmp_path, arguments, status, message
):
    output_bag = tmp_path / "never"
    result, stderr = run_bag(capsys, input_bag.path, "--output-bag", output_bag, *arguments)

    assert result == status
    assert len(stderr) == 1 and stderr[0].startswith("bodypix-ros") and message in stderr[0]
    assert not output_bag.exists()


def test_existing_output_missing_input_and_missing_rosbags(
    input_bag, capsys, monkeypatch, tmp_path
):
    existing = tmp_path / "existing"
    existing.mkdir()
    assert run_bag(capsys, input_bag.path, "--topic", RAW_TOPIC, "--output-bag", existing) == (
        1,
        [
            f"bodypix-ros: error: output bag {existing} exists already; "
            f"remove it or choose another --output-bag"
        ],
    )
    status, stderr = run_bag(
        capsys, tmp_path / "absent", "--topic", RAW_TOPIC, "--output-bag", tmp_path / "o"
    )
    assert status == 2 and "no such bag" in stderr[0]

    for module in ("rosbags", "rosbags.rosbag2", "rosbags.typesys"):  # as if never installed
        monkeypatch.setitem(sys.modules, module, None)
    status, stderr = run_bag(
        capsys, input_bag.path, "--topic", RAW_TOPIC, "--output-bag", tmp_path / "o"
    )
    assert status == 1 and "pip install rosbags" in stderr[0]


def test_a_failed_run_leaves_nothing_and_a_rerun_works(input_bag, capsys, monkeypatch, tmp_path):
    def fail(*arguments):
        raise RuntimeError("segmentation failed")

    with monkeypatch.context() as patch:
        patch.setattr(bag, "segment_frame", fail)
        output_bag = tmp_path / "failed"
        with pytest.raises(RuntimeError, match="segmentation failed"):
            run_bag(capsys, input_bag.path, "--topic", RAW_TOPIC, "--output-bag", output_bag)
    assert list(tmp_path.iterdir()) == []  # neither the bag nor its staging folder
    status, stderr = run_bag(capsys, input_bag.path, "--topic", RAW_TOPIC, "--output-bag",
                             output_bag, "--outputs", "mask")
    assert status == 0, stderr
    assert len(read_bag(output_bag)["/bodypix/mask"]) == 3


def corrupt_cdr(raw: bytes) -> bytes:
    """Serialized sensor_msgs message whose header.frame_id declares 0xFFFFFFF0 characters."""
    corrupt = bytearray(raw)
    corrupt[12:16] = (0xFFFFFFF0).to_bytes(4, "little")  # CDR header, stamp (8 bytes), length
    return bytes(corrupt)


def test_corrupt_and_oversized_messages_are_skipped_and_the_rest_is_written(
        engine, capsys, caplog, tmp_path):
    """Two corrupt CDR messages and two 631-byte JPEGs declaring 8000x8000 among good frames."""
    good = [compressed_image(index, "rgb8; png compressed bgr8", ".png", small_photo(index))
            for index in range(3)]
    bomb = TYPESTORE.types["sensor_msgs/msg/CompressedImage"](
        header=header(7), format="jpeg", data=np.frombuffer(jpeg_declaring(8000, 8000), np.uint8))
    msgtype = "sensor_msgs/msg/CompressedImage"
    serialized = [TYPESTORE.serialize_cdr(message, msgtype) for message in good]
    recorded = [serialized[0], corrupt_cdr(serialized[1]), TYPESTORE.serialize_cdr(bomb, msgtype),
                serialized[1], corrupt_cdr(serialized[0]), TYPESTORE.serialize_cdr(bomb, msgtype),
                serialized[2]]
    input_path = tmp_path / "hostile"
    with Writer(input_path, version=8) as writer:
        connection = writer.add_connection(COMPRESSED_TOPIC, msgtype, typestore=TYPESTORE)
        for index, raw in enumerate(recorded):
            writer.write(connection, bag_timestamp(index), raw)
    output_bag = tmp_path / "out" / "segmented"
    with caplog.at_level(logging.WARNING, logger="bodypix_ros"):
        status, stderr = run_bag(capsys, input_path, "--topic", COMPRESSED_TOPIC, "--output-bag",
                                 output_bag, "--outputs", "mask")

    assert status == 0, stderr
    assert (output_bag / "metadata.yaml").is_file()
    masks = read_bag(output_bag)["/bodypix/mask"]
    assert [message.header.stamp.sec for _, _, message in masks] == [1_000, 1_001, 1_002]
    warnings = [record.getMessage() for record in caplog.records
                if record.levelno == logging.WARNING and record.name.startswith("bodypix_ros")]
    assert len(warnings) == 2
    assert "corrupt message" in warnings[0] and "over the pixel budget" in warnings[1]
    assert ("7 frames in, 3 segmented, 4 skipped (corrupt message: 2, over the pixel budget: 2)"
            in stderr[-1])
    assert [path.name for path in output_bag.parent.iterdir()] == ["segmented"]
