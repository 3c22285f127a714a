"""The segment node in-process on real rclpy (Humble, Jazzy).

Runs where rclpy imports (the `ros` extra, or a sourced ROS 2); elsewhere the whole module is
skipped with the reason (a failure with BODYPIX_REQUIRE_ROS=1, as in CI).
Each test starts the node in its own namespace on a private rclpy context, talks to it
through real topics and parameter services, and waits on conditions (never on timings).
"""

import itertools
import os
import threading
import time
import types

import numpy as np
import pytest
from conftest import ONE_PERSON, import_ros, load_engine, parameter_defaults, reference_input

rclpy = import_ros()
pytestmark = pytest.mark.ros

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rcl_interfaces.msg import Parameter as ParameterMessage  # noqa: E402
from rcl_interfaces.msg import ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from bodypix_ros.errors import ModelError  # noqa: E402
from bodypix_ros.ros import node as segment_node  # noqa: E402
from bodypix_ros.ros.image_codec import byte_array, color_fields  # noqa: E402
from bodypix_ros.ros.outputs import output_messages  # noqa: E402
from bodypix_ros.ros.params import live_config  # noqa: E402
from bodypix_ros.ros.runtime import diagnostic_name  # noqa: E402

OUTPUTS = ("mask", "part_labels", "instances", "overlay")
"""The outputs whose content every frame has (the anonymized output is tested apart)."""
WAIT_S = 120.0
"""Upper bound of every wait for a condition (model warm-up on a slow CI machine included)."""
RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                      reliability=ReliabilityPolicy.RELIABLE)
_namespaces = itertools.count()


class CountingEngine:
    """The real engine, recording every frame it decodes (frame size, settings, keyword arguments).

    failures_left: how many of the next frames raise instead of segmenting, in the stage
    `failing_stage` names: "network" (the node's first worker) or "decode" (its second).
    """

    def __init__(self, engine):
        self.engine = engine
        self.model_name, self.threads = engine.model_name, engine.threads
        self.calls = []
        self.failures_left = 0
        self.failing_stage = "decode"

    def run_network(self, frame, settings, **kwargs):
        self._maybe_fail("network")
        return self.engine.run_network(frame, settings, **kwargs)

    def decode(self, run, settings, **kwargs):
        self.calls.append((run.geometry.frame_size, settings, kwargs))
        self._maybe_fail("decode")
        return self.engine.decode(run, settings, **kwargs)

    def _maybe_fail(self, stage):
        if self.failures_left and self.failing_stage == stage:
            self.failures_left -= 1
            raise RuntimeError(f"injected engine failure in {stage}")


@pytest.fixture(scope="module")
def context():
    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


@pytest.fixture
def counting_engine():
    return CountingEngine(load_engine("mobilenet_quant2_075_stride16"))


@pytest.fixture(scope="module")
def frame_rgb():
    import cv2

    return cv2.resize(reference_input(ONE_PERSON), (160, 120), interpolation=cv2.INTER_AREA)


class Harness:
    """A SegmentNode plus a client node that publishes input and records outputs, one executor."""

    def __init__(self, context, engine, outputs=OUTPUTS, **parameters):
        # apart from other runs on the domain
        self.namespace = f"/bodypix_test_{os.getpid()}_{next(_namespaces)}"
        overrides = {"qos_reliability": "reliable", **parameters}
        self.node = segment_node.SegmentNode(
            engine=engine, context=context, namespace=self.namespace,
            parameter_overrides=[Parameter(name, value=value)
                                 for name, value in overrides.items()])
        self.client = rclpy.create_node("client", context=context, namespace=self.namespace)
        compressed = overrides.get("input_transport") == "compressed"
        self.input = self.client.create_publisher(
            CompressedImage if compressed else Image,
            f"{self.namespace}/image" + ("/compressed" if compressed else ""), RELIABLE)
        self.received = {name: [] for name in outputs}
        for name in outputs:
            self.client.create_subscription(
                Image, f"{self.namespace}/bodypix/{name}",
                lambda message, name=name: self.received[name].append(message), RELIABLE)
        self.parameters = self.client.create_client(
            SetParameters, f"{self.namespace}/bodypix/set_parameters")
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.client)
        publishers = self.node.output_publishers

        def connected():  # the node subscribes to the input only while an output is watched
            watched = all(publishers[name].get_subscription_count() > 0 for name in outputs)
            return watched and (not outputs or self.input.get_subscription_count() > 0)

        assert self.spin_until(connected), "topics did not connect"

    def spin_until(self, condition, timeout=WAIT_S) -> bool:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def set_parameter(self, name, value):
        """`ros2 param set` through the node's set_parameters service -> SetParametersResult."""
        assert self.spin_until(lambda: self.parameters.service_is_ready())
        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()])
        future = self.parameters.call_async(request)
        assert self.spin_until(future.done)
        return future.result().results[0]

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.client.destroy_node()


