"""`kerasreg train`: end to end, and the strategy and precision flags."""

import json

import pytest

from kerasreg import cli, training
from tests.cli.conftest import run_cli


def test_train_end_to_end_writes_artefacts(tmp_path):
    out = tmp_path / "run"
    result = run_cli(
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


def test_bad_precision_and_cli_flags(tmp_path, capsys):
    with pytest.raises(ValueError, match="Received: precision='float8'"):
        training.train("cnn-tiny", "digits", epochs=1, precision="float8")
    code = cli.main(["train", "--replicas", "2", "--out", str(tmp_path)])
    assert code == 1
    assert "--replicas needs --strategy mirrored" in capsys.readouterr().err
