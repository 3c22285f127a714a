"""`python -m bodypix_ros ...` runs the `bodypix-ros` command line."""

import sys

from .cli import main

sys.exit(main())