@pytest.fixture
def harnesses():
    made = []
    yield made
    for harness in made:
        harness.close()


def image_message(rgb, sec=1700000123, nanosec=456789, frame_id="camera_optical"):
    """A bgr8 sensor_msgs/Image of the RGB picture, built the way the node builds its outputs."""
    header = Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)
    fields = {"input": color_fields(rgb, bgr_ordered=True)}
    return output_messages(Image, header, fields, byte_array)["input"]


def test_every_output_carries_the_input_stamp_and_size(context, counting_engine, frame_rgb,
                                                        harnesses):
    harness = Harness(context, counting_engine, **{"multi_person.enabled": True})
    harnesses.append(harness)
    message = image_message(frame_rgb)
    harness.input.publish(message)
    assert harness.spin_until(lambda: all(harness.received[name] for name in OUTPUTS))
    expected = counting_engine.engine.segment(frame_rgb, harness.node.live.settings)
    for name in OUTPUTS:
        output = harness.received[name][0]
        assert (output.header.stamp.sec, output.header.stamp.nanosec) == (1700000123, 456789), name
        assert output.header.frame_id == "camera_optical", name
        assert (output.height, output.width) == frame_rgb.shape[:2], name
        assert output.encoding == ("bgr8" if name == "overlay" else "mono8"), name
    mask = np.frombuffer(harness.received["mask"][0].data, np.uint8).reshape(frame_rgb.shape[:2])
    np.testing.assert_array_equal(mask, expected.person_mask)
    assert len(counting_engine.calls) == 1 and counting_engine.calls[0][2]["instances"]


def test_a_live_parameter_applies_to_the_next_frame(context, counting_engine, frame_rgb,
                                                     harnesses):
    harness = Harness(context, counting_engine, outputs=("mask",))
    harnesses.append(harness)
    result = harness.set_parameter("segmentation_threshold", 0.55)
    assert result.successful, result.reason
    assert harness.node.get_parameter("segmentation_threshold").value == 0.55
    harness.input.publish(image_message(frame_rgb))
    assert harness.spin_until(lambda: harness.received["mask"])
    assert counting_engine.calls[-1][1].segmentation_threshold == 0.55
    result = harness.set_parameter("part_filter", ["left_face", "right_face"])
    assert result.successful, result.reason
    assert harness.node.live.settings.part_filter == ("left_face", "right_face")
    assert harness.set_parameter("part_filter", []).successful  # `ros2 param set ... "[]"`
    assert harness.node.live.settings.part_filter == ()


@pytest.mark.parametrize("name,value,reason", [
    ("segmentation_threshold", 1.5, "segmentation_threshold"),
    ("overlay_mode", "rainbow", "not one of"),
    ("part_filter", ["left_face", "tail"], "unknown part name"),
    ("multi_person.refine_steps", 50, "refine_steps"),
    ("model", "mobilenet_float_050_stride16", "read-only"),
    ("anonymize.target", "wings", "unknown part name"),
    ("anonymize.method", "smudge", "not one of"),
])
def test_an_invalid_value_is_refused_with_a_reason_and_the_old_value_stays(
        context, counting_engine, harnesses, name, value, reason):
    harness = Harness(context, counting_engine, outputs=("mask",))
    harnesses.append(harness)
    before_value = harness.node.get_parameter(name).value
    before_live = harness.node.live
    result = harness.set_parameter(name, value)
    assert not result.successful
    assert reason in result.reason
    assert harness.node.get_parameter(name).value == before_value
    assert harness.node.live == before_live


