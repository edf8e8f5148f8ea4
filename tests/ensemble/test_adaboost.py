"""AdaBoost (SAMME): the arithmetic against scikit-learn's, and Keras learners."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import AdaBoostClassifier

from kerasreg.ensemble import AdaBoost, samme_boost, samme_scores, samme_update
from tests.conftest import refused
from tests.ensemble.test_bagging import mlp


class Recorded(ClassifierMixin, BaseEstimator):
    """A weak learner whose predictions are fixed in advance, round by round.

    The inputs are a column of example indices: round t predicts
    `table[t][index]`. scikit-learn clones the learner every round, so the
    round counter and the sample weights each round was fit with live on
    the class, in `log`.
    """

    log = []

    def __init__(self, table=None, n_classes=2):
        self.table = table
        self.n_classes = n_classes

    def fit(self, X, y, sample_weight=None):
        self.round_ = len(Recorded.log)
        Recorded.log.append(np.array(sample_weight, copy=True))
        self.classes_ = np.arange(self.n_classes)
        return self

    def predict(self, X):
        return self.table[self.round_][np.asarray(X)[:, 0].astype(int)]


def rounds(y, n_classes, errors, seed=0):
    """Predictions of len(errors) rounds: round t wrong on a share errors[t].

    An error of 0 is a perfect round, an error of 1 a round wrong everywhere.
    """
    rng = np.random.default_rng(seed)
    table = []
    for error in errors:
        wrong = rng.random(len(y)) < error
        table.append(
            np.where(wrong, (y + rng.integers(1, n_classes, len(y))) % n_classes, y)
        )
    return np.array(table)


def both(y, n_classes, table, learning_rate=1.0, sample_weight=None):
    """Boost the same recorded rounds with scikit-learn and with samme_boost."""
    x = np.arange(len(y), dtype=float)[:, None]
    Recorded.log = []
    sk = AdaBoostClassifier(
        Recorded(table, n_classes), n_estimators=len(table), learning_rate=learning_rate
    ).fit(x, y, sample_weight=sample_weight)
    sk_log, Recorded.log = Recorded.log, []
    ours = samme_boost(
        lambda t, w: table[t], y, n_classes, len(table), learning_rate, sample_weight
    )
    return sk, sk_log, ours, x


CASES = {
    "three classes": dict(n_classes=3, errors=[0.3, 0.4, 0.35, 0.5, 0.3, 0.45]),
    "binary": dict(n_classes=2, errors=[0.2, 0.35, 0.4, 0.3, 0.45]),
    "learning rate 0.5": dict(
        n_classes=4, errors=[0.3, 0.5, 0.6, 0.4, 0.55], learning_rate=0.5
    ),
    "perfect third learner": dict(n_classes=3, errors=[0.3, 0.4, 0.0, 0.3]),
    "third learner worse than chance": dict(n_classes=3, errors=[0.3, 0.4, 1.0, 0.3]),
    "zero initial weights": dict(n_classes=3, errors=[0.3, 0.4, 0.5], zeros=True),
}


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # log(0)
@pytest.mark.parametrize("case", CASES)
def test_samme_matches_scikit_learn_number_for_number(case):
    case = dict(CASES[case])
    n_classes, errors = case.pop("n_classes"), case.pop("errors")
    y = np.random.default_rng(1).integers(0, n_classes, 60)
    sample_weight = None
    if case.pop("zeros", False):
        sample_weight = np.random.default_rng(2).random(60)
        sample_weight[::7] = 0.0
    table = rounds(y, n_classes, errors)
    sk, sk_log, ours, x = both(y, n_classes, table, sample_weight=sample_weight, **case)

    kept = len(ours.alphas)
    assert len(sk.estimators_) == kept
    np.testing.assert_allclose(ours.alphas, sk.estimator_weights_[:kept], rtol=1e-12)
    np.testing.assert_allclose(ours.errors, sk.estimator_errors_[:kept], rtol=1e-12)
    assert np.all(sk.estimator_weights_[kept:] == 0.0)
    # The weights every learner was trained with, including a dropped one.
    assert len(sk_log) in (kept, kept + 1)
    for theirs, mine in zip(sk_log, ours.sample_weights):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=0)
    scores = samme_scores(table[:kept], ours.alphas, n_classes)
    np.testing.assert_array_equal(scores.argmax(-1), sk.predict(x))


def test_stopping_rules_keep_and_drop_as_scikit_learn_does():
    y = np.random.default_rng(1).integers(0, 3, 60)
    perfect = samme_boost(lambda t, w: rounds(y, 3, [0.3, 0.0, 0.3])[t], y, 3, 3)
    assert perfect.alphas[-1] == 1.0 and perfect.errors.tolist()[-1] == 0.0
    assert len(perfect.alphas) == 2
    chance = samme_boost(lambda t, w: rounds(y, 3, [0.3, 1.0, 0.3])[t], y, 3, 3)
    assert len(chance.alphas) == 1


def test_a_first_learner_no_better_than_chance_is_refused_like_scikit_learn():
    y = np.arange(30) % 3
    table = rounds(y, 3, [1.0, 0.3])
    with pytest.raises(ValueError, match="worse than random"):
        both(y, 3, table)
    refused(
        ValueError,
        "The first weak learner is no better than chance (weighted error 1.0000 "
        ">= 1 - 1/3): the ensemble cannot be fit.",
        samme_boost, lambda t, w: table[t], y, 3, 2,
    )  # fmt: skip


def test_samme_update_by_hand():
    w = np.array([0.1, 0.2, 0.3, 0.4])
    step = samme_update(w, np.array([True, False, True, False]), 3, learning_rate=0.5)
    error = 0.4
    alpha = 0.5 * (np.log(0.6 / 0.4) + np.log(2))
    assert step.error == pytest.approx(error, rel=1e-15)
    assert step.alpha == pytest.approx(alpha, rel=1e-15)
    boosted = w * np.exp(alpha * np.array([1, 0, 1, 0]))
    np.testing.assert_allclose(step.sample_weight, boosted / boosted.sum(), rtol=1e-15)
    assert step.stop is None


def test_weighted_vote_ties_go_to_the_lowest_class():
    scores = samme_scores(np.array([[2, 1], [1, 1]]), np.array([1.0, 1.0]), 3)
    np.testing.assert_array_equal(scores, [[0.0, 0.5, 0.5], [0.0, 1.0, 0.0]])
    assert scores.argmax(-1).tolist() == [1, 1]


def test_boosting_keras_learners_on_digits_beats_chance(digits):
    boost = AdaBoost(mlp, n_estimators=3, seed=3).fit(
        digits.x_train, digits.y_train, epochs=2, batch_size=64, verbose=0
    )
    assert len(boost.estimators_) == len(boost.alphas_) == 3
    assert np.all(boost.alphas_ > 0) and np.all(boost.errors_ < 0.9)
    staged = boost.staged_accuracy(digits.x_test, digits.y_test)
    assert len(staged) == 3 and staged[-1] > 0.5  # chance is 0.1
    scores = boost.predict(digits.x_test)
    assert scores.shape == (360, 10)
    assert np.mean(scores.argmax(-1) == digits.y_test) == staged[-1]
    # The Keras loop reweights exactly as the pure function does.
    predictions = boost.learner_predictions(digits.x_train)
    np.testing.assert_allclose(boost.sample_weights_[0], 1 / len(digits.x_train))
    for t in range(2):
        step = samme_update(
            boost.sample_weights_[t], predictions[t] != digits.y_train, 10
        )
        assert step.alpha == pytest.approx(boost.alphas_[t], rel=1e-12)
        np.testing.assert_allclose(
            boost.sample_weights_[t + 1], step.sample_weight, rtol=1e-12
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_estimators=0), "Expected n_estimators >= 1. Received: n_estimators=0"),
        (dict(n_estimators=2.5), "Expected an int n_estimators. Received: n_estimators=2.5"),
        (dict(learning_rate=0), "Expected learning_rate > 0. Received: learning_rate=0"),
        (dict(learning_rate=-0.5), "Expected learning_rate > 0. Received: learning_rate=-0.5"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused(kwargs, message):
    refused(ValueError, message, AdaBoost, mlp, **kwargs)


def test_bad_data_is_refused():
    boost = AdaBoost(mlp, 2)
    refused(
        ValueError,
        "x and y have different lengths: len(x)=4, len(y)=3",
        boost.fit, np.zeros((4, 8, 8, 1)), np.zeros(3),
    )  # fmt: skip
    refused(
        ValueError,
        "Expected 3 non-negative sample weights with a positive sum. "
        "Received: sample_weight of shape (3,), sum 0.0",
        samme_boost, None, np.zeros(3), 2, 1, sample_weight=np.zeros(3),
    )  # fmt: skip
    refused(
        ValueError, "This AdaBoost is not fitted: call fit(x, y) first.",
        boost.predict, np.zeros((1, 8, 8, 1)),
    )  # fmt: skip
