"""training.train inside `fitting.training_scope`: strategy= and precision=."""

import dataclasses

import keras

from kerasreg import training


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
