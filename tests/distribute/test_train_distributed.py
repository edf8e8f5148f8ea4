"""kerasreg.training.train and the CLI with strategy= and precision=."""

import dataclasses

import keras
import pytest

from kerasreg import cli, training


def test_train_with_mirrored_strategy_and_bfloat16(digits, tmp_path):
    small = dataclasses.replace(
        digits, x_train=digits.x_train[:512], y_train=digits.y_train[:512]
    )
    result = training.train(
        "cnn-tiny",
        small,
        epochs=2,
        strategy="mirrored",
        precision="mixed_bfloat16",
        verbose=0,
    )
    assert result.model.distribute_strategy.num_replicas_in_sync == 2
    assert result.model.dtype_policy.name == "mixed_bfloat16"
    bn = [
        layer
        for layer in result.model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert bn and all(layer.synchronized for layer in bn)
    assert result["test_accuracy"] > 0.15  # 10 classes: chance is 0.1
    assert keras.config.dtype_policy().name == "float32"  # restored


def test_bad_precision_and_cli_flags(tmp_path, capsys):
    with pytest.raises(ValueError, match="Received: precision='float8'"):
        training.train("cnn-tiny", "digits", epochs=1, precision="float8")
    code = cli.main(["train", "--replicas", "2", "--out", str(tmp_path)])
    assert code == 1
    assert "--replicas needs --strategy mirrored" in capsys.readouterr().err
