"""Knowledge distillation in the λ1/λ2/T form, on top of `keras.distillation`.

A frozen teacher (one model, or an ensemble of models) trains a light
student with

    L = (λ1·T²·L_soft + λ2·L_hard) / (λ1 + λ2)

where `L_soft` is the cross-entropy between `softmax(z_teacher / T)` and
`softmax(z_student / T)` and `L_hard` the ordinary cross-entropy against the
labels (Hinton et al. 2015).

`Distiller` subclasses `keras.distillation.Distiller`, which supplies the
teacher/student plumbing: freezing the teacher, `call` returning the
student's outputs, model validation and serialization of both models. This
module adds what Keras's class lacks: the λ1/λ2/T form as one public
function, teacher ensembles, sample weights, the student's regularization
losses (so `NetworkSlimming` works on the student), soft and hard losses in
the history, and a `.keras` reload that restores the compile configuration.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

from kerasreg import _keras_compat, training
from kerasreg import data as data_lib
from kerasreg.compression.distillation.losses import (
    _check_weights,
    _combine,
    _loss_terms,
    distillation_loss,
)
from kerasreg.compression.distillation.teachers import (
    ENSEMBLE_MODES,
    _as_logits,
    _check_shapes,
    _ensemble,
    _TeacherAverage,
)

__all__ = ["Distiller", "distillation_loss", "distill"]


@keras.saving.register_keras_serializable(package="kerasreg")
class Distiller(keras.distillation.Distiller):
    """Distil a frozen teacher (or an ensemble) into a student, in the λ1/λ2/T form.

    Trains the student on `L = (λ1·T²·L_soft + λ2·L_hard) / (λ1 + λ2)`
    (see `distillation_loss`) plus the student's own regularization losses.
    It is a `keras.Model` and a `keras.distillation.Distiller`: `compile`,
    `fit`, `evaluate` and `predict` (the student's logits) work as usual, with
    sample weights, `tf.data`, callbacks and `tf.distribute` strategies. The
    history holds `loss` (total), `soft_loss` (L_soft, before T²),
    `hard_loss` and the compiled metrics of the student. The teacher runs in
    inference mode and is never updated.

    Models must output logits. A teacher ending in softmax (a `Softmax` or
    `Activation` layer, or a layer with `activation="softmax"`) is read
    through its logits instead; a student ending in softmax is rejected.

    Args:
        student: the `keras.Model` to train; `distiller.student` is the
            plain model, ready for export.
        teacher: a trained `keras.Model`, or a list of them (an ensemble).
        temperature: softmax temperature T > 0. Defaults to `4.0`.
        lambda_soft: weight λ1 >= 0 of the soft term. Defaults to `0.9`.
        lambda_hard: weight λ2 >= 0 of the hard term. Defaults to `0.1`.
        ensemble: how a list of teachers is combined: `"logits"` (mean of
            logits) or `"probabilities"` (mean of the tempered
            distributions). Defaults to `"logits"`.
        name: model name. Defaults to `"distiller"`.
        **kwargs: passed to `keras.Model`.

    Raises:
        ValueError: for T <= 0, a negative λ, λ1 + λ2 = 0, an unknown
            `ensemble`, a student ending in softmax, or teacher and student
            shapes that differ.

    Example:

    ```python
    distiller = Distiller(student, teacher, temperature=4.0)
    distiller.compile(optimizer="adam", metrics=["accuracy"])
    distiller.fit(x_train, y_train, epochs=10)
    distiller.student.save("student.keras")
    ```

    Reference:
        Hinton et al., 2015, [Distilling the Knowledge in a Neural
        Network](https://arxiv.org/abs/1503.02531).
    """

    def __init__(
        self,
        student,
        teacher,
        temperature=4.0,
        lambda_soft=0.9,
        lambda_hard=0.1,
        ensemble="logits",
        name="distiller",
        **kwargs,
    ):
        _check_weights(temperature, lambda_soft, lambda_hard)
        if ensemble not in ENSEMBLE_MODES:
            raise ValueError(
                f"Expected ensemble to be one of {ENSEMBLE_MODES}. "
                f"Received: ensemble={ensemble!r}"
            )
        teachers = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
        if not teachers:
            raise ValueError("Expected at least one teacher. Received: teacher=[]")
        student = _as_logits(student, "student")
        teachers = [_as_logits(t, "teacher") for t in teachers]
        _check_shapes(teachers, student)
        if len(teachers) > 1:
            teacher = _ensemble(teachers, ensemble, temperature)
        else:
            teacher = teachers[0]
        super().__init__(
            teacher=teacher,
            student=student,
            distillation_losses=keras.distillation.LogitsDistillation(temperature),
            student_loss_weight=lambda_hard / (lambda_soft + lambda_hard),
            name=name,
            **kwargs,
        )
        self.temperature = float(temperature)
        self.lambda_soft = float(lambda_soft)
        self.lambda_hard = float(lambda_hard)
        self.ensemble = ensemble
        self._hard_loss = None
        self._hard_loss_arg = None
        self.soft_loss_tracker = keras.metrics.Mean(name="soft_loss")
        self.hard_loss_tracker = keras.metrics.Mean(name="hard_loss")

    @property
    def teachers(self):
        """The teacher models: the ensemble members, or `[teacher]`."""
        if any(isinstance(layer, _TeacherAverage) for layer in self.teacher.layers):
            return [
                layer for layer in self.teacher.layers if isinstance(layer, keras.Model)
            ]
        return [self.teacher]

    @property
    def metrics(self):
        # Keras's three loss trackers are replaced by soft_loss and hard_loss.
        replaced = {
            id(self.student_loss_tracker),
            id(self.distillation_loss_tracker),
            id(self.total_loss_tracker),
        }
        return [m for m in super().metrics if id(m) not in replaced]

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Configure training. Same as `keras.Model.compile`, with defaults.

        Args:
            optimizer: the student's optimizer. Defaults to `"adam"`.
            loss: the hard loss `L_hard`, on the student's logits. Defaults
                to `None`: cross-entropy from logits with integer or one-hot
                labels.
            metrics: metrics of the student's outputs, e.g. `["accuracy"]`.
            **kwargs: passed to `keras.Model.compile`.
        """
        hard = keras.losses.get(loss) if loss is not None else None
        super().compile(
            optimizer=optimizer,
            loss=hard if hard is not None else "sparse_categorical_crossentropy",
            metrics=metrics,
            **kwargs,
        )
        self._hard_loss = hard
        self._hard_loss_arg = loss

    def get_compile_config(self):
        config = super().get_compile_config()
        if config:
            config["loss"] = keras.saving.serialize_keras_object(self._hard_loss_arg)
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if y_pred is None:
            y_pred = self(x, training=training)
        if y is None and self.lambda_hard > 0:
            raise ValueError(
                f"lambda_hard={self.lambda_hard} needs labels, but the data has "
                "none. Pass (x, y), or set lambda_hard=0 to distil from x alone."
            )
        teacher_logits = ops.stop_gradient(self.teacher(x, training=False))
        soft, hard = _loss_terms(
            y, teacher_logits, y_pred, self.temperature, sample_weight, self._hard_loss
        )
        total = _combine(
            soft, hard, self.temperature, self.lambda_soft, self.lambda_hard
        )
        batch = ops.shape(y_pred)[0]
        self.soft_loss_tracker.update_state(soft, sample_weight=batch)
        self.hard_loss_tracker.update_state(hard, sample_weight=batch)
        total = _keras_compat.scale_loss_for_distribution(total)
        # The student's regularization losses, added as Keras's own
        # Trainer.compute_loss adds them (NetworkSlimming's penalty is one).
        for extra in self.student.losses:
            total = total + self._aggregate_additional_loss(extra)
        return total

    def get_config(self):
        config = super().get_config()
        for key in (
            "distillation_losses",
            "distillation_loss_weights",
            "student_loss_weight",
        ):
            config.pop(key, None)
        config.update(
            temperature=self.temperature,
            lambda_soft=self.lambda_soft,
            lambda_hard=self.lambda_hard,
            ensemble=self.ensemble,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("student", "teacher"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def distill(
    teacher,
    student,
    data="digits",
    epochs=10,
    *,
    temperature=4.0,
    lambda_soft=0.9,
    lambda_hard=0.1,
    ensemble="logits",
    batch_size=64,
    learning_rate=1e-3,
    validation_data=None,
    callbacks=None,
    seed=None,
    verbose="auto",
):
    """Distil `teacher` into `student` with Adam in one call.

    The common case in one line, including "teacher = the model before
    slimming, student = its shrunk copy": build a `Distiller`, compile it
    with Adam and accuracy, fit it, and return it.

    Args:
        teacher: a trained `keras.Model` or a list of them (an ensemble).
        student: the `keras.Model` to train (it is trained in place).
        data: a `kerasreg.data` source name, a `kerasreg.data.Dataset`
            (validated on its test split unless `validation_data` is given),
            an `(x, y)` tuple or a `tf.data.Dataset` of `(x, y)` batches.
            Defaults to `"digits"`.
        epochs: training epochs. Defaults to `10`.
        temperature, lambda_soft, lambda_hard, ensemble: see `Distiller`.
        batch_size: batch size for array data. Defaults to `64`.
        learning_rate: Adam learning rate. Defaults to `1e-3`.
        validation_data: passed to `fit`.
        callbacks: Keras callbacks, e.g. `NetworkSlimming`, `EarlyStopping`.
        seed: seeds Keras, NumPy and Python first when set. Defaults to
            `None`.
        verbose: passed to `fit`. Defaults to `"auto"`.

    Returns:
        The fitted `Distiller`; `.student` is the trained student and
        `.history` the `keras.callbacks.History`.

    Raises:
        ValueError: for `epochs < 1` and as `Distiller`.

    Example:

    ```python
    small = kerasreg.compression.shrink(slimmed_model, threshold=1e-3)
    student = distill(original_model, small, "digits", epochs=5).student
    ```
    """
    if (
        isinstance(epochs, bool)
        or not isinstance(epochs, numbers.Integral)
        or epochs < 1
    ):
        raise ValueError(
            f"Expected an integer epochs >= 1. Received: epochs={epochs!r}"
        )
    if seed is not None:
        keras.utils.set_random_seed(seed)
    distiller = Distiller(
        student, teacher, temperature, lambda_soft, lambda_hard, ensemble
    )
    distiller.compile(
        optimizer=keras.optimizers.Adam(learning_rate), metrics=["accuracy"]
    )
    fit_kwargs = dict(epochs=epochs, callbacks=list(callbacks or []), verbose=verbose)
    if isinstance(data, tuple):
        x, y = data
        distiller.fit(
            x, y, batch_size=batch_size, validation_data=validation_data, **fit_kwargs
        )
    elif validation_data is not None or _is_batches(data):
        if not _is_batches(data):
            data = data_lib.load(data)
            x, y = data.x_train, data.y_train
            fit_kwargs["batch_size"] = batch_size
        else:
            x, y = data, None
        distiller.fit(x, y, validation_data=validation_data, **fit_kwargs)
    else:
        dataset = data_lib.load(data)
        training.fit(
            distiller,
            dataset,
            batch_size=batch_size,
            scale=_input_scale(distiller, dataset),
            **fit_kwargs,
        )
    return distiller


def _is_batches(data):
    """Whether `data` is a raw `tf.data.Dataset` of `(x, y)` batches."""
    import tensorflow as tf

    return isinstance(data, tf.data.Dataset)


def _input_scale(distiller, dataset):
    """The input scale of the student, which the teachers must share.

    A teacher that starts with `Rescaling` and a student that does not
    expect different input ranges; one batch cannot serve both.
    """
    scale = data_lib.input_scale(distiller.student, dataset)
    for teacher in distiller.teachers:
        if data_lib.input_scale(teacher, dataset) != scale:
            raise ValueError(
                f"Teacher {teacher.name!r} and student {distiller.student.name!r} "
                "expect different input ranges (one starts with Rescaling, the "
                "other does not). Give both the same preprocessing."
            )
    return scale
