"""Measure and show models: parameters, FLOPs, saved size, latency, tables, plots.

Every later report in kerasreg (slimming, pruning, export, compress) builds
on these helpers, so the numbers are computed one way everywhere.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import keras
import numpy as np

__all__ = [
    "count_params",
    "count_flops",
    "saved_size",
    "measure_latency",
    "format_table",
    "print_table",
    "plot_curves",
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
    return int(sum(_layer_macs(layer) for layer in _leaf_layers(model)))


def _leaf_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


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
    for node in layer._inbound_nodes:
        in_shape = node.arguments.keras_tensors[0].shape
        out_shape = node.outputs[0].shape
        total += _macs(layer, in_shape, out_shape)
    return total


def _macs(layer, in_shape, out_shape):
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


def format_table(rows, columns=None, floatfmt="{:.4g}"):
    """Format a list of dicts as a plain-text table.

    Args:
        rows: list of dicts, one per row.
        columns: column keys in order; the keys of the first row by default.
        floatfmt: format for floats. Defaults to `"{:.4g}"`.

    Returns:
        A `str` with a header, a rule, and one line per row.

    Example:

    >>> print(format_table([{"stage": "base", "acc": 0.98}]))
    stage  acc
    -----  ----
    base   0.98
    """
    rows = list(rows)
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def cell(value):
        if isinstance(value, float):
            return floatfmt.format(value)
        return "" if value is None else str(value)

    table = [columns] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def print_table(rows, columns=None, floatfmt="{:.4g}"):
    """Print `format_table(rows, columns, floatfmt)`."""
    print(format_table(rows, columns, floatfmt))


def plot_curves(history, path=None, title=None):
    """Plot training curves: one panel per metric, train and validation.

    Args:
        history: a `keras.callbacks.History` or its `.history` dict.
        path: where to save a PNG; not saved when `None`.
        title: figure title.

    Returns:
        The matplotlib `Figure`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = getattr(history, "history", history)
    metrics = [k for k in logs if not k.startswith("val_")]
    fig, axes = plt.subplots(
        1, max(len(metrics), 1), figsize=(4 * max(len(metrics), 1), 3.2)
    )
    axes = np.atleast_1d(axes)
    for ax, key in zip(axes, metrics):
        epochs = np.arange(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], label="train")
        if f"val_{key}" in logs:
            ax.plot(epochs, logs[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
