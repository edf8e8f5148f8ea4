"""Distiller and distill: arguments, training, saving, strategies, slimming."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasreg import distribute, models, training
from kerasreg.compression.distillation import Distiller, distill, distillation_loss
from tests.compression.distillation.conftest import mlp, toy


def _weights(model):
    return [np.array(w) for w in model.weights]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"temperature": 0.0},
            r"Expected temperature > 0\. Received: temperature=0\.0",
        ),
        ({"temperature": -1}, r"Received: temperature=-1\."),
        ({"lambda_soft": 0.0, "lambda_hard": 0.0}, r"lambda_soft \+ lambda_hard > 0"),
        (
            {"lambda_soft": -0.5},
            r"Expected lambda_soft >= 0\. Received: lambda_soft=-0\.5",
        ),
        (
            {"lambda_hard": -1.0},
            r"Expected lambda_hard >= 0\. Received: lambda_hard=-1\.0",
        ),
        ({"ensemble": "votes"}, r"Received: ensemble='votes'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Distiller(mlp(), mlp(), **kwargs)
    if "ensemble" not in kwargs:
        with pytest.raises(ValueError, match=message):
            distillation_loss(np.zeros(2), np.zeros((2, 3)), np.zeros((2, 3)), **kwargs)


def test_bad_models():
    with pytest.raises(
        ValueError,
        match=r"Received: teacher output shape \(None, 5\) and student output "
        r"shape \(None, 4\)",
    ):
        Distiller(mlp(4), mlp(5))
    with pytest.raises(ValueError, match=r"Received: teacher\[1\] output shape"):
        Distiller(mlp(4), [mlp(4), mlp(3)])
    with pytest.raises(ValueError, match=r"The student must output logits"):
        Distiller(mlp(activation="softmax"), mlp())
    model = mlp()
    with pytest.raises(ValueError, match=r"same model as teacher and student"):
        Distiller(model, model)
    with pytest.raises(ValueError, match=r"Expected an integer epochs >= 1"):
        distill(mlp(), mlp(), toy(), epochs=0)


def test_lambda_soft_zero_is_plain_training():
    x, y = toy(96)
    student = mlp()
    twin = keras.models.clone_model(student)
    twin.set_weights(student.get_weights())
    initial = student.get_weights()
    distiller = Distiller(student, mlp(), lambda_soft=0.0, lambda_hard=1.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    twin.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    distiller.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    twin.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(student.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(student.get_weights()[0], initial[0])  # it did train


def test_compute_loss_uses_distillation_loss_with_sample_weights():
    x, y = toy(8)
    w = np.linspace(0.0, 2.0, 8).astype("float32")
    distiller = Distiller(
        mlp(), mlp(), temperature=3.0, lambda_soft=2.0, lambda_hard=1.0
    )
    distiller.compile()
    got = distiller.compute_loss(x, y, distiller(x), sample_weight=w)
    expected = distillation_loss(
        y, distiller.teacher(x), distiller.student(x), 3.0, 2.0, 1.0, sample_weight=w
    )
    np.testing.assert_allclose(float(got), float(expected), rtol=1e-6)


def test_zero_sample_weights_from_tf_data_leave_student_unchanged():
    x, y = toy(64)
    student = mlp()
    before = _weights(student)
    data = tf.data.Dataset.from_tensor_slices((x, y, np.zeros(64, "float32"))).batch(16)
    distiller = Distiller(student, mlp())
    distiller.compile(optimizer="adam", metrics=["accuracy"])
    history = distiller.fit(data, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(before, _weights(student)):
        np.testing.assert_array_equal(a, b)
    assert history.history["loss"] == [0.0]


def test_save_reload_round_trip(tmp_path):
    x, y = toy(64)
    teachers = [mlp(name="a"), mlp(name="b")]
    distiller = Distiller(mlp(), teachers, temperature=5.0, ensemble="probabilities")
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    distiller.compile(
        optimizer=keras.optimizers.Adam(0.01), loss=loss, metrics=["accuracy"]
    )
    distiller.fit(x, np.eye(4)[y], epochs=1, verbose=0)
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, Distiller)
    assert (reloaded.temperature, reloaded.lambda_soft, reloaded.lambda_hard) == (
        5.0,
        0.9,
        0.1,
    )
    assert reloaded.compiled
    assert isinstance(reloaded._hard_loss, keras.losses.CategoricalCrossentropy)
    assert reloaded._hard_loss.label_smoothing == 0.1
    assert (
        int(reloaded.optimizer.iterations) == int(distiller.optimizer.iterations) == 2
    )
    np.testing.assert_array_equal(
        reloaded.predict(x, verbose=0), distiller.predict(x, verbose=0)
    )
    np.testing.assert_array_equal(
        reloaded.teacher.predict(x, verbose=0), distiller.teacher.predict(x, verbose=0)
    )


def test_callbacks_early_stopping_and_checkpoint(tmp_path):
    x, y = toy(64)
    path = str(tmp_path / "best.keras")
    distiller = Distiller(mlp(), mlp())
    distiller.compile(optimizer=keras.optimizers.SGD(0.0), metrics=["accuracy"])
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_soft_loss", mode="min", patience=1),
        keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True),
    ]
    history = distiller.fit(
        x, y, validation_split=0.25, epochs=10, callbacks=callbacks, verbose=0
    )
    assert len(history.history["loss"]) == 2  # lr 0: no improvement after epoch 1
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        reloaded.predict(x, verbose=0), distiller.predict(x, verbose=0)
    )


def test_mirrored_strategy_matches_single_device():
    x, y = toy(64)
    strategy = distribute.strategy("mirrored", replicas=2)  # own collective keys
    single = Distiller(mlp(), mlp())
    with strategy.scope():
        student, teacher = mlp(), mlp()
        student.set_weights(single.student.get_weights())
        teacher.set_weights(single.teacher.get_weights())
        mirrored = Distiller(student, teacher)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.1))
    single.compile(optimizer=keras.optimizers.SGD(0.1))
    frozen = _weights(teacher)
    histories = [
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0).history
        for model in (single, mirrored)
    ]
    for a, b in zip(single.student.get_weights(), student.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(frozen, _weights(teacher)):
        np.testing.assert_array_equal(a, b)
    for key in ("loss", "soft_loss", "hard_loss"):  # reported per example, unscaled
        assert histories[1][key] == pytest.approx(histories[0][key], rel=1e-5)


def test_network_slimming_on_the_student(digits):
    from kerasreg.compression import NetworkSlimming

    x, y = digits.x_train[:128], digits.y_train[:128]
    teacher = models.build("cnn", digits.input_shape, 10, filters=(4,), dense_units=0)
    student = models.build("cnn", digits.input_shape, 10, filters=(4,), dense_units=0)
    frozen = _weights(teacher)
    gammas = [layer.gamma for layer in student.layers if hasattr(layer, "gamma")]
    l1_start = sum(float(np.abs(g).sum()) for g in gammas)
    distiller = Distiller(
        student, teacher, temperature=2.0, lambda_soft=1.0, lambda_hard=1.0
    )
    distiller.compile(optimizer=keras.optimizers.SGD(1e-3))
    slimming = NetworkSlimming(l1=0.1, freeze_from_epoch=0)
    history = distiller.fit(x, y, epochs=1, callbacks=[slimming], verbose=0).history
    assert "dead_channels" in history
    assert list(slimming.gamma_history[0]) == ["block1_bn"]  # the student's only
    # The penalty λ·Σ|γ| enters the loss on top of the distillation terms.
    combined = (4.0 * history["soft_loss"][0] + history["hard_loss"][0]) / 2.0
    l1_end = sum(float(np.abs(g).sum()) for g in gammas)
    assert l1_end < l1_start
    penalty = history["loss"][0] - combined
    assert 0.1 * l1_end * 0.98 < penalty < 0.1 * l1_start * 1.02
    for a, b in zip(frozen, _weights(teacher)):
        np.testing.assert_array_equal(a, b)


def test_distill_a_shrunk_copy_from_the_model_before_slimming(digits, teacher):
    from kerasreg.compression import shrink

    slimmed = keras.models.clone_model(teacher)
    slimmed.set_weights(teacher.get_weights())
    for layer in slimmed.layers:  # the Distiller froze the teacher in place
        layer.trainable = True
    bn = slimmed.get_layer("block2_bn")
    gamma, beta, mean, var = bn.get_weights()
    gamma[:12], beta[:12] = 0.0, 0.0  # 12 of 16 channels dead, as slimming leaves them
    bn.set_weights([gamma, beta, mean, var])
    small = shrink(slimmed)
    assert small.get_layer("block2_conv").filters == 4
    before = training.evaluate_accuracy(small, digits.x_test, digits.y_test)
    frozen = _weights(teacher)
    distiller = distill(
        teacher, small, digits, epochs=2, learning_rate=1e-2, seed=0, verbose=0
    )
    assert distiller.student is small
    history = distiller.history.history
    assert {"loss", "soft_loss", "hard_loss", "accuracy", "val_loss"} <= set(history)
    assert "student_loss" not in history and "total_loss" not in history
    assert history["soft_loss"][-1] < history["soft_loss"][0]
    after = training.evaluate_accuracy(small, digits.x_test, digits.y_test)
    assert after > max(before + 0.1, 0.5)  # chance is 0.1
    for a, b in zip(frozen, _weights(teacher)):  # the teacher never changes
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        distiller.predict(digits.x_test[:8], verbose=0),
        small.predict(digits.x_test[:8], verbose=0),
    )
