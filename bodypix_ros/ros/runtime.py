"""The segment node's runtime machinery, no ROS.

Latest-frame slot, the handoff between the worker's two stages, rate limiter, rate and latency
statistics, the values of its diagnostics, when to hold the input subscription, and its Fast
DDS profile.

Times are seconds from one monotonic clock chosen by the caller; latencies are milliseconds.
"""

import re
import threading
from collections import deque
from pathlib import Path
from typing import Deque, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np

DIAGNOSTIC_OK, DIAGNOSTIC_WARN, DIAGNOSTIC_ERROR = 0, 1, 2
"""diagnostic_msgs/DiagnosticStatus levels."""
FASTDDS_PROFILE = Path(__file__).with_name("fastdds_large_images.xml")
"""Fast DDS profile for large images: a 16 MB shared-memory segment, 4 MB socket buffers."""
FASTDDS_PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
FASTDDS_RMWS = ("rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp")


class _OneItem:
    """One item passed from a producer thread to a consumer thread; close() wakes both."""

    def __init__(self):
        self._condition = threading.Condition()
        self._item = None
        self._closed = False

    def take(self, timeout: Optional[float] = None):
        """The item (removing it), waiting up to `timeout` s (None: no limit); None on timeout
        or once closed.
        """
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed, timeout)
            if self._closed:
                return None
            item, self._item = self._item, None
            self._condition.notify_all()  # a producer may wait for the room
            return item

    def close(self) -> None:
        """Wake both threads for good: every wait returns at once from now on."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class LatestFrameSlot(_OneItem):
    """Holds only the newest item for one consumer thread.

    The producer (subscription callback) only swaps a reference; the consumer waits.
    """

    def put(self, item) -> bool:
        """Store `item`; True if it replaced one nobody took (that one is dropped)."""
        with self._condition:
            replaced = self._item is not None
            self._item = item
            self._condition.notify_all()
            return replaced

    def sleep(self, seconds: float) -> bool:
        """Wait `seconds` unless closed meanwhile; True if closed."""
        with self._condition:
            return self._condition.wait_for(lambda: self._closed, seconds)


class Handoff(_OneItem):
    """Passes items one at a time from one producer thread to one consumer thread, in order.

    put() waits while the previous item is not taken yet, so a slow consumer holds the producer
    back (and the latest-frame slot before it drops frames) instead of queueing them.
    """

    def put(self, item) -> bool:
        """Hand `item` over, waiting until the consumer took the previous one; False if closed."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is None or self._closed)
            if self._closed:
                return False
            self._item = item
            self._condition.notify_all()
            return True


class RateLimiter:
    """Accepts frames at most max_rate per second on average; max_rate 0 = unlimited.

    Accepted frames are pinned to a schedule that advances one period per frame, so
    jitter in frame arrival does not lower the rate; a frame a whole period late
    restarts the schedule (no burst to catch up after a pause).
    """

    def __init__(self):
        self._scheduled: Optional[float] = None

    def wait_time(self, now: float, max_rate: float) -> float:
        """Seconds to wait before the next frame may be accepted (0 = now)."""
        if max_rate <= 0 or self._scheduled is None:
            return 0.0
        return max(0.0, self._scheduled + 1.0 / max_rate - now)

    def accept(self, now: float, max_rate: float) -> None:
        """Record that a frame was accepted at `now` (after wait_time said 0)."""
        if max_rate > 0 and self._scheduled is not None:
            due = self._scheduled + 1.0 / max_rate
            if 0.0 <= now - due < 1.0 / max_rate:
                self._scheduled = due
                return
        self._scheduled = now


class RateMeter:
    """Event rate (Hz) over the events of the last `window_s` seconds."""

    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self._times: Deque[float] = deque()

    def record(self, now: float) -> None:
        self._times.append(now)
        self._expire(now)

    def rate(self, now: float) -> float:
        """(events - 1) / span of the events in the window; 0 with fewer than two."""
        self._expire(now)
        if len(self._times) < 2 or self._times[-1] <= self._times[0]:
            return 0.0
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])

    def count(self, now: float) -> int:
        """Events in the window."""
        self._expire(now)
        return len(self._times)

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()


class LatencyWindow:
    """The last `size` latency samples (ms) and their percentiles."""

    def __init__(self, size: int = 100):
        self._samples: Deque[float] = deque(maxlen=size)

    def add(self, milliseconds: float) -> None:
        self._samples.append(float(milliseconds))

    def percentiles(self, *quantiles: float) -> Tuple[Optional[float], ...]:
        """Percentiles (0-100) of the samples; Nones when there is none."""
        if not self._samples:
            return tuple(None for _ in quantiles)
        return tuple(float(v) for v in np.percentile(np.asarray(self._samples), quantiles))


