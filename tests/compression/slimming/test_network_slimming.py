"""NetworkSlimming: the L1 penalty on γ, sign-flip freezing, logs, state."""

import os

import keras
import numpy as np
import pytest

from kerasreg import distribute, training
from kerasreg.compression.slimming import (
    NetworkSlimming,
    SignFlipFreeze,
    batchnorm_layers,
    dead_channels,
)
from tests.compression.slimming.conftest import tiny_cnn


def _mean_abs_gamma(model):
    return float(
        np.mean([np.abs(bn.gamma.numpy()).mean() for bn in batchnorm_layers(model)])
    )


def _fit(model, data, callbacks, epochs=2, optimizer=None, **kw):
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model.fit(
        data.x_train[:256],
        data.y_train[:256],
        epochs=epochs,
        batch_size=32,
        callbacks=callbacks,
        verbose=0,
        **kw,
    )


def test_penalty_reaches_gamma(digits):
    means = {}
    for l1 in (0.0, 0.2):
        keras.utils.set_random_seed(0)
        model = tiny_cnn()
        _fit(
            model,
            digits,
            [NetworkSlimming(l1)],
            epochs=2,
            optimizer=keras.optimizers.SGD(0.1),
        )
        means[l1] = _mean_abs_gamma(model)
    # Without the penalty γ stay near their initial 1; with it they shrink
    # by about lr·λ per step (16 steps).
    assert means[0.0] > 0.9
    assert means[0.2] < means[0.0] - 0.2


def test_penalty_is_in_the_loss_and_detached_after_fit(digits):
    model = tiny_cnn()
    slim = NetworkSlimming(0.5)
    _fit(model, digits, [slim], epochs=1)
    assert all(bn.gamma.regularizer is None for bn in batchnorm_layers(model))
    assert all(bn.gamma.constraint is None for bn in batchnorm_layers(model))
    assert model.losses == []


def test_sign_flip_constraint_rule():
    previous = keras.Variable(np.array([1.0, -1.0, 0.5, 0.0, 2.0], "float32"))
    active = keras.Variable(1.0)
    freeze = SignFlipFreeze(previous, active)
    new = np.array([-0.1, -0.5, 0.4, 0.3, 1e-3], "float32")
    out = keras.ops.convert_to_numpy(freeze(new))
    # Flipped (1 -> -0.1) and already frozen (0) channels are pinned to 0.
    np.testing.assert_array_equal(out, np.array([0.0, -0.5, 0.4, 0.0, 1e-3], "float32"))
    np.testing.assert_array_equal(previous.numpy(), out)
    active.assign(0.0)
    out = keras.ops.convert_to_numpy(freeze(np.array([1, 1, -1, 1, 1], "float32")))
    np.testing.assert_array_equal(out, [1, 1, -1, 1, 1])


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        lambda: keras.optimizers.AdamW(2e-2, weight_decay=1e-2),
    ],
    ids=["sgd_momentum", "adamw"],
)
def test_frozen_gammas_stay_zero(digits, optimizer):
    model = tiny_cnn()
    for bn in batchnorm_layers(model):  # small γ flip sign quickly under L1
        bn.gamma.assign(np.full(bn.gamma.shape, 0.02, "float32"))
    slim = NetworkSlimming(5e-3, freeze_from_epoch=1)
    history = _fit(model, digits, [slim], epochs=4, optimizer=optimizer())
    dead = history.history["dead_channels"]
    assert dead[0] == 0  # before the freeze epoch nothing is pinned
    assert dead[-1] > 0
    assert all(a <= b for a, b in zip(dead, dead[1:]))  # never revived
    for earlier, later in zip(slim.gamma_history[1:], slim.gamma_history[2:]):
        for name in earlier:
            assert np.all(later[name][earlier[name] == 0.0] == 0.0)


def test_history_logs_dead_channels_per_layer(digits):
    model = tiny_cnn()
    for bn in batchnorm_layers(model):
        bn.gamma.assign(np.full(bn.gamma.shape, 0.02, "float32"))
    history = _fit(model, digits, [NetworkSlimming(5e-3, freeze_from_epoch=0)])
    logs = history.history
    per_layer = [k for k in logs if k.startswith("dead_channels/")]
    assert sorted(per_layer) == [
        f"dead_channels/{n}" for n in ("block1_bn", "block2_bn", "fc_bn")
    ]
    assert logs["dead_channels"][-1] == sum(logs[k][-1] for k in per_layer)
    assert logs["dead_channels"][-1] == sum(dead_channels(model).values())


