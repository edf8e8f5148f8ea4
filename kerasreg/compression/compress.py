"""`compress`: the end-to-end mobile compression pipeline (`kerasreg compress`).

Stages, each optional or configurable, each writing its result atomically
under `out` and recording itself in `state.json`, so that a rerun with the
same `out` skips what is finished and an interrupted run resumes cleanly:

1. `baseline`  train the model with `NetworkSlimming`;
2. `shrink`    physically remove the dead channels;
3. `finetune`  train the shrunk model;
4. `distill`   distil the original (teacher) into the shrunk model;
5. `prune`     magnitude pruning, then `strip_pruning`;
6. `export`    float32 / float16 / int8 TFLite files of the final model (and
               a float32 file of the baseline, for comparison);
7. `evaluate`  params, FLOPs, file size, test accuracy and batch-1 latency of
               every stage, printed as a table and written to
               `metrics.json` and a self-contained `report.html`.
"""

from __future__ import annotations

import dataclasses
import json
import os

import keras
import numpy as np

from kerasreg import _io, report
from kerasreg import data as data_lib
from kerasreg import models as models_lib
from kerasreg.training import compile_model, evaluate_accuracy

__all__ = ["CompressConfig", "compress", "load_config"]

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8", "int8-full")


@dataclasses.dataclass
class CompressConfig:
    """Settings of `compress`; the keys match the CLI flags and config file.

    Attributes:
        data: a `kerasreg.data` source. Defaults to `"digits"`.
        model: a reference model name. Defaults to `"resnet"`.
        l1: λ of `NetworkSlimming`; `0` trains a plain baseline.
        epochs: baseline epochs.
        freeze_from: first epoch of sign-flip freezing.
        finetune_epochs: epochs after `shrink`; `0` skips the stage.
        distill_epochs: epochs of distillation; `0` skips the stage.
        student: `"shrunk"` (distil into the fine-tuned shrunk model) or a
            reference model name (a fresh smaller student).
        temperature, lambda_soft, lambda_hard: distillation settings.
        prune_sparsity: final weight sparsity; `0` skips pruning.
        prune_epochs: pruning fine-tune epochs.
        quantize: TFLite variants of the final model to export.
        learning_rate, batch_size, seed: training settings.
        fast: a smoke run of about a minute (few epochs everywhere).
    """

    data: str = "digits"
    model: str = "resnet"
    l1: float = 0.1
    epochs: int = 30
    freeze_from: int = 10
    finetune_epochs: int = 15
    distill_epochs: int = 10
    student: str = "shrunk"
    temperature: float = 4.0
    lambda_soft: float = 0.9
    lambda_hard: float = 0.1
    prune_sparsity: float = 0.0
    prune_epochs: int = 5
    quantize: tuple = ("float32", "float16", "int8")
    learning_rate: float = 3e-3
    batch_size: int = 64
    seed: int = 0
    fast: bool = False

    def __post_init__(self):
        if isinstance(self.quantize, str):
            self.quantize = tuple(
                q.strip() for q in self.quantize.split(",") if q.strip()
            )
        self.quantize = tuple(self.quantize)
        if self.fast:
            self.epochs = min(self.epochs, 4)
            self.freeze_from = min(self.freeze_from, 1)
            self.finetune_epochs = min(self.finetune_epochs, 2)
            self.distill_epochs = min(self.distill_epochs, 2)
            self.prune_epochs = min(self.prune_epochs, 1)
        self.validate()

    def validate(self):
        """Raise `ValueError` for impossible settings, before any training."""
        if self.model not in models_lib.MODELS:
            raise ValueError(
                f"Unknown model: model={self.model!r}. Expected one of "
                f"{', '.join(models_lib.MODELS)}."
            )
        if not self.l1 >= 0:
            raise ValueError(f"Expected l1 >= 0. Received: l1={self.l1}")
        if self.epochs < 1:
            raise ValueError(f"Expected epochs >= 1. Received: epochs={self.epochs}")
        for name in ("finetune_epochs", "distill_epochs", "prune_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"Expected {name} >= 0. Received: {name}={getattr(self, name)}"
                )
        if self.l1 > 0 and not 0 <= self.freeze_from < self.epochs:
            raise ValueError(
                f"freeze_from={self.freeze_from} must lie in [0, epochs={self.epochs})."
            )
        if not 0.0 <= self.prune_sparsity < 1.0:
            raise ValueError(
                f"Expected 0 <= prune_sparsity < 1. Received: prune_sparsity={self.prune_sparsity}"
            )
        if self.prune_sparsity > 0 and self.prune_epochs == 0:
            raise ValueError(
                "prune_sparsity > 0 needs prune_epochs >= 1 to reach the sparsity."
            )
        if self.student != "shrunk" and self.student not in models_lib.MODELS:
            raise ValueError(
                f"Unknown student: student={self.student!r}. Expected 'shrunk' or one "
                f"of {', '.join(models_lib.MODELS)}."
            )
        if self.student != "shrunk" and self.distill_epochs == 0:
            raise ValueError(
                f"student={self.student!r} is a fresh model and needs distill_epochs >= 1."
            )
        unknown = [q for q in self.quantize if q not in QUANTIZATIONS]
        if unknown or not self.quantize:
            raise ValueError(
                f"Unknown quantization {unknown or self.quantize}. Expected a non-empty "
                f"list from {', '.join(QUANTIZATIONS)}."
            )
        if self.temperature <= 0:
            raise ValueError(f"Expected temperature > 0. Received: {self.temperature}")

    def to_dict(self):
        return {**dataclasses.asdict(self), "quantize": list(self.quantize)}


