"""The network input of a frame, as TFJS body-pix 2.2 `padAndResizeTo` builds it, in TensorFlow
ops.

The frame is zero-padded to the input's aspect ratio and resized with TF1 `ResizeBilinear`
(align_corners=False, half_pixel_centers=False): input pixel (y, x) samples the padded frame
at (y * padded_h / H_in, x * padded_w / W_in), clamped at the last row and column. The engine
runs these ops inside the network's TensorFlow call (with TFLite, in a TensorFlow call before).
"""

from functools import lru_cache, partial

import numpy as np

from bodypix_ros.geometry import InputGeometry

IMAGENET_MEAN = (-123.15, -115.90, -103.06)
"""Added to RGB values before ResNet50 (TFJS `resnet.ts`)."""


def network_input_graph(frame, padding, input_size, architecture: str):
    """TensorFlow ops: [H, W, 3] uint8 RGB frame, padding [4] (top, bottom, left, right) and
    input_size [2] int32 -> [1, H_in, W_in, 3] float32 batch, normalised for `architecture`:
    RGB / 127.5 - 1 for MobileNet, RGB + IMAGENET_MEAN for ResNet50.
    """
    import tensorflow as tf

    padded = tf.pad(
        tf.cast(frame, tf.float32), [[padding[0], padding[1]], [padding[2], padding[3]], [0, 0]]
    )
    batch = tf.raw_ops.ResizeBilinear(images=padded[None], size=input_size, align_corners=False,
                                      half_pixel_centers=False)
    if architecture == "resnet50":
        return batch + tf.constant(IMAGENET_MEAN, tf.float32)
    return batch / 127.5 - 1.0


def network_input(frame: np.ndarray, geometry: InputGeometry, architecture: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame -> (1, H_in, W_in, 3) float32 batch, in one TensorFlow call (the
    TensorFlow backend fuses the same ops into the network call instead).
    """
    batch = _traced_network_input(architecture)(frame, np.asarray(geometry.padding, np.int32),
                                                np.asarray(geometry.input_size, np.int32))
    return batch.numpy()


@lru_cache(maxsize=None)
def _traced_network_input(architecture: str):
    import tensorflow as tf

    return tf.function(
        partial(network_input_graph, architecture=architecture),
        input_signature=[
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([4], tf.int32),
            tf.TensorSpec([2], tf.int32),
        ],
    )
