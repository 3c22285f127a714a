"""Latest-frame slot, rate limiting, statistics and diagnostics (no ROS; simulated clocks)."""

import threading

import numpy as np
import pytest

from bodypix_ros.ros.runtime import (
    DIAGNOSTIC_ERROR,
    DIAGNOSTIC_OK,
    DIAGNOSTIC_WARN,
    FASTDDS_PROFILE,
    Handoff,
    LatencyWindow,
    LatestFrameSlot,
    NodeStats,
    RateLimiter,
    RateMeter,
    diagnostic_report,
    fastdds_profile_variable,
    input_subscription_change,
    lost_frames_hint,
    rcl_error_reason,
    stamp_age_ms,
)


def test_slot_keeps_only_the_newest_frame():
    slot = LatestFrameSlot()
    assert slot.put("frame 1") is False
    assert slot.put("frame 2") is True  # frame 1 was never taken: dropped
    assert slot.take(timeout=0) == "frame 2"
    assert slot.take(timeout=0) is None


def test_close_wakes_a_waiting_consumer_and_stops_sleep():
    slot = LatestFrameSlot()
    taken = []
    consumer = threading.Thread(target=lambda: taken.append(slot.take()))
    consumer.start()
    slot.close()
    consumer.join(timeout=10)
    assert not consumer.is_alive() and taken == [None]
    assert slot.sleep(60.0) is True
    assert slot.put("late") is False and slot.take() is None


def test_sleep_without_close_returns_false():
    assert LatestFrameSlot().sleep(0.01) is False


def test_a_slow_consumer_sees_the_newest_frames_in_order_and_every_frame_is_accounted_for():
    slot = LatestFrameSlot()
    produced, replaced, taken = 2000, [], []
    done = threading.Event()

    def consume():
        while True:
            finished = done.is_set()  # read before take(): a put after a timed-out take is kept
            item = slot.take(timeout=0.05)
            if item is not None:
                taken.append(item)
            elif finished:
                return

    consumer = threading.Thread(target=consume)
    consumer.start()
    for index in range(produced):
        replaced.append(slot.put(index))
    done.set()
    consumer.join(timeout=30)
    assert taken == sorted(set(taken))       # never an older frame after a newer one
    assert taken[-1] == produced - 1         # the newest frame is always processed
    assert len(taken) + sum(replaced) == produced


def test_handoff_passes_every_item_in_order_and_holds_the_producer_back():
    handoff, taken, puts_done = Handoff(), [], []

    def produce():
        for index in range(500):
            puts_done.append(handoff.put(index))

    producer = threading.Thread(target=produce)
    producer.start()
    while len(taken) < 500:
        taken.append(handoff.take())
        # the producer is at most one item ahead of the consumer: put() waited for take()
        assert len(puts_done) <= len(taken) + 1
    producer.join(timeout=30)
    assert taken == list(range(500)) and all(puts_done)


def test_handoff_close_wakes_a_waiting_producer_and_consumer():
    handoff = Handoff()
    assert handoff.put("in flight")
    results = {}
    producer = threading.Thread(target=lambda: results.setdefault("put", handoff.put("next")))
    producer.start()
    producer.join(timeout=0.2)
    assert producer.is_alive()  # waits: "in flight" is not taken yet
    handoff.close()
    producer.join(timeout=10)
    assert results == {"put": False}
    consumer = threading.Thread(target=lambda: results.setdefault("take", handoff.take()))
    consumer.start()
    consumer.join(timeout=10)
    assert results["take"] is None


def test_rate_limiter_waits_for_the_next_period():
    limiter = RateLimiter()
    assert limiter.wait_time(now=10.0, max_rate=2.0) == 0.0
    limiter.accept(10.0, 2.0)
    assert limiter.wait_time(10.1, 2.0) == pytest.approx(0.4)
    assert limiter.wait_time(10.5, 2.0) == 0.0
    assert limiter.wait_time(10.1, 0.0) == 0.0  # 0 = unlimited
    assert limiter.wait_time(10.1, 5.0) == pytest.approx(0.1)  # a new max_rate applies at once


def simulate_worker(max_rate, camera_hz=30.0, seconds=20.0, jitter_s=0.0):
    """The worker on a camera: a frame is processed whenever the limiter allows it -> accepted
    times."""
    rng = np.random.default_rng(4)
    limiter, accepted = RateLimiter(), []
    for index in range(int(seconds * camera_hz)):
        now = index / camera_hz + rng.uniform(-jitter_s, jitter_s)
        if limiter.wait_time(now, max_rate) == 0.0:
            limiter.accept(now, max_rate)
            accepted.append(now)
    return np.asarray(accepted)


