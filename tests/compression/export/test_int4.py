"""quantization="int4": 4-bit weights through ai-edge-quantizer, float compute."""

import sys

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg.compression import to_tflite
from kerasreg.compression.export import TFLiteModel

pytest.importorskip("ai_edge_quantizer")


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    data = kerasreg.load("digits")
    model = kerasreg.training.compile_model(
        kerasreg.models.build("cnn-tiny", (8, 8, 1), 10)
    )
    model.fit(data.x_train, data.y_train, epochs=8, verbose=0)
    return model, data


def test_int4_weights_are_4_bit_and_cost_little_accuracy(trained, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model, data = trained
    path = to_tflite(model, str(tmp_path / "int4.tflite"), "int4")
    float32 = to_tflite(model, str(tmp_path / "float32.tflite"))
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    kernels = {
        d["name"]: interpreter.get_tensor(d["index"])
        for d in interpreter.get_tensor_details()
        if d["dtype"] == np.int8
    }
    # Three kernels (two convolutions and the classifier), each on the
    # symmetric 4-bit grid [-7, 7], one scale per output channel.
    assert len(kernels) == 3
    assert all(
        k.min() >= -7 and k.max() <= 7 and k.max() == 7 for k in kernels.values()
    )
    file = TFLiteModel(path)
    assert file.size_bytes < 0.55 * TFLiteModel(float32).size_bytes
    float_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)[1]
    assert file.evaluate(data)["accuracy"] >= float_accuracy - 0.03


def test_int4_without_ai_edge_quantizer_says_how_to_install(
    trained, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "ai_edge_quantizer", None)
    with pytest.raises(
        ImportError,
        match=r"quantization='int4' needs ai-edge-quantizer, an optional "
        r"dependency: pip install 'kerasreg\[int4\]'",
    ):
        to_tflite(trained[0], str(tmp_path / "int4.tflite"), "int4")
    assert not (tmp_path / "int4.tflite").exists()


def test_int4_refuses_the_sparse_encoding(trained, tmp_path):
    with pytest.raises(
        ValueError, match=r"sparse=True is not available with quantization='int4'."
    ):
        to_tflite(trained[0], str(tmp_path / "int4.tflite"), "int4", sparse=True)
