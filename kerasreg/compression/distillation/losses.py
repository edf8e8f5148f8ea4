"""The distillation loss `(λ1·T²·L_soft + λ2·L_hard) / (λ1 + λ2)`.

One function, `distillation_loss`, computes it on a batch; `Distiller`
calls the same pieces (`_loss_terms`, `_combine`) in its train step.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

__all__ = ["distillation_loss"]


def distillation_loss(
    y_true,
    teacher_logits,
    student_logits,
    temperature=4.0,
    lambda_soft=0.9,
    lambda_hard=0.1,
    sample_weight=None,
):
    """The distillation loss `(λ1·T²·L_soft + λ2·L_hard) / (λ1 + λ2)`.

    `L_soft` is the cross-entropy `-Σ softmax(t/T)·log softmax(s/T)` between
    the teacher's and the student's tempered distributions; `L_hard` is the
    cross-entropy of the student's logits (at T = 1) against the labels.
    The T² factor keeps the soft gradients on the scale of the hard ones
    when T changes. Both terms are averaged over the batch as Keras losses
    are (`sum(w · l) / batch_size`).

    Args:
        y_true: integer labels `(N,)` or one-hot labels `(N, C)`; may be
            `None` when `lambda_hard` is 0.
        teacher_logits: `(N, C)` teacher logits.
        student_logits: `(N, C)` student logits.
        temperature: softmax temperature T > 0. Defaults to `4.0`.
        lambda_soft: weight λ1 >= 0 of the soft term. Defaults to `0.9`.
        lambda_hard: weight λ2 >= 0 of the hard term. Defaults to `0.1`.
        sample_weight: optional `(N,)` per-example weights.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: for T <= 0, a negative λ or λ1 + λ2 = 0.

    Example:

    >>> import numpy as np
    >>> t = np.array([[2.0, 0.0, -1.0]]); s = np.array([[1.0, 0.5, 0.0]])
    >>> float(distillation_loss(np.array([0]), t, s, 2.0, 1.0, 0.0)) > 0
    True

    Reference:
        Hinton et al., 2015, [Distilling the Knowledge in a Neural
        Network](https://arxiv.org/abs/1503.02531).
    """
    _check_weights(temperature, lambda_soft, lambda_hard)
    soft, hard = _loss_terms(
        y_true, teacher_logits, student_logits, temperature, sample_weight
    )
    return _combine(soft, hard, temperature, lambda_soft, lambda_hard)


def _loss_terms(
    y_true, teacher_logits, student_logits, temperature, sample_weight, hard_loss=None
):
    """(L_soft, L_hard) as batch means; `hard_loss` replaces the built-in CE."""
    student_logits = ops.convert_to_tensor(student_logits)
    teacher_logits = ops.cast(teacher_logits, student_logits.dtype)
    soft_targets = ops.softmax(teacher_logits / temperature, axis=-1)
    log_student = ops.log_softmax(student_logits / temperature, axis=-1)
    soft = -ops.sum(soft_targets * log_student, axis=-1)
    if y_true is not None:
        y_true = ops.convert_to_tensor(y_true)
    if y_true is None:
        hard = ops.zeros_like(soft)
    elif hard_loss is not None:
        hard = _per_sample(hard_loss, y_true, student_logits)
    elif len(y_true.shape) == len(student_logits.shape) and y_true.shape[-1] > 1:
        hard = ops.categorical_crossentropy(
            ops.cast(y_true, student_logits.dtype), student_logits, from_logits=True
        )
    else:
        labels = ops.reshape(ops.cast(y_true, "int32"), ops.shape(soft))
        hard = ops.sparse_categorical_crossentropy(
            labels, student_logits, from_logits=True
        )
    return _batch_mean(soft, sample_weight), _batch_mean(hard, sample_weight)


def _per_sample(loss_fn, y_true, y_pred):
    if isinstance(loss_fn, keras.losses.Loss):
        values = loss_fn.call(y_true, y_pred)
    else:
        values = loss_fn(y_true, y_pred)
    values = ops.convert_to_tensor(values)
    while len(values.shape) > 1:
        values = ops.mean(values, axis=-1)
    return values


def _batch_mean(values, sample_weight):
    if sample_weight is not None:
        weights = ops.reshape(ops.cast(sample_weight, values.dtype), ops.shape(values))
        values = values * weights
    return ops.mean(values)


def _combine(soft, hard, temperature, lambda_soft, lambda_hard):
    weighted = lambda_soft * temperature**2 * soft + lambda_hard * hard
    return weighted / (lambda_soft + lambda_hard)


def _check_weights(temperature, lambda_soft, lambda_hard):
    for name, value in (
        ("temperature", temperature),
        ("lambda_soft", lambda_soft),
        ("lambda_hard", lambda_hard),
    ):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"Expected {name} to be a number. Received: {name}={value!r}"
            )
    if temperature <= 0:
        raise ValueError(
            f"Expected temperature > 0. Received: temperature={temperature}. "
            "Typical values are 2 to 20."
        )
    for name, value in (("lambda_soft", lambda_soft), ("lambda_hard", lambda_hard)):
        if value < 0:
            raise ValueError(
                f"Expected {name} >= 0. Received: {name}={value}. "
                "The weights of the soft and hard terms cannot be negative."
            )
    if lambda_soft + lambda_hard <= 0:
        raise ValueError(
            "Expected lambda_soft + lambda_hard > 0. Received: "
            f"lambda_soft={lambda_soft}, lambda_hard={lambda_hard}. "
            "Give at least one of the two terms a positive weight."
        )
