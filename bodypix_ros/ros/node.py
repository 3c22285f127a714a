"""ROS 2 node `bodypix` (Humble, Jazzy): BodyPix person mask, part labels, instances, overlay.

The only module that imports rclpy and ROS messages. What it decides lives in ROS-free
modules: parameters in `ros.params`, conversions in `ros.image_codec`, output selection in
`ros.outputs`, refused frames in `ros.rejects`, the latest-frame worker's parts and
diagnostics in `ros.runtime`; each frame goes through `frame_outputs.start_frame` and
`finish_frame` (`segment_frame` in two stages).
TensorFlow loads when the engine is built, in the node's constructor.

The subscription callback only stores the newest message, so latency never queues up and
parameter requests are answered while a frame is being processed. Two worker threads take it
from there: one decodes it and runs the network (TensorFlow), the other decodes the network's
outputs, draws and publishes them, so the next frame's network runs meanwhile.
"""

import functools
import os
import threading
import time
from typing import NamedTuple

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import (
    InvalidParameterTypeException,
    InvalidParameterValueException,
    InvalidTopicNameException,
)
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_policy_name_from_kind,
)
from sensor_msgs.msg import CompressedImage, Image

try:  # Iron and later
    from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks, UnsupportedEventTypeError

from bodypix_ros.errors import DecodeError, ModelError, ParameterError
from bodypix_ros.frame_outputs import StartedFrame, finish_frame, start_frame
from bodypix_ros.ros.image_codec import (
    DecodedFrame,
    byte_array,
    decode_compressed,
    decode_image,
)
from bodypix_ros.ros.outputs import (
    FailClosedLatch,
    multi_person_missing,
    output_fields,
    output_messages,
    select_outputs,
)
from bodypix_ros.ros.params import (
    LIVE_NAMES,
    OUTPUT_TOPIC_PARAMETERS,
    PARAMETERS,
    ParameterSpec,
    live_config,
    startup_config,
    updated_live_config,
)
from bodypix_ros.ros.rejects import MAX_REASON_CHARS, RejectLog, reject_cause, shorten
from bodypix_ros.ros.runtime import (
    Handoff,
    LatestFrameSlot,
    NodeStats,
    RateLimiter,
    diagnostic_name,
    diagnostic_report,
    fastdds_profile_variable,
    input_subscription_change,
    lost_frames_hint,
    rcl_error_reason,
    stamp_age_ms,
)

NODE_NAME = "bodypix"
DIAGNOSTICS_PERIOD_S = 1.0
SUBSCRIBER_POLL_S = 0.25
"""How often the output subscriber counts are checked to (un)subscribe the input."""
LOG_THROTTLE_S = 5.0
LOST_HINT_THROTTLE_S = 60.0
_RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT,
                "reliable": ReliabilityPolicy.RELIABLE}


class InFlightFrame(NamedTuple):
    """A frame between the worker's two stages: its message, decoded frame, network stage
    (frame_outputs.StartedFrame) and when the worker took it (time.monotonic(), s).
    """

    message: object
    frame: DecodedFrame
    started_frame: StartedFrame
    taken: float


