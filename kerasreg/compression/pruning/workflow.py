"""`prune`: magnitude pruning end to end, as `kerasreg prune` runs it.

`prune` fine-tunes a trained model under `MagnitudePruning` and reports
what sparsity buys.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasreg._choices import FINETUNE_RATE, check_finetune_rate
from kerasreg.compression.pruning.magnitude_pruning import (
    MagnitudePruning,
    _parse_block,
)
from kerasreg.compression.pruning.schedules import PolynomialDecay
from kerasreg.compression.pruning.sparsity import kernel_sparsity, strip_pruning

__all__ = ["prune"]


def prune(
    model,
    data="digits",
    *,
    sparsity=0.8,
    epochs=10,
    mode="layer",
    learning_rate=1e-3,
    batch_size=64,
    recipe=None,
    finetune_rate=FINETUNE_RATE,
    layers=None,
    seed=0,
    out=None,
    verbose=0,
):
    """Fine-tune a trained model while pruning it, and report (`kerasreg prune`).

    Sparsity rises along `PolynomialDecay(0, sparsity)` over the first two
    thirds of the steps (masks updated ten times an epoch); the last third
    lets the surviving weights recover.

    Args:
        model: a trained logits `keras.Model`, the path of a `.keras` file
            or a reference model name.
        data: anything `kerasreg.data.load` takes. Defaults to `"digits"`.
        sparsity: final fraction of zero kernel weights, in `[0, 1)`.
            Defaults to `0.8`.
        epochs: fine-tuning epochs. Defaults to `10`.
        mode: `"layer"` or `"global"` (see `MagnitudePruning`). Defaults to
            `"layer"`.
        learning_rate: Adam learning rate, without `recipe`. Defaults to
            `1e-3`.
        batch_size: batch size, without `recipe`. Defaults to `64`.
        recipe: fine-tune with a CIFAR recipe's SGD, cosine decay, weight
            decay, batch size and crop-and-flip augmentation instead of
            Adam (a `kerasreg.models.recipes.Recipe` or a model name such
            as `"resnet20"`). Defaults to `None`.
        finetune_rate: with `recipe`, the fine-tuning learning rate as a
            fraction of the recipe's, in `(0, 1]`. Defaults to `0.1`, as
            `slim` and `compress` fine-tune.
        layers: the layers to prune (names or classes), `None` for every
            Conv/Dense kernel (see `select_layers`). Defaults to `None`.
        seed: seed. Defaults to `0`.
        out: directory for `pruned.keras`, `history.json` and `metrics.json`;
            nothing is written when `None`.
        verbose: passed to `fit`. Defaults to `0`.

    Raises:
        ValueError: for a sparsity outside `[0, 1)`, `epochs < 1`, an
            unknown `mode`, a `finetune_rate` outside `(0, 1]` or without
            `recipe`, or fewer than 2 training steps in all (masks are
            set as a step begins, so one step would prune nothing).

    Example:

    >>> result = prune("cnn-tiny", "digits", sparsity=0.5, epochs=1, mode="global")
    >>> round(result["sparsity"], 2)
    0.5

    Returns:
        A dict of metrics (`accuracy_before`, `accuracy_after`, `sparsity`,
        `gzip_bytes_before`, `gzip_bytes_after`) with the stripped model
        under `"model"` and the per-epoch logs under `"history"`.
    """
    import gzip
    import os

    from kerasreg import _io, training
    from kerasreg import data as data_lib
    from kerasreg import models as models_lib
    from kerasreg.models import recipes

    _check_arguments(sparsity, epochs, mode, recipe, finetune_rate)
    dataset = data_lib.load(data)
    model = models_lib.resolve(model, dataset.input_shape, dataset.num_classes)
    data_lib.check_input_shape(model, dataset)
    keras.utils.set_random_seed(seed)
    model = strip_pruning(model)  # a copy: the caller's model is untouched
    if recipe is not None:
        recipe = recipes.finetune_recipe(recipe, divisor=1 / finetune_rate)
    model, fit_kwargs = training.compile_for(
        model, dataset, epochs, learning_rate, batch_size, recipe, seed
    )

    def gzip_size(m):  # what sparsity buys once the file is compressed
        weights = b"".join(np.asarray(w).tobytes() for w in m.get_weights())
        return len(gzip.compress(weights))

    schedule = _schedule(sparsity, epochs, dataset.num_train, fit_kwargs["batch_size"])
    before = training.evaluate(model, dataset)
    gzip_before = gzip_size(model)
    logs = training.fit(
        model,
        dataset,
        epochs=epochs,
        callbacks=[MagnitudePruning(schedule, mode=mode, layers=layers)],
        verbose=verbose,
        **fit_kwargs,
    )

    pruned = strip_pruning(model)
    metrics = {
        "accuracy_before": before,
        "accuracy_after": training.evaluate(pruned, dataset),
        "sparsity": kernel_sparsity(pruned)["sparsity"],
        "gzip_bytes_before": gzip_before,
        "gzip_bytes_after": gzip_size(pruned),
    }
    if out is not None:
        _io.save_model(pruned, os.path.join(out, "pruned.keras"))
        _io.write_json(os.path.join(out, "history.json"), logs)
        _io.write_json(os.path.join(out, "metrics.json"), metrics)
    return {**metrics, "model": pruned, "history": logs}


def _check_arguments(sparsity, epochs, mode, recipe, finetune_rate):
    """`prune`'s argument checks, before any data is loaded."""
    _parse_block(mode)
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"Expected 0 <= sparsity < 1. Received: sparsity={sparsity}")
    if epochs < 1:
        raise ValueError(f"Expected epochs >= 1. Received: epochs={epochs}")
    check_finetune_rate(finetune_rate, recipe)


def _schedule(sparsity, epochs, num_train, batch_size):
    """0 to `sparsity` over the first two thirds of the steps, ending exactly."""
    steps = -(-num_train // batch_size)
    if steps * epochs < 2:  # masks are set as a step begins: step 0 prunes 0%
        raise ValueError(
            f"prune needs at least 2 training steps to reach sparsity={sparsity}; "
            f"{num_train} training images in batches of {batch_size} for "
            f"{epochs} epoch(s) make 1. Train more epochs or use a smaller "
            "batch size."
        )
    # The last mask update falls on end_step, so the final sparsity is exact.
    frequency = max(1, steps // 10)
    end_step = frequency * max(1, (2 * steps * epochs // 3) // frequency)
    return PolynomialDecay(
        0.0, sparsity, begin_step=0, end_step=end_step, frequency=frequency
    )
