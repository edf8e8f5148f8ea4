"""Train a reference model on a dataset and write its artefacts.

`train` is what `kerasreg train` calls; it is an ordinary `model.fit` with
the loss, metrics and optimizer that every kerasreg example uses, so that a
Python user gets exactly what the CLI gets.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from kerasreg import _io, metrics, report
from kerasreg import data as data_lib
from kerasreg import models as models_lib
from kerasreg._choices import PRECISIONS
from kerasreg.distribute import fitting

__all__ = [
    "compile_model",
    "evaluate_accuracy",
    "fit",
    "train",
    "TrainResult",
    "PRECISIONS",
]


def compile_model(model, learning_rate=1e-3, weight_decay=None, **kwargs):
    """Compile a logits model with Adam(W), sparse cross-entropy and accuracy.

    Args:
        model: a `keras.Model` that outputs logits.
        learning_rate: Adam learning rate. Defaults to `1e-3`.
        weight_decay: decoupled weight decay (AdamW) when set. Defaults to
            `None`.
        **kwargs: passed to `model.compile`.

    Returns:
        The model, compiled.
    """
    if weight_decay:
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    kwargs.setdefault(
        "loss", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    kwargs.setdefault("metrics", ["accuracy"])
    model.compile(optimizer=optimizer, **kwargs)
    return model


def evaluate_accuracy(model, x, y, batch_size=256):
    """Top-1 accuracy of `model` on `(x, y)` in inference mode."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))


class TrainResult(dict):
    """What `train` returns: a dict of metrics plus `.model` and `.history`."""

    model: keras.Model
    history: dict


def train(
    model="resnet",
    data="digits",
    *,
    epochs=10,
    batch_size=64,
    learning_rate=1e-3,
    seed=0,
    callbacks=None,
    out=None,
    verbose="auto",
    strategy=None,
    precision=None,
):
    """Train a model on a dataset, evaluate it, and optionally save artefacts.

    Args:
        model: a reference model name (see `kerasreg.models.MODELS`) or a
            `keras.Model` that outputs logits. Defaults to `"resnet"`.
        data: a `kerasreg.data` source or a `Dataset`. Defaults to
            `"digits"`.
        epochs: training epochs. Defaults to `10`.
        batch_size: batch size. Defaults to `64`.
        learning_rate: Adam learning rate. Defaults to `1e-3`.
        seed: seed for weights and shuffling. Defaults to `0`.
        callbacks: extra Keras callbacks.
        out: directory for `model.keras`, `history.json`, `metrics.json` and
            `curves.png`; nothing is written when `None`.
        verbose: passed to `fit`. Defaults to `"auto"` (a progress bar).
        strategy: a `tf.distribute.Strategy` (see
            `kerasreg.distribute.strategy`), or `"mirrored"`. The model is
            built and compiled in its scope; with several replicas its
            BatchNormalization layers are synchronized, so the run matches
            one device. A `ParameterServerStrategy` trains with
            `kerasreg.distribute.AsyncTrainer`. Defaults to `None` (plain
            `fit`).
        precision: `"float32"`, `"mixed_float16"` or `"mixed_bfloat16"`: the
            `keras.mixed_precision` dtype policy the model is built with.
            Defaults to `None` (the current global policy).

    Returns:
        A `TrainResult`: the metrics dict (`test_accuracy`, `params`,
        `flops`, `latency_ms`), with `.model` and `.history`.

    Example:

    >>> result = train("cnn", "digits", epochs=1, verbose=0)
    >>> 0.0 <= result["test_accuracy"] <= 1.0
    True
    """
    if epochs < 1:
        raise ValueError(f"Expected epochs >= 1. Received: epochs={epochs}")
    if out is not None:
        _io.check_writable(out)
    dataset = data if isinstance(data, data_lib.Dataset) else data_lib.load(data)
    keras.utils.set_random_seed(seed)
    strategy = fitting.resolve(strategy)
    with fitting.training_scope(strategy, precision):
        if isinstance(model, str):
            model = models_lib.build(model, dataset.input_shape, dataset.num_classes)
        if not model.compiled:
            compile_model(model, learning_rate)
    history = fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=callbacks,
        verbose=verbose,
        strategy=strategy,
    )
    if fitting.is_parameter_server(strategy):
        model = compile_model(fitting.local_copy(model, precision), learning_rate)
    return _finish(model, dataset, history, epochs, out)


def fit(
    model,
    dataset,
    *,
    epochs,
    batch_size=64,
    callbacks=(),
    validation=True,
    verbose=0,
    strategy=None,
):
    """Fit a compiled model on a `Dataset`; the one fit path of kerasreg.

    Every workflow (train, slim, sweep, prune, distil, compress) trains
    through here, so they all read data, validate and report the same way.

    Args:
        model: a compiled `keras.Model`.
        dataset: a `kerasreg.data.Dataset`.
        epochs: training epochs.
        batch_size: batch size. Defaults to `64`.
        callbacks: Keras callbacks. Defaults to none.
        validation: validate on the test split after each epoch, so the
            history has `val_loss` and `val_accuracy`. Defaults to `True`.
        verbose: passed to `fit`. Defaults to `0`.
        strategy: the `tf.distribute.Strategy` the model was built under
            (see `kerasreg.distribute.training_scope`). Defaults to `None`.

    Returns:
        The history as a dict of lists of Python floats.

    Example:

    >>> data = kerasreg.load("digits")
    >>> model = compile_model(kerasreg.models.build("cnn-tiny", (8, 8, 1), 10))
    >>> sorted(fit(model, data, epochs=1))
    ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """
    history = fitting.fit(
        model,
        dataset.x_train,
        dataset.y_train,
        strategy=strategy,
        validation_data=(dataset.x_test, dataset.y_test) if validation else None,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=list(callbacks or []),
        verbose=verbose,
    )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def _finish(model, dataset, history, epochs, out):
    """Evaluate, measure and save a trained model; build the `TrainResult`."""
    result = TrainResult(
        test_accuracy=evaluate_accuracy(model, dataset.x_test, dataset.y_test),
        params=metrics.count_params(model),
        flops=metrics.count_flops(model),
        latency_ms=1e3 * metrics.measure_latency(model, batch_size=1, repeats=30),
        epochs=epochs,
    )
    result.model = model
    result.history = history
    if out is not None:
        _io.save_model(model, os.path.join(out, "model.keras"))
        _io.write_json(os.path.join(out, "history.json"), result.history)
        _io.write_json(os.path.join(out, "metrics.json"), dict(result))
        report.plot_curves(result.history, os.path.join(out, "curves.png"))
    return result
