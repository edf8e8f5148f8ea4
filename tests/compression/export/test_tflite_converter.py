"""to_tflite: bad input leaves no file, a rejected op is named, the file."""

import os

import keras
import numpy as np
import pytest

from kerasreg.compression.export import TFLiteModel, to_tflite


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(quantization="int2"),
            r"Unknown quantization='int2'\. Expected one of 'float32', 'float16'",
        ),
        (
            dict(quantization="int8"),
            r"quantization='int8' needs representative_data.*\(N, 8, 8, 1\).*Received: representative_data=None",
        ),
        (
            dict(
                quantization="int8-full",
                representative_data=np.zeros((4, 28, 28, 1), "float32"),
            ),
            r"Expected representative_data of shape \(N, 8, 8, 1\).*Received: representative_data.shape=\(4, 28, 28, 1\)",
        ),
        (
            dict(
                quantization="int8", representative_data=np.zeros((4, 8, 8), "float32")
            ),
            r"Received: representative_data.shape=\(4, 8, 8\)",
        ),
        (
            dict(
                quantization="int8", representative_data=np.zeros((4, 8, 8, 1), "uint8")
            ),
            r"Expected floating-point representative_data.*Received: representative_data.dtype=uint8",
        ),
    ],
)
def test_bad_arguments_leave_no_file(trained, tmp_path, kwargs, message):
    path = tmp_path / "model.tflite"
    with pytest.raises(ValueError, match=message):
        to_tflite(trained, path, **kwargs)
    assert os.listdir(tmp_path) == []


def test_rejected_op_is_named_and_old_file_survives(tmp_path):
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(
        keras.ops.erfinv, output_shape=(4,), name="inverse_erf"
    )(inputs)
    model = keras.Model(inputs, outputs, name="odd")
    path = tmp_path / "odd.tflite"
    path.write_bytes(b"previous export")
    with pytest.raises(
        ValueError,
        match=r"rejected model 'odd': op\(s\) tf\.Erfinv in layer\(s\) \['inverse_erf'\] have no TFLite builtin kernel",
    ):
        to_tflite(model, path)
    assert path.read_bytes() == b"previous export"  # not overwritten
    assert os.listdir(tmp_path) == ["odd.tflite"]  # no temporary left


def test_to_tflite_writes_the_path(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp_path / "sub" / "m.tflite"
    assert to_tflite(model, path, "float16") == path
    assert path.read_bytes()[4:8] == b"TFL3"
    np.testing.assert_allclose(
        TFLiteModel(path).predict(np.eye(3)),
        model.predict(np.eye(3), verbose=0),
        atol=1e-2,
    )


def _pruned_conv_model(sparsity=0.9):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.Conv2D(64, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            kernel = layer.kernel.numpy()
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), sparsity)] = 0.0
            layer.kernel.assign(kernel)
    return model


def test_a_sparse_model_ships_small_with_the_same_outputs(tmp_path):
    model = _pruned_conv_model()
    x = np.random.default_rng(0).uniform(0, 1, (16, 8, 8, 3)).astype("float32")
    dense = TFLiteModel(to_tflite(model, str(tmp_path / "dense.tflite")))
    sparse = TFLiteModel(to_tflite(model, str(tmp_path / "sparse.tflite"), sparse=True))
    assert sparse.size_bytes < 0.4 * dense.size_bytes
    np.testing.assert_allclose(
        sparse.predict(x), dense.predict(x), rtol=1e-5, atol=1e-6
    )


def test_per_tensor_int8_has_one_weight_scale(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model = _pruned_conv_model(sparsity=0.0)
    x = np.random.default_rng(0).uniform(0, 1, (32, 8, 8, 3)).astype("float32")
    scales = {}
    for per_channel in (True, False):
        path = str(tmp_path / f"model_{per_channel}.tflite")
        to_tflite(model, path, "int8", representative_data=x, per_channel=per_channel)
        details = Interpreter(model_path=path).get_tensor_details()
        kernels = [d for d in details if len(d["shape"]) == 4 and d["shape"][0] == 64]
        scales[per_channel] = {
            len(d["quantization_parameters"]["scales"]) for d in kernels
        }
    assert scales == {True: {64}, False: {1}}
