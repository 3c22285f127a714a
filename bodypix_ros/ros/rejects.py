"""Input frames refused by the decoder, counted by cause; the first of each cause is warned. No
ROS.

Used by the node and the bag tool, so both warn the same way. Causes are short and bounded
in number: a peer sending ever-new encoding strings cannot grow the log or the memory.
"""

from typing import Dict

from bodypix_ros.errors import (
    DecodeError,
    ImageTooLargeError,
    MessageDataError,
    UnsupportedEncodingError,
)

MAX_CAUSES = 16
"""Distinct causes remembered; later new causes are counted together as 'other'."""
MAX_NAME_CHARS = 64
"""Longest encoding name quoted in a cause; longer ones are cut with '...'."""
MAX_REASON_CHARS = 200
"""Longest error text a log line or the diagnostics quote."""
OTHER = "other"


def shorten(text: str, limit: int = MAX_NAME_CHARS) -> str:
    """`text` cut to `limit` characters, ending with '...' when cut."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def reject_cause(error: DecodeError) -> str:
    """Why a frame was refused, in a few words.

    One of 'encoding NAME', 'over the pixel budget', 'corrupt message' or 'bad data'.
    """
    if isinstance(error, UnsupportedEncodingError):
        return f"encoding {shorten(error.encoding)!r}"
    if isinstance(error, ImageTooLargeError):
        return "over the pixel budget"
    if isinstance(error, MessageDataError):
        return "corrupt message"
    return "bad data"


class RejectLog:
    """Counts of refused frames by cause (at most MAX_CAUSES + 1 entries)."""

    def __init__(self):
        self.counts: Dict[str, int] = {}

    def note(self, error: DecodeError) -> bool:
        """Count one refused frame; True when its cause is new (worth one warning)."""
        cause = reject_cause(error)
        if cause not in self.counts and len(self.counts) >= MAX_CAUSES:
            cause = OTHER
        new = cause not in self.counts
        self.counts[cause] = self.counts.get(cause, 0) + 1
        return new

    @property
    def total(self) -> int:
        """Frames refused so far."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """'cause: count, ...' sorted by cause; '' when nothing was refused."""
        return ", ".join(f"{cause}: {count}" for cause, count in sorted(self.counts.items()))