def test_no_input_subscription_without_output_subscribers_then_only_what_is_subscribed(
        context, counting_engine, frame_rgb, harnesses):
    harness = Harness(context, counting_engine, outputs=())
    harnesses.append(harness)
    input_topic = f"{harness.namespace}/image"
    harness.spin_until(lambda: False, timeout=3 * segment_node.SUBSCRIBER_POLL_S)
    assert harness.node.count_subscribers(input_topic) == 0
    watcher = rclpy.create_node("watcher", context=context, namespace=harness.namespace)
    masks = []
    subscription = watcher.create_subscription(Image, f"{harness.namespace}/bodypix/mask",
                                               masks.append, RELIABLE)
    harness.executor.add_node(watcher)
    try:
        assert harness.spin_until(lambda: harness.input.get_subscription_count() == 1)
        harness.input.publish(image_message(frame_rgb))
        assert harness.spin_until(lambda: masks)
        assert [call[2] for call in counting_engine.calls] == [{"part_labels": False,
                                                                "instances": False}]
        watcher.destroy_subscription(subscription)
        assert harness.spin_until(lambda: harness.input.get_subscription_count() == 0)
    finally:
        harness.executor.remove_node(watcher)
        watcher.destroy_node()


def test_unsupported_encoding_is_dropped_and_counted(context, counting_engine, harnesses):
    harness = Harness(context, counting_engine, outputs=("mask",))
    harnesses.append(harness)
    message = Image(height=2, width=2, encoding="32FC1", step=8)
    message.data = byte_array(np.zeros(16, np.uint8))
    harness.input.publish(message)
    assert harness.spin_until(lambda: harness.node.stats.snapshot(time.monotonic()).rejected == 1)
    assert counting_engine.calls == [] and harness.received["mask"] == []


@pytest.mark.parametrize("stage", ["network", "decode"])
def test_a_failing_frame_is_reported_and_the_workers_go_on(context, counting_engine, frame_rgb,
                                                           harnesses, stage):
    counting_engine.failures_left, counting_engine.failing_stage = 1, stage
    harness = Harness(context, counting_engine, outputs=("mask",))
    harnesses.append(harness)
    harness.input.publish(image_message(frame_rgb, sec=1))
    assert harness.spin_until(lambda: harness.node.stats.snapshot(time.monotonic()).failed == 1)
    assert f"injected engine failure in {stage}" in harness.node.stats.snapshot(
        time.monotonic()).last_problem
    harness.input.publish(image_message(frame_rgb, sec=2))
    assert harness.spin_until(lambda: harness.received["mask"])
    assert [message.header.stamp.sec for message in harness.received["mask"]] == [2]


def test_the_anonymized_output_carries_the_input_header_and_covers_the_person(
        context, counting_engine, frame_rgb, harnesses):
    harness = Harness(context, counting_engine, outputs=("anonymized",),
                      **{"anonymize.method": "fill", "anonymize.margin": 3})
    harnesses.append(harness)
    harness.input.publish(image_message(frame_rgb))
    assert harness.spin_until(lambda: harness.received["anonymized"])
    output = harness.received["anonymized"][0]
    assert (output.header.stamp.sec, output.header.stamp.nanosec) == (1700000123, 456789)
    assert output.header.frame_id == "camera_optical"
    assert (output.height, output.width, output.encoding) == (*frame_rgb.shape[:2], "bgr8")
    pixels = np.frombuffer(output.data, np.uint8).reshape(frame_rgb.shape)[:, :, ::-1]
    person = counting_engine.engine.segment(frame_rgb, harness.node.live.settings).person_mask > 0
    assert person.any() and (pixels[person] == 0).all()
    assert (pixels[~person] == frame_rgb[~person]).mean() > 0.5


