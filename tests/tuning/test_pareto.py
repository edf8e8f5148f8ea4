"""pareto_front and pareto_search: the non-dominated trials, measured."""

import os

import pytest

from kerasreg import tuning


def test_pareto_front_keeps_exactly_the_non_dominated_points():
    points = [
        {"id": 0, "val_accuracy": 0.90, "params": 1000},
        {"id": 1, "val_accuracy": 0.85, "params": 400},
        {"id": 2, "val_accuracy": 0.80, "params": 500},  # dominated by 1
        {"id": 3, "val_accuracy": 0.95, "params": 3000},
        {"id": 4, "val_accuracy": 0.90, "params": 1200},  # dominated by 0
    ]
    front = tuning.pareto_front(points, {"val_accuracy": "max", "params": "min"})
    assert [p["id"] for p in front] == [1, 0, 3]
    with pytest.raises(ValueError, match="Expected 'max' or 'min'. Received: 'up'"):
        tuning.pareto_front(points, {"val_accuracy": "up"})


def test_pareto_search_over_width_reports_the_front(digits, tmp_path):
    result = tuning.pareto_search(
        "cnn-tiny",
        digits,
        max_trials=2,
        epochs=1,
        verbose=0,
        directory=str(tmp_path / "search"),
        out=str(tmp_path),
    )
    assert len(result.points) == 2
    params = [p["params"] for p in result.points]
    assert len(set(params)) == 2  # different widths, different sizes
    assert result.front == tuning.pareto_front(result.points, result.objectives)
    smallest = min(result.points, key=lambda p: p["params"])
    assert smallest in result.front  # the smallest model is never dominated on size
    for name in ("pareto.csv", "pareto.png", "front.txt"):
        assert os.path.getsize(tmp_path / name) > 0


def test_pareto_search_over_slimming_measures_the_shrunk_model(digits, tmp_path):
    from kerasreg import models, report, training

    full = report.count_params(models.build("cnn-tiny", digits.input_shape, 10))

    def build(hp):  # Adam moves γ about lr per step: 36 steps of 0.05 reach 0
        hp.Float("slimming_l1", 0.05, 0.1, sampling="log")
        model = models.build("cnn-tiny", digits.input_shape, digits.num_classes)
        return training.compile_model(model, 0.05)

    result = tuning.pareto_search(
        build,
        digits,
        max_trials=1,
        epochs=1,
        batch_size=32,
        verbose=0,
        directory=str(tmp_path),
    )
    (point,) = result.points
    assert 0.05 <= point["slimming_l1"] <= 0.1
    assert point["params"] < full
    assert result.front == [point]
