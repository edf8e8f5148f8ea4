"""`CoarseToFine`: the search notes' narrowing random search as a keras-tuner `Tuner`.

The search notes search hyperparameters in rounds: sample at random on a log scale,
train briefly, score on a validation split, narrow the ranges to where the
good values lie, and repeat. keras-tuner's `RandomSearch` samples one fixed
space; this module adds the narrowing through keras-tuner's documented hooks
(`Oracle.populate_space`, `Oracle.create_trial`) and keeps its loop,
checkpointing, retries and chief/worker mode.

Ranges live in each hyperparameter's own sampling scale (log for
`sampling="log"`), as the `[0, 1]` "probabilities" keras-tuner maps values
through. They are never stored as state to reload: on every request they are
recomputed from the completed trials and the *current* search space and
settings, so a search resumed with `overwrite=False` cannot pick up stale
ranges (keras-team/keras-tuner#803 reports the stock oracle does).
"""

from __future__ import annotations

import math
import numbers
import random
import time

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

__all__ = ["CoarseToFine", "CoarseToFineOracle", "oracle_seed"]

_RUNNING = trial_module.TrialStatus.RUNNING
_IDLE = trial_module.TrialStatus.IDLE
_STOPPED = trial_module.TrialStatus.STOPPED
_COMPLETED = trial_module.TrialStatus.COMPLETED
_NUMERIC = (kt.engine.hyperparameters.Float, kt.engine.hyperparameters.Int)
_TOP = 1.0 - 1e-9  # prob_to_value expects [0, 1)


