"""config/bodypix.yaml matches the parameter table; launch/segment.launch.py is well formed.

`launch` is not importable without ROS, so the launch file is checked through its syntax tree.
"""

import ast
import glob
import re
from pathlib import Path

import pytest
from conftest import PYTHON_TYPES, REPO

from bodypix_ros.ros.params import PARAMETERS, PARAMETERS_BY_NAME, check_value

CONFIG = REPO / "config" / "bodypix.yaml"
LAUNCH = REPO / "launch" / "segment.launch.py"
ISSUE_LAUNCH_ARGUMENTS = {
    "image",
    "namespace",
    "params_file",
    "model",
    "use_sim_time",
    "log_level",
}


def flatten(parameters: dict, prefix: str = "") -> dict:
    """Nested YAML mappings -> dotted parameter names, as rcl reads a params file."""
    flat = {}
    for key, value in parameters.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.fixture(scope="module")
def config_values() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML (python3-yaml) reads the params file")
    document = yaml.safe_load(CONFIG.read_text())
    assert list(document) == ["/**"], (
        "parameters must apply to the node under any name and namespace"
    )
    return flatten(document["/**"]["ros__parameters"])


def test_config_sets_every_parameter_and_nothing_else(config_values):
    assert set(config_values) == set(PARAMETERS_BY_NAME)


@pytest.mark.parametrize("spec", PARAMETERS, ids=lambda spec: spec.name)
def test_config_values_are_the_defaults_with_the_declared_type(config_values, spec):
    value = config_values[spec.name]
    if not spec.dynamic_typing:
        # rclpy refuses an override whose type differs from the declared one (1 for a double)
        assert type(value) is PYTHON_TYPES[spec.type_name], f"{spec.name}: {value!r}"
    assert check_value(spec, value) == check_value(spec, spec.default)


def test_every_parameter_line_has_a_comment():
    lines = CONFIG.read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^\s+([A-Za-z_]+):\s*(\S.*)?$", line)
        if not match or match[1] == "ros__parameters" or not match[2]:
            continue  # a mapping such as `multi_person:` holds parameters, it is not one
        previous = lines[index - 1].strip()
        assert previous.startswith("#") or "#" in (match[2] or ""), f"no comment for {match[1]!r}"


def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def calls_named(tree: ast.AST, name: str):
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == name]


def keyword(call: ast.Call, name: str) -> ast.AST:
    matches = [item.value for item in call.keywords if item.arg == name]
    assert matches, f"{name}= missing"
    return matches[0]


def test_launch_declares_the_issues_arguments():
    tree = launch_tree()
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    arguments = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                     and node.targets[0].id == "ARGUMENTS")
    names = {key.value for key in arguments.keys}
    assert names == ISSUE_LAUNCH_ARGUMENTS
    assert calls_named(tree, "DeclareLaunchArgument")


def test_launch_runs_the_installed_node_with_params_file_and_remapping():
    tree = launch_tree()
    [node] = calls_named(tree, "Node")
    assert ast.literal_eval(keyword(node, "package")) == "bodypix_ros"
    assert ast.literal_eval(keyword(node, "name")) == "bodypix"
    executable = ast.literal_eval(keyword(node, "executable"))
    setup = (REPO / "setup.py").read_text()
    assert re.search(rf"['\"]{executable}\s*=\s*bodypix_ros\.ros\.node:main['\"]", setup)
    remapped = [ast.literal_eval(pair.elts[0]) for pair in keyword(node, "remappings").elts]
    assert remapped[0] == "image" and "image/compressed" in remapped
    arguments = ast.dump(keyword(node, "arguments"))
    assert "--log-level" in arguments and "log_level" in arguments
    assert "params_file" in ast.dump(keyword(node, "parameters"))


def test_params_file_default_is_the_installed_config():
    source = LAUNCH.read_text()
    assert re.search(
        r"FindPackageShare\(\"bodypix_ros\"\),\s*\"config\",\s*\"bodypix\.yaml\"", source
    )
    for pattern, path in (("config/*.yaml", CONFIG), ("launch/*.launch.py", LAUNCH)):
        assert f'glob("{pattern}")' in (REPO / "setup.py").read_text()
        assert str(path.relative_to(REPO)) in [
            str(Path(p)) for p in glob.glob(pattern, root_dir=REPO)
        ]


def test_model_argument_overrides_only_when_given():
    source = LAUNCH.read_text()
    tree = launch_tree()
    [opaque] = calls_named(tree, "OpaqueFunction")
    function_name = keyword(opaque, "function").id
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef)
                    and node.name == function_name)
    guarded = [node for node in ast.walk(function) if isinstance(node, ast.If)
               and "model" in ast.unparse(node.test)]
    assert guarded and "overrides['model']" in ast.unparse(guarded[0].body[0]), source
