"""Start the BodyPix segment node.

ros2 launch bodypix_ros segment.launch.py image:=/camera/image_raw ros2 launch bodypix_ros
segment.launch.py image:=/camera/image_raw namespace:=front model:=mobilenet_float_050_stride16
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "image": ("image", "Input image topic; its /compressed sibling is remapped with it."),
    "namespace": ("", "Namespace of the node and its ~/ outputs."),
    "params_file": (
        PathJoinSubstitution([FindPackageShare("bodypix_ros"), "config", "bodypix.yaml"]),
        "Parameter file (every parameter is listed in the package's config/bodypix.yaml).",
    ),
    "model": ("", "Model name, model.json path or URL; empty keeps params_file's `model`."),
    "use_sim_time": ("false", "Use /clock (e.g. when playing a bag with --clock)."),
    "log_level": ("info", "Log level: debug, info, warn, error or fatal."),
}


def _segment_node(context):
    """The node, with `model` overriding params_file only when it is given."""
    overrides = {"use_sim_time": LaunchConfiguration("use_sim_time").perform(context).lower()
                 in ("true", "1", "yes")}
    model = LaunchConfiguration("model").perform(context).strip()
    if model:
        overrides["model"] = model
    image = LaunchConfiguration("image")
    return [Node(
        package="bodypix_ros",
        executable="segment_node",
        name="bodypix",
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file"), overrides],
        remappings=[("image", image), ("image/compressed", [image, "/compressed"])],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen",
        emulate_tty=True,
    )]


def generate_launch_description():
    declared = [DeclareLaunchArgument(name, default_value=default, description=description)
                for name, (default, description) in ARGUMENTS.items()]
    return LaunchDescription(declared + [OpaqueFunction(function=_segment_node)])
