"""Sparse-label cross-entropy with label smoothing.

Keras's `CategoricalCrossentropy` has `label_smoothing` but needs one-hot
labels; its `SparseCategoricalCrossentropy` takes integer labels but has no
smoothing. This loss takes integer labels and smooths exactly like the
dense built-in: the target becomes `(1 − ε)·onehot + ε/k` over `k` classes.

The regularization notes (ラベル平滑化) write the targets as `1 − ε'` and `ε'/(k − 1)`;
that is the same family with `ε = ε'·k/(k − 1)`.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"]


def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1
):
    """Per-sample cross-entropy of integer labels against smoothed one-hots.

    Args:
        y_true: integer labels, shape `(N,)` or `(N, 1)` (more leading axes
            allowed).
        y_pred: probabilities or logits, shape `(N, k)`.
        from_logits: whether `y_pred` are logits. Defaults to `False`.
        label_smoothing: ε in `[0, 1]`. Defaults to `0.0`.
        axis: the class axis. Defaults to `-1`.

    Returns:
        The loss per sample, shape `(N,)`.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    num_classes = y_pred.shape[axis]
    one_hot = ops.one_hot(
        ops.cast(y_true, "int32"), num_classes, axis=axis, dtype=y_pred.dtype
    )
    return keras.losses.categorical_crossentropy(
        one_hot,
        y_pred,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        axis=axis,
    )


@keras.saving.register_keras_serializable(package="kerasreg")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels, with label smoothing.

    Equal, to float tolerance, to
    `keras.losses.CategoricalCrossentropy(label_smoothing=ε)` on the
    one-hot labels, so `model.fit` can keep integer labels while smoothing
    the targets (the regularization notes: a 0/1 target drives the weights to grow without
    bound; smoothed targets stop that).

    Args:
        from_logits: whether predictions are logits. Defaults to `False`.
        label_smoothing: ε in `[0, 1]`; targets become
            `(1 − ε)·onehot + ε/k`. Defaults to `0.0`.
        axis: the class axis. Defaults to `-1`.
        reduction: see `keras.losses.Loss`. Defaults to
            `"sum_over_batch_size"`.
        name: loss name. Defaults to `"sparse_categorical_crossentropy"`.
        dtype: loss dtype. Defaults to `None`.

    Raises:
        ValueError: if `label_smoothing` is outside `[0, 1]`.

    Example:

    >>> loss = SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    >>> float(loss([1], [[0.0, 10.0]])) > 0.0
    True

    Reference:
        Szegedy et al., "Rethinking the Inception Architecture for Computer
        Vision", CVPR 2016, arXiv:1512.00567.
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        if not 0.0 <= float(label_smoothing) <= 1.0:
            raise ValueError(
                "Expected 0 <= label_smoothing <= 1. Received: "
                f"label_smoothing={label_smoothing}"
            )
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }
