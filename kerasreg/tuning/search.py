"""Hyperparameter search on keras-tuner, the way the search notes describe it.

The search notes: sample each hyperparameter at random on a log scale (its example:
lr = 10^U(-6, -2), weight decay = 10^U(-8, -4)), train each sample a few
epochs, score it on a validation split (never on test data), narrow the
ranges to where the good values lie, repeat, then pick one value. It prints
`Best-1(val acc:0.85) | lr:0.0092..., weight decay:7.2e-06`.

`tune` splits off validation data, runs a tuner, retrains the best pick
for longer and writes the report.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile

import keras
import keras_tuner as kt

from kerasreg import _io, training
from kerasreg import data as data_lib
from kerasreg._choices import TUNERS
from kerasreg.tuning.coarse_to_fine import CoarseToFine, oracle_seed
from kerasreg.tuning.progress import ObjectiveCheck, ProgressMixin, is_worker
from kerasreg.tuning.report import format_best, plot_search, write_trials_csv
from kerasreg.tuning.space import reference_hypermodel, training_arrays

__all__ = ["tune", "TuneResult", "TUNERS"]


# --- tune -------------------------------------------------------------------


@dataclasses.dataclass
class TuneResult:
    """What `tune` returns.

    Attributes:
        model: the best configuration retrained for `final_epochs`.
        hyperparameters: its values, a dict.
        val_accuracy: the retrained model's accuracy on the validation split.
        search_score: the best trial's objective during the search.
        tuner: the keras-tuner `Tuner`, for `format_best`, `trial_rows`, ...
        range_history: per-round ranges (coarse-to-fine only, else `None`).
    """

    model: keras.Model
    hyperparameters: dict
    val_accuracy: float
    search_score: float
    tuner: kt.Tuner
    range_history: list | None = None

    def best_lines(self, k=5):
        """The search notes' `Best-k(val acc:...) | lr:..., weight decay:...` lines."""
        return format_best(self.tuner, k)


def tune(
    build_fn,
    data="digits",
    *,
    tuner="coarse-to-fine",
    objective="val_accuracy",
    max_trials=30,
    rounds=3,
    top_k=3,
    margin=0.2,
    epochs=3,
    final_epochs=None,
    batch_size=64,
    validation_rate=0.2,
    seed=0,
    callbacks=None,
    directory=None,
    project_name="tune",
    overwrite=True,
    verbose=1,
    out=None,
):
    """Search hyperparameters on a validation split, then retrain the best.

    The training set is split with `kerasreg.data.validation_split`; trials
    train on the first part and are scored on the held-out part. The test
    set is never used. The best hyperparameters are retrained from scratch
    for `final_epochs`.

    Run in a process whose `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`
    and `KERASTUNER_TUNER_ID` are set, it takes part in keras-tuner's
    distributed search: the chief (`KERASTUNER_TUNER_ID=chief`) serves
    trials, then retrains and reports; a worker runs trials and returns
    `None`.

    Args:
        build_fn: a `build(hp)` function or `keras_tuner.HyperModel`
            returning a compiled model, or a reference model name (then
            the search notes' lr and weight-decay space is searched).
        data: a `kerasreg.data` source or `Dataset`. Defaults to `"digits"`.
        tuner: `"coarse-to-fine"`, `"random"`, `"bayesian"` or
            `"hyperband"`. Defaults to `"coarse-to-fine"`.
        objective: a metric the model logs. Defaults to `"val_accuracy"`.
        max_trials: trial budget; for coarse-to-fine, a multiple of `rounds`
            split evenly across them. Ignored by hyperband. Defaults to `30`.
        rounds: coarse-to-fine rounds. Defaults to `3`.
        top_k: coarse-to-fine: trials whose span is kept. Defaults to `3`.
        margin: coarse-to-fine: padding fraction. Defaults to `0.2`.
        epochs: epochs per trial (hyperband's `max_epochs`). Defaults to `3`.
        final_epochs: epochs of the final retraining. Defaults to
            `3 * epochs`.
        batch_size: batch size. Defaults to `64`.
        validation_rate: held-out fraction of the training set. Defaults
            to `0.2`.
        seed: seed of the split, the sampling and the weights. Defaults
            to `0`.
        callbacks: extra Keras callbacks for every trial.
        directory: keras-tuner's project directory root. Defaults to
            `out/search`, or a new temporary directory.
        project_name: keras-tuner project name. Defaults to `"tune"`.
        overwrite: start afresh; `False` resumes an interrupted search.
            Defaults to `True` (always `False` on a distributed worker).
        verbose: `1` prints one progress line per trial. Defaults to `1`.
        out: directory for `best.txt`, `trials.csv`, `search.png`,
            `model.keras` and `result.json`; nothing is written when `None`.

    Returns:
        A `TuneResult`, or `None` on a distributed worker.

    Raises:
        ValueError: for an unknown tuner, a budget that does not split into
            rounds, or bad coarse-to-fine settings.
        keras_tuner.errors.FatalValueError: if the model does not log
            `objective`.

    Example:

    >>> result = tune("cnn-tiny", "digits", max_trials=4, rounds=2, top_k=1,
    ...               epochs=1, verbose=0)
    >>> print(result.best_lines(1))  # doctest: +SKIP
    Best-1(val acc:0.53) | lr:0.0061..., weight decay:2.9e-05
    """
    dataset = data_lib.load(data)
    if isinstance(build_fn, str):
        build_fn = reference_hypermodel(
            build_fn, dataset.input_shape, dataset.num_classes
        )
    worker = is_worker()
    if directory is None:
        directory = os.path.join(out, "search") if out else tempfile.mkdtemp()
    search_tuner = _make_tuner(
        tuner,
        build_fn,
        objective=objective,
        max_trials=max_trials,
        rounds=rounds,
        top_k=top_k,
        margin=margin,
        epochs=epochs,
        seed=seed,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite and not worker,
    )
    search_tuner.progress = bool(verbose)
    (x_train, y_train), (x_val, y_val) = data_lib.validation_split(
        *training_arrays(dataset), rate=validation_rate, seed=seed
    )
    keras.utils.set_random_seed(seed)
    search_tuner.search(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[*(callbacks or []), ObjectiveCheck(search_tuner.oracle.objective)],
        verbose=0,
    )
    if worker:
        return None
    result = _retrain_best(
        search_tuner,
        (x_train, y_train),
        (x_val, y_val),
        epochs=final_epochs or 3 * epochs,
        batch_size=batch_size,
        callbacks=callbacks,
        seed=seed,
    )
    if out is not None:
        _write_outputs(result, out)
    return result