class StatsSnapshot(NamedTuple):
    """The node's statistics at one moment. Rates in Hz, latencies in ms (None = no sample yet).

    lost: frames the middleware reported lost before they reached the node (message_lost);
    dropped: frames replaced by a newer one while the worker was busy; rate_limited: frames
    replaced while the worker waited for max_rate; skipped: frames not
    processed because no output had a subscriber; rejected: frames that could not be
    decoded (unsupported encoding, bad data, over the pixel budget); failed: frames whose
    segmentation raised; callback_errors: executor callbacks that raised, e.g. rclpy's
    parameter service serving a peer's malformed SetParameters request.
    """

    input_hz: float
    output_hz: float
    processing_ms: Tuple[Optional[float], Optional[float]]
    end_to_end_ms: Tuple[Optional[float], Optional[float]]
    received: int
    processed: int
    lost: int
    dropped: int
    rate_limited: int
    skipped: int
    rejected: int
    failed: int
    callback_errors: int
    seconds_since_input: Optional[float]
    recent_rejections: int
    recent_failures: int
    recent_callback_errors: int
    last_problem: str


class NodeStats:
    """Thread-safe counters, rates and latency windows of the node (p50/p95 reported)."""

    def __init__(self, window_s: float = 5.0, samples: int = 100):
        self._lock = threading.Lock()
        self._inputs = RateMeter(window_s)
        self._outputs = RateMeter(window_s)
        self._rejections = RateMeter(window_s)
        self._failures = RateMeter(window_s)
        self._callback_errors = RateMeter(window_s)
        self._processing = LatencyWindow(samples)
        self._end_to_end = LatencyWindow(samples)
        self._counts = {"received": 0, "processed": 0, "lost": 0, "dropped": 0,
                        "rate_limited": 0, "skipped": 0, "rejected": 0, "failed": 0,
                        "callback_errors": 0}
        self._last_input: Optional[float] = None
        self._last_problem = ""

    def frame_received(self, now: float, dropped_older: bool, rate_limited: bool = False) -> None:
        """A frame arrived.

        dropped_older: it replaced one that was never processed, because the worker was busy
        or, with rate_limited, waiting for the rate limit.
        """
        with self._lock:
            self._inputs.record(now)
            self._last_input = now
            self._counts["received"] += 1
            self._counts["rate_limited" if rate_limited else "dropped"] += dropped_older

    def frames_lost(self, count: int) -> None:
        """The middleware reported `count` more input frames lost in transport."""
        with self._lock:
            self._counts["lost"] += count

    def frame_skipped(self) -> None:
        """A frame was not processed because no output had a subscriber."""
        with self._lock:
            self._counts["skipped"] += 1

    def frame_rejected(self, now: float, reason: str) -> None:
        with self._lock:
            self._rejections.record(now)
            self._counts["rejected"] += 1
            self._last_problem = reason

    def frame_failed(self, now: float, reason: str) -> None:
        with self._lock:
            self._failures.record(now)
            self._counts["failed"] += 1
            self._last_problem = reason

    def callback_failed(self, now: float, reason: str) -> None:
        """A callback raised, e.g. rclpy's parameter service on a peer's malformed request."""
        with self._lock:
            self._callback_errors.record(now)
            self._counts["callback_errors"] += 1
            self._last_problem = reason

    def frame_processed(self, now: float, processing_ms: float,
                        end_to_end_ms: Optional[float]) -> None:
        """Outputs were published; end_to_end_ms: header stamp to publication, None if unknown."""
        with self._lock:
            self._outputs.record(now)
            self._counts["processed"] += 1
            self._processing.add(processing_ms)
            if end_to_end_ms is not None:
                self._end_to_end.add(end_to_end_ms)

    def snapshot(self, now: float) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                input_hz=self._inputs.rate(now), output_hz=self._outputs.rate(now),
                processing_ms=self._processing.percentiles(50, 95),
                end_to_end_ms=self._end_to_end.percentiles(50, 95),
                **self._counts,
                seconds_since_input=None if self._last_input is None else now - self._last_input,
                recent_rejections=self._rejections.count(now),
                recent_failures=self._failures.count(now),
                recent_callback_errors=self._callback_errors.count(now),
                last_problem=self._last_problem)


class DiagnosticReport(NamedTuple):
    """One diagnostic_msgs/DiagnosticStatus: level, message, key/value pairs (strings)."""

    level: int
    message: str
    values: List[Tuple[str, str]]


