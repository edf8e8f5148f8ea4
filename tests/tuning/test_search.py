"""Tests of kerasreg.tuning: spaces, CoarseToFine, tune, Pareto, reports, CLI.

Most CoarseToFine tests score trials with a synthetic function of the
hyperparameters (keras-tuner's documented black-box `run_trial`), so they
test the oracle without training anything. The training tests use
`cnn-tiny` for one epoch.
"""

import csv
import dataclasses
import math
import os
import re
import subprocess
import sys

import keras
import keras_tuner as kt
import numpy as np
import pytest

from kerasreg import cli, tuning

OBJECTIVE = kt.Objective("val_accuracy", "max")


def _score(values):
    """Peaks at lr = 1e-3, weight decay = 1e-7."""
    lr, wd = values["lr"], values["weight_decay"]
    return 1.0 - ((math.log10(lr) + 3) ** 2 + (math.log10(wd) + 7) ** 2) / 32


def _declare(lr_range):
    def build(hp):  # declares the space; run_trial below never builds a model
        tuning.learning_rate(hp, *lr_range)
        tuning.weight_decay(hp)

    return build


class Synthetic(tuning.CoarseToFine):
    """Scores trials without training; optionally stops after `stop_after`."""

    stop_after = None

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        if (
            self.stop_after is not None
            and len(self.oracle.end_order) >= self.stop_after
        ):
            raise KeyboardInterrupt  # a user pressing Ctrl-C mid-search
        return {"val_accuracy": _score(hp.values)}


def _synthetic(tmp_path, **kwargs):
    settings = dict(
        objective=OBJECTIVE,
        rounds=3,
        trials_per_round=6,
        top_k=2,
        seed=3,
        directory=str(tmp_path),
        project_name="synthetic",
        overwrite=True,
    )
    settings.update(kwargs)
    return Synthetic(_declare(settings.pop("lr_range", (1e-6, 1e-2))), **settings)


def _in_range(value, low, high):
    return low * (1 - 1e-9) <= value <= high * (1 + 1e-9)


# --- search spaces ------------------------------------------------------------


def test_seed_space_is_log_uniform_over_the_seed_ranges():
    hp = kt.HyperParameters()
    tuning.default_space(hp)
    lr, wd = hp._hps["lr"][0], hp._hps["weight_decay"][0]
    assert (lr.min_value, lr.max_value, lr.sampling) == (1e-6, 1e-2, "log")
    assert (wd.min_value, wd.max_value, wd.sampling) == (1e-8, 1e-4, "log")
    logs = np.log10([lr.random_sample(seed) for seed in range(2000)])
    # 10^U(-6, -2): each decade holds a quarter of the samples.
    counts = np.histogram(logs, bins=[-6, -5, -4, -3, -2])[0] / len(logs)
    np.testing.assert_allclose(counts, 0.25, atol=0.04)


def test_knob_helpers_declare_the_documented_ranges():
    hp = kt.HyperParameters()
    tuning.dropout(hp)
    tuning.slimming_l1(hp)
    tuning.temperature(hp)
    tuning.distillation_lambda(hp)
    tuning.sparsity(hp)
    tuning.width(hp)
    declared = {p.name: (p.min_value, p.max_value, p.sampling) for p in hp.space}
    assert declared == {
        "dropout": (0.0, 0.5, "linear"),
        "slimming_l1": (1e-6, 1e-3, "log"),
        "temperature": (1.0, 20.0, "log"),
        "distillation_lambda": (0.0, 1.0, "linear"),
        "sparsity": (0.0, 0.95, "linear"),
        "width": (0.125, 1.0, "log"),
    }


def test_bad_ranges_raise_clear_errors():
    hp = kt.HyperParameters()
    with pytest.raises(
        ValueError, match=r"min_value < max_value for 'lr'.*min_value=0.01"
    ):
        tuning.learning_rate(hp, 1e-2, 1e-2)
    with pytest.raises(ValueError, match=r"Log sampling of 'lr' needs min_value > 0"):
        tuning.learning_rate(hp, 0.0, 1e-2)
    with pytest.raises(
        ValueError, match=r"0 <= min_value < max_value <= 1.0 for 'dropout'"
    ):
        tuning.dropout(hp, 0.2, 1.5)


