"""Lint as part of the tests, as ROS 2 packages do: ruff with the repository's ruff.toml
(pycodestyle at 99 columns, pyflakes, isort, pep8-naming, pydocstyle, bugbear)."""

import shutil
import subprocess
import sys

import pytest
from conftest import REPO

LINTED = ("bodypix_ros", "launch", "test", "setup.py")


def ruff(*arguments, cwd=REPO):
    """Run ruff (the test extra installs it) -> CompletedProcess."""
    executable = shutil.which("ruff", path=str(REPO / ".venv" / "bin")) or shutil.which("ruff")
    command = [executable] if executable else [sys.executable, "-m", "ruff"]
    try:
        return subprocess.run([*command, *arguments], cwd=cwd, capture_output=True, text=True,
                              timeout=120)
    except FileNotFoundError:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")


def test_the_package_launch_files_and_tests_pass_ruff():
    run = ruff("check", "--config", str(REPO / "ruff.toml"), "--no-cache", *LINTED)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]


def test_ruff_fails_on_a_seeded_violation(tmp_path):
    seeded = tmp_path / "seeded.py"
    seeded.write_text("import os\n\n\ndef f():\n    return 1  # " + "x" * 100 + "\n")
    run = ruff("check", "--config", str(REPO / "ruff.toml"), "--no-cache", str(seeded),
               cwd=tmp_path)
    assert run.returncode == 1
    assert "F401" in run.stdout and "E501" in run.stdout
