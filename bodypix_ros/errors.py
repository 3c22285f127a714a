"""Every exception bodypix_ros raises on purpose. A leaf: imports nothing of the package.

Each message says what is wrong and what to do, in the user's own terms.
"""


class BodyPixError(Exception):
    """Base of this package's errors."""


class ModelError(BodyPixError, RuntimeError):
    """A model cannot be named, found, downloaded or read; the message says what to do."""


class SettingsError(BodyPixError, ValueError):
    """A setting is out of range or of the wrong kind."""


class FrameError(BodyPixError, ValueError):
    """A frame the engine cannot segment (wrong dtype, rank, channels or empty)."""


class DecodeError(BodyPixError, ValueError):
    """An input image (message, file or video frame) that cannot be decoded."""


class UnsupportedEncodingError(DecodeError):
    """An image encoding or compressed format that is not converted; `.encoding` names it."""

    def __init__(self, encoding: str, message: str):
        super().__init__(message)
        self.encoding = encoding


class ImageDataError(DecodeError):
    """Image data that does not match its size fields, or that cannot be decoded."""


class MessageDataError(DecodeError):
    """A recorded message whose serialized bytes cannot be deserialized (e.g. corrupt CDR)."""


class ImageTooLargeError(DecodeError):
    """An image whose declared width x height exceeds the pixel budget (max_input_pixels).

    Raised before anything is decoded or allocated.
    """


class ParameterError(BodyPixError, ValueError):
    """A node parameter value is refused; the message is the reason given back to the caller."""


class UsageError(BodyPixError, ValueError):
    """A command line that cannot be run as given; exit status 2."""


class CliError(BodyPixError, RuntimeError):
    """A runtime failure of a command (unreadable input, unwritable output); exit status 1."""
