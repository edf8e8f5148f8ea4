"""MagnitudePruning, strip_pruning and prune_filters on tiny models."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasreg import distribute, models, report, training
from kerasreg.compression.pruning import (
    ConstantSparsity,
    MagnitudePruning,
    PolynomialDecay,
    kernel_sparsity,
    prune_filters,
    select_layers,
    strip_pruning,
)


def _mlp(seed=0, name="mlp"):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16,))
    x = keras.layers.Dense(32, activation="relu", name="hidden")(inputs)
    x = keras.layers.Dense(24, activation="relu", name="hidden2")(x)
    outputs = keras.layers.Dense(4, name="out")(x)
    return keras.Model(inputs, outputs, name=name)


def _toy_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype("float32")
    y = (np.argmax(x[:, :4], axis=1)).astype("int64")
    return x, y


def _fit(model, callbacks, epochs=2, x=None, y=None, **kwargs):
    if x is None:
        x, y = _toy_data()
    if not model.compiled:
        training.compile_model(model, 1e-2)
    return model.fit(
        x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks, **kwargs
    )


def _kernels(model, names=("hidden", "hidden2", "out")):
    return {n: model.get_layer(n).kernel.numpy().copy() for n in names}


def test_layer_mode_reaches_exact_sparsity_on_every_kernel():
    model = _mlp()
    history = _fit(model, [MagnitudePruning(ConstantSparsity(0.75, begin_step=0))])
    for name, kernel in _kernels(model).items():
        expected = kernel.size - round(kernel.size * 0.25)
        assert np.count_nonzero(kernel == 0) == expected, name
    assert history.history["sparsity/hidden"] == [0.75, 0.75]
    assert history.history["sparsity"][-1] == pytest.approx(0.75, abs=1e-3)
    assert model.get_layer("hidden").bias.numpy().all()  # biases untouched


def test_masks_survive_optimizer_updates_and_are_released_after_fit():
    model = _mlp()
    # Prune once, at step 0; 16 more steps of Adam must keep the zeros.
    _fit(model, [MagnitudePruning(ConstantSparsity(0.5, 0, end_step=0))])
    after = _kernels(model)
    before_second = {k: v.copy() for k, v in after.items()}
    _fit(model, [MagnitudePruning(ConstantSparsity(0.5, 0, end_step=0))])
    for name, kernel in _kernels(model).items():
        zeros = kernel == 0
        np.testing.assert_array_equal(zeros, before_second[name] == 0)
        assert not np.allclose(kernel, before_second[name])  # others learnt
    # The constraints are removed when fit ends: plain training regrows them.
    assert model.get_layer("hidden").kernel.constraint is None
    _fit(model, [], epochs=1)
    assert kernel_sparsity(model)["sparsity"] < 0.01


def test_polynomial_decay_raises_sparsity_step_by_step():
    model = _mlp()
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=12, frequency=4)
    history = _fit(model, [MagnitudePruning(schedule)], epochs=3)  # 8 steps/epoch
    overall = history.history["sparsity"]
    assert overall[0] == pytest.approx(schedule.sparsity_at(4), abs=2e-3)
    assert overall[1] == pytest.approx(0.8, abs=2e-3)  # step 12 reached
    assert overall[0] < overall[1] == overall[2]


def test_global_mode_ranks_all_kernels_together():
    model = _mlp()
    model.get_layer("out").kernel.assign(
        model.get_layer("out").kernel.numpy() * 10.0
    )  # the output layer's weights are much larger: they survive
    initial = _kernels(model)
    training.compile_model(model, 0.0)  # zero learning rate: values stay put
    _fit(model, [MagnitudePruning(ConstantSparsity(0.6, 0, end_step=0), mode="global")])
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
    model = _mlp()
    initial = _kernels(model)
    callback = MagnitudePruning(mode="threshold", threshold=0.1)
    x, y = _toy_data()
    training.compile_model(model, 0.0)  # zero learning rate: values stay put
    _fit(model, [callback], epochs=1, x=x, y=y)
    for name, kernel in _kernels(model).items():
        small = np.abs(initial[name]) < 0.1
        assert small.any()
        np.testing.assert_array_equal(kernel == 0, small)
        np.testing.assert_array_equal(kernel[~small], initial[name][~small])


def test_two_four_sparsity_and_layer_selection():
    model = _mlp()
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
    _fit(model, [callback], epochs=1)
    for name, kernel in _kernels(model).items():
        groups = kernel.T.reshape(kernel.shape[1], -1, 4)
        assert (np.count_nonzero(groups, axis=-1) <= 2).all(), name
        assert kernel_sparsity(model)[f"sparsity/{name}"] == pytest.approx(
            0.5, abs=0.01
        )


def test_layer_selection_by_name_only_prunes_those():
    model = _mlp()
    _fit(model, [MagnitudePruning(ConstantSparsity(0.5, 0), layers=["hidden2"])])
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
        _fit(_mlp(), [callback])


def test_strip_pruning_and_keras_file_round_trip(tmp_path):
    model = _mlp()
    _fit(model, [MagnitudePruning(ConstantSparsity(0.7, 0))])
    plain = strip_pruning(model)
    x, _ = _toy_data(32)
    assert plain is not model
    np.testing.assert_allclose(
        plain.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    assert kernel_sparsity(plain) == kernel_sparsity(model)
    assert all(layer.kernel.constraint is None for layer in select_layers(plain))
    path = str(tmp_path / "pruned.keras")
    plain.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), plain.predict(x, verbose=0)
    )
    assert kernel_sparsity(loaded)["sparsity"] == pytest.approx(0.7, abs=2e-3)


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

    model = _mlp()
    callbacks = [
        MagnitudePruning(ConstantSparsity(0.5, 0)),
        keras.callbacks.TensorBoard(str(tmp_path)),
    ]
    _fit(model, callbacks, epochs=1)
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
        model = _mlp()
        training.compile_model(model, 1e-2)
    _fit(model, [MagnitudePruning(ConstantSparsity(0.6, 0, frequency=3))], epochs=2)
    for name, kernel in _kernels(model).items():
        assert np.count_nonzero(kernel == 0) == kernel.size - round(
            kernel.size * 0.4
        ), name
    x, _ = _toy_data(8)
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_distiller_prunes_the_student_not_the_teacher():
    teacher, student = _mlp(1, "teacher"), _mlp(2, "student")
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
    x, y = _toy_data()
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


def test_prune_filters_removes_filters_and_flops(digits):
    model = models.build("cnn-tiny", digits.input_shape, digits.num_classes)
    training.compile_model(model, 3e-3)
    model.fit(digits.x_train, digits.y_train, epochs=2, batch_size=64, verbose=0)
    small = prune_filters(model, 0.5)
    assert small.get_layer("block1_conv").filters == 4
    assert small.get_layer("block2_conv").filters == 8
    assert report.count_params(small) < 0.6 * report.count_params(model)
    assert report.count_flops(small) < 0.6 * report.count_flops(model)
    assert model.get_layer("block1_conv").filters == 8  # input untouched
    # The weakest filters by L1 norm are the ones removed.
    kernel = model.get_layer("block1_conv").kernel.numpy()
    l1 = np.abs(kernel).sum(axis=(0, 1, 2))
    kept = np.sort(np.argsort(l1)[4:])
    np.testing.assert_allclose(
        small.get_layer("block1_conv").kernel.numpy(), kernel[..., kept]
    )
    assert training.evaluate_accuracy(small, digits.x_test, digits.y_test) > 0.1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ratio=1.0), r"Expected 0 <= ratio < 1\. Received: ratio=1.0"),
        (dict(ratio=0.5, criterion="max"), r"Received: criterion='max'"),
    ],
)
def test_prune_filters_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        prune_filters(_mlp(), **kwargs)


def test_prune_filters_needs_conv_bn_pairs():
    with pytest.raises(
        ValueError, match="has no Conv layer feeding a BatchNormalization"
    ):
        prune_filters(_mlp(), 0.5)


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
