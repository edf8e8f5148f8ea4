"""Measure models: parameters, multiply-accumulates, saved size, latency.

Every report in kerasreg (training, slimming, pruning, export, compress)
counts with these, so the numbers are computed one way everywhere.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import keras
import numpy as np

from kerasreg import _keras_compat
from kerasreg._layer_tree import leaf_layers

__all__ = [
    "count_params",
    "count_flops",
    "layer_call_macs",
    "saved_size",
    "measure_latency",
]


def count_params(model, trainable_only=False):
    """Number of scalars in the model's weights.

    Args:
        model: a built `keras.Model`.
        trainable_only: count only trainable weights. Defaults to `False`.

    Returns:
        An `int`.
    """
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(np.prod(w.shape) for w in weights))


def count_flops(model):
    """Multiply-accumulates of one forward pass on a single example.

    Counts Conv2D (grouped too), DepthwiseConv2D, SeparableConv2D and Dense,
    including those inside nested models; other layers are treated as free.
    A Dense applied to a rank-3+ input is counted once per leading position.

    Args:
        model: a built functional or Sequential `keras.Model`.

    Returns:
        An `int`: MACs per example.

    Example:

    >>> inputs = keras.Input((4, 4, 2))
    >>> x = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    >>> model = keras.Model(inputs, keras.layers.Dense(5)(x))
    >>> count_flops(model)  # 4*4*3*(3*3*2) + 4*4*3*5
    1104
    """
    return int(sum(_layer_macs(layer) for layer in leaf_layers(model)))


def _layer_macs(layer):
    kinds = (
        keras.layers.Conv2D,
        keras.layers.DepthwiseConv2D,
        keras.layers.SeparableConv2D,
        keras.layers.Dense,
    )
    if not isinstance(layer, kinds):
        return 0
    total = 0
    for node in _keras_compat.inbound_nodes(layer):
        in_shape = _keras_compat.node_input_tensors(node)[0].shape
        out_shape = node.outputs[0].shape
        total += layer_call_macs(layer, in_shape, out_shape)
    return total


def layer_call_macs(layer, in_shape, out_shape):
    """MACs of one call of a Conv2D, DepthwiseConv2D, SeparableConv2D or Dense.

    Args:
        layer: the layer.
        in_shape, out_shape: the shapes of that call's input and output,
            batch dimension first (its value is ignored).

    Returns:
        An `int`: multiply-accumulates per example.
    """
    if isinstance(layer, keras.layers.Dense):
        positions = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
        return positions * in_shape[-1] * layer.units
    positions = int(np.prod(out_shape[1:-1]))
    kernel_area = int(np.prod(layer.kernel_size))
    c_in = in_shape[-1]
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise = positions * c_in * layer.depth_multiplier * kernel_area
        return depthwise + positions * c_in * layer.depth_multiplier * layer.filters
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return positions * c_in * layer.depth_multiplier * kernel_area
    return positions * layer.filters * kernel_area * (c_in // layer.groups)


def saved_size(model):
    """Size in bytes of the model saved as a `.keras` file.

    Args:
        model: a `keras.Model`.

    Returns:
        An `int`.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        return os.path.getsize(path)


def measure_latency(model, batch_size=1, repeats=50, warmup=5, input_data=None):
    """Median wall time of one compiled inference call, in seconds.

    The model is wrapped in `tf.function` (graph mode, inference mode) so
    the measurement reflects deployed speed rather than eager overhead.
    Warm-up calls trace the function before the timed calls.

    Args:
        model: a `keras.Model` with a single input.
        batch_size: batch size of the timed calls. Defaults to `1`.
        repeats: timed calls; the median is returned. Defaults to `50`.
        warmup: untimed calls first. Defaults to `5`.
        input_data: an optional batch to time on; random normal data of the
            model's input shape otherwise.

    Returns:
        A `float`: median seconds per call.
    """
    import tensorflow as tf

    if repeats < 1:
        raise ValueError(f"Expected repeats >= 1. Received: repeats={repeats}")
    if input_data is None:
        shape = (batch_size, *model.input_shape[1:])
        input_data = np.random.default_rng(0).normal(size=shape).astype("float32")
    x = tf.constant(input_data)
    call = tf.function(lambda t: model(t, training=False))
    for _ in range(max(warmup, 1)):
        call(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(x).numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
