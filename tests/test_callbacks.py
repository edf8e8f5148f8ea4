"""Tests for kerasreg.callbacks.EarlyStopping."""

import keras
import numpy as np
import pytest

from kerasreg import callbacks
from kerasreg.testing import assert_roundtrip


def _drive(callback, values, monitor="val_loss"):
    """Feed a sequence of epoch-end values; return the epochs actually run."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {monitor: value})
        if model.stop_training:
            return epoch + 1
    return len(values)


SEQUENCES = [
    [1.0, 0.9, 0.95, 0.97, 0.8, 0.85, 0.9, 0.99, 1.2],
    [1.0, 1.1, 1.2, 0.5, 0.6, 0.7, 0.8],
    [3.0, 2.0, 1.0, 0.5, 0.25],
]


@pytest.mark.parametrize("values", SEQUENCES)
@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_default_is_keras_early_stopping(values, patience):
    ours = callbacks.EarlyStopping(
        patience=patience, min_delta=0.01, start_from_epoch=1
    )
    theirs = keras.callbacks.EarlyStopping(
        patience=patience, min_delta=0.01, start_from_epoch=1
    )
    assert isinstance(ours, keras.callbacks.EarlyStopping)
    assert _drive(ours, values) == _drive(theirs, values)
    assert ours.stopped_epoch == theirs.stopped_epoch and ours.best == theirs.best


def test_cumulative_counts_every_non_improvement():
    values = [1.0, 0.9, 1.0, 0.8, 0.85, 0.7, 0.75, 0.6]
    # seed 000: worse than the previous check at epochs 2, 4 and 6
    assert _drive(callbacks.EarlyStopping(patience=3, count="cumulative"), values) == 7
    # Keras's consecutive count is reset by each new best and never reaches 3
    assert _drive(callbacks.EarlyStopping(patience=3), values) == 8
    cumulative = callbacks.EarlyStopping(
        monitor="val_acc", patience=2, count="cumulative", mode="max"
    )
    assert _drive(cumulative, [0.1, 0.2, 0.15, 0.3, 0.25, 0.4], monitor="val_acc") == 5
    assert cumulative.best == 0.3


def _data(digits):
    x = digits.x_train.reshape(-1, 64)
    return x, digits.y_train, digits.x_test.reshape(-1, 64), digits.y_test


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_step_checks_stop_mid_epoch_and_keep_epoch_logs(digits):
    x, y, x_val, y_val = _data(digits)

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 4:
                self.weights_at_step_5 = self.model.get_weights()

    # val_loss keeps falling, so in "max" mode no check after the first improves
    stop = callbacks.EarlyStopping(
        mode="max",
        patience=2,
        check_every_n_steps=5,
        validation_data=(x_val, y_val),
        restore_best_weights=True,
    )
    model, recorder = _model(), Recorder()
    history = model.fit(
        x, y, epochs=5, batch_size=64, callbacks=[recorder, stop], verbose=0
    )
    assert stop.stopped_step == 15 and stop.stopped_epoch == 0
    assert int(model.optimizer.iterations.numpy()) == 15
    assert [step for _, step, _ in stop.history] == [5, 10, 15]
    values = [value for _, _, value in stop.history]
    assert values[0] > values[1] > values[2]  # real, falling validation losses
    for restored, best in zip(model.get_weights(), recorder.weights_at_step_5):
        np.testing.assert_array_equal(restored, best)
    # the mid-epoch evaluations did not disturb the training metrics: a run
    # stopped at the same step from the batch logs reports the same loss
    plain = _model()
    by_logs = callbacks.EarlyStopping(
        monitor="loss", mode="max", patience=2, check_every_n_steps=5
    )
    plain_history = plain.fit(
        x, y, epochs=5, batch_size=64, callbacks=[by_logs], verbose=0
    )
    assert by_logs.stopped_step == 15
    np.testing.assert_allclose(
        history.history["loss"], plain_history.history["loss"], rtol=1e-6
    )


def test_step_checks_respect_start_from_epoch(digits):
    x, y, _, _ = _data(digits)
    stop = callbacks.EarlyStopping(
        monitor="loss",
        mode="max",
        patience=1,
        check_every_n_steps=4,
        start_from_epoch=1,
    )
    _model().fit(x, y, epochs=3, batch_size=256, callbacks=[stop], verbose=0)
    # 6 steps an epoch: the first check is at step 8 (epoch 1), it stops at 12
    assert [(e, s) for e, s, _ in stop.history] == [(1, 8), (1, 12)]
    assert stop.stopped_step == 12


def test_step_check_of_val_monitor_needs_validation_data(digits):
    x, y, _, _ = _data(digits)
    stop = callbacks.EarlyStopping(check_every_n_steps=3)
    with pytest.raises(ValueError, match=r"needs validation_data"):
        _model().fit(x, y, epochs=1, callbacks=[stop], verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"patience": -1}, "patience=-1"),
        ({"check_every_n_steps": 0}, "check_every_n_steps=0"),
        ({"check_every_n_steps": 2.5}, "check_every_n_steps=2.5"),
        ({"count": "total"}, "count='total'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.EarlyStopping(**kwargs)


def test_roundtrip():
    stop = callbacks.EarlyStopping(
        monitor="val_accuracy",
        patience=4,
        min_delta=0.01,
        count="cumulative",
        check_every_n_steps=50,
        restore_best_weights=True,
        start_from_epoch=2,
    )
    restored = assert_roundtrip(stop)
    assert restored.count == "cumulative" and restored.check_every_n_steps == 50
    assert restored.min_delta == stop.min_delta
