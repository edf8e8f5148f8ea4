"""Search-space helpers: kerasreg's knobs on a `keras_tuner.HyperParameters`.

Each helper declares one hyperparameter with the range and scale the seeds
use (log-uniform where the search notes prescribe it) and returns this trial's value.
`reference_hypermodel` turns a kerasreg reference model into a `build(hp)`.
Public through `kerasreg.tuning`.
"""

from __future__ import annotations

import numpy as np

from kerasreg import models as models_lib
from kerasreg import training


def _float(hp, name, min_value, max_value, sampling, upper=None):
    if min_value >= max_value:
        raise ValueError(
            f"Expected min_value < max_value for {name!r}. Received: "
            f"min_value={min_value}, max_value={max_value}. Swap or widen them."
        )
    if sampling == "log" and min_value <= 0:
        raise ValueError(
            f"Log sampling of {name!r} needs min_value > 0. Received: "
            f"min_value={min_value}. Use a small positive bound such as 1e-8."
        )
    if upper is not None and (min_value < 0 or max_value > upper):
        raise ValueError(
            f"Expected 0 <= min_value < max_value <= {upper} for {name!r}. "
            f"Received: min_value={min_value}, max_value={max_value}"
        )
    return hp.Float(name, min_value, max_value, sampling=sampling)


def learning_rate(hp, min_value=1e-6, max_value=1e-2, name="lr"):
    """Add a log-uniform learning rate; the search notes: lr = 10^U(-6, -2).

    Args:
        hp: a `keras_tuner.HyperParameters`.
        min_value: lower bound, > 0. Defaults to `1e-6`.
        max_value: upper bound. Defaults to `1e-2`.
        name: hyperparameter name. Defaults to `"lr"`.

    Returns:
        The value for this trial.

    Raises:
        ValueError: if `min_value >= max_value` or `min_value <= 0`.

    Example:

    >>> import keras_tuner as kt
    >>> hp = kt.HyperParameters()
    >>> learning_rate(hp)
    1e-06
    """
    return _float(hp, name, min_value, max_value, "log")


def weight_decay(hp, min_value=1e-8, max_value=1e-4, name="weight_decay"):
    """Add a log-uniform weight decay; the search notes: 10^U(-8, -4).

    Args, Returns and Raises as in `learning_rate`; `name` defaults to
    `"weight_decay"`.
    """
    return _float(hp, name, min_value, max_value, "log")


def dropout(hp, min_value=0.0, max_value=0.5, name="dropout"):
    """Add a uniform dropout rate in `[min_value, max_value]` within [0, 1]."""
    return _float(hp, name, min_value, max_value, "linear", upper=1.0)


def slimming_l1(hp, min_value=1e-6, max_value=1e-3, name="slimming_l1"):
    """Add the log-uniform network-slimming λ (the slimming report sweeps up to 1e-3).

    `ParetoSearch` attaches `kerasreg.compression.NetworkSlimming(l1)` when a
    trial has this hyperparameter and measures the shrunk model.
    """
    return _float(hp, name, min_value, max_value, "log")


def temperature(hp, min_value=1.0, max_value=20.0, name="temperature"):
    """Add a log-uniform distillation temperature T."""
    return _float(hp, name, min_value, max_value, "log")


def distillation_lambda(hp, min_value=0.0, max_value=1.0, name="distillation_lambda"):
    """Add a uniform distillation weight λ in [0, 1]."""
    return _float(hp, name, min_value, max_value, "linear", upper=1.0)


def sparsity(hp, min_value=0.0, max_value=0.95, name="sparsity"):
    """Add a uniform pruning sparsity in [0, 1)."""
    if max_value >= 1.0:
        raise ValueError(f"Expected sparsity max_value < 1. Received: {max_value}")
    return _float(hp, name, min_value, max_value, "linear", upper=1.0)


def width(hp, min_value=0.125, max_value=1.0, name="width"):
    """Add a log-uniform width multiplier applied to every layer's channels."""
    return _float(hp, name, min_value, max_value, "log")


def default_space(hp):
    """The search notes' space: lr = 10^U(-6, -2) and weight decay = 10^U(-8, -4).

    Returns:
        `(lr, weight_decay)` for this trial.
    """
    return learning_rate(hp), weight_decay(hp)


_KNOBS = ("lr", "weight_decay", "dropout", "width")
_WIDTH_ARGS = {
    "cnn": {"filters": (32, 64), "dense_units": 128},
    "cnn-tiny": {"filters": (8, 16)},
    "vgg": {"widths": (64, 128, 256)},
    "resnet": {"widths": (16, 32, 64)},
}


def reference_hypermodel(name, input_shape, num_classes, knobs=("lr", "weight_decay")):
    """A `build(hp)` function for a kerasreg reference model.

    Args:
        name: a name in `kerasreg.models.MODELS`.
        input_shape: `(H, W, C)`.
        num_classes: number of classes.
        knobs: which knobs to search, among `"lr"`, `"weight_decay"`
            (decoupled, through AdamW), `"dropout"` (cnn models) and
            `"width"` (a channel multiplier). Knobs left out keep Keras's
            defaults (lr 1e-3, no decay, no dropout, full width). Defaults
            to `("lr", "weight_decay")`, the search notes' pair.

    Returns:
        A function `build(hp)` returning a compiled logits model.

    Raises:
        ValueError: for an unknown model or knob, or a knob the model lacks.
    """
    models_lib.build(name, input_shape, num_classes)  # validates the name early
    unknown = [k for k in knobs if k not in _KNOBS]
    if unknown:
        raise ValueError(
            f"Unknown knobs={unknown}. Expected a subset of {', '.join(_KNOBS)}."
        )
    if "width" in knobs and name not in _WIDTH_ARGS:
        raise ValueError(f"knob 'width' is not supported for model {name!r}.")
    if "dropout" in knobs and not name.startswith("cnn"):
        raise ValueError(
            f"knob 'dropout' is only supported for cnn models, not {name!r}."
        )

    def build(hp):
        kwargs = {}
        if "width" in knobs:
            scale = width(hp)
            for key, base in _WIDTH_ARGS[name].items():
                scaled = [max(1, round(v * scale)) for v in _as_tuple(base)]
                kwargs[key] = tuple(scaled) if isinstance(base, tuple) else scaled[0]
        if "dropout" in knobs:
            kwargs["dropout"] = dropout(hp)
        model = models_lib.build(name, input_shape, num_classes, **kwargs)
        lr = learning_rate(hp) if "lr" in knobs else 1e-3
        decay = weight_decay(hp) if "weight_decay" in knobs else None
        return training.compile_model(model, lr, weight_decay=decay)

    return build


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def training_arrays(dataset, model=None):
    """The training split as arrays, in the range the searched models expect.

    keras-tuner splits off validation data from arrays, so a folder is read
    into memory here (`dataset.to_arrays` refuses one over 1 GiB). Images
    are scaled for the model a name or `.keras` path `model` stands for;
    reference models expect [0, 1].
    """
    from kerasreg import data as data_lib
    from kerasreg import models as models_lib

    x, y = dataset.to_arrays("train")
    if model is not None and model not in models_lib.MODELS:
        probe = models_lib.resolve(model, dataset.input_shape, dataset.num_classes)
        scale = data_lib.input_scale(probe, dataset)
    else:
        scale = 1.0 / dataset.value_range
    return (x * np.float32(scale) if scale != 1 else x), y
