"""Refused input frames: counted by cause, warned once per cause, bounded."""

import pytest

from bodypix_ros.errors import DecodeError, ImageDataError, UnsupportedEncodingError
from bodypix_ros.ros.rejects import (
    MAX_CAUSES,
    MAX_NAME_CHARS,
    MAX_REASON_CHARS,
    OTHER,
    RejectLog,
    reject_cause,
    shorten,
)


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


def test_errors_quote_at_most_a_shortened_encoding_or_format():
    """441 distinct strings of up to 65,796 characters once gave 5.8 MB of log (issue 12)."""
    import types

    from bodypix_ros.ros.image_codec import decode_compressed, image_to_rgb

    long_name = "x" * 65_796
    with pytest.raises(UnsupportedEncodingError) as caught:
        image_to_rgb(long_name, 2, 2, 6, 0, bytes(12))
    assert len(str(caught.value)) < 400 and caught.value.encoding == long_name
    for data in (b"garbage", b"\xff\xd8"):
        with pytest.raises(DecodeError) as caught:
            decode_compressed(types.SimpleNamespace(format=long_name + " png", data=data))
        assert len(str(caught.value)) < 400
    assert len(shorten("y" * 1000, MAX_REASON_CHARS)) == MAX_REASON_CHARS


def test_too_large_and_corrupt_messages_are_causes_of_their_own():
    from bodypix_ros.errors import ImageTooLargeError, MessageDataError

    rejects = RejectLog()
    assert rejects.note(ImageTooLargeError("8000x8000"))
    assert not rejects.note(ImageTooLargeError("9000x9000"))
    assert rejects.note(MessageDataError("Invalid string length"))
    assert rejects.summary() == "corrupt message: 1, over the pixel budget: 2"
