"""Bagging: bootstrap resamples, votes, and one model for .keras and TFLite."""

import keras
import numpy as np
import pytest

from kerasreg import training
from kerasreg.compression import TFLiteModel, to_tflite
from kerasreg.ensemble import Bagging
from tests.conftest import refused


def mlp(seed, units=8, softmax=False):
    """A compiled one-hidden-layer MLP on 8x8 digits; logits unless `softmax`."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10, activation="softmax" if softmax else None),
        ],
        name="mlp",
    )
    if softmax:
        model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
        return model
    return training.compile_model(model, 1e-2)


@pytest.fixture(scope="module")
def bag(digits):
    return Bagging(mlp, 3, seed=5).fit(
        digits.x_train, digits.y_train, epochs=2, batch_size=64, verbose=0
    )


def test_each_member_has_its_own_bootstrap_resample(bag, digits):
    m = len(digits.x_train)
    for i, indices in enumerate(bag.indices_):
        expected = np.random.default_rng(5 + i).integers(0, m, size=m)
        np.testing.assert_array_equal(indices, expected)
        assert 0.58 < len(np.unique(indices)) / m < 0.68  # 1 - 1/e of them
    assert not np.array_equal(bag.indices_[0], bag.indices_[1])
    assert not np.array_equal(bag.indices_[1], bag.indices_[2])
    assert [member.name for member in bag.members] == [
        "mlp_member_0",
        "mlp_member_1",
        "mlp_member_2",
    ]


def test_the_same_seed_gives_the_same_ensemble(digits):
    x, y = digits.x_train[:100], digits.y_train[:100]
    runs = [Bagging(mlp, 2, seed=1).fit(x, y, epochs=1, verbose=0) for _ in range(2)]
    for a, b in zip(runs[0].indices_, runs[1].indices_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        runs[0].predict(x[:20]), runs[1].predict(x[:20]), atol=1e-6
    )
    other = Bagging(mlp, 2, seed=2).resample(100, 0)
    assert not np.array_equal(runs[0].indices_[0], other)


def test_without_bootstrap_every_member_sees_all_data(digits):
    x, y = digits.x_train[:200], digits.y_train[:200]
    bag = Bagging(mlp, 2, bootstrap=False).fit(x, y, epochs=1, verbose=0)
    for indices in bag.indices_:
        np.testing.assert_array_equal(indices, np.arange(200))
    first, second = (m.layers[1].kernel.numpy() for m in bag.members)
    assert not np.allclose(first, second)  # different seeds, different models


def test_ensemble_beats_or_matches_its_mean_member(bag, digits):
    members = bag.member_accuracies(digits.x_test, digits.y_test)
    assert len(members) == 3 and all(0.3 < a < 1 for a in members)
    assert bag.accuracy(digits.x_test, digits.y_test) >= np.mean(members) - 0.01


# Three members' probabilities on four examples, 3 classes.
PROBABILITIES = np.array(
    [
        [[0.9, 0.1, 0.0], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]],
        [[0.3, 0.4, 0.3], [0.0, 0.3, 0.7], [0.2, 0.6, 0.2], [0.1, 0.6, 0.3]],
        [[0.3, 0.4, 0.3], [0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.2, 0.2, 0.6]],
    ]
)


def fixed(seed):
    """Member `seed` outputs its rows of PROBABILITIES, learning nothing."""
    selector = np.zeros((9, 3))
    selector[3 * seed : 3 * seed + 3] = np.eye(3)
    model = keras.Sequential(
        [
            keras.Input((9,)),
            keras.layers.Dense(
                3,
                use_bias=False,
                kernel_initializer=keras.initializers.Constant(selector),
            ),
        ]
    )
    model.compile(keras.optimizers.SGD(0.0), "mse")
    return model


def test_votes_on_a_hand_made_case():
    x = PROBABILITIES.transpose(1, 0, 2).reshape(4, 9).astype("float32")
    bag = Bagging(fixed, 3, vote="mean", outputs="probabilities")
    bag.fit(x, PROBABILITIES[0], epochs=1, verbose=0)
    np.testing.assert_allclose(bag.predict(x), PROBABILITIES.mean(0), atol=1e-6)
    # Example 0: one confident member outweighs two lukewarm ones.
    assert bag.predict_labels(x).tolist() == [0, 2, 1, 2]

    bag.vote = "majority"  # the same members, counted instead of averaged
    # Votes: (0, 1, 1), (2, 2, 0), (0, 1, 2) a tie, (2, 1, 2).
    np.testing.assert_allclose(
        bag.predict(x),
        [[1 / 3, 2 / 3, 0], [1 / 3, 0, 2 / 3], [1 / 3, 1 / 3, 1 / 3], [0, 1 / 3, 2 / 3]],
        atol=1e-6,
    )  # fmt: skip
    assert bag.predict_labels(x).tolist() == [1, 2, 0, 2]
    # to_model() is the mean-probability ensemble whatever the vote.
    np.testing.assert_allclose(
        bag.to_model().predict(x, verbose=0), PROBABILITIES.mean(0), atol=1e-6
    )


def test_softmax_outputs_are_averaged_as_they_are(digits):
    x, y = digits.x_train[:100], digits.y_train[:100]
    bag = Bagging(lambda seed: mlp(seed, softmax=True), 2).fit(x, y, verbose=0)
    mean = np.mean([m.predict(x, verbose=0) for m in bag.members], axis=0)
    np.testing.assert_allclose(bag.predict(x), mean, atol=1e-6)
    np.testing.assert_allclose(bag.to_model().predict(x, verbose=0), mean, atol=1e-6)


def test_a_regression_ensemble_is_the_mean(digits):
    def linear(seed):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        return model

    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    bag = Bagging(linear, 2, outputs="regression").fit(x, x.sum(1), verbose=0)
    mean = np.mean([m.predict(x, verbose=0) for m in bag.members], axis=0)
    np.testing.assert_allclose(bag.predict(x), mean, atol=1e-6)
    np.testing.assert_allclose(bag.to_model().predict(x, verbose=0), mean, atol=1e-6)


def test_to_model_is_the_mean_ensemble_in_one_keras_file(bag, digits, tmp_path):
    model = bag.to_model()
    expected = bag.predict(digits.x_test)
    outputs = model.predict(digits.x_test, verbose=0)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
    model.save(tmp_path / "bagging.keras")
    loaded = keras.saving.load_model(tmp_path / "bagging.keras")
    np.testing.assert_array_equal(loaded.predict(digits.x_test, verbose=0), outputs)


def test_to_model_converts_to_one_tflite_file(bag, digits, tmp_path):
    path = to_tflite(bag.to_model(), tmp_path / "bagging.tflite")
    outputs = TFLiteModel(path).predict(digits.x_test)
    assert outputs.shape == (360, 10)
    np.testing.assert_array_equal(outputs.argmax(-1), bag.predict_labels(digits.x_test))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_members=1), "Expected n_members >= 2. Received: n_members=1"),
        (dict(n_members=True), "Expected an int n_members. Received: n_members=True"),
        (dict(vote="median"), "Expected vote to be one of 'mean', 'majority'. Received: vote='median'"),
        (
            dict(outputs="softmax"),
            "Expected outputs to be one of 'auto', 'logits', 'probabilities', "
            "'regression'. Received: outputs='softmax'",
        ),
        (
            dict(vote="majority", outputs="regression"),
            "A regression ensemble is averaged, not voted. "
            "Received: vote='majority', outputs='regression'",
        ),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused(kwargs, message):
    refused(ValueError, message, Bagging, mlp, **kwargs)


def test_bad_data_and_bad_members_are_refused():
    x = np.zeros((4, 8, 8, 1), "float32")
    refused(
        ValueError,
        "x and y have different lengths: len(x)=4, len(y)=3",
        Bagging(mlp, 2).fit, x, np.zeros(3),
    )  # fmt: skip
    refused(
        ValueError,
        "This Bagging is not fitted: call fit(x, y) first.",
        Bagging(mlp, 2).predict, x,
    )  # fmt: skip
    model = mlp(0)
    refused(
        ValueError,
        "build_fn returned the same model twice: build a new one.",
        Bagging(lambda seed: model, 2).fit, x, np.zeros(4), verbose=0,
    )  # fmt: skip
    uncompiled = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()])
    refused(
        ValueError,
        "build_fn must return a compiled model: call compile().",
        Bagging(lambda seed: uncompiled, 2).fit, x, np.zeros(4),
    )  # fmt: skip
