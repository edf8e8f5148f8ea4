"""MagnitudePruning: every mode, masks, logs and composition, on tiny models."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasreg import distribute, models, training
from kerasreg.compression.pruning import (
    ConstantSparsity,
    MagnitudePruning,
    PolynomialDecay,
    kernel_sparsity,
    select_layers,
)
from tests.compression.pruning.conftest import fit, mlp, toy_data


def _kernels(model, names=("hidden", "hidden2", "out")):
    return {n: model.get_layer(n).kernel.numpy().copy() for n in names}


def test_layer_mode_reaches_exact_sparsity_on_every_kernel():
    model = mlp()
    history = fit(model, [MagnitudePruning(ConstantSparsity(0.75, begin_step=0))])
    for name, kernel in _kernels(model).items():
        expected = kernel.size - round(kernel.size * 0.25)
        assert np.count_nonzero(kernel == 0) == expected, name
    assert history.history["sparsity/hidden"] == [0.75, 0.75]
    assert history.history["sparsity"][-1] == pytest.approx(0.75, abs=1e-3)
    assert model.get_layer("hidden").bias.numpy().all()  # biases untouched


def test_masks_survive_optimizer_updates_and_are_released_after_fit():
    model = mlp()
    # Prune once, at step 0; 16 more steps of Adam must keep the zeros.
    fit(model, [MagnitudePruning(ConstantSparsity(0.5, 0, end_step=0))])
    after = _kernels(model)
    before_second = {k: v.copy() for k, v in after.items()}
    fit(model, [MagnitudePruning(ConstantSparsity(0.5, 0, end_step=0))])
    for name, kernel in _kernels(model).items():
        zeros = kernel == 0
        np.testing.assert_array_equal(zeros, before_second[name] == 0)
        assert not np.allclose(kernel, before_second[name])  # others learnt
    # The constraints are removed when fit ends: plain training regrows them.
    assert model.get_layer("hidden").kernel.constraint is None
    fit(model, [], epochs=1)
    assert kernel_sparsity(model)["sparsity"] < 0.01


def test_polynomial_decay_raises_sparsity_step_by_step():
    model = mlp()
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=12, frequency=4)
    history = fit(model, [MagnitudePruning(schedule)], epochs=3)  # 8 steps/epoch
    overall = history.history["sparsity"]
    assert overall[0] == pytest.approx(schedule.sparsity_at(4), abs=2e-3)
    assert overall[1] == pytest.approx(0.8, abs=2e-3)  # step 12 reached
    assert overall[0] < overall[1] == overall[2]


def test_global_mode_ranks_all_kernels_together():
    model = mlp()
    model.get_layer("out").kernel.assign(
        model.get_layer("out").kernel.numpy() * 10.0
    )  # the output layer's weights are much larger: they survive
    initial = _kernels(model)
    training.compile_model(model, 0.0)  # zero learning rate: values stay put
    fit(model, [MagnitudePruning(ConstantSparsity(0.6, 0, end_step=0), mode="global")])
    sparsity = kernel_sparsity(model)
    total = sum(k.size for k in initial.values())
    assert sparsity["sparsity"] == (total - round(total * 0.4)) / total
    assert sparsity["sparsity/out"] < 0.1 < 0.6 < sparsity["sparsity/hidden2"]
    # One threshold for all: every pruned weight is smaller than every kept one.
    pruned = np.concatenate(
        [np.abs(initial[n][k == 0]) for n, k in _kernels(model).items()]
    )
    kept = np.concatenate(
        [np.abs(initial[n][k != 0]) for n, k in _kernels(model).items()]
    )
    assert pruned.max() <= kept.min()


def test_threshold_mode_prunes_small_weights_once_then_retrains():
    model = mlp()
    initial = _kernels(model)
    callback = MagnitudePruning(mode="threshold", threshold=0.1)
    x, y = toy_data()
    training.compile_model(model, 0.0)  # zero learning rate: values stay put
    fit(model, [callback], epochs=1, x=x, y=y)
    for name, kernel in _kernels(model).items():
        small = np.abs(initial[name]) < 0.1
        assert small.any()
        np.testing.assert_array_equal(kernel == 0, small)
        np.testing.assert_array_equal(kernel[~small], initial[name][~small])


def test_two_four_sparsity_and_layer_selection():
    model = mlp()
    odd = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, name="a"),
            keras.layers.Dense(3, name="b"),
        ]
    )  # a has 6 inputs: not a multiple of 4
    with pytest.warns(UserWarning, match=r"Skipping .* multiple of 4: \['a'\]"):
        assert [x.name for x in select_layers(odd, block=(2, 4))] == ["b"]
    with pytest.raises(ValueError, match=r"multiple of M=4; it is not for \['a'\]"):
        select_layers(odd, ["a", "b"], block=(2, 4))
    callback = MagnitudePruning(mode="2:4", layers=["hidden2", keras.layers.Dense])
    fit(model, [callback], epochs=1)
    for name, kernel in _kernels(model).items():
        groups = kernel.T.reshape(kernel.shape[1], -1, 4)
        assert (np.count_nonzero(groups, axis=-1) <= 2).all(), name
        assert kernel_sparsity(model)[f"sparsity/{name}"] == pytest.approx(
            0.5, abs=0.01
        )


def test_layer_selection_by_name_only_prunes_those():
    model = mlp()
    fit(model, [MagnitudePruning(ConstantSparsity(0.5, 0), layers=["hidden2"])])
    sparsity = kernel_sparsity(model)
    assert sparsity["sparsity/hidden2"] == 0.5
    assert sparsity["sparsity/hidden"] == 0.0 and sparsity["sparsity/out"] == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="row"), r"Expected mode to be one of .* Received: mode='row'"),
        (dict(mode="4:2"), r"Received: mode='4:2'"),
        (dict(), r"mode='layer' needs a schedule.*Received: schedule=None"),
        (dict(mode="global"), r"mode='global' needs a schedule"),
        (dict(mode="threshold"), r"needs a threshold >= 0.*Received: threshold=None"),
        (dict(mode="threshold", threshold=-1.0), r"Received: threshold=-1.0"),
        (
            dict(schedule=0.8),
            r"Expected schedule to be a PruningSchedule.*Received: schedule=0.8",
        ),
        (
            dict(schedule=ConstantSparsity(0.5, 0), threshold=0.1),
            r"threshold is used only with mode='threshold'",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MagnitudePruning(**kwargs)


def test_unknown_layer_name_is_rejected():
    callback = MagnitudePruning(ConstantSparsity(0.5, 0), layers=["nope"])
    with pytest.raises(
        ValueError, match=r"match no trainable layer.*\['nope'\].*'hidden'"
    ):
        fit(mlp(), [callback])


def test_callback_config_round_trip():
    callback = MagnitudePruning(
        PolynomialDecay(0.1, 0.9, 0, 50, frequency=5),
        mode="global",
        layers=["fc", keras.layers.Conv2D],
    )
    config = keras.saving.serialize_keras_object(callback)
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, MagnitudePruning)
    assert restored.get_config() == callback.get_config()
    assert restored.layers == ["fc", keras.layers.Conv2D]
    assert restored.schedule.sparsity_at(25) == callback.schedule.sparsity_at(25)


def test_sparsity_is_logged_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    model = mlp()
    callbacks = [
        MagnitudePruning(ConstantSparsity(0.5, 0)),
        keras.callbacks.TensorBoard(str(tmp_path)),
    ]
    fit(model, callbacks, epochs=1)
    (events,) = glob.glob(os.path.join(tmp_path, "train", "events.*"))
    accumulator = event_accumulator.EventAccumulator(
        events, size_guidance={"tensors": 0}
    )
    accumulator.Reload()
    assert "epoch_sparsity/hidden" in accumulator.Tags()["tensors"]
    (event,) = accumulator.Tensors("epoch_sparsity/hidden")
    assert float(tf.make_ndarray(event.tensor_proto)) == 0.5


def test_digits_cnn_pruned_to_80_percent_stays_accurate(digits):
    model = models.build("cnn-tiny", digits.input_shape, digits.num_classes)
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=40, frequency=10)
    training.compile_model(model, 1e-2)
    model.fit(
        digits.x_train,
        digits.y_train,
        epochs=6,
        batch_size=64,
        verbose=0,
        callbacks=[MagnitudePruning(schedule)],
    )
    sparsity = kernel_sparsity(model)
    assert sparsity["sparsity"] == pytest.approx(0.8, abs=0.01)
    accuracy = training.evaluate_accuracy(model, digits.x_test, digits.y_test)
    assert accuracy > 0.75, accuracy  # 0.85 here; chance is 0.1, dense 0.98


def test_mirrored_strategy_two_replicas():
    strategy = distribute.strategy("mirrored", replicas=2)  # own collective keys
    with strategy.scope():
        model = mlp()
        training.compile_model(model, 1e-2)
    fit(model, [MagnitudePruning(ConstantSparsity(0.6, 0, frequency=3))], epochs=2)
    for name, kernel in _kernels(model).items():
        assert np.count_nonzero(kernel == 0) == kernel.size - round(
            kernel.size * 0.4
        ), name
    x, _ = toy_data(8)
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_distiller_prunes_the_student_not_the_teacher():
    teacher, student = mlp(1, "teacher"), mlp(2, "student")
    teacher.trainable = False
    teacher_before = [w.copy() for w in teacher.get_weights()]
    distiller = keras.distillation.Distiller(
        teacher=teacher,
        student=student,
        distillation_losses=keras.distillation.LogitsDistillation(temperature=3.0),
        student_loss_weight=0.5,
    )
    distiller.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
    )
    x, y = toy_data()
    distiller.fit(
        x,
        y,
        epochs=1,
        batch_size=32,
        verbose=0,
        callbacks=[MagnitudePruning(ConstantSparsity(0.5, 0))],
    )
    assert kernel_sparsity(student)["sparsity"] == pytest.approx(0.5, abs=1e-3)
    for before, after in zip(teacher_before, teacher.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_network_slimming_and_pruning_together(digits):
    from kerasreg.compression.slimming import NetworkSlimming

    model = models.build("cnn-tiny", digits.input_shape, digits.num_classes)
    training.compile_model(model, 3e-3)
    history = model.fit(
        digits.x_train[:512],
        digits.y_train[:512],
        epochs=2,
        batch_size=64,
        verbose=0,
        callbacks=[
            NetworkSlimming(1e-2, freeze_from_epoch=0),
            MagnitudePruning(ConstantSparsity(0.5, 0)),
        ],
    )
    assert kernel_sparsity(model)["sparsity"] == pytest.approx(0.5, abs=2e-3)
    assert history.history["sparsity"] == [pytest.approx(0.5, abs=2e-3)] * 2
    assert "dead_channels" in history.history  # slimming ran in the same step
    gammas = np.concatenate(
        [model.get_layer(n).gamma.numpy() for n in ("block1_bn", "block2_bn")]
    )
    assert np.abs(gammas).mean() < 0.99