def _retrain_best(
    search_tuner, train, validation, *, epochs, batch_size, callbacks, seed
):
    """Retrain the best trial's configuration from scratch; a `TuneResult`."""
    best_trial = search_tuner.oracle.get_best_trials(1)[0]
    if best_trial.score is None:
        raise RuntimeError(
            f"No trial completed; the last one failed with:\n{best_trial.message}"
        )
    best_hp = best_trial.hyperparameters
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = search_tuner.hypermodel.build(best_hp)
    model.fit(
        *train,
        validation_data=validation,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=list(callbacks or []),
        verbose=0,
    )
    return TuneResult(
        model=model,
        hyperparameters=dict(best_hp.values),
        val_accuracy=training.evaluate_accuracy(model, *validation),
        search_score=float(best_trial.score),
        tuner=search_tuner,
        range_history=getattr(search_tuner, "range_history", None),
    )


def _make_tuner(name, build_fn, *, max_trials, rounds, epochs, **kwargs):
    common = {
        key: kwargs[key]
        for key in ("objective", "directory", "project_name", "overwrite")
    }
    common["seed"] = oracle_seed(kwargs["seed"])
    if name == "coarse-to-fine":
        if max_trials % rounds:
            raise ValueError(
                f"max_trials={max_trials} does not split into rounds={rounds}; "
                "use a multiple of rounds, e.g. "
                f"max_trials={max(rounds, max_trials - max_trials % rounds)}."
            )
        return _with_progress(CoarseToFine)(
            build_fn,
            rounds=rounds,
            trials_per_round=max_trials // rounds,
            top_k=kwargs["top_k"],
            margin=kwargs["margin"],
            **common,
        )
    if name == "random":
        return _with_progress(kt.RandomSearch)(
            build_fn, max_trials=max_trials, **common
        )
    if name == "bayesian":
        return _with_progress(kt.BayesianOptimization)(
            build_fn, max_trials=max_trials, **common
        )
    if name == "hyperband":
        return _with_progress(kt.Hyperband)(build_fn, max_epochs=epochs, **common)
    raise ValueError(
        f"Unknown tuner: tuner={name!r}. Expected one of {', '.join(TUNERS)}."
    )


def _with_progress(cls):
    return type(cls.__name__, (ProgressMixin, cls), {})


def _write_outputs(result, out):
    os.makedirs(out, exist_ok=True)
    lines = result.best_lines(5)
    with _io.atomic_path(os.path.join(out, "best.txt")) as tmp, open(tmp, "w") as f:
        f.write(lines + "\n")
    write_trials_csv(result.tuner, os.path.join(out, "trials.csv"))
    names = [row for row in result.hyperparameters if row in ("lr", "weight_decay")]
    if len(names) == 2:
        plot_search(result.tuner, os.path.join(out, "search.png"))
    _io.save_model(result.model, os.path.join(out, "model.keras"))
    _io.write_json(
        os.path.join(out, "result.json"),
        {
            "hyperparameters": result.hyperparameters,
            "val_accuracy": result.val_accuracy,
            "search_score": result.search_score,
            "range_history": result.range_history,
        },
    )
