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
            dict(quantization="int4"),
            r"Unknown quantization='int4'\. Expected one of 'float32', 'float16'",
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
