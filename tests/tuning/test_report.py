"""format_best, write_trials_csv and plot_search on a synthetic search."""

import csv
import os
import re

import pytest

from kerasreg import tuning
from tests.tuning.conftest import synthetic


def test_reports_best_lines_csv_and_scatter(tmp_path):
    tuner = synthetic(tmp_path, rounds=2)
    tuner.search(verbose=0)
    lines = tuning.format_best(tuner, 3).splitlines()
    assert len(lines) == 3
    pattern = (
        r"Best-(\d)\(val acc:(\d\.\d\d)\) \| lr:([0-9.e-]+), weight decay:([0-9.e-]+)"
    )
    parsed = [re.fullmatch(pattern, line) for line in lines]
    assert all(parsed), lines
    best = tuner.oracle.get_best_trials(1)[0]
    assert float(parsed[0].group(3)) == best.hyperparameters.values["lr"]
    assert parsed[0].group(2) == f"{best.score:.2f}"

    path = tuning.write_trials_csv(tuner, str(tmp_path / "trials.csv"))
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12
    assert {"trial", "round", "status", "score", "lr", "weight_decay"} <= set(rows[0])
    assert [r["round"] for r in rows] == ["1"] * 6 + ["2"] * 6

    figure = tuning.plot_search(tuner, str(tmp_path / "search.png"))
    boxes = [p for p in figure.axes[0].patches if p.get_label().startswith("round")]
    assert len(boxes) == 2
    assert os.path.getsize(tmp_path / "search.png") > 5000
    with pytest.raises(ValueError, match="No hyperparameter named 'dropout'"):
        tuning.plot_search(tuner, x="dropout")