# --- CoarseToFine ---------------------------------------------------------------


def test_coarse_to_fine_narrows_nested_ranges_around_the_best(tmp_path):
    tuner = _synthetic(tmp_path)
    tuner.search(verbose=0)
    oracle = tuner.oracle
    assert len(oracle.trials) == 18
    history = tuner.range_history
    assert len(history) == 3
    assert history[0] == {"lr": (1e-6, 1e-2), "weight_decay": (1e-8, 1e-4)}
    for before, after in zip(history, history[1:]):
        for name, (low, high) in after.items():
            assert before[name][0] <= low < high <= before[name][1]
    # The log-width shrinks: the last lr range spans less than 2 of 4 decades.
    low, high = history[-1]["lr"]
    assert math.log10(high / low) < 2.0
    # Every trial was sampled inside its round's range.
    for row in tuning.trial_rows(tuner):
        ranges = history[row["round"] - 1]
        assert _in_range(row["lr"], *ranges["lr"])
        assert _in_range(row["weight_decay"], *ranges["weight_decay"])
    # The final ranges contain the best trial.
    best = oracle.get_best_trials(1)[0].hyperparameters.values
    assert _in_range(best["lr"], *history[-1]["lr"])
    assert _in_range(best["weight_decay"], *history[-1]["weight_decay"])
    # Narrowing pays off: the last round's mean beats the first round's.
    scores = {r: [] for r in (1, 3)}
    for row in tuning.trial_rows(tuner):
        scores.get(row["round"], []).append(row["score"])
    assert np.mean(scores[3]) > np.mean(scores[1]) + 0.05


def test_narrowing_is_the_top_k_span_plus_margin(tmp_path):
    tuner = _synthetic(tmp_path, rounds=2, top_k=2, margin=0.1)
    tuner.search(verbose=0)
    first = [tuner.oracle.trials[i] for i in tuner.oracle.start_order[:6]]
    top = sorted(first, key=lambda t: t.score, reverse=True)[:2]
    logs = sorted(math.log10(t.hyperparameters.values["lr"]) for t in top)
    expected = (max(-6, logs[0] - 0.4), min(-2, logs[1] + 0.4))  # 0.1 * 4 decades
    low, high = tuner.range_history[1]["lr"]
    np.testing.assert_allclose(np.log10([low, high]), expected, atol=1e-9)


def test_interrupted_search_resumes_to_the_same_trials(tmp_path):
    reference = _synthetic(tmp_path / "ref")
    reference.search(verbose=0)
    expected = [t["lr"] for t in tuning.trial_rows(reference)]

    interrupted = _synthetic(tmp_path / "run")
    interrupted.stop_after = 8
    with pytest.raises(KeyboardInterrupt):
        interrupted.search(verbose=0)
    assert len(interrupted.oracle.end_order) == 8

    resumed = _synthetic(tmp_path / "run", overwrite=False)
    resumed.search(verbose=0)
    rows = tuning.trial_rows(resumed)
    assert len(rows) == 18
    assert all(row["status"] == "COMPLETED" for row in rows)
    np.testing.assert_allclose([row["lr"] for row in rows], expected)
    assert resumed.range_history == reference.range_history


def test_resume_uses_the_current_space_and_settings_not_stale_ones(tmp_path):
    first = _synthetic(tmp_path, rounds=2, top_k=1)
    first.stop_after = 7
    with pytest.raises(KeyboardInterrupt):
        first.search(verbose=0)
    first_history = first.range_history

    # keras-tuner#803: a reloaded oracle keeps its old settings and space.
    # Here the wider lr range and the larger top_k / margin take effect.
    resumed = _synthetic(
        tmp_path, lr_range=(1e-6, 1e-1), rounds=3, top_k=3, margin=0.2, overwrite=False
    )
    history = resumed.range_history
    assert history[0]["lr"] == (1e-6, 1e-1)
    assert history[1] != first_history[1]
    top = resumed.oracle._top(
        [resumed.oracle.trials[i] for i in resumed.oracle.start_order[:6]]
    )
    assert len(top) == 3
    resumed.search(verbose=0)
    assert len(resumed.oracle.trials) == 18
    assert len(resumed.range_history) == 3