@pytest.mark.parametrize("max_rate", [1.0, 5.0, 12.5, 15.0, 29.0])
@pytest.mark.parametrize("jitter_s", [0.0, 0.004])
def test_rate_limited_worker_keeps_max_rate_on_a_jittery_30_hz_camera(max_rate, jitter_s):
    accepted = simulate_worker(max_rate, jitter_s=jitter_s)
    achieved = (len(accepted) - 1) / (accepted[-1] - accepted[0])
    assert achieved <= max_rate * 1.01
    assert achieved >= max_rate * 0.95
    per_second = [np.count_nonzero((accepted >= t) & (accepted < t + 1.0)) for t in accepted]
    assert max(per_second) <= np.ceil(max_rate) + 1  # no burst in any second


def test_rate_limiter_restarts_its_schedule_after_a_pause():
    limiter = RateLimiter()
    limiter.accept(0.0, 10.0)
    limiter.accept(5.0, 10.0)  # the camera paused for 5 s
    assert limiter.wait_time(5.05, 10.0) == pytest.approx(0.05)  # not a burst of catch-up frames


def test_rate_limit_above_the_camera_rate_takes_every_frame():
    accepted = simulate_worker(100.0, seconds=2.0)
    assert len(accepted) == 60


def test_rate_meter_measures_and_forgets():
    meter = RateMeter(window_s=5.0)
    for index in range(40):  # 10 Hz for 4 s
        meter.record(index * 0.1)
    assert meter.rate(now=4.0) == pytest.approx(10.0)
    assert meter.count(now=4.0) == 40
    assert meter.rate(now=20.0) == 0.0 and meter.count(now=20.0) == 0
    single = RateMeter()
    single.record(1.0)
    assert single.rate(1.5) == 0.0


def test_latency_window_percentiles_use_the_latest_samples():
    window = LatencyWindow(size=100)
    assert window.percentiles(50, 95) == (None, None)
    for value in range(1, 101):
        window.add(value)
    p50, p95 = window.percentiles(50, 95)
    assert 50 <= p50 <= 51 and 95 <= p95 <= 96
    for value in range(101, 201):
        window.add(value)
    assert 150 <= window.percentiles(50)[0] <= 151


def test_stamp_age_from_the_header_stamp():
    now_ns = 1_700_000_010_250_000_000
    assert stamp_age_ms(now_ns, 1_700_000_010, 0) == pytest.approx(250.0)
    assert stamp_age_ms(now_ns, 1_700_000_009, 500_000_000) == pytest.approx(750.0)
    assert stamp_age_ms(now_ns, 0, 0) is None  # unset stamp: no end-to-end sample


def run_camera(stats: NodeStats, seconds=3.0, rate=20.0):
    """Frames at `rate`; even ones processed, odd ones replaced by the next (dropped) -> end
    time."""
    now = 0.0
    for index in range(int(seconds * rate)):
        now = index / rate
        stats.frame_received(now, dropped_older=index % 2 == 0 and index > 0)
        if index % 2 == 1:
            stats.frame_processed(now + 0.01, processing_ms=80.0 + index % 5,
                                  end_to_end_ms=120.0 + index % 7)
    return now


def test_stats_snapshot_counts_rates_and_latencies():
    stats = NodeStats(window_s=5.0)
    end = run_camera(stats)
    stats.frame_skipped()
    stats.frame_rejected(end, "image encoding '32FC1' is not supported")
    snapshot = stats.snapshot(end + 0.02)
    assert snapshot.received == 60 and snapshot.processed == 30 and snapshot.dropped == 29
    assert snapshot.skipped == 1 and snapshot.rejected == 1 and snapshot.failed == 0
    assert snapshot.input_hz == pytest.approx(20.0, rel=0.05)
    assert snapshot.output_hz == pytest.approx(10.0, rel=0.1)
    assert 80.0 <= snapshot.processing_ms[0] <= snapshot.processing_ms[1] <= 84.0
    assert 120.0 <= snapshot.end_to_end_ms[0] <= snapshot.end_to_end_ms[1] <= 126.0
    assert snapshot.seconds_since_input == pytest.approx(0.02)


def test_diagnostics_ok_while_segmenting_with_every_value():
    stats = NodeStats()
    end = run_camera(stats)
    report = diagnostic_report(stats.snapshot(end + 0.01), "mobilenet_quant2_075_stride16",
                               subscribed=True)
    assert report.level == DIAGNOSTIC_OK and report.message == "segmenting"
    values = dict(report.values)
    assert values["model"] == "mobilenet_quant2_075_stride16"
    assert float(values["input rate (Hz)"]) == pytest.approx(20.0, rel=0.05)
    assert float(values["output rate (Hz)"]) == pytest.approx(10.0, rel=0.1)
    for key in ("processing latency p50 (ms)", "processing latency p95 (ms)",
                "end-to-end latency p50 (ms)", "end-to-end latency p95 (ms)"):
        assert float(values[key]) > 0
    assert values["frames dropped (replaced by newer)"] == "29"
    assert all(isinstance(value, str) for _, value in report.values)