def test_tensorboard_receives_dead_channels(digits, tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    model = tiny_cnn()
    board = keras.callbacks.TensorBoard(str(tmp_path))
    _fit(model, digits, [NetworkSlimming(1e-3, freeze_from_epoch=0), board], epochs=1)
    train_dir = os.path.join(tmp_path, "train")
    acc = event_accumulator.EventAccumulator(train_dir)
    acc.Reload()
    tags = acc.Tags()["tensors"] + acc.Tags()["scalars"]
    assert "epoch_dead_channels" in tags


def test_config_round_trip():
    slim = NetworkSlimming(1e-4, freeze_from_epoch=3, layers=["a_bn"], prune_ratio=0.3)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(slim)
    )
    assert isinstance(restored, NetworkSlimming)
    assert restored.get_config() == slim.get_config()


def test_frozen_set_survives_keras_save_and_reload(digits, tmp_path):
    model = tiny_cnn()
    for bn in batchnorm_layers(model):
        bn.gamma.assign(np.full(bn.gamma.shape, 0.02, "float32"))
    _fit(model, digits, [NetworkSlimming(5e-3, freeze_from_epoch=0)], epochs=2)
    frozen = {bn.name: bn.gamma.numpy() == 0.0 for bn in batchnorm_layers(model)}
    assert sum(m.sum() for m in frozen.values()) > 0
    path = tmp_path / "mid.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    # Resume without the penalty: only the freeze keeps the zeros at zero.
    reloaded.fit(
        digits.x_train[:512],
        digits.y_train[:512],
        epochs=4,
        initial_epoch=2,
        batch_size=64,
        verbose=0,
        callbacks=[NetworkSlimming(0.0, freeze_from_epoch=0)],
    )
    for bn in batchnorm_layers(reloaded):
        assert np.all(bn.gamma.numpy()[frozen[bn.name]] == 0.0)


def test_mirrored_strategy(digits):
    strategy = distribute.strategy("mirrored", replicas=2)  # own collective keys
    with strategy.scope():
        model = tiny_cnn()
        for bn in batchnorm_layers(model):
            bn.gamma.assign(np.full(bn.gamma.shape, 0.02, "float32"))
        history = _fit(model, digits, [NetworkSlimming(5e-3, freeze_from_epoch=0)])
    assert history.history["dead_channels"][-1] > 0
    assert history.history["dead_channels"][-1] == sum(dead_channels(model).values())


def test_bad_arguments(digits):
    with pytest.raises(ValueError, match=r"Expected l1 >= 0. Received: l1=-0.1"):
        NetworkSlimming(-0.1)
    model = tiny_cnn()
    with pytest.raises(ValueError, match=r"freeze_from_epoch=5 is past the last epoch"):
        _fit(model, digits, [NetworkSlimming(1e-4, freeze_from_epoch=5)], epochs=2)
    plain = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    with pytest.raises(ValueError, match=r"has no trainable BatchNormalization"):
        _fit(plain, digits, [NetworkSlimming(1e-4)], epochs=1)
    with pytest.raises(ValueError, match=r"prune_ratio < 1. Received: prune_ratio=1.5"):
        NetworkSlimming(1e-4, prune_ratio=1.5)


def test_slim_then_shrink_keeps_predictions(digits):
    from kerasreg.compression import shrink

    model = tiny_cnn()
    for bn in batchnorm_layers(model):
        bn.gamma.assign(np.full(bn.gamma.shape, 0.02, "float32"))
    _fit(model, digits, [NetworkSlimming(5e-3, freeze_from_epoch=0)], epochs=2)
    small = shrink(model)
    a = model.predict(digits.x_test, verbose=0)
    b = small.predict(digits.x_test, verbose=0)
    assert np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(a))
    assert small.count_params() < model.count_params()
    assert training.evaluate_accuracy(small, digits.x_test, digits.y_test) == (
        training.evaluate_accuracy(model, digits.x_test, digits.y_test)
    )