def diagnostic_report(stats: StatsSnapshot, model_name: str, subscribed: bool,
                      input_timeout_s: float = 5.0) -> DiagnosticReport:
    """The node's health from its statistics.

    ERROR: segmentation failed recently; WARN: a callback raised or frames were rejected
    recently, or outputs are subscribed but no input arrived for `input_timeout_s`; OK otherwise
    (idle included).
    """
    if stats.recent_failures:
        level, message = DIAGNOSTIC_ERROR, f"segmentation failing: {stats.last_problem}"
    elif stats.recent_callback_errors:
        level, message = DIAGNOSTIC_WARN, f"a callback failed: {stats.last_problem}"
    elif stats.recent_rejections:
        level, message = DIAGNOSTIC_WARN, f"input frames rejected: {stats.last_problem}"
    elif subscribed and (stats.seconds_since_input is None
                         or stats.seconds_since_input > input_timeout_s):
        level, message = DIAGNOSTIC_WARN, "outputs are subscribed but no input image arrives"
    elif not subscribed:
        level, message = DIAGNOSTIC_OK, "idle: no output has a subscriber"
    else:
        level, message = DIAGNOSTIC_OK, "segmenting"
    values = [
        ("model", model_name),
        ("input rate (Hz)", f"{stats.input_hz:.2f}"),
        ("output rate (Hz)", f"{stats.output_hz:.2f}"),
        ("processing latency p50 (ms)", _milliseconds(stats.processing_ms[0])),
        ("processing latency p95 (ms)", _milliseconds(stats.processing_ms[1])),
        ("end-to-end latency p50 (ms)", _milliseconds(stats.end_to_end_ms[0])),
        ("end-to-end latency p95 (ms)", _milliseconds(stats.end_to_end_ms[1])),
        ("frames received", str(stats.received)),
        ("frames processed", str(stats.processed)),
        ("frames lost in transport", str(stats.lost)),
        ("frames dropped (replaced by newer)", str(stats.dropped)),
        ("frames dropped (rate limit)", str(stats.rate_limited)),
        ("frames skipped (no subscriber)", str(stats.skipped)),
        ("frames rejected", str(stats.rejected)),
        ("frames failed", str(stats.failed)),
        ("callbacks failed (e.g. malformed requests)", str(stats.callback_errors)),
    ]
    return DiagnosticReport(level, message, values)


def input_subscription_change(subscribed: bool,
                              subscriber_counts: Mapping[str, int]) -> Optional[bool]:
    """Subscribe to the input (True), unsubscribe (False) or leave it (None).

    subscribed: whether it is subscribed now; subscriber_counts: output name -> subscriber
    count. The input is held exactly while some output has a subscriber, so an unwatched node
    receives nothing.
    """
    wanted = any(count > 0 for count in subscriber_counts.values())
    return None if wanted == subscribed else wanted


def lost_frames_hint() -> str:
    """What to do when input frames are lost in transport (the node's warning)."""
    return ("images larger than the publisher's Fast DDS shared-memory segment (512 KB by "
            "default, less than one 640x480 rgb8 frame) are lost whenever the subscriber lags. "
            f"Start the camera driver with FASTRTPS_DEFAULT_PROFILES_FILE={FASTDDS_PROFILE} "
            "(a larger segment), or publish reliable and set qos_reliability to reliable")


def fastdds_profile_variable(environ: Mapping[str, str]) -> Optional[Tuple[str, str]]:
    """(variable, value) to set before rclpy.init for the node's own participant.

    The node's outputs are 1.5-4.5 MB a frame, so its Fast DDS participant uses FASTDDS_PROFILE;
    None when the user chose a profile file or a middleware other than Fast DDS.
    """
    if any(environ.get(name) for name in FASTDDS_PROFILE_VARIABLES):
        return None
    if environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") not in FASTDDS_RMWS:
        return None
    return FASTDDS_PROFILE_VARIABLES[0], str(FASTDDS_PROFILE)


def diagnostic_name(fully_qualified_node_name: str) -> str:
    """The diagnostic status name of node `fully_qualified_node_name`.

    'bodypix: BodyPix segmentation' for /bodypix, 'ns/bodypix: ...' for /ns/bodypix, so two
    nodes in different namespaces stay apart.
    """
    return f"{fully_qualified_node_name.lstrip('/')}: BodyPix segmentation"


def stamp_age_ms(now_ns: int, stamp_sec: int, stamp_nanosec: int) -> Optional[float]:
    """Milliseconds from a header stamp to `now_ns` (same clock); None for an unset stamp."""
    if stamp_sec == 0 and stamp_nanosec == 0:
        return None
    return (now_ns - stamp_ns(stamp_sec, stamp_nanosec)) / 1e6


def stamp_ns(stamp_sec: int, stamp_nanosec: int) -> int:
    """A header stamp (sec, nanosec) in integer nanoseconds."""
    return stamp_sec * 1_000_000_000 + stamp_nanosec


def rcl_error_reason(message: str) -> str:
    """An rcl error message on one line, without its C source locations (', at src/x.c:73')."""
    return " ".join(re.sub(r",? at \S+\.c:\d+", "", message).split())


def _milliseconds(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.1f}"