class SegmentNode(Node):
    """Subscribes to one image topic and publishes the outputs that have subscribers.

    engine: an already loaded BodyPixEngine (tests); None loads the `model` parameter's.
    node_options: passed to rclpy's Node (namespace, parameter_overrides, context, ...).
    Raises ModelError, ParameterError or rclpy's parameter/topic exceptions at start-up.
    """

    def __init__(self, *, engine=None, **node_options):
        super().__init__(NODE_NAME, **node_options)
        self._slot = LatestFrameSlot()
        self._handoff = Handoff()
        self._workers = []
        self._waiting_for_rate = False
        try:
            self._start(engine)
        except BaseException:  # also Ctrl-C during the model download
            self.destroy_node()
            raise

    def _start(self, engine) -> None:
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec))
        values = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        startup = startup_config(values)
        self._live = live_config(values)
        self._check_topic_names(startup)
        self.engine = engine if engine is not None else _load_engine(startup)
        self.stats = NodeStats()
        self._limiter = RateLimiter()
        self._rejects = RejectLog()
        self._fail_closed = FailClosedLatch()
        self.add_on_set_parameters_callback(self._on_set_parameters)

        output_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=startup.qos_depth,
                                reliability=ReliabilityPolicy.RELIABLE,
                                durability=DurabilityPolicy.VOLATILE)
        self.output_publishers = {name: self.create_publisher(Image, topic, output_qos)
                                  for name, topic in startup.output_topics.items()}
        self._diagnostics_publisher = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

        self._input_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=startup.qos_depth,
                                     reliability=_RELIABILITY[startup.qos_reliability],
                                     durability=DurabilityPolicy.VOLATILE)
        if startup.input_transport == "compressed":
            self._input_type, decode = CompressedImage, decode_compressed
        else:
            self._input_type, decode = Image, decode_image
        self._decode = functools.partial(decode, max_pixels=startup.max_input_pixels)
        self._input_topic = self.resolve_topic_name(startup.subscribed_topic)
        self._qos_reliability = startup.qos_reliability
        self._input_subscription = None
        self._update_input_subscription()
        self.create_timer(SUBSCRIBER_POLL_S, self._update_input_subscription)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)

        self._workers = [
            threading.Thread(target=self._network_stage, name="bodypix_network", daemon=True),
            threading.Thread(target=self._output_stage, name="bodypix_outputs", daemon=True)]
        for worker in self._workers:
            worker.start()
        self.get_logger().info(
            f"model {self.engine.model_name}, network threads: "
            f"{self.engine.threads or 'one per core'}; input {self._input_topic} "
            f"({self._input_type.__name__}, {startup.qos_reliability}; subscribed while an output "
            f"has a subscriber); outputs: "
            + ", ".join(publisher.topic_name for publisher in self.output_publishers.values()))

    def _check_topic_names(self, startup) -> None:
        """Resolve every topic name before the model loads; ParameterError names a bad one."""
        topics = {"input_topic": startup.subscribed_topic}
        topics.update((OUTPUT_TOPIC_PARAMETERS[output], topic)
                      for output, topic in startup.output_topics.items())
        for parameter, topic in topics.items():
            try:
                self.resolve_topic_name(topic)
            except RuntimeError as error:  # rclpy's RCLError
                reason = rcl_error_reason(str(error)).removeprefix("failed to resolve name: ")
                raise ParameterError(
                    f"{parameter} {topic!r} is not a valid topic name: {reason}") from None

    def callback_failed(self, error: Exception) -> None:
        """Log (throttled) and count an exception a callback raised; see `spin`."""
        reason = shorten(repr(error), MAX_REASON_CHARS)
        self.stats.callback_failed(time.monotonic(), reason)
        self.get_logger().error(
            f"a callback raised {reason} (e.g. rclpy serving a peer's malformed request); "
            f"the node goes on", throttle_duration_sec=LOG_THROTTLE_S)

    def _subscriber_counts(self) -> dict:
        """Output name -> how many subscriptions its publisher has now."""
        return {name: publisher.get_subscription_count()
                for name, publisher in self.output_publishers.items()}

    def _update_input_subscription(self) -> None:
        """Subscribe to the input while an output has a subscriber (polled, SUBSCRIBER_POLL_S)."""
        change = input_subscription_change(self._input_subscription is not None,
                                           self._subscriber_counts())
        if change is True:
            self._input_subscription = self._subscribe_input()
        elif change is False:
            self.destroy_subscription(self._input_subscription)
            self._input_subscription = None

    def _subscribe_input(self):
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos,
                                            message_lost=self._on_message_lost)
        try:
            return self.create_subscription(self._input_type, self._input_topic, self._on_image,
                                            self._input_qos, event_callbacks=events)
        except UnsupportedEventTypeError:  # middleware without QoS events: Humble raises
            return self.create_subscription(self._input_type, self._input_topic, self._on_image,
                                            self._input_qos)

    def destroy_node(self):
        """Stop the workers, then destroy the node."""
        self._slot.close()
        self._handoff.close()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(timeout=10.0)
        return super().destroy_node()

    @property
    def live(self):
        """What the live parameters currently mean (ros.params.LiveConfig)."""
        return self._live

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        current = {name: self.get_parameter(name).value for name in LIVE_NAMES}
        try:
            self._live = updated_live_config(current, {p.name: p.value for p in parameters})
        except ParameterError as error:
            return SetParametersResult(successful=False, reason=str(error))
        if any(p.name == "anonymize.fail_closed" for p in parameters):
            self._fail_closed.reset()
        return SetParametersResult(successful=True)

    def _on_image(self, message) -> None:
        replaced = self._slot.put(message)
        self.stats.frame_received(time.monotonic(), replaced, self._waiting_for_rate)
        if replaced:
            self._frame_lost("a frame was dropped: the node fell behind")

    def _on_message_lost(self, status) -> None:
        self.stats.frames_lost(status.total_count_change)
        self._frame_lost(f"{status.total_count_change} input frames were lost in transport")
        self.get_logger().warning(
            f"{status.total_count} input frames lost in transport so far: {lost_frames_hint()}",
            throttle_duration_sec=LOST_HINT_THROTTLE_S)

    def _on_incompatible_qos(self, event) -> None:
        policy = qos_policy_name_from_kind(event.last_policy_kind)
        self.get_logger().warning(
            f"a publisher on {self._input_topic} offers QoS incompatible with this "
            f"{self._qos_reliability} subscription (policy {policy}); no frames arrive from it. "
            f"Set the parameter qos_reliability to best_effort (params file or "
            f"-p qos_reliability:=best_effort), which matches any publisher.",
            throttle_duration_sec=LOG_THROTTLE_S)

    def _network_stage(self) -> None:
        """Worker thread 1: the newest message -> decoded frame -> network -> the handoff."""
        while True:
            wait = self._limiter.wait_time(time.monotonic(), self._live.max_rate)
            if wait > 0:
                self._waiting_for_rate = True
                closed = self._slot.sleep(wait)
                self._waiting_for_rate = False
                if closed:
                    return
            message = self._slot.take()
            if message is None:
                return
            try:
                in_flight = self._start_frame(message)
            except Exception as error:  # the worker must survive any frame
                if self._stopping():
                    return
                self._frame_failed(error)
                continue
            if in_flight is not None and not self._handoff.put(in_flight):
                return

    def _output_stage(self) -> None:
        """Worker thread 2: the handoff -> decode the network's outputs, draw, publish."""
        while (in_flight := self._handoff.take()) is not None:
            try:
                self._finish_frame(in_flight)
            except Exception as error:  # the worker must survive any frame
                if self._stopping():
                    return
                self._frame_failed(error)

    def _stopping(self) -> bool:
        return self._slot.closed or not self.context.ok()

    def _frame_failed(self, error: Exception) -> None:
        """Count, log (throttled) and show in the diagnostics a frame whose processing raised."""
        reason = shorten(repr(error), MAX_REASON_CHARS)
        self.stats.frame_failed(time.monotonic(), reason)
        self._frame_lost(f"a frame failed: {reason}")
        self.get_logger().error(f"segmentation failed: {reason}",
                                throttle_duration_sec=LOG_THROTTLE_S)

    def _start_frame(self, message):
        """The first stage of a frame: InFlightFrame, or None when it is skipped or rejected."""
        taken = time.monotonic()
        live = self._live
        counts = self._subscriber_counts()
        selection = select_outputs(counts, live.settings.multi_person.enabled)
        if self._fail_closed.closed:
            selection = selection._replace(anonymized=False)
        if multi_person_missing(counts, live):
            self.get_logger().warning(
                "instances or the persons overlay are wanted but multi_person.enabled is false "
                "(the overlay shows the mask meanwhile): "
                f"ros2 param set {self.get_fully_qualified_name()} multi_person.enabled true",
                throttle_duration_sec=30.0)
        if not selection.any:
            self.stats.frame_skipped()
            return None
        self._limiter.accept(taken, live.max_rate)
        try:
            frame = self._decode(message)
        except DecodeError as error:
            reason = shorten(str(error), MAX_REASON_CHARS)
            self.stats.frame_rejected(taken, reason)
            self._frame_lost(f"a frame was rejected: {reason}")
            if self._rejects.note(error):
                self.get_logger().warning(f"dropping frames ({reject_cause(error)}): {reason}")
            return None
        return InFlightFrame(message, frame, start_frame(self.engine, frame.rgb, selection, live),
                             taken)

    def _finish_frame(self, in_flight: InFlightFrame) -> None:
        """The second stage of a frame: its outputs published, its latencies counted."""
        message = in_flight.message
        images = finish_frame(self.engine, in_flight.started_frame).images
        if self._fail_closed.closed:  # a frame was lost while this one was in flight
            images.pop("anonymized", None)
        outputs = output_fields(images, in_flight.frame, message)
        for name, output in output_messages(Image, message.header, outputs, byte_array).items():
            self.output_publishers[name].publish(output)
        stamp = message.header.stamp
        end_to_end = stamp_age_ms(self.get_clock().now().nanoseconds, stamp.sec, stamp.nanosec)
        finished = time.monotonic()
        self.stats.frame_processed(finished, (finished - in_flight.taken) * 1000.0, end_to_end)

    def _frame_lost(self, cause: str) -> None:
        """With anonymize.fail_closed, stop the anonymized output (see FailClosedLatch)."""
        publisher = self.output_publishers.get("anonymized")
        if publisher is None or not publisher.get_subscription_count():
            return
        if self._fail_closed.frame_lost(self._live.fail_closed, cause):
            self.get_logger().error(
                f"anonymized output stopped (anonymize.fail_closed): {cause}. Resume with "
                f"ros2 param set {self.get_fully_qualified_name()} anonymize.fail_closed true")

    def _publish_diagnostics(self) -> None:
        subscribed = any(self._subscriber_counts().values())
        report = diagnostic_report(self.stats.snapshot(time.monotonic()), self.engine.model_name,
                                   subscribed)
        status = DiagnosticStatus(
            level=bytes([report.level]), name=diagnostic_name(self.get_fully_qualified_name()),
            message=report.message, hardware_id=self.engine.model_name,
            values=[KeyValue(key=key, value=value) for key, value in report.values])
        diagnostics = DiagnosticArray(status=[status])
        diagnostics.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_publisher.publish(diagnostics)


