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
from kerasreg.models import recipes

__all__ = [
    "compile_model",
    "compile_with_recipe",
    "evaluate_accuracy",
    "evaluate",
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
        **kwargs: passed to `model.compile`; an `optimizer` given here
            replaces Adam.

    Returns:
        The model, compiled.
    """
    if "optimizer" in kwargs:
        optimizer = kwargs.pop("optimizer")
    elif weight_decay:
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
    recipe=None,
    augment=None,
):
    """Train a model on a dataset, evaluate it, and optionally save artefacts.

    Args:
        model: a reference model name (see `kerasreg.models.MODELS`), the
            path of a `.keras` file, or a `keras.Model` that outputs
            logits. Defaults to `"resnet"`.
        data: anything `kerasreg.data.load` takes: a source name, an
            `.npz` file, an image folder, a `tf.data.Dataset` or a loaded
            dataset. Defaults to `"digits"`.
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
        recipe: a `kerasreg.models.recipes.Recipe`, or the name of a model
            that has one (`"resnet20"`, ...): SGD with momentum and cosine
            decay over `epochs`, coupled weight decay, its batch size, and
            pad-and-crop plus flip augmentation in the input pipeline.
            `learning_rate` and `batch_size` are then the recipe's.
            Defaults to `None` (Adam at `learning_rate`, no augmentation).
        augment: a callable mapped over batches of training images in the
            input pipeline, e.g. `kerasreg.augment.pipeline([...])`; it
            replaces the recipe's augmentation (`augment.pipeline([])` trains
            a recipe with none). Defaults to `None` (the recipe's, or none).

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
    dataset = data_lib.load(data)
    keras.utils.set_random_seed(seed)
    strategy = fitting.resolve(strategy)
    if recipe is not None:
        batch_size = _recipe(recipe, epochs).batch_size
    fitting.check_global_batch(strategy, batch_size)
    with fitting.training_scope(strategy, precision):
        model = models_lib.resolve(model, dataset.input_shape, dataset.num_classes)
        if recipe is not None:
            model, batch_size, recipe_augment = compile_with_recipe(
                model, dataset, recipe, epochs, seed
            )
            augment = recipe_augment if augment is None else augment
        elif not model.compiled:
            compile_model(model, learning_rate)
    history = fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=callbacks,
        verbose=verbose,
        strategy=strategy,
        augment=augment,
        seed=seed,
    )
    if fitting.is_parameter_server(strategy) or fitting.is_multi_worker(strategy):
        # Evaluation and saving run on this process alone: a multi-worker
        # model's predict gathers every worker's batch (and would need every
        # worker to call it); a parameter-server model's weights live remotely.
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
    augment=None,
    seed=0,
    scale=None,
):
    """Fit a compiled model on a dataset; the one fit path of kerasreg.

    Every workflow (train, slim, sweep, prune, distil, compress) trains
    through here, so they all read data, validate and report the same way.
    Images reach the model in the range it expects (`data.input_scale`).
    Arrays in memory (`data.Dataset`) go to `model.fit` as arrays; folders
    and `tf.data` pipelines go as shuffled, prefetched `tf.data` batches,
    streamed from disk or cached (see `docs/data.md`).

    Args:
        model: a compiled `keras.Model`.
        dataset: a `kerasreg.data` dataset (or anything `data.load` takes).
        epochs: training epochs.
        batch_size: batch size. Defaults to `64`.
        callbacks: Keras callbacks. Defaults to none.
        validation: validate on the test split after each epoch, so the
            history has `val_loss` and `val_accuracy`. Defaults to `True`.
        verbose: passed to `fit`. Defaults to `0`.
        strategy: the `tf.distribute.Strategy` the model was built under
            (see `kerasreg.distribute.training_scope`). Defaults to `None`.
        augment: a callable mapped over batches of training images in the
            input pipeline (e.g. `models.recipes.augmentation_layers`), so
            the model itself carries no augmentation. Defaults to `None`.
        seed: shuffling seed of streamed data. Defaults to `0`.
        scale: the factor images are multiplied by. Defaults to `None`:
            `data.input_scale(model, dataset)` (a `Distiller` passes its
            student's).

    Returns:
        The history as a dict of lists of Python floats.

    Example:

    >>> data = kerasreg.load("digits")
    >>> model = compile_model(kerasreg.models.build("cnn-tiny", (8, 8, 1), 10))
    >>> sorted(fit(model, data, epochs=1))
    ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """
    dataset = data_lib.load(dataset)
    data_lib.check_input_shape(model, dataset)
    if scale is None:
        scale = data_lib.input_scale(model, dataset)
    kwargs = dict(
        strategy=strategy,
        epochs=epochs,
        callbacks=list(callbacks or []),
        verbose=verbose,
    )
    if isinstance(dataset, data_lib.Dataset) and augment is None:
        x_test, y_test = dataset.x_test, dataset.y_test
        x_train = dataset.x_train
        if scale != 1:
            x_train, x_test = x_train * scale, x_test * scale
        history = fitting.fit(
            model,
            x_train,
            dataset.y_train,
            validation_data=(x_test, y_test) if validation else None,
            batch_size=batch_size,
            **kwargs,
        )
    else:
        train = dataset.batches(
            "train", batch_size, shuffle=True, seed=seed, scale=scale, augment=augment
        )
        test = dataset.batches("test", 256, scale=scale) if validation else None
        # Shuffled in the pipeline, so `fit` is told not to (it cannot).
        history = fitting.fit(
            model, train, None, validation_data=test, shuffle=False, **kwargs
        )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def evaluate(model, dataset, split="test", batch_size=256):
    """Top-1 accuracy of `model` on a split, in inference mode.

    The images are fed in the range the model expects
    (`data.input_scale`), batch by batch, so a folder is never read whole.

    Args:
        model: a `keras.Model` that outputs logits or probabilities.
        dataset: a `kerasreg.data` dataset (or anything `data.load` takes).
        split: `"test"` or `"train"`. Defaults to `"test"`.
        batch_size: images per batch. Defaults to `256`.

    Returns:
        The accuracy, a float in [0, 1].

    Example:

    >>> data = kerasreg.load("digits")
    >>> model = kerasreg.models.build("cnn-tiny", (8, 8, 1), 10)
    >>> 0.0 <= evaluate(model, data) <= 1.0
    True
    """
    dataset = data_lib.load(dataset)
    data_lib.check_input_shape(model, dataset)
    scale = data_lib.input_scale(model, dataset)
    if isinstance(dataset, data_lib.Dataset):
        x, y = dataset.to_arrays(split)
        return evaluate_accuracy(model, x * scale if scale != 1 else x, y, batch_size)
    correct = total = 0
    for x, y in dataset.batches(split, batch_size, scale=scale):
        logits = model.predict_on_batch(x)
        correct += int(np.sum(np.argmax(logits, axis=-1) == y.numpy()))
        total += int(y.shape[0])
    return correct / max(total, 1)