def test_diagnostics_idle_without_subscribers():
    report = diagnostic_report(NodeStats().snapshot(100.0), "m", subscribed=False)
    assert report.level == DIAGNOSTIC_OK and "no output has a subscriber" in report.message
    assert dict(report.values)["processing latency p50 (ms)"] == "n/a"


def test_diagnostics_warn_when_subscribed_but_no_input_arrives():
    stats = NodeStats()
    assert diagnostic_report(stats.snapshot(1.0), "m", subscribed=True).level == DIAGNOSTIC_WARN
    stats.frame_received(1.0, dropped_older=False)
    assert diagnostic_report(stats.snapshot(2.0), "m", subscribed=True).level == DIAGNOSTIC_OK
    assert diagnostic_report(stats.snapshot(9.0), "m", subscribed=True).level == DIAGNOSTIC_WARN


def test_diagnostics_report_rejections_then_failures_until_they_age_out():
    stats = NodeStats(window_s=5.0)
    stats.frame_received(0.0, dropped_older=False)
    stats.frame_rejected(0.0, "image encoding '32FC1' is not supported")
    report = diagnostic_report(stats.snapshot(1.0), "m", subscribed=False)
    assert report.level == DIAGNOSTIC_WARN and "32FC1" in report.message
    stats.frame_failed(2.0, "RuntimeError('boom')")
    report = diagnostic_report(stats.snapshot(3.0), "m", subscribed=False)
    assert report.level == DIAGNOSTIC_ERROR and "boom" in report.message
    assert diagnostic_report(stats.snapshot(30.0), "m", subscribed=False).level == DIAGNOSTIC_OK


def test_diagnostics_warn_on_a_failed_callback_until_it_ages_out():
    stats = NodeStats(window_s=5.0)
    stats.callback_failed(1.0, "ValueError('42 is not a valid Parameter.Type')")
    report = diagnostic_report(stats.snapshot(2.0), "m", subscribed=False)
    assert report.level == DIAGNOSTIC_WARN and "42 is not a valid" in report.message
    assert dict(report.values)["callbacks failed (e.g. malformed requests)"] == "1"
    assert diagnostic_report(stats.snapshot(30.0), "m", subscribed=False).level == DIAGNOSTIC_OK


def test_rcl_error_reason_is_one_line_without_source_locations():
    message = ("failed to initialize rcl: Couldn't parse params file: '--params-file x.yaml'.\n"
               "Error: Error opening YAML file, at /project/src/parser.c:271, at "
               "/project/src/rcl/arguments.c:415")
    assert rcl_error_reason(message) == ("failed to initialize rcl: Couldn't parse params file: "
                                         "'--params-file x.yaml'. Error: Error opening YAML file")


@pytest.mark.parametrize("subscribed, counts, change", [
    (False, {"mask": 0, "overlay": 0}, None),
    (False, {"mask": 0, "overlay": 2}, True),
    (True, {"mask": 1, "overlay": 0}, None),
    (True, {"mask": 0, "overlay": 0}, False),
    (True, {}, False),
])
def test_the_input_is_subscribed_exactly_while_an_output_is_watched(subscribed, counts, change):
    assert input_subscription_change(subscribed, counts) is change


def test_the_node_uses_the_bundled_fastdds_profile_unless_one_is_chosen():
    assert FASTDDS_PROFILE.is_file() and "<segment_size>" in FASTDDS_PROFILE.read_text()
    assert fastdds_profile_variable({}) == ("FASTRTPS_DEFAULT_PROFILES_FILE", str(FASTDDS_PROFILE))
    assert fastdds_profile_variable({"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}) is not None
    assert fastdds_profile_variable({"FASTRTPS_DEFAULT_PROFILES_FILE": "/mine.xml"}) is None
    assert fastdds_profile_variable({"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"}) is None
    assert fastdds_profile_variable({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}) is None
    assert str(FASTDDS_PROFILE) in lost_frames_hint()


def test_lost_and_rate_limited_frames_are_counted_apart():
    stats = NodeStats()
    stats.frame_received(0.0, dropped_older=False)
    stats.frame_received(0.1, dropped_older=True)
    stats.frame_received(0.2, dropped_older=True, rate_limited=True)
    stats.frame_received(0.3, dropped_older=False, rate_limited=True)
    stats.frames_lost(3)
    snapshot = stats.snapshot(0.3)
    counts = (snapshot.received, snapshot.dropped, snapshot.rate_limited, snapshot.lost)
    assert counts == (4, 1, 1, 3)
    values = dict(diagnostic_report(snapshot, "model", subscribed=True).values)
    assert values["frames lost in transport"] == "3"
    assert values["frames dropped (rate limit)"] == "1"