def parameter_descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """ParameterDescriptor (description, read_only, range, constraints) of a table entry."""
    descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only,
                                     dynamic_typing=spec.dynamic_typing)
    if spec.doc_values or spec.choices:
        descriptor.additional_constraints = spec.doc_values or "one of: " + ", ".join(spec.choices)
    if spec.value_range is not None and spec.type_name == "integer":
        low, high = spec.value_range
        descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    elif spec.value_range is not None:
        low, high = spec.value_range
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
    return descriptor


def _load_engine(startup):
    from bodypix_ros.engine import BodyPixEngine

    engine = BodyPixEngine.load(startup.model, base_url=startup.model_base_url,
                                cache_dir=startup.model_cache_dir, backend=startup.backend,
                                threads=startup.network_threads)
    engine.warm_up()
    return engine


def spin(node: SegmentNode, executor) -> None:
    """rclpy.spin(node, executor) that outlives an exception raised by a callback.

    Such an exception (e.g. rclpy's parameter service raising ValueError on a peer's
    SetParameters request with an unknown ParameterValue type) is logged, throttled, and
    counted in the diagnostics; spinning goes on. Returns when the context shuts down;
    KeyboardInterrupt and ExternalShutdownException pass through.
    """
    executor.add_node(node)
    try:
        while executor.context.ok():
            try:
                executor.spin_once()
            except ExternalShutdownException:
                raise
            except Exception as error:  # a peer must not be able to stop the node
                node.callback_failed(error)
    finally:
        executor.remove_node(node)


