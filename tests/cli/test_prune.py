"""`kerasreg prune`."""

import keras
import pytest

from kerasreg import models
from kerasreg.compression.pruning import kernel_sparsity


def test_cli_prune(tmp_path, digits, capsys):
    import json

    from kerasreg import cli

    path = str(tmp_path / "model.keras")
    models.build("cnn-tiny", digits.input_shape, digits.num_classes).save(path)
    out = tmp_path / "pruned"
    argv = ["prune", "--model", path, "--sparsity", "0.5", "--epochs", "1"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert metrics["gzip_bytes_after"] < metrics["gzip_bytes_before"]
    assert "sparsity" in capsys.readouterr().out
    reloaded = keras.models.load_model(out / "pruned.keras")
    assert kernel_sparsity(reloaded)["sparsity"] == metrics["sparsity"]
    bad = [*argv[:3], "--sparsity", "1.0", "--out", str(out)]
    assert cli.main(bad) == 1
    assert (
        "Expected 0 <= sparsity < 1. Received: sparsity=1.0" in capsys.readouterr().err
    )
