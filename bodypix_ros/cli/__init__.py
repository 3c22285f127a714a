"""The `bodypix-ros` command line: `main` (parser and registration), `common` (shared options,
progress and image I/O) and one module per subcommand.
"""
