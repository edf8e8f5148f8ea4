"""Multi-task learning: one shared trunk, one head per task (hard sharing).

The regularization notes (マルチタスク学習) share the lower layers between
tasks so that each task's data regularizes the others' features. In Keras
this is a functional model with a dict of outputs; `multitask` builds and
compiles it, so that `model.fit(x, {"label": y, "rotation": r})` trains
every head at once. Rests on Keras's dict outputs and dict losses, and on
`keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)`: a target
of `-1` means "no label for this task here", so that a task labelled on
only some of the images (1,000 class labels among 5,000 images that all
have a rotation label) trains on the ones it has.

The result is one flat functional model (the trunk's layers, then the
heads'), so `shrink`, `NetworkSlimming`, `to_tflite` and `.keras` saving
apply to it as to any model.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["multitask", "LabelledAccuracy", "MISSING"]

MISSING = -1


@keras.saving.register_keras_serializable(package="kerasreg")
class LabelledAccuracy(keras.metrics.SparseCategoricalAccuracy):
    """Sparse categorical accuracy over the examples that have a label.

    Targets equal to `MISSING` (`-1`) are left out, where
    `keras.metrics.SparseCategoricalAccuracy` would count them as wrong.

    Example:

    >>> metric = LabelledAccuracy()
    >>> metric.update_state([1, -1, 0], [[0.1, 0.9], [0.9, 0.1], [0.2, 0.8]])
    >>> float(metric.result())
    0.5
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.reshape(ops.convert_to_tensor(y_true), (-1,))
        labelled = ops.cast(ops.not_equal(y_true, MISSING), "float32")
        if sample_weight is not None:
            labelled = labelled * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        return super().update_state(ops.maximum(y_true, 0), y_pred, labelled)


def multitask(
    trunk,
    heads,
    *,
    loss=None,
    loss_weights=None,
    optimizer=None,
    metrics="accuracy",
    name="multitask",
):
    """Share `trunk` between task `heads`; compiled, ready for `model.fit`.

    Args:
        trunk: a built functional or Sequential `keras.Model` from the
            inputs to the shared features.
        heads: a dict from task name to a head: a layer or a model called
            on the trunk's output, or a list of layers applied in order.
            Each output is named after its task.
        loss: one loss for every head, or a dict from task name to loss.
            Defaults to `None`: sparse categorical cross-entropy on logits,
            ignoring targets of `-1` (`MISSING`), for every head.
        loss_weights: a dict from task name to the weight of its loss; a
            task left out weighs 1. Defaults to `None` (all 1).
        optimizer: a Keras optimizer. Defaults to `None` (Adam at 1e-3).
        metrics: `"accuracy"` (`LabelledAccuracy` on every head), `None`,
            or a dict from task name to metrics, as `model.compile` takes.
            Defaults to `"accuracy"`.
        name: the model's name. Defaults to `"multitask"`.

    Returns:
        A compiled functional `keras.Model` whose outputs are a dict keyed
        by task name; train it on a dict of targets with the same keys.

    Raises:
        ValueError: for no heads, a `trunk` that is not a built model, or a
            `loss_weights` or `loss` key that names no head.

    Example:

    >>> trunk = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, "relu")])
    >>> model = multitask(trunk, {"label": keras.layers.Dense(3),
    ...                           "parity": keras.layers.Dense(2)},
    ...                   loss_weights={"parity": 0.5})
    >>> x = np.random.default_rng(0).normal(size=(32, 8))
    >>> y = {"label": np.arange(32) % 3, "parity": np.where(np.arange(32) < 8, -1, 1)}
    >>> _ = model.fit(x, y, epochs=1, verbose=0)
    >>> sorted(model(x[:2]))
    ['label', 'parity']

    Reference:
        Caruana, "Multitask Learning", Machine Learning 28, 1997.
    """
    if not heads:
        raise ValueError(f"Expected at least one head. Received: heads={heads!r}")
    if not isinstance(trunk, keras.Model) or not trunk.built or not trunk.inputs:
        raise ValueError(
            "Expected trunk to be a built functional or Sequential keras.Model. "
            f"Received: trunk={trunk!r}"
        )
    for argument, value in (("loss_weights", loss_weights), ("loss", loss)):
        unknown = sorted(set(value) - set(heads)) if isinstance(value, dict) else []
        if unknown:
            raise ValueError(
                f"{argument} names no head: {unknown}. Heads: {sorted(heads)}. "
                f"Received: {argument}={value!r}"
            )
    features = trunk.outputs[0]
    outputs = {}
    for task, head in heads.items():
        x = features
        for layer in head if isinstance(head, (list, tuple)) else [head]:
            x = layer(x)
        outputs[task] = keras.layers.Identity(name=task)(x)
    inputs = trunk.inputs[0] if len(trunk.inputs) == 1 else trunk.inputs
    model = keras.Model(inputs, outputs, name=name)
    if not isinstance(loss, dict):
        loss = {task: loss or _missing_aware_loss() for task in heads}
    if metrics == "accuracy":
        metrics = {task: [LabelledAccuracy()] for task in heads}
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(1e-3),
        loss=loss,
        loss_weights={task: (loss_weights or {}).get(task, 1.0) for task in heads},
        metrics=metrics,
    )
    return model


def _missing_aware_loss():
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=MISSING
    )
