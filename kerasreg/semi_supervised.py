"""Pseudo-labelling: semi-supervised training on unlabelled inputs (Lee, 2013).

"Train on the labelled pairs first, then go on with the unlabelled inputs":
a logits model is trained on the few labelled pairs for `supervised_epochs`
epochs; then, for `epochs` more, each epoch starts by predicting every
unlabelled input (in inference mode, so without dropout) and taking the
arg-max class as its pseudo-label. The pseudo-labelled inputs whose top
softmax probability reaches `threshold` join the labelled pairs for that
epoch, their loss weighted by Lee's ramp

    alpha(t) = 0                                  t < T1
             = alpha_max * (t - T1) / (T2 - T1)   T1 <= t < T2
             = alpha_max                          T2 <= t

with `t` the 0-based index of the epoch in the whole run (supervised epochs
included, as Lee's T1 and T2 count from the start) and
`(T1, T2) = ramp_epochs`. Lee's own settings were `alpha_max = 3`,
`T1 = 100`, `T2 = 600` and no threshold (every arg-max kept, with pseudo-labels
refreshed every weight update); the confidence threshold (0.95) and the
optional strong augmentation of the unlabelled inputs, labelled on their
clean view, are FixMatch's (Sohn et al., 2020).

It rests on Keras built-ins only: `model.predict` for the pseudo-labels and
`model.fit(x, y, sample_weight=w)` for the weighted loss (weight 1 for
labelled pairs, `alpha(t)` for pseudo-labelled ones) with the model's
`SparseCategoricalCrossentropy(from_logits=True)`, whose default
`"sum_over_batch_size"` reduction averages `w * loss` over the batch.

Balance: every epoch, supervised or not, presents the labelled set
`repeats = max(1, round(len(unlabelled) / len(labelled)))` times, about as
many labelled examples as there are unlabelled ones, so that epochs have one
length throughout (T1 and T2 mean the same in both phases) and the labelled
term is never swamped. A pseudo-labelled epoch then holds about as many
labelled examples as unlabelled inputs, plus the confident ones, so a batch
averages the labelled loss and `alpha(t)` times the pseudo-label loss
summed over the confident inputs and divided by all unlabelled ones:
FixMatch's masked mean, and Lee's two averages (up to a factor 1/2, which
Adam does not see) when every pseudo-label is kept. While `alpha(t) = 0` the
pseudo-labelled inputs, which would weigh nothing, are left out of the fit.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasreg import training

__all__ = ["pseudo_label", "alpha_schedule", "confident_labels", "split_labelled"]


def alpha_schedule(epoch, alpha_max=3.0, ramp_epochs=(10, 25)):
    """Lee's weight of the pseudo-label loss at `epoch` (0-based).

    Args:
        epoch: the epoch index `t`, counted from the start of the run.
        alpha_max: the final weight. Defaults to `3.0`.
        ramp_epochs: `(T1, T2)`: 0 before T1, linear up to `alpha_max` at
            T2, constant after. Defaults to `(10, 25)`.

    Returns:
        The weight, a float.

    Example:

    >>> [alpha_schedule(t, 3.0, (2, 4)) for t in range(6)]
    [0.0, 0.0, 0.0, 1.5, 3.0, 3.0]
    """
    t1, t2 = ramp_epochs
    if epoch < t1:
        return 0.0
    if epoch < t2:
        return float((epoch - t1) / (t2 - t1) * alpha_max)
    return float(alpha_max)


def split_labelled(y, per_class, seed=0):
    """Keep `per_class` labels of each class, fixed by `seed`; the rest unlabelled.

    Args:
        y: integer labels.
        per_class: labelled examples per class.
        seed: seed of `numpy.random.default_rng`. Defaults to `0`.

    Returns:
        `(labelled, unlabelled)`: sorted index arrays into `y`.

    Raises:
        ValueError: when a class has fewer than `per_class` examples.

    Example:

    >>> labelled, unlabelled = split_labelled([0, 0, 1, 1, 1], 1)
    >>> len(labelled), len(unlabelled)
    (2, 3)
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise ValueError(
                f"Expected at least per_class={per_class} examples of every "
                f"class. Received: {len(members)} of class {c}"
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    labelled = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, int)
    return labelled, np.setdiff1d(np.arange(len(y)), labelled)


