"""`bodypix-ros bag --anonymize`: a whole-bag copy with the image topics anonymized."""

import cv2
import numpy as np
import pytest
from conftest import REFERENCE_STEMS, reference_input, run_cli
from PIL import Image

from bodypix_ros.anonymize import AnonymizeSettings, anonymize
from bodypix_ros.ros.image_codec import decode_compressed, decode_image

rosbags = pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
from rosbags.interfaces import (  # noqa: E402
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
TYPES = TYPESTORE.types
RAW_TOPIC = "/camera/image_raw"
COMPRESSED_TOPIC = "/camera/image_raw/compressed"
SIZE = (320, 240)
"""(width, height) of the bag's frames."""
SENSOR_QOS = Qos(QosHistory.KEEP_LAST, 5, QosReliability.BEST_EFFORT, QosDurability.VOLATILE,
                 QosTime(0, 0), QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False)


def photo(index: int) -> np.ndarray:
    stem = REFERENCE_STEMS[index % len(REFERENCE_STEMS)]
    return np.asarray(Image.fromarray(reference_input(stem)).resize(SIZE, Image.BILINEAR))


def header(index: int):
    return TYPES["std_msgs/msg/Header"](
        stamp=TYPES["builtin_interfaces/msg/Time"](sec=100 + index, nanosec=7 * index),
        frame_id="camera")


def raw_image(index, encoding, pixels, padding=0):
    rows = np.pad(pixels.reshape(pixels.shape[0], -1), ((0, 0), (0, padding)))
    return TYPES["sensor_msgs/msg/Image"](
        header=header(index), height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
        is_bigendian=0, step=rows.shape[1], data=rows.reshape(-1))


def compressed_image(index, extension, rgb):
    ok, data = cv2.imencode(extension, np.ascontiguousarray(rgb[:, :, ::-1]))
    return TYPES["sensor_msgs/msg/CompressedImage"](
        header=header(index), format=f"bgr8; {extension[1:]} compressed bgr8",
        data=data.reshape(-1))


def transform(index):
    vector = TYPES["geometry_msgs/msg/Vector3"](x=float(index), y=0.5, z=-1.0)
    rotation = TYPES["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)
    stamped = TYPES["geometry_msgs/msg/TransformStamped"](
        header=header(index), child_frame_id="camera",
        transform=TYPES["geometry_msgs/msg/Transform"](translation=vector, rotation=rotation))
    return TYPES["tf2_msgs/msg/TFMessage"](transforms=[stamped])


def write_input_bag(path):
    """Four topics (raw and compressed images, /tf, /chatter) interleaved in time."""
    gray = np.asarray(Image.fromarray(photo(2)).convert("L"))
    messages = {
        RAW_TOPIC: [raw_image(0, "rgb8", photo(0), padding=8),
                    raw_image(1, "bgr8", photo(1)[:, :, ::-1].copy()),
                    raw_image(2, "mono8", gray)],
        COMPRESSED_TOPIC: [compressed_image(3, ".jpg", photo(3)),
                           compressed_image(4, ".png", photo(0))],
        "/tf": [transform(index) for index in range(4)],
        "/chatter": [TYPES["std_msgs/msg/String"](data=f"hello {index}") for index in range(3)],
    }
    qos = {RAW_TOPIC: [SENSOR_QOS], COMPRESSED_TOPIC: [SENSOR_QOS]}
    with Writer(path, version=8) as writer:
        for order, (topic, items) in enumerate(messages.items()):
            msgtype = type(items[0]).__msgtype__
            connection = writer.add_connection(topic, msgtype, typestore=TYPESTORE,
                                               offered_qos_profiles=qos.get(topic, []))
            for index, message in enumerate(items):
                writer.write(connection, 10**9 * index + order,
                             TYPESTORE.serialize_cdr(message, msgtype))


def read_bag(path):
    """(connections by topic, topic -> [(timestamp, CDR bytes)])."""
    with Reader(path) as reader:
        connections = {c.topic: c for c in reader.connections}
        messages = {}
        for connection, timestamp, raw in reader.messages():
            messages.setdefault(connection.topic, []).append((timestamp, bytes(raw)))
    return connections, messages


@pytest.fixture(scope="module")
def input_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("bags") / "input"
    write_input_bag(path)
    return path


@pytest.mark.parametrize("target", ["persons", "faces"])
def test_the_copy_keeps_every_message_and_anonymizes_only_the_images(
        input_bag, engine, capsys, tmp_path, target):
    output = tmp_path / "anonymized"
    status, _, stderr = run_cli(capsys, "bag", input_bag, "--anonymize", "--anonymize-target",
                                target, "--anonymize-method", "fill", "--output-bag", output)
    assert status == 0, stderr
    assert "12 messages copied on 4 topics; 5 of 5 images anonymized, 0 dropped" in stderr[-1]
    connections_in, messages_in = read_bag(input_bag)
    connections_out, messages_out = read_bag(output)
    assert set(connections_out) == set(connections_in)
    for topic, connection in connections_in.items():
        copy = connections_out[topic]
        assert (copy.msgtype, copy.digest, copy.msgdef, copy.ext) == (
            connection.msgtype, connection.digest, connection.msgdef, connection.ext), topic
        assert [t for t, _ in messages_out[topic]] == [t for t, _ in messages_in[topic]], topic
    for topic in ("/tf", "/chatter"):
        assert messages_out[topic] == messages_in[topic]
    settings = AnonymizeSettings(target=target, method="fill")
    for topic in (RAW_TOPIC, COMPRESSED_TOPIC):
        msgtype = connections_in[topic].msgtype
        decode = decode_image if topic == RAW_TOPIC else decode_compressed
        for (_, before), (_, after) in zip(messages_in[topic], messages_out[topic], strict=True):
            source = TYPESTORE.deserialize_cdr(before, msgtype)
            copy = TYPESTORE.deserialize_cdr(after, msgtype)
            assert copy.header == source.header
            frame = decode(source).rgb
            expected = anonymize(frame, engine.segment(frame), settings)
            assert (expected != frame).any()  # someone was covered
            if topic == RAW_TOPIC:
                assert (copy.encoding, copy.height, copy.width, copy.step) == (
                    source.encoding, source.height, source.width, source.step)
                decoded = decode_image(copy).rgb
                if source.encoding == "mono8":  # stays gray: compare one channel
                    expected = np.repeat(cv2.cvtColor(expected, cv2.COLOR_RGB2GRAY)[:, :, None],
                                         3, axis=2)
                np.testing.assert_array_equal(decoded, expected)
            else:
                assert copy.format == source.format
                assert bytes(copy.data[:4]) == bytes(source.data[:4])  # same codec
                decoded = decode_compressed(copy).rgb
                assert decoded.shape == frame.shape
                assert np.abs(decoded.astype(int) - expected).mean() < 3


def test_chosen_topics_only_and_undecodable_images_are_dropped_not_copied(
        input_bag, capsys, tmp_path):
    output = tmp_path / "raw_only"
    status, _, stderr = run_cli(capsys, "bag", input_bag, "--anonymize", "--topic", RAW_TOPIC,
                                "--output-bag", output)
    assert status == 0, stderr
    _, messages_in = read_bag(input_bag)
    _, messages_out = read_bag(output)
    assert messages_out[COMPRESSED_TOPIC] == messages_in[COMPRESSED_TOPIC]
    assert all(a != b for (_, a), (_, b) in zip(messages_out[RAW_TOPIC], messages_in[RAW_TOPIC],
                                                 strict=True))

    broken = tmp_path / "broken"
    with Writer(broken, version=8) as writer:
        connection = writer.add_connection(RAW_TOPIC, "sensor_msgs/msg/Image", typestore=TYPESTORE)
        depth = raw_image(0, "32FC1", np.zeros((4, 4), np.float32).view(np.uint8))
        writer.write(connection, 1, TYPESTORE.serialize_cdr(depth, "sensor_msgs/msg/Image"))
    status, _, stderr = run_cli(capsys, "bag", broken, "--anonymize", "--output-bag",
                                tmp_path / "out")
    assert status == 0, stderr
    assert "0 messages copied on 1 topics; 0 of 1 images anonymized, 1 dropped" in stderr[-1]
    assert read_bag(tmp_path / "out")[1] == {}


@pytest.mark.parametrize("arguments, message", [
    (["--anonymize", "--topic", "/chatter"], "carries std_msgs/msg/String"),
    (["--anonymize", "--anonymize-target", "wings"], "unknown part name"),
    (["--topic", RAW_TOPIC, "--topic", COMPRESSED_TOPIC], "exactly one --topic"),
])
def test_bad_anonymize_command_lines_fail_with_one_line(input_bag, capsys, tmp_path, arguments,
                                                        message):
    status, _, stderr = run_cli(capsys, "bag", input_bag, "--output-bag", tmp_path / "never",
                                *arguments)
    assert status == 2 and len(stderr) == 1 and message in stderr[0]
    assert not (tmp_path / "never").exists()
