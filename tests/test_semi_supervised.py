"""Pseudo-labelling (Lee, 2013) on digits with 5 labels per class."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg import training
from kerasreg.semi_supervised import (
    alpha_schedule,
    confident_labels,
    pseudo_label,
    split_labelled,
)
from tests.conftest import refused


def mlp():
    """A fresh Flatten -> Dense(64, relu) -> Dense(10) logits MLP, seeded."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


@pytest.fixture(scope="module")
def split(digits):
    labelled, unlabelled = split_labelled(digits.y_train, 5, seed=0)
    x, y = digits.x_train, digits.y_train
    return (x[labelled], y[labelled]), x[unlabelled]


def lee(t, alpha_max, t1, t2):
    """Lee's ramp, written out as in the paper."""
    if t < t1:
        return 0.0
    if t < t2:
        return (t - t1) / (t2 - t1) * alpha_max
    return alpha_max


def test_split_keeps_per_class_labels_fixed_by_seed(digits):
    labelled, unlabelled = split_labelled(digits.y_train, 5, seed=0)
    again, _ = split_labelled(digits.y_train, 5, seed=0)
    other, _ = split_labelled(digits.y_train, 5, seed=1)
    np.testing.assert_array_equal(labelled, again)
    assert not np.array_equal(labelled, other)
    assert np.bincount(digits.y_train[labelled]).tolist() == [5] * 10
    assert len(np.intersect1d(labelled, unlabelled)) == 0
    assert len(labelled) + len(unlabelled) == len(digits.y_train)


def test_pseudo_label_learns_from_five_labels_per_class(digits, split):
    labelled, unlabelled = split
    result = pseudo_label(
        mlp(),
        labelled,
        unlabelled,
        epochs=5,
        supervised_epochs=3,
        ramp_epochs=(3, 6),
        alpha_max=3.0,
        threshold=0.95,
        learning_rate=1e-2,
    )
    history = result["history"]
    accuracy = training.evaluate_accuracy(result["model"], digits.x_test, digits.y_test)
    assert accuracy > 0.6  # chance is 0.1
    assert history["epoch"] == [3, 4, 5, 6, 7]
    assert all(kept > 0 for kept in history["kept"])
    assert all(kept <= len(unlabelled) for kept in history["kept"])
    assert history["alpha"] == [lee(t, 3.0, 3, 6) for t in history["epoch"]]
    assert history["alpha"] == [0.0, 1.0, 2.0, 3.0, 3.0]
    assert all(np.isfinite(history["loss"]))
    assert len(result["supervised_history"]["loss"]) == 3
    # Each epoch presents the labelled set about len(unlabelled) / 50 times.
    assert result["repeats"] == round(len(unlabelled) / 50)

    supervised = pseudo_label(
        mlp(), labelled, unlabelled, epochs=0, supervised_epochs=8, learning_rate=1e-2
    )
    baseline = training.evaluate_accuracy(
        supervised["model"], digits.x_test, digits.y_test
    )
    assert supervised["history"]["kept"] == []
    assert accuracy >= baseline - 0.03


def test_alpha_schedule_is_lees_ramp():
    for t in range(12):
        assert alpha_schedule(t, 3.0, (2, 7)) == lee(t, 3.0, 2, 7)
    assert alpha_schedule(4, 2.0, (3, 5)) == 1.0
    assert alpha_schedule(0, 3.0, (0, 4)) == 0.0
    assert alpha_schedule(100, 3.0, (10, 25)) == 3.0


def test_threshold_filters_pseudo_labels(split):
    labelled, unlabelled = split
    kept = {}
    for threshold in (0.5, 0.99, 0.999999):
        result = pseudo_label(
            mlp(),
            labelled,
            unlabelled,
            epochs=1,
            supervised_epochs=2,
            threshold=threshold,
            learning_rate=1e-2,
        )
        kept[threshold] = result["history"]["kept"][0]
    # After 2 epochs on 50 labels few logits are 14 apart (softmax 0.999999).
    assert kept[0.999999] < kept[0.99] < kept[0.5] <= len(unlabelled)
    assert kept[0.99] > 0


def test_confident_labels_keep_the_confident_argmax():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    logits = np.array([[10, 0, 0], [1, 1, 1], [0, 5, 0], [0, 0, 2]], "float32")
    indices, labels = confident_labels(model, logits, 0.9)
    assert indices.tolist() == [0, 2]
    assert labels.tolist() == [0, 1]
    # softmax([0, 0, 2]) tops at e^2 / (e^2 + 2) = 0.787
    assert confident_labels(model, logits, 0.78)[0].tolist() == [0, 2, 3]


