"""`slim` and `sweep`: network slimming end to end, as `kerasreg slim|sweep` run it.

`slim` trains a model with `NetworkSlimming`, shrinks it, optionally
fine-tunes the smaller model, and reports. `sweep` repeats that over a grid
of λ and draws the slimming report's Figure 2: test accuracy against the
percentage of parameters removed, with the unslimmed baseline as a dashed
line.
"""

from __future__ import annotations

import json
import os

import keras

from kerasreg import _io, metrics, report, training
from kerasreg import data as data_lib
from kerasreg import models as models_lib
from kerasreg._choices import FINETUNE_RATE, check_finetune_rate
from kerasreg._layer_tree import leaf_layers
from kerasreg.compression.slimming.network_slimming import NetworkSlimming
from kerasreg.compression.slimming.report import slimming_report
from kerasreg.compression.surgery.rebuild import shrink
from kerasreg.models import recipes
from kerasreg.training import evaluate, fit

__all__ = ["slim", "sweep", "plot_sweep", "check_slimmable", "L1_GRID"]

# The λ grid of the slimming report's experiment (its Figure 2).
L1_GRID = (
    0.001,
    0.0008,
    0.0006,
    0.0005,
    0.0004,
    0.0003,
    0.0002,
    0.0001,
    0.00005,
    0.0,
)


def check_slimmable(model):
    """Raise a `ValueError` saying why `model` cannot be slimmed, if it cannot.

    Network slimming removes a convolution's output channels by the γ of
    the BatchNormalization right after it; a model without such pairs has
    nothing to slim.

    Example:

    >>> check_slimmable(kerasreg.models.cnn((8, 8, 1), 10))
    >>> plain = keras.Sequential(
    ...     [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten()],
    ...     name="plain",
    ... )
    >>> check_slimmable(plain)
    Traceback (most recent call last):
    ...
    ValueError: Model 'plain' has no BatchNormalization right after a convolution, so network slimming has nothing to remove: ...
    """
    from kerasreg.compression.surgery import ChannelGraph

    if ChannelGraph(model).conv_bn_pairs():
        return
    convs = sum(isinstance(layer, keras.layers.Conv2D) for layer in leaf_layers(model))
    raise ValueError(
        f"Model {model.name!r} has no BatchNormalization right after a "
        f"convolution, so network slimming has nothing to remove: it has "
        f"{convs} convolution(s) and no Conv -> BatchNormalization pair. Add "
        "BatchNormalization after the convolutions, or use prune_filters or "
        "MagnitudePruning (compress --l1 0 skips slimming)."
    )


def _fit(model, dataset, epochs, fit_kwargs, callbacks=(), verbose=0):
    if epochs <= 0:
        return {}
    return fit(
        model,
        dataset,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
        **fit_kwargs,
    )


