"""Accuracy-vs-size search: the whole Pareto front, not a weighted sum.

keras-tuner's multi-objective mode sums the objectives into one score.
`ParetoSearch` instead records every objective of every trial (validation
accuracy, parameters, FLOPs, latency) and `pareto_front` keeps the trials no
other trial beats on all of them at once.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile

import keras
import keras_tuner as kt

from kerasreg import _io, metrics, report, training
from kerasreg import data as data_lib
from kerasreg import models as models_lib
from kerasreg.tuning import space as _tuning_space
from kerasreg.tuning.coarse_to_fine import oracle_seed
from kerasreg.tuning.space import training_arrays

__all__ = ["pareto_front", "ParetoSearch", "ParetoResult", "pareto_search"]

OBJECTIVES = {
    "val_accuracy": "max",
    "params": "min",
    "flops": "min",
    "latency_ms": "min",
}


def _directions(objectives):
    unknown = [name for name in objectives if name not in OBJECTIVES]
    if unknown or len(objectives) < 2:
        raise ValueError(
            f"Expected two or more objectives among {', '.join(OBJECTIVES)}. "
            f"Received: objectives={list(objectives)}"
        )
    return {name: OBJECTIVES[name] for name in objectives}


def _dominates(a, b, directions):
    better = False
    for name, direction in directions.items():
        sign = 1 if direction == "max" else -1
        if sign * a[name] < sign * b[name]:
            return False
        if sign * a[name] > sign * b[name]:
            better = True
    return better


def pareto_front(points, objectives):
    """The points that no other point dominates.

    A point dominates another when it is at least as good on every
    objective and strictly better on one.

    Args:
        points: a list of dicts holding a value for each objective.
        objectives: a dict `{name: "max" | "min"}`.

    Returns:
        The non-dominated points, sorted by the first `"min"` objective
        (by the first objective when all are `"max"`).

    Example:

    >>> points = [{"acc": 0.9, "params": 100}, {"acc": 0.8, "params": 50},
    ...           {"acc": 0.7, "params": 80}]
    >>> pareto_front(points, {"acc": "max", "params": "min"})
    [{'acc': 0.8, 'params': 50}, {'acc': 0.9, 'params': 100}]
    """
    for direction in objectives.values():
        if direction not in ("max", "min"):
            raise ValueError(f"Expected 'max' or 'min'. Received: {direction!r}")
    front = [p for p in points if not any(_dominates(q, p, objectives) for q in points)]
    key = next((n for n, d in objectives.items() if d == "min"), next(iter(objectives)))
    return sorted(front, key=lambda p: p[key])


class ParetoSearch(kt.Tuner):
    """Random search that measures accuracy and size of every trial.

    Each trial builds the hypermodel, trains it on the data passed to
    `search` and reports `val_accuracy` (inference-mode accuracy on
    `validation_data` after training), `params`, `flops` and, when asked,
    `latency_ms` (batch 1, median). If the trial has a `slimming_l1`
    hyperparameter, training adds
    `kerasreg.compression.NetworkSlimming(l1, freeze_from_epoch=0)` and the
    model is measured after `kerasreg.compression.shrink`.

    Args:
        hypermodel: a `build(hp)` function returning a compiled model.
        objectives: names among `"val_accuracy"`, `"params"`, `"flops"`,
            `"latency_ms"`. Defaults to `("val_accuracy", "params")`.
        max_trials: trials to run. Defaults to `8`.
        seed: sampling seed. Defaults to `None`.
        **kwargs: Passed to `keras_tuner.Tuner`.
    """

    def __init__(
        self,
        hypermodel,
        objectives=("val_accuracy", "params"),
        max_trials=8,
        seed=None,
        **kwargs,
    ):
        self.objectives = _directions(objectives)
        oracle = kt.oracles.RandomSearchOracle(
            objective=kt.Objective("val_accuracy", "max"),
            max_trials=max_trials,
            seed=seed,
        )
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial, x, y, validation_data, callbacks=(), **fit_kwargs):
        hp = trial.hyperparameters
        keras.backend.clear_session()
        model = self.hypermodel.build(hp)
        callbacks = list(callbacks)
        l1 = hp.values.get("slimming_l1")
        if l1 is not None:
            from kerasreg.compression.slimming.network_slimming import NetworkSlimming

            callbacks.append(NetworkSlimming(l1, freeze_from_epoch=0))
        model.fit(
            x, y, validation_data=validation_data, callbacks=callbacks, **fit_kwargs
        )
        if l1 is not None:
            from kerasreg.compression.surgery.rebuild import shrink

            model = shrink(model)
        scores = {
            "val_accuracy": training.evaluate_accuracy(model, *validation_data),
            "params": metrics.count_params(model),
            "flops": metrics.count_flops(model),
        }
        if "latency_ms" in self.objectives:
            scores["latency_ms"] = 1e3 * metrics.measure_latency(model, repeats=20)
        return scores


@dataclasses.dataclass
class ParetoResult:
    """What `pareto_search` returns.

    Attributes:
        points: one dict per completed trial: `trial`, the hyperparameter
            values and every objective.
        front: the non-dominated points, sorted by size.
        objectives: `{name: "max" | "min"}`.
        tuner: the `ParetoSearch` tuner.
    """

    points: list
    front: list
    objectives: dict
    tuner: kt.Tuner

    def format_front(self):
        """The front as a plain-text table."""
        return report.format_table(self.front)


def pareto_search(
    build_fn,
    data="digits",
    *,
    knob="width",
    objectives=("val_accuracy", "params"),
    max_trials=8,
    epochs=3,
    batch_size=64,
    validation_rate=0.2,
    seed=0,
    directory=None,
    project_name="pareto",
    overwrite=True,
    verbose=1,
    out=None,
):
    """Search a size knob and report the accuracy-vs-size Pareto front.

    Args:
        build_fn: a `build(hp)` function returning a compiled model, or a
            reference model name; with a name, `knob` picks what is searched.
        data: a `kerasreg.data` source or `Dataset`. Defaults to `"digits"`.
        knob: for a model name, `"width"` (a channel multiplier, 1/8 to 1)
            or `"slimming_l1"` (slimming λ, 1e-6 to 1e-3, then `shrink`).
            Defaults to `"width"`.
        objectives: what the front trades off. Defaults to
            `("val_accuracy", "params")`; add or swap in `"latency_ms"` or
            `"flops"`.
        max_trials: random trials. Defaults to `8`.
        epochs: epochs per trial. Defaults to `3`.
        batch_size: batch size. Defaults to `64`.
        validation_rate: held-out fraction of the training set (test data is
            never used). Defaults to `0.2`.
        seed: seed of the split, sampling and weights. Defaults to `0`.
        directory: keras-tuner directory. Defaults to `out/pareto_search` or
            a temporary directory.
        project_name: keras-tuner project name. Defaults to `"pareto"`.
        overwrite: start afresh. Defaults to `True`.
        verbose: `1` prints the front. Defaults to `1`.
        out: directory for `pareto.csv`, `pareto.png` and `front.txt`.

    Returns:
        A `ParetoResult`.

    Raises:
        ValueError: for unknown objectives or knob.
    """
    dataset = data_lib.load(data)
    user_model = build_fn if isinstance(build_fn, str) else None
    if isinstance(build_fn, str):
        build_fn = _knob_hypermodel(build_fn, dataset, knob)
    if directory is None:
        directory = os.path.join(out, "pareto_search") if out else tempfile.mkdtemp()
    tuner = ParetoSearch(
        build_fn,
        objectives=objectives,
        max_trials=max_trials,
        seed=oracle_seed(seed),
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
    )
    (x_train, y_train), val = data_lib.validation_split(
        *training_arrays(dataset, user_model), rate=validation_rate, seed=seed
    )
    keras.utils.set_random_seed(seed)
    tuner.search(
        x_train,
        y_train,
        validation_data=val,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
    )
    points = []
    for trial_id in tuner.oracle.start_order:
        trial = tuner.oracle.trials[trial_id]
        if trial.status != "COMPLETED":
            continue
        point = {"trial": trial_id, **trial.hyperparameters.values}
        for name in tuner.objectives:
            value = float(trial.metrics.get_last_value(name))
            point[name] = int(value) if name in ("params", "flops") else value
        points.append(point)
    result = ParetoResult(
        points, pareto_front(points, tuner.objectives), tuner.objectives, tuner
    )
    if verbose:
        print(result.format_front())
    if out is not None:
        _write_outputs(result, out)
    return result


def _knob_hypermodel(name, dataset, knob):
    if knob == "width":
        return _tuning_space.reference_hypermodel(
            name, dataset.input_shape, dataset.num_classes, knobs=("width",)
        )
    if knob == "slimming_l1":
        if name in models_lib.MODELS:
            base = _tuning_space.reference_hypermodel(
                name, dataset.input_shape, dataset.num_classes, knobs=()
            )
        else:  # the user's .keras model: every trial starts from its weights

            def base(hp):
                shape, classes = dataset.input_shape, dataset.num_classes
                return training.compile_model(models_lib.resolve(name, shape, classes))

        def build(hp):
            _tuning_space.slimming_l1(hp)
            return base(hp)

        return build
    raise ValueError(f"Unknown knob={knob!r}. Expected 'width' or 'slimming_l1'.")


def _write_outputs(result, out):
    from kerasreg.tuning.report import plot_pareto

    os.makedirs(out, exist_ok=True)
    front_ids = {p["trial"] for p in result.front}
    rows = [{**p, "on_front": p["trial"] in front_ids} for p in result.points]
    _io.write_csv(os.path.join(out, "pareto.csv"), rows)
    with _io.atomic_path(os.path.join(out, "front.txt")) as tmp, open(tmp, "w") as f:
        f.write(result.format_front() + "\n")
    plot_pareto(result, os.path.join(out, "pareto.png"))
