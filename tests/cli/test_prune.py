"""`kerasreg prune`."""

import keras
import pytest

from kerasreg import models
from kerasreg.compression.pruning import kernel_sparsity


def test_cli_prune(tmp_path, digits, capsys):
    import json

    from kerasreg import cli

    path = str(tmp_path / "model.keras")
    models.build("cnn-tiny", digits.input_shape, digits.num_classes).save(path)
    out = tmp_path / "pruned"
    argv = ["prune", "--model", path, "--sparsity", "0.5", "--epochs", "1"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert metrics["gzip_bytes_after"] < metrics["gzip_bytes_before"]
    assert "sparsity" in capsys.readouterr().out
    reloaded = keras.models.load_model(out / "pruned.keras")
    assert kernel_sparsity(reloaded)["sparsity"] == metrics["sparsity"]
    bad = [*argv[:3], "--sparsity", "1.0", "--out", str(out)]
    assert cli.main(bad) == 1
    assert (
        "Expected 0 <= sparsity < 1. Received: sparsity=1.0" in capsys.readouterr().err
    )


def test_cli_prune_refuses_a_model_that_does_not_fit_the_images(
    tmp_path, digits, capsys
):
    from kerasreg import cli

    path = str(tmp_path / "model.keras")
    models.build("cnn-tiny", (32, 32, 3), digits.num_classes).save(path)
    out = tmp_path / "pruned"
    assert cli.main(["prune", "--model", path, "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == (
        "kerasreg prune: error: The model takes inputs of shape (32, 32, 3), but "
        "the data has images of shape (8, 8, 1). Resize the images (load(folder, "
        "image_size=(32, 32)), or --image-size 32x32) or use a model that takes "
        "(8, 8, 1)."
    )
    assert not out.exists()  # refused before anything is written


def test_cli_prune_with_a_recipe(tmp_path, image_folder, user_model, capsys):
    import json

    from kerasreg import cli

    path, out = user_model, tmp_path / "pruned"
    argv = ["prune", "--model", path, "--data", image_folder, "--epochs", "1"]
    argv += ["--recipe", "resnet20", "--finetune-rate", "1.0", "--mode", "global"]
    assert cli.main([*argv, "--sparsity", "0.6", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sparsity"] == pytest.approx(0.6, abs=0.01)
    # The recipe's SGD at its full rate (0.1), decaying over 1 epoch of
    # 72 images in batches of 64, and its weight decay on every kernel.
    pruned = keras.models.load_model(out / "pruned.keras")
    decay = {
        layer.name: float(layer.kernel_regularizer.l2)
        for layer in pruned.layers
        if getattr(layer, "kernel_regularizer", None)
    }
    assert decay == {"conv0": 2.5e-4, "conv1": 2.5e-4, "logits": 2.5e-4}
    optimizer = pruned.optimizer
    rate = optimizer.get_config()["learning_rate"]["config"]
    assert type(optimizer).__name__ == "SGD" and optimizer.momentum == 0.9
    assert (rate["initial_learning_rate"], rate["decay_steps"]) == (0.1, 2)
    capsys.readouterr()
    bad = ["prune", "--model", path, "--finetune-rate", "0.5", "--out", str(out)]
    assert cli.main(bad) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "finetune_rate=0.5 applies to a recipe's SGD; without recipe, Adam "
            "fine-tunes at learning_rate."
        )
    )
