"""Teachers for `Distiller`: a logits view of softmax models, and ensembles.

Internal helpers: `_as_logits` reads a model that ends in softmax through
its logits (or rejects such a student), `_check_shapes` compares teacher and
student, and `_ensemble` wraps several teachers into one functional model
whose `_TeacherAverage` layer averages their logits or tempered
probabilities. The wrapper is an ordinary Keras model, so it saves and
reloads inside the `Distiller`.
"""

from __future__ import annotations

import keras
from keras import ops

from kerasreg import _keras_compat

ENSEMBLE_MODES = ("logits", "probabilities")


@keras.saving.register_keras_serializable(package="kerasreg", name="TeacherAverage")
class _TeacherAverage(keras.layers.Layer):
    """Averages the logits of ensemble members into one set of logits.

    `mode="logits"` returns the mean of the logits. `mode="probabilities"`
    returns `T·log(mean_k softmax(z_k / T))`, logits whose tempered softmax
    is exactly the mean of the members' tempered distributions.
    """

    def __init__(self, mode="logits", temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode
        self.temperature = float(temperature)

    def call(self, inputs):
        stacked = ops.stack(list(inputs), axis=0)
        if self.mode == "logits":
            return ops.mean(stacked, axis=0)
        log_probs = ops.log_softmax(stacked / self.temperature, axis=-1)
        count = ops.cast(ops.shape(stacked)[0], log_probs.dtype)
        mean_log = ops.logsumexp(log_probs, axis=0) - ops.log(count)
        return self.temperature * mean_log

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "temperature": self.temperature,
        }


def _output_layer(model):
    outputs = getattr(model, "outputs", None)
    if not outputs or len(outputs) != 1:
        return None, None
    return _keras_compat.keras_history(outputs[0])


def _ends_in_softmax(layer):
    if isinstance(layer, keras.layers.Softmax):
        return True
    return getattr(layer, "activation", None) is keras.activations.softmax


def _as_logits(model, role):
    """`model` itself if it outputs logits, else a logits model sharing its layers."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected {role} to be a keras.Model. Received: {role}={model!r}"
        )
    layer, node_index = _output_layer(model)
    if layer is None or not _ends_in_softmax(layer):
        return model
    if role == "student":
        raise ValueError(
            f"The student must output logits, but its last layer {layer.name!r} "
            "applies softmax. Received: student ending in softmax. Build it with "
            "activation=None on the last layer (add softmax at export if needed)."
        )
    logits_input = _keras_compat.node_input_tensors(
        _keras_compat.inbound_nodes(layer)[node_index]
    )[0]
    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        logits = logits_input
    else:  # a Dense/Conv with activation="softmax": a linear twin, same weights
        twin = layer.__class__.from_config(
            {
                **layer.get_config(),
                "activation": "linear",
                "name": f"{layer.name}_logits",
            }
        )
        logits = twin(logits_input)
        twin.set_weights(layer.get_weights())
    return keras.Model(model.inputs, logits, name=f"{model.name}_logits")


def _check_shapes(teachers, student):
    s_in = _shape(student, "inputs")
    s_out = _shape(student, "outputs")
    for i, teacher in enumerate(teachers):
        role = "teacher" if len(teachers) == 1 else f"teacher[{i}]"
        if teacher is student:
            raise ValueError(
                f"Received the same model as {role} and student. Pass a copy "
                "as the student, e.g. keras.models.clone_model(teacher)."
            )
        t_in, t_out = _shape(teacher, "inputs"), _shape(teacher, "outputs")
        if t_out is not None and s_out is not None and t_out != s_out:
            raise ValueError(
                f"Expected the {role} and the student to output logits of the same "
                f"shape. Received: {role} output shape {t_out} and student output "
                f"shape {s_out}. Give both the same number of classes."
            )
        if t_in is not None and s_in is not None and t_in != s_in:
            raise ValueError(
                f"Expected the {role} and the student to take inputs of the same "
                f"shape. Received: {role} input shape {t_in} and student input "
                f"shape {s_in}."
            )


def _shape(model, attr):
    tensors = getattr(model, attr, None)
    if not tensors or len(tensors) != 1:
        return None
    return tuple(tensors[0].shape)


def _ensemble(teachers, mode, temperature):
    inputs = keras.Input(
        teachers[0].inputs[0].shape[1:], dtype=teachers[0].inputs[0].dtype
    )
    logits, names = [], set()
    for i, teacher in enumerate(teachers):
        if teacher.name in names:  # functional graphs need unique names
            member_inputs = keras.Input(inputs.shape[1:], dtype=inputs.dtype)
            teacher = keras.Model(
                member_inputs, teacher(member_inputs), name=f"{teacher.name}_{i}"
            )
        names.add(teacher.name)
        logits.append(teacher(inputs))
    average = _TeacherAverage(mode, temperature, name=f"average_{mode}")(logits)
    return keras.Model(inputs, average, name="teacher_ensemble")