def load_config(path):
    """Read a TOML config file whose keys are `CompressConfig` fields.

    Raises:
        ValueError: for unknown keys, naming them and the known ones.
    """
    import tomllib

    with open(path, "rb") as f:
        values = tomllib.load(f)
    values = {k.replace("-", "_"): v for k, v in values.items()}
    known = {f.name for f in dataclasses.fields(CompressConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"Unknown keys in {path}: {', '.join(unknown)}. Known keys: "
            f"{', '.join(sorted(known))}."
        )
    return values


class _State:
    """`state.json`: the config and the finished stages, written atomically."""

    def __init__(self, out, config, restart):
        self.path = os.path.join(out, "state.json")
        self.config = config.to_dict()
        saved = None
        if os.path.exists(self.path) and not restart:
            with open(self.path) as f:
                saved = json.load(f)
            if saved["config"] != self.config:
                changed = sorted(
                    k for k in self.config if saved["config"].get(k) != self.config[k]
                )
                raise ValueError(
                    f"{out} holds a run with other settings ({', '.join(changed)}). "
                    "Use another --out, or pass --restart to start over."
                )
        self.done = saved["done"] if saved else {}

    def finish(self, stage, info):
        self.done[stage] = info
        _io.write_json(self.path, {"config": self.config, "done": self.done})


def compress(out, config=None, *, restart=False, verbose="auto", **overrides):
    """Run the compression pipeline; resumable from `out`.

    Args:
        out: output directory (created). Artefacts: `baseline.keras`,
            `shrunk.keras`, `finetuned.keras`, `distilled.keras`,
            `pruned.keras`, `baseline_float32.tflite`, `final_<q>.tflite`,
            `metrics.json`, `report.html`, `state.json`.
        config: a `CompressConfig`, a dict of its fields, or `None`.
        restart: ignore finished stages in `out` and start over. Defaults
            to `False`.
        verbose: `fit` verbosity (progress bars by default).
        **overrides: `CompressConfig` fields overriding `config`.

    Returns:
        A dict: `rows` (one per stage: params, flops, size_bytes,
        accuracy, latency_ms), `targets` (size ratio and accuracy drop of
        the int8 file against the float32 baseline), `config`.

    Example:

    >>> result = compress("runs/compress", fast=True, verbose=0)  # doctest: +SKIP
    """
    if isinstance(config, CompressConfig):
        config = config.to_dict()
    config = CompressConfig(**{**(config or {}), **overrides})
    from kerasreg.training import _check_writable

    _check_writable(out)
    state = _State(out, config, restart)
    dataset = data_lib.load(config.data)
    from kerasreg.compression import _compress_stages as stages

    runner = stages.StageRunner(out, config, dataset, state, verbose)
    runner.run_all()
    rows, targets = runner.evaluate()
    result = {"rows": rows, "targets": targets, "config": config.to_dict()}
    _io.write_json(os.path.join(out, "metrics.json"), result)
    from kerasreg.compression.compress_report import write_report

    write_report(out, rows, targets, runner)
    return result


def _accuracy(model, dataset):
    return evaluate_accuracy(model, dataset.x_test, dataset.y_test)


def _keras_row(stage, model, dataset):
    return {
        "stage": stage,
        "params": report.count_params(model),
        "flops": report.count_flops(model),
        "size_bytes": report.saved_size(model),  # weights only, no optimizer
        "accuracy": _accuracy(model, dataset),
        "latency_ms": 1e3 * report.measure_latency(model, batch_size=1, repeats=50),
    }


def _fresh(name, dataset, learning_rate):
    model = models_lib.build(name, dataset.input_shape, dataset.num_classes)
    return compile_model(model, learning_rate)


def _load(path):
    return keras.saving.load_model(path, compile=False)


def _representative(dataset, n=200):
    rng = np.random.default_rng(0)
    return dataset.x_train[rng.permutation(len(dataset.x_train))[:n]]
