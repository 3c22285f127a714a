"""Refused input frames: counted by cause, warned once per cause, bounded."""

from bodypix_ros.errors import ImageDataError, UnsupportedEncodingError
from bodypix_ros.ros.rejects import MAX_CAUSES, MAX_NAME_CHARS, OTHER, RejectLog, reject_cause


def test_each_cause_is_new_once_and_counted():
    rejects = RejectLog()
    assert rejects.note(UnsupportedEncodingError("32FC1", "no"))
    assert not rejects.note(UnsupportedEncodingError("32FC1", "no"))
    assert rejects.note(ImageDataError("short"))
    assert not rejects.note(ImageDataError("other text, same cause"))
    assert rejects.total == 4
    assert rejects.summary() == "bad data: 2, encoding '32FC1': 2"


def test_causes_are_bounded_in_number_and_length():
    rejects = RejectLog()
    new = [rejects.note(UnsupportedEncodingError(f"enc{index}" * 1000, "no"))
           for index in range(3 * MAX_CAUSES)]
    assert sum(new) == MAX_CAUSES + 1  # then one 'other' for all the rest
    assert len(rejects.counts) == MAX_CAUSES + 1
    assert rejects.counts[OTHER] == 2 * MAX_CAUSES
    assert all(len(cause) <= len("encoding ''") + MAX_NAME_CHARS for cause in rejects.counts)
    assert reject_cause(UnsupportedEncodingError("x" * 500, "no")).endswith("...'")
