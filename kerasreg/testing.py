"""Shared test helpers: serialization round trips.

One function, `assert_roundtrip`, checks the contract every public kerasreg
object keeps (STYLE.md): it is registered with
`keras.saving.register_keras_serializable`, survives
`get_config`/`from_config`, and — where Keras saves such objects in a
`.keras` file (models, layers, losses, regularizers) — survives
`model.save` / `keras.saving.load_model` with identical outputs.

Example:

>>> from kerasreg.testing import assert_roundtrip
>>> layer = kerasreg.layers.DropConnectDense(3, rate=0.2)
>>> restored = assert_roundtrip(layer, np.ones((2, 4), "float32"))
"""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np

__all__ = ["assert_roundtrip"]


def assert_roundtrip(obj, inputs=None, *, atol=1e-6):
    """Assert that `obj` round-trips through its config and a `.keras` file.

    What is compared depends on the kind of object:

    - `keras.Model`: outputs on `inputs` (inference mode) after
      `from_config` + `set_weights`, and after save/load.
    - `keras.layers.Layer`: wrapped in a functional model on
      `inputs.shape[1:]`, then as a model; the layer's config must also
      come back equal.
    - `keras.losses.Loss`: `inputs=(y_true, y_pred)`; the value after
      `from_config`, and after saving a model compiled with the loss.
    - `keras.regularizers.Regularizer`: `inputs` is a weight array; the
      penalty after `from_config`, and the model loss after saving a
      `Dense` layer that uses it as `kernel_regularizer` (`inputs` must
      then be 2-D).
    - anything else with `get_config` (callbacks): the config after a
      serialize/deserialize round trip.

    In every case the object must deserialize from its registered name,
    i.e. `keras.saving.serialize_keras_object` then
    `deserialize_keras_object` gives back the same class.

    Args:
        obj: the object to check.
        inputs: what to evaluate it on, as above; ignored for callbacks.
        atol: absolute tolerance of output comparisons. Defaults to `1e-6`.

    Returns:
        The object restored from the `.keras` file (the model for layers,
        losses and regularizers), or from its config for callbacks.

    Raises:
        AssertionError: if any comparison fails.
        ValueError: if `inputs` is missing for a model, layer, loss or
            regularizer.
    """
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(obj)
    )
    assert type(restored) is type(obj), (
        f"{type(obj).__name__} deserialized as {type(restored).__name__}; "
        "is it registered with register_keras_serializable?"
    )
    evaluated = (
        keras.layers.Layer,
        keras.losses.Loss,
        keras.regularizers.Regularizer,
    )
    if inputs is None and isinstance(obj, evaluated):
        raise ValueError(
            f"assert_roundtrip needs inputs to evaluate a {type(obj).__name__}. "
            "Received: inputs=None"
        )
    if isinstance(obj, keras.Model):
        return _check_model(obj, inputs, atol)
    if isinstance(obj, keras.layers.Layer):
        assert _same(restored.get_config(), obj.get_config()), (
            f"config changed:\n{obj.get_config()}\n{restored.get_config()}"
        )
        inputs = np.asarray(inputs)
        tensor = keras.Input(inputs.shape[1:], dtype=inputs.dtype)
        return _check_model(keras.Model(tensor, obj(tensor)), inputs, atol)
    if isinstance(obj, keras.losses.Loss):
        return _check_loss(obj, restored, inputs, atol)
    if isinstance(obj, keras.regularizers.Regularizer):
        return _check_regularizer(obj, restored, inputs, atol)
    assert _same(restored.get_config(), obj.get_config()), (
        f"config changed:\n{obj.get_config()}\n{restored.get_config()}"
    )
    return restored


def _same(a, b):
    return keras.saving.serialize_keras_object(a) == (
        keras.saving.serialize_keras_object(b)
    )


def _predict(model, inputs):
    """The model's outputs as one flat array (dict and list outputs joined)."""
    outputs = keras.tree.flatten(model(inputs, training=False))
    return np.concatenate([keras.ops.convert_to_numpy(o).ravel() for o in outputs])


def _save_load(model):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        return keras.saving.load_model(path)


def _check_model(model, inputs, atol):
    expected = _predict(model, inputs)
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(
        _predict(clone, inputs), expected, atol=atol, err_msg="from_config"
    )
    loaded = _save_load(model)
    np.testing.assert_allclose(
        _predict(loaded, inputs), expected, atol=atol, err_msg=".keras"
    )
    return loaded


def _check_loss(loss, restored, inputs, atol):
    y_true, y_pred = inputs
    expected = float(loss(y_true, y_pred))
    np.testing.assert_allclose(float(restored(y_true, y_pred)), expected, atol=atol)
    y_pred = np.asarray(y_pred, "float32")
    tensor = keras.Input(y_pred.shape[1:])
    model = keras.Model(tensor, keras.layers.Identity()(tensor))
    model.compile(loss=loss)
    loaded = _save_load(model)
    assert type(loaded.loss) is type(loss), f"loaded loss is {loaded.loss!r}"
    np.testing.assert_allclose(float(loaded.loss(y_true, y_pred)), expected, atol=atol)
    return loaded


def _check_regularizer(regularizer, restored, weights, atol):
    weights = np.asarray(weights, "float32")
    expected = float(regularizer(weights))
    np.testing.assert_allclose(float(restored(weights)), expected, atol=atol)
    tensor = keras.Input(weights.shape[:1])
    dense = keras.layers.Dense(
        weights.shape[1], kernel_regularizer=regularizer, use_bias=False
    )
    model = keras.Model(tensor, dense(tensor))
    dense.kernel.assign(weights)
    loaded = _save_load(model)
    penalty = float(keras.ops.sum(loaded.losses))
    np.testing.assert_allclose(penalty, expected, atol=atol)
    return loaded
