"""The package's architecture: imports flow one way, with no cycle, and the public surface is
cheap.

Every import inside bodypix_ros counts, also those inside functions: an import deferred to a
function to dodge a cycle is still a cycle.
"""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "bodypix_ros"
LAYERS = ("core", "model", "engine", "ros", "cli")
"""Allowed import direction: a module may import its own layer and the layers before it."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict:
    """Module name -> path of every module of the package."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path, known) -> set:
    """The package modules `path` imports anywhere in its body (`from X import name` counts
    as importing module X.name when that is a module, else X)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the package uses absolute imports)"
            if node.module in known:
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    found.add(candidate if candidate in known else node.module)
    return found


def import_graph() -> dict:
    known = modules()
    return {name: imported_modules(path, known) - {name} for name, path in known.items()}


def find_cycle(graph: dict):
    """One cycle of `graph` (name -> imported names) as a list of names, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return trail[trail.index(target):] + [target]
            if target not in state:
                cycle = visit(target, trail + [target])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def layer(module: str) -> str:
    if module == "bodypix_ros.__main__":  # `python -m bodypix_ros` runs the command line
        return "cli"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("model", "ros", "cli"):
        return parts[1]
    return "engine" if module == "bodypix_ros.engine" else "core"


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()))


def test_the_cycle_finder_finds_a_seeded_cycle():
    graph = import_graph()
    graph["bodypix_ros.errors"] = graph["bodypix_ros.errors"] | {"bodypix_ros.cli.main"}
    cycle = find_cycle(graph)
    assert cycle and cycle[0] == cycle[-1] and "bodypix_ros.errors" in cycle


def test_imports_flow_from_core_to_model_engine_ros_cli():
    backwards = [f"{source} imports {target}"
                 for source, targets in import_graph().items() if source != "bodypix_ros"
                 for target in targets
                 if LAYERS.index(layer(target)) > LAYERS.index(layer(source))]
    assert backwards == []


def test_errors_is_a_leaf_and_only_the_node_imports_rclpy():
    assert import_graph()["bodypix_ros.errors"] == set()
    rclpy_importers = {name for name, path in modules().items()
                       if "import rclpy" in path.read_text(encoding="utf-8")
                       or "from rclpy" in path.read_text(encoding="utf-8")}
    assert rclpy_importers <= {"bodypix_ros.ros.node", "bodypix_ros.cli.node_bench"}
    assert "bodypix_ros.ros.node" in rclpy_importers


def test_each_package_imports_without_tensorflow_or_rclpy():
    packages = ["bodypix_ros", "bodypix_ros.model", "bodypix_ros.ros", "bodypix_ros.cli",
                "bodypix_ros.ros.params", "bodypix_ros.ros.outputs", "bodypix_ros.cli.main"]
    code = (f"import importlib, sys; [importlib.import_module(m) for m in {packages!r}]; "
            "import bodypix_ros; bodypix_ros.BodyPixEngine; bodypix_ros.SegmentationSettings; "
            "print(sorted(m for m in ('tensorflow', 'rclpy') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert output.stdout.strip() == "[]"
