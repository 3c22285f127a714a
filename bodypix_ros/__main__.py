"""`python -m bodypix_ros ...` runs the `bodypix-ros` command line."""

import sys

from bodypix_ros.cli.main import main

sys.exit(main())
