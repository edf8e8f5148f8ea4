"""`AdaBoost`: multi-class AdaBoost (SAMME) with neural weak learners.

SAMME (Zhu et al., 2009) is AdaBoost (Freund & Schapire, 1997) for K
classes. Every example starts with weight 1/m. Round t trains a weak
learner on the weighted examples, measures its weighted error E_t, gives it
the vote

    alpha_t = learning_rate * (log((1 - E_t) / E_t) + log(K - 1))

and multiplies the weight of every example it got wrong by exp(alpha_t),
then normalizes. The ensemble predicts the class with the largest sum of
alpha_t over the learners that chose it. The `log(K - 1)` term keeps
alpha_t positive for any learner better than chance (E_t < 1 - 1/K), not
only better than 1/2.

The arithmetic is plain NumPy, apart from Keras, so that it can be checked
number for number against scikit-learn's `AdaBoostClassifier` (SAMME, the
only algorithm of scikit-learn 1.6 and later): `samme_update` is one round,
`samme_boost` the loop with its stopping rules, `samme_scores` the vote.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from kerasreg.ensemble import bagging

__all__ = ["AdaBoost", "SammeStep", "samme_update", "samme_boost", "samme_scores"]

_EPS = np.finfo(np.float64).eps


class SammeStep(NamedTuple):
    """One SAMME round: the learner's vote and the next round's weights.

    Attributes:
        alpha: the learner's vote, or `None` when it is rejected (no better
            than chance).
        error: its weighted training error.
        sample_weight: the normalized weights of the next round, or `None`
            when boosting stops after this round.
        stop: why boosting stops (`"perfect"`, `"chance"`, `"overflow"`,
            `"zero"`), or `None` when it goes on.
    """

    alpha: float | None
    error: float
    sample_weight: np.ndarray | None
    stop: str | None


def samme_update(sample_weight, incorrect, n_classes, learning_rate=1.0):
    """One round of SAMME: a learner's error, its vote and the new weights.

    The weighted error is E = sum(w[incorrect]) / sum(w). A perfect
    learner (E <= 0) gets vote 1 and stops boosting; one no better than
    chance (E >= 1 - 1/K) is rejected and stops boosting; any other gets
    alpha = learning_rate * (log((1 - E) / E) + log(K - 1)), and the weights
    of the examples it got wrong (among those of positive weight) are
    multiplied by exp(alpha), then all are normalized to sum 1 and floored
    at the float64 epsilon (weights that are exactly 0 stay 0), as
    scikit-learn does.

    Args:
        sample_weight: the weights the learner was trained with, `(m,)`,
            non-negative.
        incorrect: `(m,)` booleans, where the learner was wrong.
        n_classes: number of classes K, at least 2.
        learning_rate: shrinks every vote. Defaults to `1.0`.

    Returns:
        A `SammeStep(alpha, error, sample_weight, stop)`.

    Example:

    >>> step = samme_update(np.full(4, 0.25), np.array([1, 0, 0, 0], bool), 2)
    >>> round(step.error, 4), round(step.alpha, 4), step.sample_weight.round(4)
    (0.25, 1.0986, array([0.5   , 0.1667, 0.1667, 0.1667]))
    """
    w = np.asarray(sample_weight, dtype=np.float64)
    incorrect = np.asarray(incorrect, dtype=bool)
    error = float(np.average(incorrect, weights=w))
    if error <= 0:
        return SammeStep(1.0, 0.0, None, "perfect")
    if error >= 1.0 - 1.0 / n_classes:
        return SammeStep(None, error, None, "chance")
    alpha = learning_rate * (np.log((1.0 - error) / error) + np.log(n_classes - 1.0))
    boosted = np.where(incorrect & (w > 0), w * np.exp(alpha), w)
    total = boosted.sum()
    if not np.isfinite(total):
        return SammeStep(float(alpha), error, None, "overflow")
    if total <= 0:
        return SammeStep(float(alpha), error, None, "zero")
    return SammeStep(float(alpha), error, _floor(w, boosted / total), None)


def _floor(w, new):
    """`new` floored at epsilon where `w` is positive, 0 where it is 0."""
    return np.where(w > 0, np.maximum(new, _EPS), 0.0)


class SammeResult(NamedTuple):
    """The outcome of `samme_boost`, over the learners kept."""

    alphas: np.ndarray
    errors: np.ndarray
    sample_weights: list


def samme_boost(
    fit_predict, y, n_classes, n_estimators, learning_rate=1.0, sample_weight=None
):
    """The SAMME loop: fit, score and reweight up to `n_estimators` learners.

    Round `t` calls `fit_predict(t, weights)`, which trains learner `t`
    with those sample weights (they sum to 1) and returns its predicted
    classes on the training examples; `samme_update` does the rest.
    Boosting stops early after a perfect learner (kept, vote 1) or at a
    learner no better than chance (dropped), as in scikit-learn.

    Args:
        fit_predict: `fit_predict(t, weights) -> predictions`, `(m,)` ints.
        y: the training labels, `(m,)`.
        n_classes: number of classes K.
        n_estimators: most learners to fit.
        learning_rate: shrinks every vote. Defaults to `1.0`.
        sample_weight: initial weights, normalized to sum 1. Defaults to
            `None` (1/m each).

    Returns:
        A `SammeResult(alphas, errors, sample_weights)` of the learners
        kept: the first `len(alphas)` learners fitted; `sample_weights[t]`
        is what learner `t` was trained with.

    Raises:
        ValueError: when the first learner is no better than chance, or
            for negative `sample_weight` (or all zero).
    """
    y = np.asarray(y)
    w = np.ones(len(y)) if sample_weight is None else np.array(sample_weight, float)
    if w.shape != y.shape or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(
            f"Expected {len(y)} non-negative sample weights with a positive sum. "
            f"Received: sample_weight of shape {w.shape}, sum {w.sum()}"
        )
    w = _floor(w, w / w.sum())
    alphas, errors, weights = [], [], []
    for t in range(n_estimators):
        step = samme_update(w, fit_predict(t, w) != y, n_classes, learning_rate)
        if step.alpha is None:
            if t == 0:
                raise ValueError(
                    f"The first weak learner is no better than chance (weighted "
                    f"error {step.error:.4f} >= 1 - 1/{n_classes}): the ensemble "
                    "cannot be fit."
                )
            break
        alphas.append(step.alpha)
        errors.append(step.error)
        weights.append(w)
        if step.stop == "overflow" and t < n_estimators - 1:
            warnings.warn(
                f"Sample weights overflowed after round {t}: boosting stopped. "
                "Try a lower learning_rate.",
                stacklevel=2,
            )
        if step.stop is not None:
            break
        w = step.sample_weight
    return SammeResult(np.array(alphas), np.array(errors), weights)


def samme_scores(predictions, alphas, n_classes):
    """The weighted vote of SAMME: each class's share of the learners' alphas.

    Args:
        predictions: `(T, n)` predicted classes of T learners.
        alphas: `(T,)` their votes.
        n_classes: number of classes K.

    Returns:
        A `(n, K)` float64 array, rows summing to 1; its `argmax` (ties to
        the lowest class) is the ensemble's class.

    Example:

    >>> samme_scores(np.array([[0, 1], [1, 1]]), np.array([1.0, 3.0]), 2)
    array([[0.25, 0.75],
           [0.  , 1.  ]])
    """
    predictions = np.asarray(predictions, dtype=int)
    alphas = np.asarray(alphas, dtype=np.float64)
    votes = np.eye(n_classes)[predictions]  # (T, n, K)
    return np.tensordot(alphas, votes, axes=1) / alphas.sum()


class AdaBoost:
    """Multi-class AdaBoost (SAMME) of Keras weak learners.

    Learner `t` is built by `build_fn(seed + t)` right after
    `keras.utils.set_random_seed(seed + t)` and trained with the current
    SAMME weights as `sample_weight`, scaled to mean 1 (Keras multiplies
    each example's loss by its weight, so the loss keeps its usual size).
    Its class is the `argmax` of its output, logits or probabilities; the
    number of classes K is the width of the first learner's output. See
    `samme_update` for the arithmetic and the stopping rules, the same as
    scikit-learn's `AdaBoostClassifier`.

    Args:
        build_fn: `build_fn(seed) -> keras.Model`, a new compiled
            classifier each call.
        n_estimators: most weak learners to fit, at least 1. Defaults to
            `10`.
        learning_rate: shrinks every learner's vote, `> 0`. Defaults to
            `1.0`.
        seed: learner `t` uses seed `seed + t`. Defaults to `0`.

    Attributes:
        estimators_: the weak learners kept.
        alphas_: their votes (scikit-learn's `estimator_weights_`).
        errors_: their weighted training errors.
        sample_weights_: the weights (summing to 1) each was trained with.

    Raises:
        ValueError: for `n_estimators < 1` or `learning_rate <= 0`.

    Example:

    >>> data = kerasreg.load("digits")
    >>> def build_fn(seed):
    ...     model = keras.Sequential([keras.Input((8, 8, 1)),
    ...         keras.layers.Flatten(), keras.layers.Dense(10)])
    ...     return kerasreg.training.compile_model(model, 1e-2)
    >>> boost = AdaBoost(build_fn, n_estimators=2).fit(
    ...     data.x_train, data.y_train, epochs=1, verbose=0)
    >>> boost.staged_accuracy(data.x_test, data.y_test)[-1] > 0.5
    True

    Reference:
        Zhu, J., Zou, H., Rosset, S. & Hastie, T. (2009). Multi-class
        AdaBoost. Statistics and Its Interface, 2(3), 349-360.
        https://hastie.su.domains/Papers/samme.pdf

        Freund, Y. & Schapire, R. E. (1997). A decision-theoretic
        generalization of on-line learning and an application to boosting.
        Journal of Computer and System Sciences, 55(1), 119-139.
        https://doi.org/10.1006/jcss.1997.1504
    """

    def __init__(self, build_fn, n_estimators=10, *, learning_rate=1.0, seed=0):
        bagging.check_count("n_estimators", n_estimators, 1)
        if not learning_rate > 0:
            raise ValueError(
                f"Expected learning_rate > 0. Received: learning_rate={learning_rate!r}"
            )
        self.build_fn = build_fn
        self.n_estimators = int(n_estimators)
        self.learning_rate = float(learning_rate)
        self.seed = int(seed)
        self.estimators_ = []

    def fit(self, x, y, sample_weight=None, **fit_kwargs):
        """Boost weak learners on `(x, y)`.

        Args:
            x: training inputs, a NumPy array.
            y: integer class labels, same length as `x`.
            sample_weight: initial example weights. Defaults to `None`
                (all equal).
            **fit_kwargs: passed to each learner's `fit` (`epochs`,
                `batch_size`, ...). `verbose` is the ensemble's: a
                `keras.utils.Progbar` over rounds, showing each learner's
                weighted error. Defaults to `verbose="auto"`.

        Returns:
            The fitted `AdaBoost` itself.

        Raises:
            ValueError: when `x` and `y` differ in length, for a bad
                `sample_weight`, or when the first learner is no better
                than chance.
        """
        x, y = bagging.check_data(x, y)
        verbose = fit_kwargs.pop("verbose", "auto")
        bar = bagging.progress(self.n_estimators, verbose, "learner", ["error"])
        learners = [bagging.build_member(self.build_fn, self.seed, [])]
        n_classes = int(learners[0].output_shape[-1])

        def fit_predict(t, weights):
            if t > 0:
                learners.append(
                    bagging.build_member(self.build_fn, self.seed + t, learners)
                )
            scaled = (weights * (len(weights) / weights.sum())).astype("float32")
            learners[t].fit(x, y, sample_weight=scaled, verbose=0, **fit_kwargs)
            predictions = np.asarray(learners[t].predict(x, verbose=0)).argmax(-1)
            if bar is not None:
                error = np.average(predictions != y, weights=weights)
                bar.update(t + 1, values=[("error", error)])
            return predictions

        result = samme_boost(
            fit_predict,
            y,
            n_classes,
            self.n_estimators,
            self.learning_rate,
            sample_weight,
        )
        if bar is not None and len(learners) < self.n_estimators:  # stopped early
            bar.update(len(learners), finalize=True)
        self.n_classes_ = n_classes
        self.alphas_, self.errors_ = result.alphas, result.errors
        self.sample_weights_ = result.sample_weights
        self.estimators_ = learners[: len(result.alphas)]
        return self

    @property
    def estimator_weights_(self):
        """The learners' votes, scikit-learn's name for `alphas_`."""
        return self.alphas_

    def learner_predictions(self, x):
        """Each learner's classes on `x`, an int array `(T, len(x))`."""
        if not self.estimators_:
            raise ValueError("This AdaBoost is not fitted: call fit(x, y) first.")
        return np.stack(
            [np.asarray(m.predict(x, verbose=0)).argmax(-1) for m in self.estimators_]
        )

    def predict(self, x):
        """The ensemble's class scores on `x`: `samme_scores` of the learners.

        Returns:
            A `(len(x), K)` array, each class's share of the votes; its
            `argmax` is the ensemble's class.
        """
        return samme_scores(self.learner_predictions(x), self.alphas_, self.n_classes_)

    def predict_labels(self, x):
        """The ensemble's class for each input, an int array (ties: lowest)."""
        return self.predict(x).argmax(axis=-1)

    def staged_accuracy(self, x, y):
        """Accuracy on `(x, y)` after each boosting round, a list of floats."""
        predictions, y = self.learner_predictions(x), np.asarray(y)
        accuracies = []
        for t in range(1, len(predictions) + 1):
            scores = samme_scores(predictions[:t], self.alphas_[:t], self.n_classes_)
            accuracies.append(float(np.mean(scores.argmax(-1) == y)))
        return accuracies
