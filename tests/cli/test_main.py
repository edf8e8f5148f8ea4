"""The `kerasreg` command: train end to end and every error path."""

import json
import os
import subprocess
import sys

import pytest

from kerasreg import cli


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "kerasreg.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )


def test_version_and_help():
    from kerasreg import __version__

    result = _run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"kerasreg {__version__}"
    result = _run("--help")
    assert result.returncode == 0 and "train" in result.stdout


def test_train_end_to_end_writes_artefacts(tmp_path):
    out = tmp_path / "run"
    result = _run(
        "train",
        "--data",
        "digits",
        "--model",
        "cnn-tiny",
        "--epochs",
        "2",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "Epoch 2/2" in result.stdout  # Keras's progress output
    for name in ("model.keras", "history.json", "metrics.json", "curves.png"):
        assert (out / name).stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.3  # chance is 0.1
    # cnn-tiny: Conv(8)-BN on 8x8x1, then Dense(10): 80 + 32 + 1,290 + ... weights.
    assert metrics["params"] == 1970
    assert metrics["flops"] == 23680
    assert metrics["latency_ms"] > 0
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    import keras

    model = keras.saving.load_model(out / "model.keras")
    assert model.count_params() == metrics["params"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "--data", "nope", "--model", "cnn"],
            "Unknown data source: source='nope'",
        ),
        (["train", "--model", "lenet"], "unknown model 'lenet'"),
        (
            ["train", "--epochs", "0", "--model", "cnn"],
            "Expected epochs >= 1. Received: epochs=0",
        ),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    code = cli.main([*args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("kerasreg train: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = cli.main(["train", "--model", "cnn", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert code == 1 and "Cannot create the output directory" in err
    assert err.count("\n") == 1


def test_bad_flag_exits_2_without_traceback():
    result = _run("train", "--epochs", "ten", "--out", "x")
    assert result.returncode == 2
    assert (
        "invalid int value: 'ten'" in result.stderr and "Traceback" not in result.stderr
    )


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
