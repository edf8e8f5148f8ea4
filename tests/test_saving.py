"""kerasreg/saving.py: `.keras` files load in a fresh process and from old versions."""

import json
import pathlib
import subprocess
import sys

import keras
import numpy as np

import kerasreg

DATA = pathlib.Path(__file__).parent / "data"


def test_load_model_registers_kerasreg_objects(tmp_path):
    # A fresh interpreter that only runs `import kerasreg` can load a model
    # holding kerasreg layers and losses.
    script = f"""
import keras, numpy as np
from kerasreg.layers import DropConnectDense
from kerasreg.losses import SparseCategoricalCrossentropy
model = keras.Sequential([keras.Input((4,)), DropConnectDense(3, rate=0.5)])
model.compile("adam", SparseCategoricalCrossentropy(label_smoothing=0.1))
model.save({str(tmp_path / "m.keras")!r})
"""
    loader = f"""
import kerasreg, numpy as np
model = kerasreg.load_model({str(tmp_path / "m.keras")!r})
print(type(model.layers[0]).__name__, type(model.loss).__name__)
"""
    for code in (script, loader):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [
        "DropConnectDense",
        "SparseCategoricalCrossentropy",
    ]


def test_a_model_saved_before_the_layout_move_loads_with_the_same_outputs():
    # Saved by kerasreg 0.1 (commit 2400449), before the modules moved:
    # DropConnectConv2D, BN with GammaL1Regularizer, WeightNoise,
    # DropConnectDense, compiled with kerasreg's label-smoothing loss.
    model = kerasreg.load_model(DATA / "legacy_v0_1.keras")
    inputs = np.load(DATA / "legacy_v0_1_inputs.npy")
    expected = np.load(DATA / "legacy_v0_1_outputs.npy")
    np.testing.assert_allclose(model.predict(inputs, verbose=0), expected, atol=1e-6)
    names = [type(layer).__name__ for layer in model.layers]
    assert names[1:3] == ["DropConnectConv2D", "BatchNormalization"]
    assert type(model.layers[2].gamma_regularizer).__name__ == "GammaL1Regularizer"
    assert type(model.loss).__name__ == "SparseCategoricalCrossentropy"


def test_configs_saved_before_the_layout_move_deserialize():
    kerasreg.saving.register_all()
    saved = json.loads((DATA / "legacy_v0_1_objects.json").read_text())
    for name, config in saved.items():
        # The stored "module" is the old path; the registered name decides.
        assert config["registered_name"] == f"kerasreg>{name}"
        obj = keras.saving.deserialize_keras_object(config)
        assert type(obj).__name__ == name
    schedule = keras.saving.deserialize_keras_object(saved["PolynomialDecay"])
    assert (schedule.initial_sparsity, schedule.final_sparsity) == (0.1, 0.8)
