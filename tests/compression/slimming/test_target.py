"""Slimming to a target: select_for_target, mark_for_target, NetworkSlimming(target=)."""

import warnings

import keras
import numpy as np
import pytest

from kerasreg import metrics, models
from kerasreg.compression import shrink
from kerasreg.compression.slimming import (
    NetworkSlimming,
    batchnorm_layers,
    mark_for_target,
    select_for_target,
)
from tests.compression.slimming.conftest import tiny_cnn


def _random_gammas(model, seed=0):
    rng = np.random.default_rng(seed)
    for bn in batchnorm_layers(model):
        n = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(0.1, 1.0, n).astype("float32"))
        bn.beta.assign(rng.normal(size=n).astype("float32"))


def _removed(small, model, unit):
    count = metrics.count_params if unit == "params" else metrics.count_flops
    return 1 - count(small) / count(model)


@pytest.mark.parametrize("unit", ["params", "macs"])
def test_shrink_removes_the_target_after_marking(unit):
    model = models.resnet((16, 16, 3), 10, widths=(8, 16, 32))
    _random_gammas(model)
    x = np.random.default_rng(1).normal(size=(4, 16, 16, 3)).astype("float32")
    selection = mark_for_target(model, 0.6, unit=unit)
    small = shrink(model)
    removed = _removed(small, model, unit)
    assert selection.removed == pytest.approx(removed, abs=1e-9)
    assert 0.6 <= removed < 0.7
    np.testing.assert_allclose(small(x), model(x), atol=1e-4)


def _bn_channels(model):
    return sum(bn.gamma.shape[0] for bn in batchnorm_layers(model))


@pytest.mark.parametrize("model_fn", [tiny_cnn, lambda: models.vgg((16, 16, 3), 10)])
def test_a_channel_target_counts_batchnorm_channels(model_fn):
    model = model_fn()
    _random_gammas(model, seed=4)
    x = np.random.default_rng(1).normal(size=(4, *model.input_shape[1:]))
    selection = mark_for_target(model, 0.7, unit="channels")
    small = shrink(model)
    removed = 1 - _bn_channels(small) / _bn_channels(model)
    assert selection.unit == "channels"
    assert selection.removed == pytest.approx(removed, abs=1e-9)
    assert 0.7 <= removed < 0.75
    np.testing.assert_allclose(small(x), model(x), atol=1e-4)


def test_selection_takes_the_smallest_coupled_gammas():
    model = tiny_cnn()
    _random_gammas(model, seed=2)
    before = {bn.name: np.abs(bn.gamma.numpy()) for bn in batchnorm_layers(model)}
    selection = select_for_target(model, 0.3)
    chosen = np.concatenate([before[k][m] for k, m in selection.masks.items()])
    left = np.concatenate([before[k][~m] for k, m in selection.masks.items()])
    # tiny_cnn has no coupled channels: a plain global |γ| threshold.
    assert chosen.max() <= selection.threshold < left.min()
    # select_for_target does not modify the model.
    for bn in batchnorm_layers(model):
        np.testing.assert_array_equal(np.abs(bn.gamma.numpy()), before[bn.name])


def test_residual_stream_channels_go_together():
    model = models.resnet((16, 16, 3), 10, widths=(8, 16))
    _random_gammas(model, seed=3)
    mark_for_target(model, 0.5)
    small = shrink(model)
    # Every BN on one stream keeps the same number of channels.
    widths = {bn.name: bn.gamma.shape[0] for bn in batchnorm_layers(small)}
    stream = [
        w for name, w in widths.items() if name.startswith("stage1") and "_b_" in name
    ]
    assert len(set(stream)) == 1


def test_bad_targets():
    model = tiny_cnn()
    with pytest.raises(
        ValueError,
        match=r"Expected target to be a fraction of the parameters to remove, "
        r"in \(0, 1\). Received: target=1.5",
    ):
        select_for_target(model, 1.5)
    with pytest.raises(
        ValueError,
        match=r"Expected target_unit to be one of params, macs, channels. Received: "
        r"target_unit='flops'",
    ):
        select_for_target(model, 0.5, unit="flops")
    with pytest.raises(ValueError, match=r"target=0.999 is out of reach"):
        select_for_target(model, 0.999)