def slim(
    model="resnet",
    data="digits",
    *,
    l1=1e-3,
    epochs=30,
    freeze_from_epoch=None,
    finetune_epochs=15,
    prune_ratio=None,
    learning_rate=3e-3,
    batch_size=64,
    seed=0,
    out=None,
    verbose=0,
    target=None,
    target_unit="params",
    recipe=None,
    finetune_rate=FINETUNE_RATE,
):
    """Train with network slimming, shrink, fine-tune, and report.

    Args:
        model: a reference model name, the path of a `.keras` file (its
            weights are the starting point) or a logits `keras.Model`.
            Defaults to `"resnet"`.
        data: anything `kerasreg.data.load` takes. Defaults to `"digits"`.
        l1: λ of the γ penalty. Defaults to `1e-3`; ignored with `target`.
        epochs: slimming epochs. Defaults to `30`.
        freeze_from_epoch: first epoch of sign-flip freezing; a third of
            `epochs` when `None` (with `target`: two thirds).
        finetune_epochs: epochs of plain training of the shrunk model.
            Defaults to `15`.
        prune_ratio: optionally mark this global fraction of the smallest
            |γ| at the end of slimming (Liu et al.'s route). Defaults to
            `None`.
        learning_rate: Adam learning rate. Defaults to `3e-3`.
        batch_size: batch size. Defaults to `64`.
        seed: seed. Defaults to `0`.
        out: directory for `model.keras` (slimmed, full size), `shrunk.keras`,
            `report.json`, `gamma.png`, `channels.png`, `curves.png`.
        verbose: passed to `fit`. Defaults to `0`.
        target: remove this fraction of the model instead of using a fixed
            `l1` (`NetworkSlimming(target=...)`). Defaults to `None`.
        target_unit: `"params"`, `"macs"` or `"channels"`. Defaults to `"params"`.
        recipe: train with a CIFAR recipe (`kerasreg.models.recipes`: SGD
            with momentum and cosine decay, weight decay, crop and flip)
            instead of Adam; a `Recipe` or a model name such as
            `"resnet20"`. The shrunk model is fine-tuned with the same
            recipe at `finetune_rate` of its learning rate. `learning_rate`
            and `batch_size` are then the recipe's. Defaults to `None`.
        finetune_rate: with `recipe`, the fraction of its learning rate the
            shrunk model is fine-tuned at: a tenth (Liu et al.'s and
            Torch-Pruning's), or `1.0` to rewind to the full rate (Renda et
            al. 2020), which won on CIFAR-10's validation split (see
            docs/benchmarks.md). Defaults to `0.1`.

    Returns:
        A dict: `model` (trained, full size), `shrunk` (fine-tuned small
        model), `report` (see `slimming_report`), `history`.

    Raises:
        ValueError: for a model without BatchNormalization after its
            convolutions (see `check_slimmable`), or a `finetune_rate`
            outside (0, 1] or without `recipe`, before any training.
    """
    check_finetune_rate(finetune_rate, recipe)
    dataset = data_lib.load(data)
    keras.utils.set_random_seed(seed)
    model = models_lib.resolve(model, dataset.input_shape, dataset.num_classes)
    check_slimmable(model)
    if freeze_from_epoch is None and target is None:
        freeze_from_epoch = epochs // 3
    slimming = NetworkSlimming(
        None if target is not None else l1,
        freeze_from_epoch=freeze_from_epoch,
        prune_ratio=prune_ratio,
        target=target,
        target_unit=target_unit,
    )
    model, fit_kwargs = training.compile_for(
        model, dataset, epochs, learning_rate, batch_size, recipe, seed
    )
    history = _fit(model, dataset, epochs, fit_kwargs, [slimming], verbose)
    small, fit_kwargs = training.compile_for(
        shrink(model),
        dataset,
        finetune_epochs,
        learning_rate,
        batch_size,
        recipes.finetune_recipe(recipe, divisor=1 / finetune_rate),
        seed,
    )
    finetune = _fit(small, dataset, finetune_epochs, fit_kwargs, (), verbose)
    info = slimming_report(
        model, small, data=dataset, gamma_history=slimming.gamma_history, out=out
    )
    if out is not None:
        _io.save_model(model, os.path.join(out, "model.keras"))
        _io.save_model(small, os.path.join(out, "shrunk.keras"))
        _io.write_json(os.path.join(out, "report.json"), info)
        curves = {
            k: v + finetune.get(k, []) for k, v in history.items() if k in finetune
        }
        report.plot_curves(
            curves, os.path.join(out, "curves.png"), "slimming + fine-tuning"
        )
    return {"model": model, "shrunk": small, "report": info, "history": history}


def sweep(
    l1_values=L1_GRID,
    model="resnet",
    data="digits",
    *,
    epochs=30,
    freeze_from_epoch=None,
    finetune_epochs=15,
    learning_rate=3e-3,
    batch_size=64,
    seed=0,
    out=None,
    recipe=None,
    finetune_rate=FINETUNE_RATE,
):
    """Slim once per λ and plot accuracy against parameter reduction.

    The baseline is the same model trained `epochs + finetune_epochs`
    without slimming. A progress bar counts runs.

    With `out`, each finished run is kept as `out/runs/<l1>.json` beside
    the settings it ran with, so a sweep that is stopped (a grid of CIFAR
    runs takes hours) resumes where it stopped when called again with the
    same `out` and arguments, and a grid can grow by new λ without
    retraining the old ones. A kept run made with other settings is
    refused, never mixed in.

    Args:
        l1_values: the λ grid. Defaults to the slimming report's `L1_GRID`.
        model, data, epochs, freeze_from_epoch, finetune_epochs,
        learning_rate, batch_size, seed, recipe, finetune_rate: as `slim`;
            `model` must be a name or a `.keras` path, since every run
            starts afresh from it.
        out: directory for `sweep.csv` and `sweep.png`.

    Returns:
        A list of dicts, one per λ plus the baseline: `l1`, `accuracy`,
        `params`, `param_reduction_pct`, `flops`.

    Raises:
        ValueError: for a `model` that is not a name or path, a negative
            λ, or an `out` that holds runs made with other settings.
    """
    if not isinstance(model, (str, os.PathLike)):
        raise ValueError(
            "sweep needs a model name or a .keras path to start every run "
            f"afresh. Received: model={model!r}"
        )
    for value in l1_values:
        if not value >= 0:
            raise ValueError(f"Expected every l1 >= 0. Received: l1={value}")
    check_finetune_rate(finetune_rate, recipe)
    dataset = data_lib.load(data)
    run = dict(
        epochs=epochs,
        freeze_from_epoch=freeze_from_epoch,
        finetune_epochs=finetune_epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        seed=seed,
        recipe=recipe,
    )
    if finetune_rate != FINETUNE_RATE:  # runs kept at the default stay valid
        run["finetune_rate"] = finetune_rate
    kept = _KeptRuns(out, _settings(model, data, dataset, run))
    progress = keras.utils.Progbar(len(l1_values) + 1, unit_name="run")
    rows = [kept.get("baseline", lambda: _baseline_run(model, dataset, run))]
    progress.update(1)
    for value in l1_values:
        row = kept.get(
            repr(float(value)), lambda v=value: _slimmed_row(model, dataset, v, run)
        )
        reduction = 100.0 * (1 - row["params"] / rows[0]["params"])
        rows.append({**row, "param_reduction_pct": reduction})
        progress.update(len(rows))
    if out is not None:
        _io.write_csv(os.path.join(out, "sweep.csv"), rows)
        plot_sweep(rows, os.path.join(out, "sweep.png"))
    return rows


