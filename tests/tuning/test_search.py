"""tune: scoring on validation only, bad input, a distributed search."""

import csv
import dataclasses
import os
import re
import subprocess
import sys

import keras
import keras_tuner as kt
import pytest

from kerasreg import tuning
from tests.tuning.conftest import in_range


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
    assert in_range(result.hyperparameters["lr"], *result.range_history[-1]["lr"])
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
