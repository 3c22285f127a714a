"""The README's commands and tables stay in step with the code and CI."""

import os
import re
import subprocess
import sys

from conftest import REPO

from bodypix_ros.parts import PART_NAMES, RAINBOW_PART_COLORS

README = (REPO / "README.md").read_text(encoding="utf-8")


def first_code_block() -> list:
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_setup_and_test_commands():
    setup, tests = first_code_block()
    assert "pip install" in setup and "bodypix-ros segment" in setup
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    _, tests = first_code_block()
    assert tests in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_parameter_table_is_generated_from_the_schema():
    table = subprocess.run([sys.executable, "-m", "bodypix_ros.ros.params"], check=True,
                           capture_output=True, text=True, cwd=REPO).stdout.strip()
    assert table.count("\n") > 20 and table in README


def test_part_table_lists_every_part_with_its_colour():
    for part_id, (name, color) in enumerate(zip(PART_NAMES, RAINBOW_PART_COLORS)):
        row = f"| {part_id + 1} | {part_id} | `{name}` | ({color[0]}, {color[1]}, {color[2]}) |"
        assert row in README


def test_the_python_example_runs_as_written(tmp_path, shared_dir):
    """The README's Python block, on a shared photo saved as people.jpg, with the shared models."""
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    photo = next((shared_dir / "images" / "pexels").glob("two_people_*.jpg"))
    (tmp_path / "people.jpg").write_bytes(photo.read_bytes())
    check = ("\nassert result.person_mask.shape == frame.shape[:2] and result.person_mask.any()"
             "\nassert overlay.shape == frame.shape and len(result.persons) >= 1\nprint('ok')")
    environment = {**os.environ, "BODYPIX_MODEL_BASE_URL": str(shared_dir / "models" / "bodypix"),
                   "BODYPIX_MODEL_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", example + check], cwd=tmp_path, env=environment,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-2000:]