def _baseline_row(base, dataset):
    return {
        "l1": "baseline",
        "accuracy": evaluate(base, dataset),
        "params": metrics.count_params(base),
        "param_reduction_pct": 0.0,
        "flops": metrics.count_flops(base),
    }


def _baseline_run(model, dataset, run):
    """The unslimmed model trained for all of a sweep run's epochs."""
    epochs = run["epochs"] + run["finetune_epochs"]
    keras.utils.set_random_seed(run["seed"])
    base, fit_kwargs = training.compile_for(
        models_lib.resolve(model, dataset.input_shape, dataset.num_classes),
        dataset,
        epochs,
        run["learning_rate"],
        run["batch_size"],
        run["recipe"],
        run["seed"],
    )
    _fit(base, dataset, epochs, fit_kwargs)
    return _baseline_row(base, dataset)


def _slimmed_row(model, dataset, l1, run):
    """One λ of a sweep: slim, shrink, fine-tune, measure."""
    small = slim(model, dataset, l1=l1, **run)["shrunk"]
    return {
        "l1": l1,
        "accuracy": evaluate(small, dataset),
        "params": metrics.count_params(small),
        "flops": metrics.count_flops(small),
    }


def _settings(model, data, dataset, run):
    """What a kept sweep run depends on, as JSON-able values."""
    if isinstance(data, (str, os.PathLike)):
        described = os.path.abspath(data) if os.path.exists(data) else os.fspath(data)
    elif getattr(data, "directory", None):  # a loaded folder (resized, say)
        described = f"{os.path.abspath(data.directory)} at {tuple(data.input_shape)}"
    else:  # arrays or a pipeline: known by their sizes
        described = (
            f"{type(data).__name__}: {dataset.num_train} train, "
            f"{dataset.num_test} test, {tuple(dataset.input_shape)}"
        )
    recipe = None if run["recipe"] is None else repr(run["recipe"])
    return {"model": os.fspath(model), "data": described, **run, "recipe": recipe}


class _KeptRuns:
    """The finished runs of a sweep under `out/runs/`, one JSON file each."""

    def __init__(self, out, settings):
        self.folder = None if out is None else os.path.join(out, "runs")
        self.settings = settings

    def get(self, label, compute):
        """The kept row of `label`, or `compute()`'s, kept as it finishes."""
        if self.folder is None:
            return compute()
        path = os.path.join(self.folder, f"{label}.json")
        if os.path.exists(path):
            with open(path) as file:
                kept = json.load(file)
            if kept["settings"] != self.settings:
                raise ValueError(
                    f"{path} was made with other settings ({kept['settings']}, "
                    f"not {self.settings}). Use another out, or delete it to "
                    "rerun."
                )
            return kept["row"]
        row = compute()
        _io.write_json(path, {"settings": self.settings, "row": row})
        return row


def plot_sweep(rows, path):
    """The slimming report's Figure 2: accuracy vs parameter reduction, dashed baseline."""
    plt = _io.pyplot()

    base = next(r for r in rows if r["l1"] == "baseline")
    runs = sorted(
        (r for r in rows if r["l1"] != "baseline"),
        key=lambda r: r["param_reduction_pct"],
    )
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(
        [r["param_reduction_pct"] for r in runs],
        [100 * r["accuracy"] for r in runs],
        marker="o",
        label="network slimming",
    )
    for r in runs:
        ax.annotate(
            f"λ={r['l1']:g}",
            (r["param_reduction_pct"], 100 * r["accuracy"]),
            fontsize=7,
        )
    ax.axhline(100 * base["accuracy"], linestyle="--", color="gray", label="baseline")
    ax.set_xlabel("parameters removed (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _io.save_figure(fig, path)
    return path
