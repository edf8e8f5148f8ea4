"""compress, slim and export on a user's own .keras model and image folder."""

import json
import os

import keras
import numpy as np
import pytest

from kerasreg import data, training
from kerasreg.compression import pipeline, slimming
from tests.conftest import make_user_model


def _plain_keras_accuracy(path, folder):
    """What plain Keras scores: the model on Keras's own loader, raw pixels."""
    model = keras.saving.load_model(path)
    test = keras.utils.image_dataset_from_directory(
        os.path.join(folder, "test"), image_size=(16, 16), shuffle=False, verbose=False
    )
    logits = model.predict(test, verbose=0)
    labels = np.concatenate([y for _, y in test])
    return float(np.mean(np.argmax(logits, -1) == labels))


def test_compress_starts_from_the_users_model_as_given(
    tmp_path, user_model, image_folder
):
    out = tmp_path / "run"
    result = pipeline.compress(
        out,
        model=user_model,
        data=image_folder,
        l1=0.05,
        epochs=2,
        freeze_from=0,
        mark_ratio=0.5,
        finetune_epochs=1,
        quantize=("float32", "int8"),
        batch_size=16,
        verbose=0,
    )
    rows = {r["stage"]: r for r in result["rows"]}
    assert list(rows) == [
        "original",
        "slim",
        "shrink",
        "finetune",
        "tflite original float32",
        "tflite float32",
        "tflite int8",
    ]
    original = keras.saving.load_model(user_model)
    assert rows["original"]["params"] == original.count_params()
    # The user's model receives [0, 255] (it starts with Rescaling): the
    # original row is exactly what plain Keras scores on the same folder.
    assert rows["original"]["accuracy"] == _plain_keras_accuracy(
        user_model, image_folder
    )
    assert rows["tflite original float32"]["accuracy"] == rows["original"]["accuracy"]
    assert rows["shrink"]["params"] < rows["original"]["params"]
    assert rows["tflite float32"]["accuracy"] == rows["finetune"]["accuracy"]
    summary = result["summary"]
    assert summary["stage"] == "tflite int8"
    assert "smaller than your model" in summary["sentence"]
    change = 100 * (rows["tflite int8"]["accuracy"] - rows["original"]["accuracy"])
    assert summary["accuracy_change_points"] == pytest.approx(change)
    page = (out / "report.html").read_text()
    assert summary["sentence"] in page and "accuracy_drop_points" not in page
    assert json.loads((out / "metrics.json").read_text())["summary"] == summary


def test_l1_zero_skips_slimming_and_still_prunes_and_reports(
    tmp_path, user_model, image_folder
):
    result = pipeline.compress(
        tmp_path / "run",
        model=user_model,
        data=image_folder,
        l1=0,
        prune_sparsity=0.5,
        prune_epochs=1,
        quantize=("int8",),
        batch_size=16,
        verbose=0,
    )
    stages = [r["stage"] for r in result["rows"]]
    assert stages == ["original", "prune", "tflite original float32", "tflite int8"]
    assert not (tmp_path / "run" / "slimmed.keras").exists()
    pruned = keras.saving.load_model(tmp_path / "run" / "pruned.keras")
    kernels = [w for w in pruned.weights if "kernel" in w.path]
    zeros = sum(int(np.sum(np.asarray(k) == 0)) for k in kernels)
    assert zeros / sum(int(np.prod(k.shape)) for k in kernels) >= 0.45


def test_a_model_without_batchnorm_is_refused_before_training(tmp_path, image_folder):
    path = make_user_model(tmp_path / "plain.keras", batchnorm=False)
    out = tmp_path / "run"
    with pytest.raises(ValueError) as error:
        pipeline.compress(out, model=path, data=image_folder, verbose=0)
    message = str(error.value)
    assert message.startswith(
        "Model 'my_model' has no BatchNormalization right after a convolution, "
        "so network slimming has nothing to remove: it has 2 convolution(s)"
    )
    assert message.endswith("Or pass l1=0 (--l1 0) and no target or mark_ratio.")
    assert not out.exists() or not any(out.glob("*.keras"))
    with pytest.raises(ValueError, match="has no BatchNormalization right after"):
        slimming.slim(path, image_folder, epochs=1)


def test_a_reference_model_and_a_rescaling_model_each_get_their_range(
    user_model, image_folder
):
    dataset = data.load(image_folder)
    assert data.input_scale(keras.saving.load_model(user_model), dataset) == 1.0
    reference = training.compile_model(
        keras.Sequential(
            [keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(3)]
        )
    )
    assert data.input_scale(reference, dataset) == pytest.approx(1 / 255)
    # evaluate() feeds each its range: the user's model as plain Keras does.
    got = training.evaluate(keras.saving.load_model(user_model), dataset)
    assert got == _plain_keras_accuracy(user_model, image_folder)
