"""BodyPix models: names and resolving (`names`), the download cache (`store`), the TFJS graph
loader (`graph`) and the TensorFlow Lite backend (`tflite`). No ROS.
"""
