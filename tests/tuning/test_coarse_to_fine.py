"""CoarseToFine: ranges narrowed round by round, resume, bad settings.

The tuner scores trials with a synthetic function (`Synthetic` in
tests/tuning/conftest.py), so these tests train nothing.
"""

import math

import numpy as np
import pytest

from kerasreg import tuning
from tests.tuning.conftest import OBJECTIVE, in_range, synthetic


def test_coarse_to_fine_narrows_nested_ranges_around_the_best(tmp_path):
    tuner = synthetic(tmp_path)
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
        assert in_range(row["lr"], *ranges["lr"])
        assert in_range(row["weight_decay"], *ranges["weight_decay"])
    # The final ranges contain the best trial.
    best = oracle.get_best_trials(1)[0].hyperparameters.values
    assert in_range(best["lr"], *history[-1]["lr"])
    assert in_range(best["weight_decay"], *history[-1]["weight_decay"])
    # Narrowing pays off: the last round's mean beats the first round's.
    scores = {r: [] for r in (1, 3)}
    for row in tuning.trial_rows(tuner):
        scores.get(row["round"], []).append(row["score"])
    assert np.mean(scores[3]) > np.mean(scores[1]) + 0.05


def test_narrowing_is_the_top_k_span_plus_margin(tmp_path):
    tuner = synthetic(tmp_path, rounds=2, top_k=2, margin=0.1)
    tuner.search(verbose=0)
    first = [tuner.oracle.trials[i] for i in tuner.oracle.start_order[:6]]
    top = sorted(first, key=lambda t: t.score, reverse=True)[:2]
    logs = sorted(math.log10(t.hyperparameters.values["lr"]) for t in top)
    expected = (max(-6, logs[0] - 0.4), min(-2, logs[1] + 0.4))  # 0.1 * 4 decades
    low, high = tuner.range_history[1]["lr"]
    np.testing.assert_allclose(np.log10([low, high]), expected, atol=1e-9)


def test_interrupted_search_resumes_to_the_same_trials(tmp_path):
    reference = synthetic(tmp_path / "ref")
    reference.search(verbose=0)
    expected = [t["lr"] for t in tuning.trial_rows(reference)]

    interrupted = synthetic(tmp_path / "run")
    interrupted.stop_after = 8
    with pytest.raises(KeyboardInterrupt):
        interrupted.search(verbose=0)
    assert len(interrupted.oracle.end_order) == 8

    resumed = synthetic(tmp_path / "run", overwrite=False)
    resumed.search(verbose=0)
    rows = tuning.trial_rows(resumed)
    assert len(rows) == 18
    assert all(row["status"] == "COMPLETED" for row in rows)
    np.testing.assert_allclose([row["lr"] for row in rows], expected)
    assert resumed.range_history == reference.range_history


def test_resume_uses_the_current_space_and_settings_not_stale_ones(tmp_path):
    first = synthetic(tmp_path, rounds=2, top_k=1)
    first.stop_after = 7
    with pytest.raises(KeyboardInterrupt):
        first.search(verbose=0)
    first_history = first.range_history

    # keras-tuner#803: a reloaded oracle keeps its old settings and space.
    # Here the wider lr range and the larger top_k / margin take effect.
    resumed = synthetic(
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