def test_nothing_is_published_on_the_anonymized_output_when_a_frame_fails(
        context, counting_engine, frame_rgb, harnesses):
    counting_engine.failures_left = 1
    harness = Harness(context, counting_engine, outputs=("anonymized", "mask"))
    harnesses.append(harness)
    harness.input.publish(image_message(frame_rgb, sec=1))
    assert harness.spin_until(lambda: harness.node.stats.snapshot(time.monotonic()).failed == 1)
    harness.input.publish(image_message(frame_rgb, sec=2))
    assert harness.spin_until(lambda: harness.received["anonymized"] and harness.received["mask"])
    assert [m.header.stamp.sec for m in harness.received["anonymized"]] == [2]


def test_fail_closed_stops_the_anonymized_output_until_set_again(
        context, counting_engine, frame_rgb, harnesses):
    counting_engine.failures_left = 1
    harness = Harness(context, counting_engine, outputs=("anonymized", "mask"),
                      **{"anonymize.fail_closed": True})
    harnesses.append(harness)
    harness.input.publish(image_message(frame_rgb, sec=1))
    assert harness.spin_until(lambda: harness.node.stats.snapshot(time.monotonic()).failed == 1)
    harness.input.publish(image_message(frame_rgb, sec=2))
    assert harness.spin_until(lambda: harness.received["mask"])  # the other outputs go on
    assert harness.received["anonymized"] == []
    assert harness.set_parameter("anonymize.fail_closed", True).successful
    harness.input.publish(image_message(frame_rgb, sec=3))
    assert harness.spin_until(lambda: harness.received["anonymized"])
    assert [m.header.stamp.sec for m in harness.received["anonymized"]] == [3]


@pytest.mark.parametrize("switched_on_in_flight", [False, True])
def test_fail_closed_holds_back_the_frame_in_flight_when_the_one_before_fails(
        context, counting_engine, frame_rgb, harnesses, switched_on_in_flight):
    """Frame 1 fails in the second stage after frame 2 went through the network (selected with
    the anonymized output): frame 2 must not be published anonymized, also when fail_closed was
    switched on after both frames were taken.
    """
    second_network, release = threading.Event(), threading.Event()
    real_run_network, real_decode = counting_engine.run_network, counting_engine.decode

    def run_network(frame, settings, **kwargs):
        run = real_run_network(frame, settings, **kwargs)
        if counting_engine.calls:  # frame 1 is in the second stage already
            second_network.set()
        return run

    def decode(run, settings, **kwargs):
        if not counting_engine.calls:
            counting_engine.calls.append("frame 1")
            assert release.wait(timeout=WAIT_S)
            raise RuntimeError("injected failure of frame 1")
        return real_decode(run, settings, **kwargs)

    counting_engine.run_network, counting_engine.decode = run_network, decode
    harness = Harness(context, counting_engine, outputs=("anonymized", "mask"),
                      **{"anonymize.fail_closed": not switched_on_in_flight})
    harnesses.append(harness)
    try:
        harness.input.publish(image_message(frame_rgb, sec=1))
        assert harness.spin_until(lambda: counting_engine.calls)
        harness.input.publish(image_message(frame_rgb, sec=2))
        assert harness.spin_until(second_network.is_set)
        if switched_on_in_flight:
            assert harness.set_parameter("anonymize.fail_closed", True).successful
    finally:
        release.set()  # never leave the second stage waiting
    assert harness.spin_until(lambda: harness.received["mask"])
    assert [m.header.stamp.sec for m in harness.received["mask"]] == [2]
    assert harness.node.stats.snapshot(time.monotonic()).failed == 1
    # frame 2's anonymized image would be published right after its mask
    assert not harness.spin_until(lambda: harness.received["anonymized"], timeout=2.0)