class Recorder(keras.layers.Layer):
    """A strong augmentation that adds nothing and notes what it was given."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def call(self, x, training=None):
        self.calls.append((int(x.shape[0]), training))
        return x


def test_strong_augment_sees_the_confident_inputs_once_alpha_is_on(split):
    labelled, unlabelled = split
    recorder = Recorder()
    result = pseudo_label(
        mlp(),
        labelled,
        unlabelled,
        epochs=2,
        supervised_epochs=1,
        ramp_epochs=(1, 2),
        threshold=0.5,
        learning_rate=1e-2,
        strong_augment=recorder,
    )
    history = result["history"]
    assert history["alpha"] == [0.0, 3.0]
    # alpha = 0 in the first epoch: its pseudo-labels are not trained on.
    assert sum(n for n, _ in recorder.calls) == history["kept"][1] > 0
    assert {training for _, training in recorder.calls} == {True}


def test_strong_augment_takes_keras_random_layers(split, capsys):
    labelled, unlabelled = split
    layer = keras.Sequential([keras.layers.RandomTranslation(0.2, 0.2, seed=0)])
    changes = []

    def augment(x):  # a plain callable, not a Layer: called as it is
        out = np.asarray(layer(x, training=True))
        changes.append(float(np.abs(out - x).mean()))
        return out

    result = pseudo_label(
        mlp(),
        labelled,
        unlabelled[:200],
        epochs=1,
        supervised_epochs=1,
        ramp_epochs=(0, 1),
        threshold=0.1,
        strong_augment=augment,
        verbose=2,
    )
    assert result["history"]["kept"] == [200]
    assert result["history"]["alpha"] == [3.0]
    assert changes and min(changes) > 0
    assert "Epoch 2: 200/200 pseudo-labels kept, alpha=3" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threshold": 1.0}, "Expected 0 < threshold < 1. Received: threshold=1.0"),
        ({"threshold": 0}, "Expected 0 < threshold < 1. Received: threshold=0"),
        ({"epochs": -1}, "Expected epochs >= 0. Received: epochs=-1"),
        ({"epochs": 2.5}, "Expected an int epochs. Received: epochs=2.5"),
        (
            {"supervised_epochs": -2},
            "Expected supervised_epochs >= 0. Received: supervised_epochs=-2",
        ),
        (
            {"supervised_epochs": "3"},
            "Expected an int supervised_epochs. Received: supervised_epochs='3'",
        ),
        ({"alpha_max": -0.5}, "Expected alpha_max >= 0. Received: alpha_max=-0.5"),
        (
            {"ramp_epochs": (5, 5)},
            "Expected ramp_epochs=(T1, T2) with 0 <= T1 < T2. "
            "Received: ramp_epochs=(5, 5)",
        ),
        (
            {"ramp_epochs": 5},
            "Expected ramp_epochs=(T1, T2) with 0 <= T1 < T2. Received: ramp_epochs=5",
        ),
        (
            {"ramp_epochs": (9, 3)},
            "Expected ramp_epochs=(T1, T2) with 0 <= T1 < T2. "
            "Received: ramp_epochs=(9, 3)",
        ),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    x = np.zeros((4, 8, 8, 1), "float32")
    y = np.zeros(4, "int64")
    refused(ValueError, message, pseudo_label, mlp(), (x, y), x, **kwargs)


def test_bad_data_is_refused():
    x = np.zeros((4, 8, 8, 1), "float32")
    refused(
        ValueError,
        "Expected unlabelled inputs of the labelled inputs' shape (8, 8, 1). "
        "Received: unlabelled of shape (8, 8)",
        pseudo_label,
        mlp(),
        (x, np.zeros(4)),
        np.zeros((6, 8, 8)),
    )
    refused(
        ValueError,
        "Expected labelled x and y of the same length. Received: len(x)=4, len(y)=3",
        pseudo_label,
        mlp(),
        (x, np.zeros(3)),
        x,
    )
    refused(
        ValueError,
        "Expected labelled=(x, y). Received: labelled of type ndarray",
        pseudo_label,
        mlp(),
        x,
        x,
    )


def test_registered_in_the_package():
    assert kerasreg.pseudo_label is pseudo_label
    assert kerasreg.semi_supervised.pseudo_label is pseudo_label


def test_weak_augment_sees_the_labelled_inputs_every_epoch(split):
    labelled, unlabelled = split
    weak = Recorder()
    n = len(labelled[0])
    result = pseudo_label(
        mlp(),
        labelled,
        unlabelled,
        epochs=2,
        supervised_epochs=2,
        ramp_epochs=(2, 3),
        threshold=0.5,
        weak_augment=weak,
    )
    repeated = n * result["repeats"]
    # 2 supervised + 2 pseudo-labelled epochs of the labelled set; with no
    # strong augmentation the confident inputs get the weak one (alpha > 0
    # only in the last epoch).
    assert sum(k for k, _ in weak.calls) == 4 * repeated + result["history"]["kept"][1]
    assert len(result["supervised_history"]["loss"]) == 2