def main(args=None) -> int:
    """`ros2 run bodypix_ros segment_node`: 0 on Ctrl-C/shutdown, 1 on a start-up error."""
    profile = fastdds_profile_variable(os.environ)
    if profile is not None:
        os.environ[profile[0]] = profile[1]
    try:
        rclpy.init(args=args)
    except RuntimeError as error:  # rclpy's RCLError: malformed --ros-args, unreadable params file
        get_logger(NODE_NAME).fatal(
            f"cannot start: {rcl_error_reason(str(error))}. Fix the --ros-args: a --params-file "
            f"must be a readable ROS 2 parameters YAML file (e.g. config/bodypix.yaml).")
        return 1
    node = None
    exit_code = 0
    try:
        node = SegmentNode()
        if profile is not None:
            node.get_logger().info(f"Fast DDS profile for large images: {profile[1]} (set "
                                   f"{profile[0]} to use your own)")
        spin(node, SingleThreadedExecutor())
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ModelError as error:
        get_logger(NODE_NAME).fatal(
            f"cannot load the BodyPix model: {error}. Fix: set the `model` parameter to a valid "
            f"name (e.g. `ros2 launch bodypix_ros segment.launch.py "
            f"model:=mobilenet_quant2_075_stride16`), or `model_base_url` to a reachable mirror "
            f"(the first run downloads the model).")
        exit_code = 1
    except (ParameterError, InvalidParameterTypeException, InvalidParameterValueException,
            InvalidTopicNameException) as error:
        get_logger(NODE_NAME).fatal(
            f"invalid parameter: {error}. Fix it in the params file (config/bodypix.yaml) or on "
            f"the command line (--ros-args -p name:=value); `ros2 param describe` lists valid "
            f"values.")
        exit_code = 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
