"""The `bodypix-ros` command line: the parser, the one place subcommands are registered, `main`.

Each subcommand lives in its own module (`segment`, `bench`, `bag`, `video`, `node_bench`)
and shares options and image I/O through `common`. Errors print one line
`bodypix-ros: error: ...` on stderr; exit status 2 for usage errors (bad option or setting),
1 for runtime errors (model, unreadable or over-budget image).
"""

import argparse
import logging
import os
import sys
from typing import Optional, Sequence

from bodypix_ros.cli import bag, bench, node_bench, segment, video
from bodypix_ros.cli.common import LOGGER, PROG
from bodypix_ros.errors import (
    CliError,
    DecodeError,
    FrameError,
    ModelError,
    SettingsError,
    UsageError,
)
from bodypix_ros.version import __version__

SUBCOMMANDS = (segment, bench, node_bench, bag, video)
"""Modules whose `add_parser(subparsers)` adds a subcommand that sets `run=function(args)`."""


class OneLineParser(argparse.ArgumentParser):
    """argparse reporting a usage error as one `bodypix-ros: error: ...` line (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG,
                           description="BodyPix 2.0 person and body-part segmentation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of `bodypix-ros`; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(format=f"{PROG}: %(message)s")
    LOGGER.setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (SettingsError, UsageError) as error:
        return _fail(error, 2)
    except (ModelError, FrameError, DecodeError, CliError) as error:
        return _fail(error, 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(error, status: int) -> int:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
