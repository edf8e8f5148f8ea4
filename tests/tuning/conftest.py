"""Shared by the tuning tests: a CoarseToFine tuner that trains nothing.

`Synthetic` scores trials with a function of the hyperparameters
(keras-tuner's documented black-box `run_trial`), so the tests of the
oracle, its resume and its reports train no model.
"""

import math

import keras_tuner as kt

from kerasreg import tuning

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


def synthetic(tmp_path, **kwargs):
    """A `Synthetic` tuner: 3 rounds of 6 trials, top 2, seed 3; `kwargs` override."""
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


def in_range(value, low, high):
    """Whether `low <= value <= high`, to float rounding."""
    return low * (1 - 1e-9) <= value <= high * (1 + 1e-9)
