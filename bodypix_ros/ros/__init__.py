"""The ROS 2 node (`node`, the only module that imports rclpy) and its ROS-free parts: parameters
(`params`), output selection and message fields (`outputs`), the worker's parts and diagnostics
(`runtime`), refused frames (`rejects`) and image message conversion (`image_codec`);
`fastdds_large_images.xml` is the node's Fast DDS profile.
"""