def pseudo_label(
    model,
    labelled,
    unlabelled,
    *,
    epochs=30,
    supervised_epochs=10,
    threshold=0.95,
    alpha_max=3.0,
    ramp_epochs=(10, 25),
    batch_size=64,
    learning_rate=1e-3,
    weak_augment=None,
    strong_augment=None,
    seed=0,
    verbose=0,
):
    """Train `model` on labelled pairs, then also on its own confident labels.

    The procedure and its balance of labelled and pseudo-labelled examples
    are in the module docstring. `keras.utils.set_random_seed(seed)` is
    called first, so shuffling and dropout are reproducible; a
    `strong_augment` layer draws from its own seed, given when it was made.

    Args:
        model: a `keras.Model` that outputs logits. It is (re)compiled here
            with `kerasreg.training.compile_model`: Adam at
            `learning_rate`, `SparseCategoricalCrossentropy(from_logits=True)`
            and accuracy; any earlier compile is replaced.
        labelled: `(x, y)`: inputs and integer labels.
        unlabelled: inputs of the same per-example shape as `x`.
        epochs: pseudo-labelled epochs, after the supervised ones. Defaults
            to `30`.
        supervised_epochs: epochs on the labelled pairs alone. Defaults to
            `10`.
        threshold: the top softmax probability a pseudo-label needs to be
            kept, in (0, 1). Defaults to `0.95` (FixMatch's).
        alpha_max: the final weight of the pseudo-label loss. Defaults to
            `3.0` (Lee's).
        ramp_epochs: `(T1, T2)` of `alpha_schedule`, in epochs from the
            start of the run. Defaults to `(10, 25)`.
        batch_size: batch size. Defaults to `64`.
        learning_rate: Adam learning rate. Defaults to `1e-3`.
        weak_augment: a callable applied afresh each epoch to the labelled
            inputs, and to the confident unlabelled ones when there is no
            `strong_augment` (flip and crop on images: FixMatch's weak
            view). Defaults to `None` (no augmentation).
        strong_augment: a callable applied to the confident unlabelled
            inputs each epoch (a `keras.layers.Layer` is called with
            `training=True`), while their pseudo-labels come from the clean
            inputs. Defaults to `None` (no augmentation).
        seed: the global Keras seed. Defaults to `0`.
        verbose: `fit`'s verbosity; with 1 or 2 each pseudo-labelled epoch
            also prints its count of kept pseudo-labels and its weight.
            Defaults to `0`.

    Returns:
        A dict: `"model"`, the trained model; `"history"`, one entry per
        pseudo-labelled epoch in each of the lists `"epoch"` (its `t`),
        `"loss"` (the weighted training loss), `"kept"` (pseudo-labels at or
        above `threshold`) and `"alpha"`; `"supervised_history"`, the
        `"loss"` and `"accuracy"` of the supervised epochs; and
        `"repeats"`, the times the labelled set is presented per epoch.

    Raises:
        ValueError: for a `threshold` outside (0, 1), negative or non-int
            `epochs` or `supervised_epochs`, `x` and `y` of different
            lengths, unlabelled inputs of another shape, `alpha_max < 0` or
            `ramp_epochs` that are not `0 <= T1 < T2`.

    Example:

    >>> data = kerasreg.load("digits")
    >>> labelled, unlabelled = split_labelled(data.y_train, 5)
    >>> model = kerasreg.models.build("cnn-tiny", data.input_shape, 10)
    >>> result = pseudo_label(
    ...     model,
    ...     (data.x_train[labelled], data.y_train[labelled]),
    ...     data.x_train[unlabelled],
    ...     epochs=2, supervised_epochs=1, ramp_epochs=(1, 2), threshold=0.5,
    ... )
    >>> result["history"]["alpha"], result["repeats"]
    ([0.0, 3.0], 28)
    """
    x, y, x_u = _check_data(labelled, unlabelled)
    _check_settings(epochs, supervised_epochs, threshold, alpha_max, ramp_epochs)
    keras.utils.set_random_seed(seed)
    training.compile_model(model, learning_rate)
    repeats = max(1, round(len(x_u) / len(x)))
    x_rep, y_rep = np.concatenate([x] * repeats), np.concatenate([y] * repeats)
    fit = dict(batch_size=batch_size, shuffle=True, verbose=verbose)
    supervised = _supervised(model, x_rep, y_rep, supervised_epochs, weak_augment, fit)
    history = {"epoch": [], "loss": [], "kept": [], "alpha": []}
    for t in range(supervised_epochs, supervised_epochs + epochs):
        alpha = alpha_schedule(t, alpha_max, ramp_epochs)
        kept, labels = confident_labels(model, x_u, threshold, max(batch_size, 1024))
        if verbose:
            print(
                f"Epoch {t + 1}: {len(kept)}/{len(x_u)} pseudo-labels kept, "
                f"alpha={alpha:g}"
            )
        xs, ys, weights = _augment(weak_augment, x_rep, batch_size), y_rep, None
        if alpha > 0 and len(kept):
            x_p = _augment(strong_augment or weak_augment, x_u[kept], batch_size)
            xs, ys = np.concatenate([x_rep, x_p]), np.concatenate([y_rep, labels])
            weights = np.concatenate(
                [np.ones(len(x_rep), "float32"), np.full(len(kept), alpha, "float32")]
            )
        done = model.fit(
            xs, ys, sample_weight=weights, initial_epoch=t, epochs=t + 1, **fit
        )
        history["epoch"].append(t)
        history["loss"].append(float(done.history["loss"][-1]))
        history["kept"].append(len(kept))
        history["alpha"].append(alpha)
    return {
        "model": model,
        "history": history,
        "supervised_history": supervised,
        "repeats": repeats,
    }