class CoarseToFineOracle(kt.Oracle):
    """Random search in rounds that narrows every numeric range between rounds.

    Round 1 samples each hyperparameter over its whole range, log-uniformly
    where it was declared with `sampling="log"`. After each round every
    `Float` and `Int` range shrinks to the span of the `top_k` best completed
    trials so far, padded on each side by `margin` times the current width
    (in the sampling scale) and clipped to the current range, so ranges are
    nested and always contain the best trial. `Choice` and `Boolean`
    hyperparameters keep their full range.

    A round starts only when every trial of the previous round has ended; in
    distributed tuning a worker that asks early waits.

    Args:
        objective: the metric to rank trials by, e.g. `"val_accuracy"`.
        rounds: number of rounds. Defaults to `3`.
        trials_per_round: trials sampled in each round. Defaults to `10`.
        top_k: trials whose span defines the next range. Defaults to `3`.
        margin: padding on each side, as a fraction of the current range
            width in the sampling scale. Defaults to `0.2`.
        seed: random seed. Defaults to `None`.
        **kwargs: Passed to `keras_tuner.Oracle`.

    Raises:
        ValueError: for `rounds`, `trials_per_round` or `margin` out of range,
            or `top_k` larger than `trials_per_round`.
    """

    def __init__(
        self,
        objective=None,
        rounds=3,
        trials_per_round=10,
        top_k=3,
        margin=0.2,
        seed=None,
        **kwargs,
    ):
        _check_settings(rounds, trials_per_round, top_k, margin)
        kwargs.pop("max_trials", None)
        super().__init__(
            objective=objective,
            max_trials=rounds * trials_per_round,
            seed=seed,
            **kwargs,
        )
        self.rounds = rounds
        self.trials_per_round = trials_per_round
        self.top_k = top_k
        self.margin = float(margin)
        # The space as declared now; a reload must not replace it (see #803).
        self._declared = self.hyperparameters.copy()

    # --- keras-tuner hooks ------------------------------------------------

    def populate_space(self, trial_id):
        """Sample one trial inside the current round's ranges."""
        index = len(self.start_order)
        round_index = index // self.trials_per_round
        if not self._rounds_ended(round_index):
            time.sleep(0.1)  # a worker asked before the round ended
            return {"status": _IDLE, "values": None}
        ranges = self._prob_ranges()[round_index]
        values = self._sample(ranges)
        if values is None:
            return {"status": _STOPPED, "values": None}
        return {"status": _RUNNING, "values": values}

    @kt.synchronized
    def create_trial(self, tuner_id):
        """Keep a worker waiting while others finish the last trials.

        Without this, the first worker to find the budget spent gets
        `STOPPED` while another still trains, and the chief then polls for
        20 s before it exits.
        """
        if (
            self.max_trials
            and tuner_id not in self.ongoing_trials
            and len(self.trials) >= self.max_trials
            and not self._retry_queue
            and any(other != tuner_id for other in self.ongoing_trials)
        ):
            time.sleep(0.1)
            return trial_module.Trial(self.get_space(), status=_IDLE)
        return super().create_trial(tuner_id)

    def get_state(self):
        state = super().get_state()
        # Written for people reading oracle.json; never read back.
        state["coarse_to_fine"] = {
            "rounds": self.rounds,
            "trials_per_round": self.trials_per_round,
            "top_k": self.top_k,
            "margin": self.margin,
            "range_history": self.range_history,
        }
        return state

    def set_state(self, state):
        super().set_state(state)
        # Settings are the ones given now (never read from `state`); the
        # space given now replaces the saved definitions (keras-tuner#803).
        # `CoarseToFine.reload` does the same for the hypermodel's space.
        self.redeclare(self._declared)

    def redeclare(self, hyperparameters):
        """Replace same-named definitions in the space by these; add new ones.

        Args:
            hyperparameters: a `keras_tuner.HyperParameters` declared now.
        """
        fresh = {hp.name: hp for hp in hyperparameters.space}
        space = kt.HyperParameters()
        space.merge([fresh.pop(hp.name, hp) for hp in self.hyperparameters.space])
        space.merge(list(fresh.values()))
        self.hyperparameters = space

    # --- ranges -----------------------------------------------------------

    @property
    def range_history(self):
        """Ranges of each round so far: a list of `{name: (low, high)}`.

        Entry 0 is the declared range; entry `r` the range round `r + 1`
        samples from. Only `Float` and `Int` hyperparameters appear.
        """
        space = self._numeric_space()
        return [
            {
                name: (_value(space[name], lo), _value(space[name], hi))
                for name, (lo, hi) in ranges.items()
            }
            for ranges in self._prob_ranges()
        ]

    def trial_round(self, trial_id):
        """The 1-based round a trial was sampled in."""
        return self.start_order.index(trial_id) // self.trials_per_round + 1

    def _numeric_space(self):
        return {
            hp.name: hp for hp in self.hyperparameters.space if isinstance(hp, _NUMERIC)
        }

    def _rounds_ended(self, round_index):
        needed = self.start_order[: round_index * self.trials_per_round]
        ended = set(self.end_order)
        return all(trial_id in ended for trial_id in needed)

    def _prob_ranges(self):
        """Ranges in sampling scale for every round that can start now."""
        space = self._numeric_space()
        ranges = {name: (0.0, 1.0) for name in space}
        history = [ranges]
        completed = []
        for round_index in range(self.rounds - 1):
            ids = self.start_order[
                round_index * self.trials_per_round : (round_index + 1)
                * self.trials_per_round
            ]
            if len(ids) < self.trials_per_round or not self._rounds_ended(
                round_index + 1
            ):
                break
            completed += [
                self.trials[i] for i in ids if self.trials[i].status == _COMPLETED
            ]
            ranges = self._narrow(ranges, self._top(completed), space)
            history.append(ranges)
        return history

    def _top(self, trials):
        trials = [t for t in trials if t.score is not None and not math.isnan(t.score)]
        reverse = self.objective.direction == "max"
        return sorted(trials, key=lambda t: t.score, reverse=reverse)[: self.top_k]

    def _narrow(self, ranges, top, space):
        if not top:
            return ranges
        narrowed = {}
        for name, (lo, hi) in ranges.items():
            probs = [
                min(
                    max(space[name].value_to_prob(t.hyperparameters.values[name]), 0), 1
                )
                for t in top
                if name in t.hyperparameters.values
            ]
            if not probs:
                narrowed[name] = (lo, hi)
                continue
            pad = self.margin * (hi - lo)
            narrowed[name] = (max(lo, min(probs) - pad), min(hi, max(probs) + pad))
        return narrowed

    def _sample(self, ranges):
        """Values for the active hyperparameters, or `None` when exhausted."""
        for _ in range(self._max_collisions + 1):
            hps = kt.HyperParameters()
            for hp in self.hyperparameters.space:
                hps.merge([hp])
                if not hps.is_active(hp):
                    continue
                rng = random.Random(self._seed_state)
                self._seed_state += 1
                if hp.name in ranges:
                    lo, hi = ranges[hp.name]
                    prob = lo + (hi - lo) * rng.random()
                    hps.values[hp.name] = hp.prob_to_value(min(prob, _TOP))
                else:
                    hps.values[hp.name] = hp.random_sample(rng.randint(0, 2**31))
            if not self._duplicate(hps.values):
                return hps.values
        return None


def oracle_seed(seed):
    """The keras-tuner oracle seed for a kerasreg `seed`.

    keras-tuner takes `seed=0` as "unseeded", and oracles seeded `s` and
    `s + 1` sample the same sequence shifted by one value. Spacing the seeds
    makes kerasreg's seeds 0, 1, 2 independent searches.
    """
    return 1 + 9973 * int(seed)