def test_fail_closed_counts_frames_the_middleware_lost(
        context, counting_engine, frame_rgb, harnesses):
    harness = Harness(context, counting_engine, outputs=("anonymized", "mask"),
                      **{"anonymize.fail_closed": True})
    harnesses.append(harness)
    harness.input.publish(image_message(frame_rgb, sec=1))
    assert harness.spin_until(lambda: harness.received["anonymized"])
    # what the subscription's message-lost event reports when the transport drops input frames
    lost = types.SimpleNamespace(total_count=2, total_count_change=2)
    harness.node._on_message_lost(lost)
    harness.input.publish(image_message(frame_rgb, sec=2))
    assert harness.spin_until(
        lambda: [m.header.stamp.sec for m in harness.received["mask"]][-1:] == [2])
    assert [m.header.stamp.sec for m in harness.received["anonymized"]] == [1]


def test_destroy_node_stops_both_workers(context, counting_engine):
    node = segment_node.SegmentNode(engine=counting_engine, context=context,
                                    namespace="/bodypix_destroy")
    workers = list(node._workers)
    assert len(workers) == 2 and all(worker.is_alive() for worker in workers)
    node.destroy_node()
    assert not any(worker.is_alive() for worker in workers)


def test_compressed_transport(context, counting_engine, frame_rgb, harnesses):
    import cv2

    harness = Harness(context, counting_engine, outputs=("mask", "overlay"),
                      input_transport="compressed")
    harnesses.append(harness)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(frame_rgb[:, :, ::-1]))
    message = CompressedImage(format="rgb8; png compressed bgr8")
    message.data = byte_array(png.reshape(-1))
    message.header.stamp.sec = 42
    harness.input.publish(message)
    assert harness.spin_until(lambda: harness.received["mask"] and harness.received["overlay"])
    assert harness.received["mask"][0].header.stamp.sec == 42
    assert harness.received["overlay"][0].encoding == "rgb8"
    mask = harness.received["mask"][0]
    assert (mask.height, mask.width) == frame_rgb.shape[:2]


def test_diagnostics_report_the_model_and_rates(context, counting_engine, harnesses):
    harness = Harness(context, counting_engine, outputs=("mask",))
    harnesses.append(harness)
    arrays = []
    harness.client.create_subscription(DiagnosticArray, "/diagnostics", arrays.append, 10)
    name = diagnostic_name(harness.node.get_fully_qualified_name())  # this harness's node only
    assert harness.spin_until(lambda: any(status.name == name
                                          for array in arrays for status in array.status))
    status = next(status for array in arrays for status in array.status if status.name == name)
    values = {value.key: value.value for value in status.values}
    assert values["model"] == counting_engine.model_name
    assert "input rate (Hz)" in values and "end-to-end latency p95 (ms)" in values


def test_parameters_are_declared_with_ranges_and_read_only(context, counting_engine, harnesses):
    harness = Harness(context, counting_engine, outputs=())
    harnesses.append(harness)
    node = harness.node
    threshold = node.describe_parameter("segmentation_threshold")
    assert threshold.floating_point_range[0].to_value == 1.0 and not threshold.read_only
    assert node.describe_parameter("multi_person.refine_steps").integer_range[0].to_value == 20
    assert node.describe_parameter("model").read_only
    assert node.live == live_config(parameter_defaults())


def test_a_bad_model_stops_start_up_with_exit_code_1(context, monkeypatch):
    monkeypatch.delenv("FASTRTPS_DEFAULT_PROFILES_FILE", raising=False)  # main() sets it
    with pytest.raises(ModelError):
        segment_node.SegmentNode(context=context, namespace="/bodypix_bad_model",
                                 parameter_overrides=[Parameter("model", value="no_such_model")])
    assert segment_node.main(["segment_node", "--ros-args", "-p", "model:=no_such_model"]) == 1
    # an integer for a double parameter
    assert segment_node.main(["segment_node", "--ros-args", "-p", "max_rate:=10"]) == 1


@pytest.mark.parametrize("requested", [0, 3])
def test_the_node_loads_its_engine_with_its_network_threads(context, monkeypatch, requested):
    from bodypix_ros.engine import BodyPixEngine

    engine, asked = load_engine("mobilenet_quant2_075_stride16"), []

    def load(model, **kwargs):
        asked.append(kwargs["threads"])
        return engine

    monkeypatch.setattr(BodyPixEngine, "load", load)
    node = segment_node.SegmentNode(
        context=context, namespace=f"/bodypix_threads_{requested}",
        parameter_overrides=[Parameter("network_threads", value=requested)])
    node.destroy_node()
    assert asked == [requested]