def confident_labels(model, x, threshold, batch_size=256):
    """The arg-max labels of `model` on `x` whose softmax reaches `threshold`.

    Args:
        model: a `keras.Model` that outputs logits.
        x: inputs; predicted in inference mode.
        threshold: the least top softmax probability kept.
        batch_size: `predict`'s batch size. Defaults to `256`.

    Returns:
        `(indices, labels)`: int arrays, the kept inputs and their classes.
    """
    if len(x) == 0:
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    logits = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), "float64")
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities = z / z.sum(axis=-1, keepdims=True)
    indices = np.flatnonzero(probabilities.max(axis=-1) >= threshold)
    return indices, probabilities[indices].argmax(axis=-1).astype("int64")


def _supervised(model, x, y, epochs, weak_augment, fit):
    """The supervised epochs; `weak_augment` drawn afresh for each."""
    logs = {"loss": [], "accuracy": []}
    if weak_augment is None:
        chunks = [(0, epochs)] if epochs else []
    else:
        chunks = [(t, t + 1) for t in range(epochs)]
    for first, last in chunks:
        xs = _augment(weak_augment, x, fit["batch_size"])
        done = model.fit(xs, y, initial_epoch=first, epochs=last, **fit).history
        for key in logs:
            logs[key] += [float(v) for v in done[key]]
    return logs


def _augment(augment, x, batch_size):
    """`augment` applied to `x` batch by batch, as a NumPy array."""
    if augment is None:
        return x
    kwargs = {"training": True} if isinstance(augment, keras.layers.Layer) else {}
    step = max(batch_size, 1024)
    parts = [
        keras.ops.convert_to_numpy(augment(x[i : i + step], **kwargs))
        for i in range(0, len(x), step)
    ]
    return np.concatenate(parts).astype(x.dtype, copy=False)


def _check_data(labelled, unlabelled):
    """`(x, y, x_u)` as NumPy arrays, or a `ValueError` naming what is wrong."""
    if not isinstance(labelled, (tuple, list)) or len(labelled) != 2:
        raise ValueError(
            f"Expected labelled=(x, y). Received: labelled of type "
            f"{type(labelled).__name__}"
        )
    x, y = np.asarray(labelled[0]), np.asarray(labelled[1])
    x_u = np.asarray(unlabelled)
    if len(x) != len(y):
        raise ValueError(
            "Expected labelled x and y of the same length. "
            f"Received: len(x)={len(x)}, len(y)={len(y)}"
        )
    if len(x) == 0:
        raise ValueError("Expected at least one labelled example. Received: len(x)=0")
    if x_u.shape[1:] != x.shape[1:]:
        raise ValueError(
            "Expected unlabelled inputs of the labelled inputs' shape "
            f"{x.shape[1:]}. Received: unlabelled of shape {x_u.shape[1:]}"
        )
    return x, y, x_u


def _check_settings(epochs, supervised_epochs, threshold, alpha_max, ramp_epochs):
    for name, value in (("epochs", epochs), ("supervised_epochs", supervised_epochs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"Expected an int {name}. Received: {name}={value!r}")
        if value < 0:
            raise ValueError(f"Expected {name} >= 0. Received: {name}={value}")
    if not 0 < threshold < 1:
        raise ValueError(f"Expected 0 < threshold < 1. Received: threshold={threshold}")
    if not alpha_max >= 0:
        raise ValueError(f"Expected alpha_max >= 0. Received: alpha_max={alpha_max}")
    try:
        ramp = tuple(ramp_epochs)
    except TypeError:
        ramp = ()
    if len(ramp) != 2 or not 0 <= ramp[0] < ramp[1]:
        raise ValueError(
            "Expected ramp_epochs=(T1, T2) with 0 <= T1 < T2. "
            f"Received: ramp_epochs={ramp_epochs}"
        )