def _value(hp, prob):
    if prob >= 1.0:
        return hp.max_value
    return hp.prob_to_value(prob)


def _check_settings(rounds, trials_per_round, top_k, margin):
    if not isinstance(rounds, numbers.Integral) or rounds < 1:
        raise ValueError(f"Expected an integer rounds >= 1. Received: rounds={rounds}")
    if not isinstance(trials_per_round, numbers.Integral) or trials_per_round < 1:
        raise ValueError(
            "Expected an integer trials_per_round >= 1. "
            f"Received: trials_per_round={trials_per_round}"
        )
    if not isinstance(top_k, numbers.Integral) or not 1 <= top_k <= trials_per_round:
        raise ValueError(
            f"Expected 1 <= top_k <= trials_per_round. Received: top_k={top_k}, "
            f"trials_per_round={trials_per_round}. Lower top_k or sample more "
            "trials per round."
        )
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"Expected 0 <= margin < 1. Received: margin={margin}")


class CoarseToFine(kt.Tuner):
    """A keras-tuner `Tuner` running the search notes' coarse-to-fine random search.

    It is `keras_tuner.RandomSearch` with a `CoarseToFineOracle`: `rounds`
    rounds of `trials_per_round` random trials (log-uniform for
    hyperparameters declared with `sampling="log"`), each range narrowed to
    the top-k span after every round. The budget is
    `rounds * trials_per_round` trials. `range_history` records every round's
    ranges. A search interrupted and restarted with `overwrite=False` picks up
    its completed trials and finishes the budget, recomputing the ranges from
    the space and settings given now.

    Args:
        hypermodel: a `keras_tuner.HyperModel` or a `build(hp)` function
            returning a compiled model.
        objective: metric to maximise or minimise, e.g. `"val_accuracy"`.
        rounds: number of rounds. Defaults to `3`.
        trials_per_round: trials per round. Defaults to `10`.
        top_k: best trials whose span becomes the next range. Defaults
            to `3`.
        margin: padding on each side as a fraction of the current width in
            the sampling scale. Defaults to `0.2`.
        seed: random seed of the sampling. Defaults to `None`.
        hyperparameters: an optional `keras_tuner.HyperParameters` declaring
            (part of) the space up front.
        **kwargs: Passed to `keras_tuner.Tuner` (`directory`,
            `project_name`, `overwrite`, ...).

    Raises:
        ValueError: for bad `rounds`, `trials_per_round`, `top_k` or
            `margin`.

    Example:

    >>> def build(hp):
    ...     lr = hp.Float("lr", 1e-6, 1e-2, sampling="log")
    ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    ...     model.compile(keras.optimizers.Adam(lr), "mse")
    ...     return model
    >>> tuner = CoarseToFine(build, objective="val_loss", rounds=2,
    ...                      trials_per_round=3, top_k=1, directory="/tmp/c2f")

    Reference:
        Bergstra & Bengio, Random search for hyper-parameter optimization,
        JMLR 2012.
    """

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        rounds=3,
        trials_per_round=10,
        top_k=3,
        margin=0.2,
        seed=None,
        hyperparameters=None,
        **kwargs,
    ):
        oracle = CoarseToFineOracle(
            objective=objective,
            rounds=rounds,
            trials_per_round=trials_per_round,
            top_k=top_k,
            margin=margin,
            seed=seed,
            hyperparameters=hyperparameters,
            max_retries_per_trial=kwargs.pop("max_retries_per_trial", 0),
            max_consecutive_failed_trials=kwargs.pop(
                "max_consecutive_failed_trials", 3
            ),
        )
        super().__init__(oracle, hypermodel, **kwargs)

    @property
    def range_history(self):
        """The oracle's `range_history`: one `{name: (low, high)}` per round."""
        return self.oracle.range_history

    def reload(self):
        """Reload the trials, then take the space the hypermodel declares now.

        keras-tuner keeps the saved space on reload, so a changed range in
        `build(hp)` would be ignored (keras-team/keras-tuner#803). Here the
        hypermodel is built once on an empty `HyperParameters` and its
        definitions replace the saved ones; the ranges of every round are
        then recomputed from the completed trials.
        """
        super().reload()
        if self._is_worker() or self.hypermodel is None:
            return
        declared = kt.HyperParameters()
        self.hypermodel.declare_hyperparameters(declared)
        self.hypermodel.build(declared)
        self.oracle.redeclare(declared)
        self._populate_initial_space()  # conditional branches, as on a fresh start
