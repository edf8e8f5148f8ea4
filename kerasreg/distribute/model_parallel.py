"""Model parallelism: run consecutive stages of a model on different devices.

`split_model(model, devices)` cuts a functional model's operations, in
topological order, into `len(devices)` consecutive stages with about the
same number of parameters each, and returns a `SplitModel` that runs every
operation of stage *i* under `tf.device(devices[i])`. The layers (and their
weights) are the original model's, so outputs are numerically identical;
only where each op runs changes. Activations cross devices between stages.

With `micro_batches=m`, a batch is cut into `m` micro-batches that flow
through the stages one after another (GPipe-style pipelining): inside a
`tf.function` TensorFlow's executor runs stage *i + 1* of one micro-batch
while stage *i* works on the next. In training mode BatchNormalization then
sees micro-batch statistics, as in GPipe; in inference mode outputs are
unchanged.

Reference:
    Huang et al., GPipe: Efficient Training of Giant Neural Networks using
    Pipeline Parallelism, NeurIPS 2019. https://arxiv.org/abs/1811.06965
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasreg import _keras_compat

__all__ = ["split_model", "SplitModel"]


class SplitModel(keras.Model):
    """A functional model whose consecutive stages run on different devices.

    Build it with `split_model`. `stage_of[layer_name]` gives each layer's
    stage and `devices[stage]` its device.

    Args:
        model: a functional `keras.Model`.
        devices: one device name per stage.
        stage_of: dict from operation name to stage index.
        micro_batches: micro-batches per call (pipelining; a model with
            one input and one output). Defaults to `1`.
    """

    def __init__(self, model, devices, stage_of, micro_batches=1, **kwargs):
        super().__init__(name=kwargs.pop("name", f"{model.name}_split"), **kwargs)
        self.inner = model
        self.devices = list(devices)
        self.stage_of = dict(stage_of)
        self.micro_batches = micro_batches

    def call(self, inputs, training=None):
        if self.micro_batches == 1:
            return self._run(inputs, training)
        chunks = tf.split(inputs, self.micro_batches, axis=0)
        outputs = [self._run(chunk, training) for chunk in chunks]
        return tf.concat(outputs, axis=0)

    def _run(self, inputs, training):
        def placed(op):
            call = _keras_compat.operation_fn(op, training)
            device = self.devices[self.stage_of[op.name]]

            def run(*args, **kwargs):
                with tf.device(device):
                    return call(*args, **kwargs)

            return run

        inputs = _keras_compat.standardize_inputs(self.inner, inputs)
        outputs = _keras_compat.run_through_graph(self.inner, inputs, placed)
        return (
            outputs[0] if isinstance(outputs, list) and len(outputs) == 1 else outputs
        )

    def stages(self):
        """The names of the operations of each stage, in order."""
        result = [[] for _ in self.devices]
        for name, stage in self.stage_of.items():
            result[stage].append(name)
        return result


def split_model(model, devices, *, micro_batches=1):
    """Split a functional model into consecutive stages on `devices`.

    Operations are taken in topological order and cut into `len(devices)`
    contiguous stages so that each holds about the same number of
    parameters.

    Args:
        model: a functional (or Sequential) `keras.Model`.
        devices: device names, one per stage, such as
            `["/gpu:0", "/gpu:1"]` or `["/cpu:0", "/cpu:1"]` (logical CPUs
            from `setup_logical_cpus`).
        micro_batches: split each batch into this many micro-batches and
            pipeline them through the stages; the batch size must be
            divisible by it. Defaults to `1`.

    Returns:
        A `SplitModel` sharing `model`'s layers and weights.

    Raises:
        ValueError: if `model` is not functional, a device does not exist,
            there are more devices than operations, or `micro_batches < 1`.

    Example:

    >>> parallel = split_model(model, ["/cpu:0", "/cpu:1"])  # doctest: +SKIP
    >>> np.allclose(parallel(x), model(x))  # doctest: +SKIP
    True
    """
    if _keras_compat.functional_graph(model) is not model or not hasattr(
        model, "operations"
    ):
        raise ValueError(
            "split_model needs a functional or Sequential keras.Model. "
            f"Received: model of type {type(model).__name__}"
        )
    devices = list(devices)
    if not devices:
        raise ValueError(f"Expected at least one device. Received: devices={devices}")
    available = {_canonical(d.name) for d in tf.config.list_logical_devices()}
    for device in devices:
        if _canonical(device) not in available:
            raise ValueError(
                f"Device {device!r} does not exist. Available: "
                f"{', '.join(sorted(available))}. On a CPU-only machine call "
                "kerasreg.distribute.setup_logical_cpus(n) first thing."
            )
    if not isinstance(micro_batches, int) or micro_batches < 1:
        raise ValueError(
            f"Expected micro_batches >= 1. Received: micro_batches={micro_batches!r}"
        )
    operations = [
        op for op in model.operations if not isinstance(op, keras.layers.InputLayer)
    ]
    if len(devices) > len(operations):
        raise ValueError(
            f"Cannot split {len(operations)} operations into {len(devices)} "
            "stages; use fewer devices."
        )
    stage_of = _balance(operations, len(devices))
    return SplitModel(model, devices, stage_of, micro_batches)


def _balance(operations, stages):
    """Cut the ops into contiguous stages of about equal parameter counts."""
    weights = np.array([1 + _params(op) for op in operations], dtype=float)
    cumulative = np.cumsum(weights) / weights.sum()
    stage_of = {}
    for index, op in enumerate(operations):
        # Stage by the position of the op's midpoint in the parameter mass;
        # the last ops of a stage never spill past the stage count.
        middle = cumulative[index] - weights[index] / weights.sum() / 2
        stage = min(int(middle * stages), stages - 1)
        # Keep every stage non-empty and contiguous.
        stage = max(stage, stages - (len(operations) - index))
        if index:
            stage = max(stage, stage_of[operations[index - 1].name])
            stage = min(stage, stage_of[operations[index - 1].name] + 1)
        else:
            stage = 0
        stage_of[op.name] = stage
    return stage_of


def _params(op):
    try:
        return op.count_params()
    except (AttributeError, ValueError):
        return 0


def _canonical(device):
    spec = tf.DeviceSpec.from_string(device)
    kind = (spec.device_type or "CPU").upper()
    index = spec.device_index or 0
    return f"/device:{kind}:{index}".lower()
