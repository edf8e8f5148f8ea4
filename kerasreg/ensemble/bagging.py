"""`Bagging`: bootstrap aggregating of Keras models (Breiman, 1996).

Each of B members is built by the user's `build_fn(seed)` and trained on a
bootstrap resample of the training set: m draws with replacement from the
m examples, so each member sees about 63% of the distinct examples, some of
them several times. Their predictions are averaged (mean probability) or
counted (majority vote). With `bootstrap=False` every member sees all the
data and only its seed differs (random initialization and mini-batch
order): the model averaging of the study notes.

The helpers at the bottom (`check_count`, `check_data`, `build_member`,
`output_kind`, `progress`) are shared with `adaboost.py`.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["Bagging", "OUTPUTS", "VOTES"]

OUTPUTS = ("auto", "logits", "probabilities", "regression")
VOTES = ("mean", "majority")


class Bagging:
    """Bootstrap aggregating (bagging) of Keras models.

    `fit` trains `n_members` models, member `i` built by `build_fn(seed + i)`
    right after `keras.utils.set_random_seed(seed + i)` and trained on m
    examples drawn with replacement by `numpy.random.default_rng(seed + i)`
    (m = `len(x)`). `predict` combines them: the mean of their class
    probabilities (`vote="mean"`), the share of members voting for each
    class (`vote="majority"`; ties go to the lowest class index), or the
    mean output of a regression ensemble.

    `build_fn(seed)` must return a new, compiled `keras.Model` with one
    input. What its output is, `outputs` says: `"logits"` (a softmax is
    taken before averaging), `"probabilities"` (averaged as they are) or
    `"regression"` (averaged as they are; no vote). The default `"auto"`
    reads the last layer: a softmax activation (or a `Softmax` layer)
    means probabilities, anything else logits; a regression ensemble must
    say `outputs="regression"`.

    Args:
        build_fn: `build_fn(seed) -> keras.Model`, compiled.
        n_members: number of members B, at least 2. Defaults to `5`.
        bootstrap: train each member on a bootstrap resample; `False`
            trains every member on all the data. Defaults to `True`.
        vote: `"mean"` (mean probability) or `"majority"` (majority vote
            of the members' top classes). Defaults to `"mean"`.
        outputs: `"auto"`, `"logits"`, `"probabilities"` or
            `"regression"`, as above. Defaults to `"auto"`.
        seed: member `i` uses seed `seed + i`. Defaults to `0`.

    Attributes:
        members: the trained members, in order.
        indices_: the training indices each member was fit on.
        histories_: each member's `History.history`.

    Raises:
        ValueError: for `n_members < 2`, an unknown `vote` or `outputs`,
            or `vote="majority"` with `outputs="regression"`.

    Example:

    >>> data = kerasreg.load("digits")
    >>> def build_fn(seed):
    ...     model = keras.Sequential([keras.Input((8, 8, 1)),
    ...         keras.layers.Flatten(), keras.layers.Dense(10)])
    ...     return kerasreg.training.compile_model(model, 1e-2)
    >>> bag = Bagging(build_fn, n_members=2).fit(
    ...     data.x_train[:300], data.y_train[:300], epochs=1, verbose=0)
    >>> bag.predict(data.x_test).shape
    (360, 10)
    >>> bag.to_model().output_shape
    (None, 10)

    Reference:
        Breiman, L. (1996). Bagging predictors. Machine Learning, 24(2),
        123-140. https://doi.org/10.1007/BF00058655
    """

    def __init__(
        self,
        build_fn,
        n_members=5,
        *,
        bootstrap=True,
        vote="mean",
        outputs="auto",
        seed=0,
    ):
        check_count("n_members", n_members, 2)
        check_choice("vote", vote, VOTES)
        check_choice("outputs", outputs, OUTPUTS)
        if vote == "majority" and outputs == "regression":
            raise ValueError(
                "A regression ensemble is averaged, not voted. "
                "Received: vote='majority', outputs='regression'"
            )
        self.build_fn = build_fn
        self.n_members = int(n_members)
        self.bootstrap = bool(bootstrap)
        self.vote = vote
        self.outputs = outputs
        self.seed = int(seed)
        self.members = []
        self.indices_ = []
        self.histories_ = []

    def resample(self, m, i):
        """The training indices of member `i` over `m` examples.

        Args:
            m: number of training examples.
            i: member index.

        Returns:
            `numpy.random.default_rng(seed + i).integers(0, m, m)`, or
            `arange(m)` when `bootstrap=False`.
        """
        if not self.bootstrap:
            return np.arange(m)
        return np.random.default_rng(self.seed + i).integers(0, m, size=m)

    def fit(self, x, y, **fit_kwargs):
        """Train the members, each on its own resample of `(x, y)`.

        Args:
            x: training inputs, a NumPy array (first axis: examples).
            y: training targets, same length as `x`.
            **fit_kwargs: passed to each member's `fit` (`epochs`,
                `batch_size`, `validation_data`, ...); a `sample_weight`
                array is resampled with the examples. `verbose` is the
                ensemble's: a `keras.utils.Progbar` over members (members
                train silently). Defaults to `verbose="auto"` (a bar).

        Returns:
            The fitted `Bagging` itself.

        Raises:
            ValueError: when `x` and `y` differ in length.
        """
        x, y = check_data(x, y)
        verbose = fit_kwargs.pop("verbose", "auto")
        weights = fit_kwargs.pop("sample_weight", None)
        bar = progress(self.n_members, verbose, "member")
        self.members, self.indices_, self.histories_ = [], [], []
        for i in range(self.n_members):
            indices = self.resample(len(x), i)
            model = build_member(self.build_fn, self.seed + i, self.members)
            if weights is not None:
                fit_kwargs["sample_weight"] = np.asarray(weights)[indices]
            if self.bootstrap:
                history = model.fit(x[indices], y[indices], verbose=0, **fit_kwargs)
            else:
                history = model.fit(x, y, verbose=0, **fit_kwargs)
            self.members.append(model)
            self.indices_.append(indices)
            self.histories_.append(history.history)
            if bar is not None:
                last = {k: v[-1] for k, v in history.history.items() if v}
                bar.update(i + 1, values=list(last.items()))
        return self

    def member_outputs(self, x, batch_size=None):
        """Each member's probabilities (or regression outputs) on `x`.

        Args:
            x: inputs.
            batch_size: passed to each member's `predict`. Defaults to
                `None` (Keras's 32).

        Returns:
            A float32 array `(B, len(x), ...)`: softmax of logits,
            probabilities or regression outputs as they are.
        """
        kind = self._kind()
        outputs = [
            np.asarray(m.predict(x, batch_size=batch_size, verbose=0))
            for m in self._fitted()
        ]
        if kind == "logits":
            outputs = [softmax(o) for o in outputs]
        return np.stack(outputs).astype("float32")

    def predict(self, x, batch_size=None):
        """The ensemble's class scores (or regression output) on `x`.

        Args:
            x: inputs.
            batch_size: passed to each member's `predict`. Defaults to
                `None`.

        Returns:
            A float32 array `(len(x), K)`: mean probabilities
            (`vote="mean"`, what `to_model()` outputs) or the share of
            members voting for each class (`vote="majority"`), so that
            `argmax` is the ensemble's class either way; for a regression
            ensemble, the members' mean output.

        Raises:
            ValueError: before `fit`.
        """
        outputs = self.member_outputs(x, batch_size)
        if self.vote == "mean" or self._kind() == "regression":
            return outputs.mean(axis=0)
        k = outputs.shape[-1]
        votes = np.eye(k, dtype="float32")[outputs.argmax(axis=-1)]
        return votes.mean(axis=0)

    def predict_labels(self, x, batch_size=None):
        """The ensemble's class for each input: `argmax` of `predict`.

        Ties (possible under `vote="majority"`) go to the lowest class.

        Args:
            x: inputs.
            batch_size: passed to each member's `predict`. Defaults to
                `None`.

        Returns:
            An int array `(len(x),)`.

        Raises:
            ValueError: for a regression ensemble, or before `fit`.
        """
        if self._kind() == "regression":
            raise ValueError("A regression ensemble has no labels: use predict(x).")
        return self.predict(x, batch_size).argmax(axis=-1)

    def accuracy(self, x, y):
        """The ensemble's top-1 accuracy on `(x, y)`, a float."""
        return float(np.mean(self.predict_labels(x) == np.asarray(y)))

    def member_accuracies(self, x, y):
        """Each member's top-1 accuracy on `(x, y)`, a list of floats."""
        y = np.asarray(y)
        return [float(np.mean(o.argmax(-1) == y)) for o in self.member_outputs(x)]

    def to_model(self, name="bagging"):
        """The mean-probability ensemble as one functional `keras.Model`.

        The members are its sub-models (sharing their weights, not
        copies); logits go through a `Softmax` layer, and a
        `keras.layers.Average` averages the members. It holds only
        built-in layers, so it saves to one `.keras` file that
        `keras.saving.load_model` reads without custom objects, and
        converts to one TFLite file. A majority vote is not a
        differentiable graph: this model is always the mean-probability
        ensemble (the mean output for regression), whatever `vote` is.

        Args:
            name: the model's name. Defaults to `"bagging"`.

        Returns:
            A `keras.Model` from the members' input to `(batch, K)`.

        Raises:
            ValueError: before `fit`.
        """
        members = self._fitted()
        inputs = keras.Input(members[0].input_shape[1:], name="inputs")
        outputs = [member(inputs) for member in members]
        if self._kind() == "logits":
            outputs = [
                keras.layers.Softmax(name=f"softmax_{i}")(o)
                for i, o in enumerate(outputs)
            ]
        mean = keras.layers.Average(name="mean")(outputs)
        return keras.Model(inputs, mean, name=name)

    def _fitted(self):
        if not self.members:
            raise ValueError(
                f"This {type(self).__name__} is not fitted: call fit(x, y) first."
            )
        return self.members

    def _kind(self):
        if self.outputs != "auto":
            return self.outputs
        return output_kind(self._fitted()[0])


def softmax(logits):
    """Softmax over the last axis, in NumPy (shifted by the max, stable)."""
    z = np.asarray(logits, dtype="float64")
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def check_count(name, value, minimum):
    """Refuse anything but an int `value >= minimum`, naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"Expected an int {name}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"Expected {name} >= {minimum}. Received: {name}={value!r}")


def check_choice(name, value, choices):
    """Refuse a `value` not in `choices`, naming the argument."""
    if value not in choices:
        raise ValueError(
            f"Expected {name} to be one of {', '.join(map(repr, choices))}. "
            f"Received: {name}={value!r}"
        )


def check_data(x, y):
    """`x` and `y` as NumPy arrays of the same length."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(
            f"x and y have different lengths: len(x)={len(x)}, len(y)={len(y)}"
        )
    return x, y