def _finish(model, dataset, history, epochs, out):
    """Evaluate, measure and save a trained model; build the `TrainResult`."""
    result = TrainResult(
        test_accuracy=evaluate(model, dataset),
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


def compile_with_recipe(model, dataset, recipe, epochs, seed=0):
    """Prepare `model` to train with a CIFAR recipe for `epochs`.

    Adds the recipe's weight decay (`recipes.apply_weight_decay`, which
    returns a copy) and compiles the copy with its SGD, whose cosine decay
    spans `epochs`.

    Args:
        model: a functional `keras.Model` that outputs logits.
        dataset: the `kerasreg.data` dataset it will train on.
        recipe: a `Recipe`, or the name of a model that has one.
        epochs: the epochs of this fit.
        seed: augmentation seed. Defaults to `0`.

    Returns:
        `(model, batch_size, augment)`: the compiled copy, the recipe's
        batch size, and its augmentation for `fit(augment=...)`.
    """
    recipe = _recipe(recipe, epochs)
    steps = -(-dataset.num_train // recipe.batch_size)
    model = recipes.apply_weight_decay(model, recipe)
    compile_model(model, optimizer=recipes.make_optimizer(recipe, steps))
    augment = recipes.augmentation_function(recipe, seed, dataset.input_shape)
    return model, recipe.batch_size, augment


def compile_for(model, dataset, epochs, learning_rate, batch_size, recipe, seed=0):
    """Compile with Adam at `learning_rate`, or with a CIFAR recipe's SGD.

    The one choice every workflow with a `recipe=` argument makes (slim,
    sweep, qat).

    Returns:
        `(model, fit keyword arguments)`; with a recipe the model is a copy
        carrying its weight decay, and the keyword arguments hold its batch
        size and augmentation.
    """
    if recipe is None:
        return compile_model(model, learning_rate), {"batch_size": batch_size}
    model, batch_size, augment = compile_with_recipe(
        model, dataset, recipe, max(epochs, 1), seed
    )
    return model, {"batch_size": batch_size, "augment": augment, "seed": seed}


def _recipe(recipe, epochs):
    """A `Recipe` (by value or model name) whose cosine decay spans `epochs`.

    A fit shorter than twice the recipe's warm-up warms up for half its
    epochs (rounded down), so that the decay keeps at least half the fit.
    """
    import dataclasses

    if isinstance(recipe, str):
        recipe = recipes.recipe_for(recipe)
    warmup = min(recipe.warmup_epochs, epochs // 2)
    return dataclasses.replace(recipe, epochs=epochs, warmup_epochs=warmup)
