"""A search's progress: one line per trial, and a check on the objective.

`ProgressMixin` turns keras-tuner's per-trial summaries into one line per
trial; `ObjectiveCheck` stops a search at once when the objective metric
is missing from the logs; `is_worker` tells a distributed search's worker
from its chief.
"""

from __future__ import annotations

import math
import os

import keras
import keras_tuner as kt

from kerasreg.tuning.report import _format_values

__all__ = ["ObjectiveCheck", "ProgressMixin", "is_worker"]


def is_worker():
    """Whether this process is a worker of keras-tuner's distributed mode.

    keras-tuner reads `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT` and
    `KERASTUNER_TUNER_ID`; the process whose ID contains `"chief"` serves
    the oracle, every other one runs trials.
    """
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
        "KERASTUNER_TUNER_ID", ""
    )


class ObjectiveCheck(keras.callbacks.Callback):
    """Stop the whole search if the model does not log the objective.

    keras-tuner would otherwise mark each trial invalid and give up after
    three with a long traceback; this fails on the first epoch, naming the
    metrics the model does log.
    """

    def __init__(self, objective):
        super().__init__()
        if isinstance(objective, str):
            self.names = [objective]
        else:  # a keras_tuner Objective or MultiObjective (tuner.oracle.objective)
            self.names = list(
                getattr(objective, "name_to_direction", None) or [objective.name]
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        missing = [name for name in self.names if name not in logs]
        if missing:
            raise kt.errors.FatalValueError(
                f"The model does not log objective={missing[0]!r}. It logs: "
                f"{', '.join(sorted(logs))}. Pick one of those, or compile the "
                "model with that metric and pass validation data."
            )


class ProgressMixin:
    """Print one line per finished trial (set `progress = True`)."""

    progress = False
    trials_run = 0

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.trials_run += 1
        if not self.progress:
            return
        tuner_id = os.environ.get("KERASTUNER_TUNER_ID")
        if is_worker():
            print(f"[{tuner_id}] finished trial {trial.trial_id}", flush=True)
            return
        oracle = self.oracle
        done = len(oracle.end_order)
        total = oracle.max_trials or "?"
        where = ""
        if hasattr(oracle, "trial_round"):
            where = f" round {oracle.trial_round(trial.trial_id)}/{oracle.rounds}"
        score = "failed" if trial.score is None else f"{trial.score:.4f}"
        best = oracle.get_best_trials(1)
        best_score = best[0].score if best and best[0].score is not None else math.nan
        print(
            f"Trial {done}/{total}{where}: {oracle.objective.name}={score} "
            f"(best {best_score:.4f}) | {_format_values(trial.hyperparameters.values)}",
            flush=True,
        )