def build_member(build_fn, seed, members):
    """Seed Keras, call `build_fn(seed)` and check what it built.

    A member gets a name of its own (`<name>_member_<i>`), so that all of
    them fit in one functional model.
    """
    keras.utils.set_random_seed(seed)
    model = build_fn(seed)
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"build_fn must return a keras.Model. Received: {type(model).__name__}"
        )
    if any(model is other for other in members):
        raise ValueError("build_fn returned the same model twice: build a new one.")
    if not model.compiled:
        raise ValueError("build_fn must return a compiled model: call compile().")
    model.name = f"{model.name}_member_{len(members)}"
    return model


def output_kind(model):
    """`"probabilities"` if the model ends in a softmax, else `"logits"`."""
    last = model.layers[-1]
    if isinstance(last, keras.Model):
        return output_kind(last)
    softmax_layer = isinstance(last, keras.layers.Softmax)
    if softmax_layer or getattr(last, "activation", None) is keras.activations.softmax:
        return "probabilities"
    return "logits"


def progress(total, verbose, unit, stateful=None):
    """A `keras.utils.Progbar` over `total` units, or `None` when quiet.

    Values are averaged over the units so far, except the `stateful` ones.
    """
    if not verbose:
        return None
    mode = 1 if verbose in (True, "auto") else int(verbose)
    return keras.utils.Progbar(
        total, verbose=mode, stateful_metrics=stateful, unit_name=unit
    )