def test_mode_arguments():
    with pytest.raises(
        ValueError, match=r"Pass either l1 \(a fixed penalty λ\) or target"
    ):
        NetworkSlimming()
    with pytest.raises(ValueError, match=r"Pass either l1"):
        NetworkSlimming(1e-4, target=0.5)
    with pytest.raises(ValueError, match=r"do not combine it with prune_ratio"):
        NetworkSlimming(target=0.5, prune_ratio=0.3)
    with pytest.raises(ValueError, match=r"Received: target=0"):
        NetworkSlimming(target=0)
    slim = NetworkSlimming(target=0.4, target_unit="macs", freeze_from_epoch=2)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(slim)
    )
    assert restored.get_config() == slim.get_config()
    assert restored.get_config()["target"] == 0.4


def _fit(model, digits, callback, epochs, optimizer):
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model.fit(
        digits.x_train[:512],
        digits.y_train[:512],
        epochs=epochs,
        batch_size=64,
        callbacks=[callback],
        verbose=0,
    )


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        lambda: keras.optimizers.Adam(1e-2),
    ],
    ids=["sgd", "adam"],
)
def test_target_mode_reaches_the_target_with_any_optimizer(digits, optimizer):
    keras.utils.set_random_seed(0)
    model = tiny_cnn()
    slim = NetworkSlimming(target=0.5, freeze_from_epoch=3)
    history = _fit(model, digits, slim, epochs=5, optimizer=optimizer())
    # The candidates were shrunk to exactly zero by the deadline (epoch 3)...
    largest = history.history["slimming/largest_candidate_gamma"]
    assert largest[0] > 0.1 and largest[3] == 0.0 and largest[4] == 0.0
    # ...and stayed frozen, so shrink removes at least the target.
    small = shrink(model)
    assert 0.5 <= _removed(small, model, "params") < 0.6
    x = digits.x_test[:32]
    np.testing.assert_allclose(small(x), model(x), atol=1e-4)
    # Still a classifier: well above chance (10%) on the held-out digits.
    logits = small.predict(digits.x_test, verbose=0)
    assert np.mean(logits.argmax(-1) == digits.y_test) > 0.3


def test_fixed_lambda_that_removes_nothing_says_so(digits):
    keras.utils.set_random_seed(0)
    model = tiny_cnn()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(model, digits, NetworkSlimming(1e-6), 2, keras.optimizers.SGD(0.01))
    messages = [str(w.message) for w in caught if "NetworkSlimming" in str(w.message)]
    assert len(messages) == 1
    assert messages[0].startswith(
        "NetworkSlimming(l1=1e-06): no γ reached 0, so shrink will remove nothing."
    )
    # 16 updates at learning rate 0.01: the penalty moved γ by 1e-6 * 0.16.
    assert "here at most 1.6e-07 in all" in messages[0]
    assert "NetworkSlimming(target=0.5)" in messages[0]


def test_fixed_lambda_that_removes_nearly_everything_says_so(digits):
    keras.utils.set_random_seed(0)
    model = tiny_cnn()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(
            model,
            digits,
            NetworkSlimming(1.0, freeze_from_epoch=0),
            2,
            keras.optimizers.SGD(0.1),
        )
    messages = [str(w.message) for w in caught if "NetworkSlimming" in str(w.message)]
    dead = np.concatenate([bn.gamma.numpy() == 0 for bn in batchnorm_layers(model)])
    assert dead.mean() > 0.9
    assert len(messages) == 1
    assert messages[0].startswith(
        f"NetworkSlimming(l1=1): {dead.mean():.0%} of the γ reached 0, every "
        "channel of 'block1_bn', so the shrunk model will have lost most of its "
        "function."
    )
    # 16 updates at learning rate 0.1: the penalty could move γ by 1.6.
    assert "here up to 1.6 in all: try a λ ten times smaller." in messages[0]


def test_fixed_lambda_that_removes_channels_is_quiet(digits):
    model = tiny_cnn()
    for bn in batchnorm_layers(model):
        bn.gamma.assign(np.full(bn.gamma.shape, 0.02, "float32"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(
            model,
            digits,
            NetworkSlimming(5e-3, freeze_from_epoch=0),
            2,
            keras.optimizers.Adam(1e-2),
        )
    assert not [w for w in caught if "NetworkSlimming" in str(w.message)]
