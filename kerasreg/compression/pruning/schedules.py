"""Pruning schedules in tensorflow-model-optimization's vocabulary.

A schedule says *when* to prune and *how much*: `schedule(step)` returns
`(should_prune, sparsity)`, exactly as `tfmot.sparsity.keras` schedules do,
with the same arguments, the same validation and the same float32 values at
every step. A tfmot user moves a schedule over by changing the import.

The `MagnitudePruning` callback (`kerasreg.compression.pruning`) asks the
schedule at each training step (the optimizer's `iterations` before the
update, counted from 0 like tfmot's pruning step).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["PruningSchedule", "ConstantSparsity", "PolynomialDecay"]


def _check_sparsity(name, value):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Expected 0 <= {name} < 1. Received: {name}={value}")


def _check_steps(begin_step, end_step, frequency, allow_forever):
    if begin_step < 0:
        raise ValueError(f"Expected begin_step >= 0. Received: begin_step={begin_step}")
    if end_step == -1 and not allow_forever:
        raise ValueError(
            "Expected an end_step >= begin_step; this schedule needs an end "
            "to decay towards. Received: end_step=-1"
        )
    if end_step != -1 and end_step < 0:
        raise ValueError(
            f"Expected end_step >= 0, or -1 to prune until training ends. "
            f"Received: end_step={end_step}"
        )
    if end_step != -1 and begin_step > end_step:
        raise ValueError(
            f"Expected begin_step <= end_step. Received: begin_step={begin_step}, "
            f"end_step={end_step}. Swap them, or pass end_step=-1 to prune "
            "until training ends."
        )
    if frequency <= 0:
        raise ValueError(f"Expected frequency > 0. Received: frequency={frequency}")


class PruningSchedule:
    """Base class of pruning schedules: when to prune, and to what sparsity.

    Subclasses set `begin_step`, `end_step` and `frequency` and implement
    `_sparsity(step)` (a float32 tensor). Masks are recomputed at every step
    in `[begin_step, end_step]` (`end_step=-1`: no end) that is a multiple
    of `frequency` steps after `begin_step`, as in tfmot.
    """

    begin_step: int
    end_step: int
    frequency: int

    def __call__(self, step):
        """Returns `(should_prune, sparsity)`: a bool and a float32 tensor.

        Args:
            step: the training step (an int or an integer tensor).
        """
        step = ops.convert_to_tensor(step, dtype="int64")
        in_range = ops.greater_equal(step, self.begin_step)
        if self.end_step >= 0:
            in_range = ops.logical_and(in_range, ops.less_equal(step, self.end_step))
        turn = ops.equal(ops.mod(step - self.begin_step, self.frequency), 0)
        return ops.logical_and(in_range, turn), self._sparsity(step)

    def is_pruning_step(self, step):
        """Python-side twin of `__call__(step)[0]` for an integer `step`."""
        step = int(step)
        if step < self.begin_step:
            return False
        if self.end_step >= 0 and step > self.end_step:
            return False
        return (step - self.begin_step) % self.frequency == 0

    def sparsity_at(self, step):
        """The target sparsity at `step`, as a Python float.

        Computed in NumPy float32 (no TensorFlow call, so the pruning
        callback can ask at any step for free); it equals `self(step)[1]`
        to within one float32 rounding.
        """
        return float(self._sparsity_numpy(int(step)))

    def _sparsity(self, step):
        raise NotImplementedError

    def _sparsity_numpy(self, step):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kerasreg")
class ConstantSparsity(PruningSchedule):
    """Prune to one sparsity every `frequency` steps from `begin_step`.

    The same schedule as `tfmot.sparsity.keras.ConstantSparsity`, with the
    same arguments and values.

    Args:
        target_sparsity: fraction of weights set to zero, in `[0, 1)`.
        begin_step: first step at which masks are computed.
        end_step: last step at which masks may be recomputed; `-1` keeps
            pruning until training ends. Defaults to `-1`.
        frequency: steps between mask updates. Defaults to `100`.

    Raises:
        ValueError: if `target_sparsity` is outside `[0, 1)`, a step is
            negative, `begin_step > end_step` or `frequency <= 0`.

    Example:

    >>> schedule = ConstantSparsity(0.8, begin_step=0, frequency=10)
    >>> schedule.is_pruning_step(20), schedule.sparsity_at(20)
    (True, 0.800000011920929)
    """

    def __init__(self, target_sparsity, begin_step, end_step=-1, frequency=100):
        _check_sparsity("target_sparsity", target_sparsity)
        _check_steps(begin_step, end_step, frequency, allow_forever=True)
        self.target_sparsity = target_sparsity
        self.begin_step = begin_step
        self.end_step = end_step
        self.frequency = frequency

    def _sparsity(self, step):
        return ops.convert_to_tensor(self.target_sparsity, dtype="float32")

    def _sparsity_numpy(self, step):
        return np.float32(self.target_sparsity)

    def get_config(self):
        return {
            "target_sparsity": self.target_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
        }


@keras.saving.register_keras_serializable(package="kerasreg")
class PolynomialDecay(PruningSchedule):
    """Raise sparsity along a polynomial from `initial_` to `final_sparsity`.

    `sparsity = final + (initial - final) * (1 - p) ** power` with
    `p = clip((step - begin_step) / (end_step - begin_step), 0, 1)`: fast at
    first, then levelling off, as in Zhu & Gupta (2017) and
    `tfmot.sparsity.keras.PolynomialDecay` (same arguments, same float32
    values).

    Args:
        initial_sparsity: sparsity at `begin_step`, in `[0, 1)`.
        final_sparsity: sparsity from `end_step` on, in `[0, 1)`.
        begin_step: first step at which masks are computed.
        end_step: step at which `final_sparsity` is reached.
        power: exponent of the decay. Defaults to `3`.
        frequency: steps between mask updates. Defaults to `100`.

    Raises:
        ValueError: if a sparsity is outside `[0, 1)`, a step is negative,
            `begin_step >= end_step` or `frequency <= 0`.

    Example:

    >>> schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100)
    >>> round(schedule.sparsity_at(50), 4)
    0.7

    Reference:
        [Zhu & Gupta, 2017](https://arxiv.org/abs/1710.01878)
    """

    def __init__(
        self,
        initial_sparsity,
        final_sparsity,
        begin_step,
        end_step,
        power=3,
        frequency=100,
    ):
        _check_sparsity("initial_sparsity", initial_sparsity)
        _check_sparsity("final_sparsity", final_sparsity)
        _check_steps(begin_step, end_step, frequency, allow_forever=False)
        if begin_step == end_step:
            raise ValueError(
                "Expected begin_step < end_step for a decay. Received: "
                f"begin_step={begin_step}, end_step={end_step}. Use "
                "ConstantSparsity for a single pruning step."
            )
        self.initial_sparsity = initial_sparsity
        self.final_sparsity = final_sparsity
        self.begin_step = begin_step
        self.end_step = end_step
        self.power = power
        self.frequency = frequency

    def _sparsity(self, step):
        # The same float32 operations, in the same order, as tfmot.
        span = ops.convert_to_tensor(self.end_step - self.begin_step, "float32")
        p = ops.divide(ops.cast(step - self.begin_step, "float32"), span)
        p = ops.minimum(1.0, ops.maximum(0.0, p))
        decay = ops.power(1.0 - p, ops.convert_to_tensor(self.power, "float32"))
        scale = ops.convert_to_tensor(
            self.initial_sparsity - self.final_sparsity, "float32"
        )
        return ops.add(ops.multiply(scale, decay), self.final_sparsity)

    def _sparsity_numpy(self, step):
        f32 = np.float32
        p = f32(step - self.begin_step) / f32(self.end_step - self.begin_step)
        p = min(f32(1.0), max(f32(0.0), p))
        decay = np.power(f32(1.0) - p, f32(self.power))
        return f32(self.initial_sparsity - self.final_sparsity) * decay + f32(
            self.final_sparsity
        )

    def get_config(self):
        return {
            "initial_sparsity": self.initial_sparsity,
            "final_sparsity": self.final_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "power": self.power,
            "frequency": self.frequency,
        }
