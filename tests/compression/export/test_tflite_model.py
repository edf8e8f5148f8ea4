"""TFLiteModel: exported files run, predict and evaluate like Keras."""

import os

import numpy as np
import pytest

from kerasreg.compression.export import TFLiteModel


def test_float32_file_matches_keras_outputs(trained, digits, exports):
    folder, _, _ = exports
    tflite = TFLiteModel(folder / "model_float32.tflite")
    x = digits.x_test[:45]
    got = tflite.predict(x, batch_size=7)  # uneven last batch: resized
    np.testing.assert_allclose(got, trained.predict(x, verbose=0), atol=1e-4)
    assert got.dtype == np.float32 and tflite.input_dtype == np.float32


def test_int8_full_takes_int8_and_agrees_with_keras(trained, digits, exports):
    folder, _, _ = exports
    tflite = TFLiteModel(folder / "model_int8-full.tflite")
    assert tflite.input_dtype == np.int8
    got = tflite.predict(digits.x_test[:100])
    expected = trained.predict(digits.x_test[:100], verbose=0)
    assert got.dtype == np.float32  # dequantized logits
    assert np.mean(np.argmax(got, -1) == np.argmax(expected, -1)) >= 0.95
    assert np.abs(got - expected).mean() < 0.1 * np.abs(expected).mean()


def test_evaluate_reports_accuracy_size_latency(digits, exports):
    folder, _, _ = exports
    tflite = TFLiteModel(folder / "model_dynamic.tflite")
    result = tflite.evaluate(digits.x_test, digits.y_test, latency_repeats=10)
    predicted = np.argmax(tflite.predict(digits.x_test), -1)
    assert result["accuracy"] == np.mean(predicted == digits.y_test) > 0.8
    assert result["size_bytes"] == os.path.getsize(folder / "model_dynamic.tflite")
    assert 0 < result["latency_ms"] < 50


def test_builtin_kernels_run_the_file_without_xnnpack(trained, digits, exports):
    folder, _, _ = exports
    x = digits.x_test[:60]
    builtin = TFLiteModel(folder / "model_float32.tflite", kernels="builtin")
    assert builtin.kernels == "builtin" and not builtin.delegate
    np.testing.assert_allclose(
        builtin.predict(x), trained.predict(x, verbose=0), atol=1e-4
    )
    int8 = {
        kernels: TFLiteModel(folder / "model_int8-full.tflite", kernels=kernels)
        for kernels in ("xnnpack", "builtin")
    }
    assert int8["xnnpack"].kernels == "xnnpack"
    scale, _ = int8["xnnpack"].output_quantization
    xnnpack, reference = (int8[k].predict(x) for k in ("xnnpack", "builtin"))
    # Two int8 back ends of one file: each logit within a couple of steps.
    assert np.abs(xnnpack - reference).max() <= 2.5 * scale
    assert np.mean(xnnpack.argmax(-1) == reference.argmax(-1)) >= 0.95


def test_unknown_kernels_are_refused(exports):
    folder, _, _ = exports
    with pytest.raises(ValueError) as error:
        TFLiteModel(folder / "model_float32.tflite", kernels="gpu")
    assert str(error.value) == (
        "Expected kernels='xnnpack' or 'builtin'. Received: kernels='gpu'"
    )
