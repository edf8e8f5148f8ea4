"""`kerasreg tune`."""

import os
import re

from kerasreg import cli


def test_cli_tune_prints_progress_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(
        [
            "tune",
            "--model",
            "cnn-tiny",
            "--trials",
            "1",
            "--rounds",
            "1",
            "--top-k",
            "1",
            "--epochs",
            "1",
            "--final-epochs",
            "1",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "Trial 1/1 round 1/1: val_accuracy=" in printed
    assert re.search(r"^Best-1\(val acc:\d\.\d\d\) \| lr:", printed, re.M)
    for name in ("best.txt", "trials.csv", "search.png", "model.keras", "result.json"):
        assert os.path.getsize(out / name) > 0
    assert cli.main(["tune", "--tuner", "grid", "--out", str(out)]) == 1
    assert "unknown tuner 'grid'" in capsys.readouterr().err
