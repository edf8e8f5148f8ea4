"""`kerasreg distill`."""

import json
import os

import numpy as np


def test_cli_distill_writes_report(tmp_path, digits, teacher, capsys):
    from kerasreg import cli

    teacher_path = str(tmp_path / "teacher.keras")
    teacher.save(teacher_path)
    small = str(tmp_path / "small.npz")  # a slice of digits keeps the test short
    np.savez(
        small,
        x_train=digits.x_train[:256],
        y_train=digits.y_train[:256],
        x_test=digits.x_test[:128],
        y_test=digits.y_test[:128],
    )
    out = tmp_path / "report"
    argv = ["distill", "--data", small, "--teacher", teacher_path]
    argv += ["--student", "cnn-tiny"]
    argv += ["--epochs", "1", "--seeds", "1", "--temperature", "3", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "student, distilled" in printed and "±" in printed
    assert os.path.isfile(out / "curves.png")
    result = json.loads((out / "report.json").read_text())
    assert len(result["distilled"]["accuracies"]) == 1 and result["scratch"]["std"] == 0
    assert result["teacher"]["params"] == teacher.count_params()
    assert cli.main(["distill", "--teacher", "missing.keras", "--out", str(out)]) == 1
    assert "no such teacher model file" in capsys.readouterr().err