def test_a_malformed_parameter_request_does_not_stop_the_node(counting_engine):
    """ParameterValue.type 42 makes rclpy's parameter service raise ValueError inside spin."""
    context = Context()
    rclpy.init(context=context)
    namespace = f"/bodypix_malformed_{os.getpid()}"
    node = segment_node.SegmentNode(engine=counting_engine, context=context, namespace=namespace)

    def serve():
        try:
            segment_node.spin(node, SingleThreadedExecutor(context=context))
        except ExternalShutdownException:
            pass

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    peer = rclpy.create_node("peer", context=context, namespace=namespace)
    client = peer.create_client(SetParameters, f"{namespace}/bodypix/set_parameters")
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(peer)

    def spin_until(condition):
        deadline = time.monotonic() + WAIT_S
        while not condition() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        return condition()

    try:
        assert spin_until(client.service_is_ready)
        malformed = ParameterMessage(name="segmentation_threshold", value=ParameterValue(type=42))
        client.call_async(SetParameters.Request(parameters=[malformed]))
        assert spin_until(lambda: node.stats.snapshot(time.monotonic()).callback_errors == 1)
        assert "ValueError" in node.stats.snapshot(time.monotonic()).last_problem
        valid = Parameter("segmentation_threshold", value=0.6).to_parameter_msg()
        future = client.call_async(SetParameters.Request(parameters=[valid]))
        assert spin_until(future.done), "the node no longer answers after the malformed request"
        assert future.result().results[0].successful
        assert node.live.settings.segmentation_threshold == 0.6 and server.is_alive()
    finally:
        rclpy.try_shutdown(context=context)
        server.join(timeout=10.0)
        executor.shutdown()
        peer.destroy_node()
        node.destroy_node()
    assert not server.is_alive()


@pytest.mark.parametrize("arguments,reason", [
    (["--params-file", "/nonexistent/bodypix.yaml"], "Couldn't parse params file"),
    (["-p", "input_topic:=bad topic"], "input_topic 'bad topic' is not a valid topic name"),
    (["-p", "overlay_topic:=a//b"], "overlay_topic 'a//b' is not a valid topic name"),
])
def test_start_up_errors_are_one_fatal_line_and_exit_code_1(capfd, arguments, reason):
    """A model that does not exist shows the topic check comes before the model loads."""
    assert segment_node.main(["segment_node", "--ros-args", "-p", "model:=no_such_model",
                              *arguments]) == 1
    fatal = [line for line in capfd.readouterr().err.splitlines() if "FATAL" in line]
    assert len(fatal) == 1 and reason in fatal[0] and "Traceback" not in fatal[0]


def test_a_compressed_bomb_is_rejected_not_failed(context, counting_engine, frame_rgb, harnesses):
    """A 631-byte JPEG declaring 8000x8000 and the 16-byte PNG: refused before decoding."""
    import cv2
    from hostile_inputs import jpeg_declaring, png_chunk_length_bomb

    harness = Harness(context, counting_engine, outputs=("mask",), input_transport="compressed")
    harnesses.append(harness)
    for index, data in enumerate((jpeg_declaring(8000, 8000), png_chunk_length_bomb())):
        message = CompressedImage(format="jpeg" if index == 0 else "png")
        message.data = byte_array(np.frombuffer(data, np.uint8))
        harness.input.publish(message)
        assert harness.spin_until(
            lambda count=index + 1:
            harness.node.stats.snapshot(time.monotonic()).rejected == count)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(frame_rgb[:, :, ::-1]))
    message = CompressedImage(format="png")
    message.data = byte_array(png.reshape(-1))
    harness.input.publish(message)
    assert harness.spin_until(lambda: harness.received["mask"])
    snapshot = harness.node.stats.snapshot(time.monotonic())
    assert (snapshot.rejected, snapshot.failed, len(counting_engine.calls)) == (2, 0, 1)
