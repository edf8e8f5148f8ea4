"""`qat`: quantization-aware fine-tuning end to end, with its int8 file.

`qat` rebuilds a trained model with `quantize_aware`, sets its activation
ranges on training images, fine-tunes it, and (with `out`) writes the
full-int8 TFLite file, checked against the Keras model on the test split.
"""

from __future__ import annotations

import os

import numpy as np

from kerasreg.compression.quantization.rebuild import calibrate, quantize_aware

__all__ = ["qat"]


def qat(
    model,
    data="digits",
    *,
    epochs=3,
    learning_rate=1e-4,
    batch_size=64,
    recipe=None,
    per_channel=True,
    seed=0,
    out=None,
    verbose=0,
):
    """Fine-tune a trained model as TFLite int8 will run it (`compress --qat-epochs`).

    Args:
        model: a trained logits `keras.Model`, the path of a `.keras` file
            or a reference model name.
        data: anything `kerasreg.data.load` takes. Defaults to `"digits"`.
        epochs: fine-tuning epochs, at least 0 (0 calibrates only).
            Defaults to `3`.
        learning_rate: Adam learning rate. Defaults to `1e-4`.
        batch_size: batch size. Defaults to `64`.
        recipe: fine-tune with a CIFAR recipe's SGD instead of Adam
            (`kerasreg.models.recipes`), at a hundredth of its learning
            rate and with no weight decay: the folded model has no
            BatchNormalization left, diverged at a tenth of resnet20's
            rate, and did best this way on held-out training images
            (docs/quantization.md).
        per_channel: one weight scale per output channel. Defaults to `True`.
        seed: seed. Defaults to `0`.
        out: directory for `qat.keras`, `model_int8.tflite`,
            `history.json` and `metrics.json`; nothing is written when
            `None`.
        verbose: passed to `fit`. Defaults to `0`.

    Returns:
        A dict: `accuracy_float` (the model given), `accuracy_qat` (the
        Keras QAT model), with `out` also `accuracy_int8` (the file),
        `agreement` (top-1 agreement of file and QAT model) and
        `max_logit_steps` (largest logit difference, in output-scale
        steps); the QAT model under `"model"`, the per-epoch logs under
        `"history"`.

    Example:

    >>> result = qat("cnn-tiny", "digits", epochs=1)
    >>> 0.0 <= result["accuracy_qat"] <= 1.0
    True
    """
    import keras

    from kerasreg import _io, training
    from kerasreg import data as data_lib
    from kerasreg import models as models_lib

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(
            f"Expected an integer epochs >= 0. Received: epochs={epochs!r}"
        )
    dataset = data_lib.load(data)
    model = models_lib.resolve(model, dataset.input_shape, dataset.num_classes)
    keras.utils.set_random_seed(seed)
    quantized = quantize_aware(model, per_channel=per_channel)
    calibrate(quantized, _calibration(quantized, dataset))
    quantized, fit_kwargs = training.compile_for(
        quantized,
        dataset,
        epochs,
        learning_rate,
        batch_size,
        _qat_recipe(recipe),
        seed,
    )
    logs = {}
    if epochs:
        logs = training.fit(
            quantized, dataset, epochs=epochs, verbose=verbose, **fit_kwargs
        )
    metrics = {
        "accuracy_float": training.evaluate(model, dataset),
        "accuracy_qat": training.evaluate(quantized, dataset),
    }
    if out is not None:
        metrics.update(
            _export(quantized, dataset, os.path.join(out, "model_int8.tflite"))
        )
        _io.save_model(quantized, os.path.join(out, "qat.keras"))
        _io.write_json(os.path.join(out, "history.json"), logs)
        _io.write_json(os.path.join(out, "metrics.json"), metrics)
    return {**metrics, "model": quantized, "history": logs}


def _qat_recipe(recipe):
    import dataclasses

    from kerasreg.models import recipes

    recipe = recipes.finetune_recipe(recipe, divisor=100)
    return None if recipe is None else dataclasses.replace(recipe, weight_decay=0.0)


def _calibration(model, dataset):
    from kerasreg.compression.export import calibration_images

    return calibration_images(model, dataset)


def _export(model, dataset, path):
    """Write the int8 file; its accuracy and agreement with `model`."""
    from kerasreg import data as data_lib
    from kerasreg.compression.export import TFLiteModel, to_tflite

    to_tflite(model, path, "int8-full")
    file = TFLiteModel(path)
    scale = data_lib.input_scale(model, dataset)
    correct = agree = total = 0
    largest = 0.0
    for images, labels in dataset.batches("test", 256, scale=scale):
        images = images.numpy()
        ours = model.predict(images, verbose=0)
        theirs = file.predict(images)
        correct += int(np.sum(theirs.argmax(-1) == labels.numpy()))
        agree += int(np.sum(theirs.argmax(-1) == ours.argmax(-1)))
        largest = max(largest, float(np.max(np.abs(theirs - ours))))
        total += len(images)
    return {
        "accuracy_int8": correct / total,
        "agreement": agree / total,
        "max_logit_steps": largest / file.output_quantization[0],
        "tflite_bytes": file.size_bytes,
    }