def test_coarse_to_fine_bad_settings():
    with pytest.raises(ValueError, match=r"1 <= top_k <= trials_per_round.*top_k=5"):
        tuning.CoarseToFineOracle(OBJECTIVE, trials_per_round=4, top_k=5)
    with pytest.raises(ValueError, match=r"rounds >= 1. Received: rounds=0"):
        tuning.CoarseToFineOracle(OBJECTIVE, rounds=0)
    with pytest.raises(ValueError, match=r"0 <= margin < 1. Received: margin=1.5"):
        tuning.CoarseToFineOracle(OBJECTIVE, margin=1.5)


# --- reports --------------------------------------------------------------------


def test_reports_best_lines_csv_and_scatter(tmp_path):
    tuner = _synthetic(tmp_path, rounds=2)
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


# --- tune, Pareto search, CLI (real training) -------------------------------------


def _fast_build(hp):
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    lr = tuning.learning_rate(hp, 1e-2, 1e-1)
    model.compile(
        keras.optimizers.Adam(lr),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_tune_scores_on_validation_only_and_retrains_the_best(digits, tmp_path):
    no_test = dataclasses.replace(digits, x_test=None, y_test=None)
    result = tuning.tune(
        _fast_build,
        no_test,
        max_trials=2,
        rounds=2,
        top_k=1,
        epochs=1,
        final_epochs=3,
        directory=str(tmp_path),
        verbose=0,
    )
    assert result.val_accuracy > 0.8  # chance is 0.1
    assert result.search_score > 0.5
    assert result.tuner.oracle.trial_round(result.tuner.oracle.start_order[1]) == 2
    assert _in_range(result.hyperparameters["lr"], *result.range_history[-1]["lr"])
    assert len(result.range_history) == 2
    # 20% of the 1437 training images were held out for scoring.
    assert result.tuner.oracle.get_best_trials(1)[0].status == "COMPLETED"
    assert result.best_lines(1).startswith("Best-1(val acc:")


def test_tune_bad_input(digits, tmp_path):
    with pytest.raises(ValueError, match=r"Unknown tuner: tuner='grid'"):
        tuning.tune(_fast_build, digits, tuner="grid", directory=str(tmp_path))
    with pytest.raises(ValueError, match=r"max_trials=7 does not split into rounds=3"):
        tuning.tune(_fast_build, digits, max_trials=7, directory=str(tmp_path))
    with pytest.raises(ValueError, match=r"1 <= top_k <= trials_per_round"):
        tuning.tune(
            _fast_build,
            digits,
            max_trials=4,
            rounds=2,
            top_k=3,
            directory=str(tmp_path),
        )
    with pytest.raises(
        kt.errors.FatalValueError, match=r"does not log objective='val_auc'"
    ):
        tuning.tune(
            _fast_build,
            digits,
            tuner="random",
            objective=kt.Objective("val_auc", "max"),
            max_trials=1,
            epochs=1,
            directory=str(tmp_path),
            verbose=0,
        )


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


# --- distributed ----------------------------------------------------------------


@pytest.mark.slow
def test_distributed_chief_and_two_workers(tmp_path):
    example = os.path.join(
        os.path.dirname(__file__), "..", "..", "examples", "distributed_tuning.py"
    )
    done = subprocess.run(
        [
            sys.executable,
            example,
            "--out",
            str(tmp_path),
            "--trials",
            "4",
            "--rounds",
            "2",
            "--top-k",
            "1",
            "--epochs",
            "1",
            "--final-epochs",
            "1",
            "--timeout",
            "240",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "chief: 4 trials completed" in done.stdout
    finished = re.findall(r"\[(tuner\d)\] finished trial (\d+)", done.stdout)
    assert sorted(int(t) for _, t in finished) == [0, 1, 2, 3]
    assert {worker for worker, _ in finished} == {"tuner0", "tuner1"}
    with open(tmp_path / "trials.csv") as f:
        rounds = [row["round"] for row in csv.DictReader(f)]
    assert rounds == ["1", "1", "2", "2"]


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
