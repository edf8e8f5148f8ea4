"""Settings of `compress`, importable without TensorFlow (the CLI reads them)."""

from __future__ import annotations

import dataclasses

__all__ = ["CompressConfig", "load_config", "QUANTIZATIONS"]

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
        mark_ratio: after slimming, also mark this global fraction of the
            channels with the smallest coupled |γ| (Liu et al.'s route,
            `NetworkSlimming(prune_ratio=..., prune_coupled=True)`); `0`
            is off. `fast` uses 0.5 so that the smoke run really shrinks.
        finetune_epochs: epochs after `shrink`; `0` skips the stage.
        distill_epochs: epochs of distillation; `0` (the default) skips the
            stage. The teacher is the slimming-trained baseline, which the
            penalty leaves weaker than the fine-tuned shrunk model on small
            data; distil when the teacher is strong.
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
    mark_ratio: float = 0.0
    finetune_epochs: int = 15
    distill_epochs: int = 0
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
            self.mark_ratio = self.mark_ratio or 0.5
            self.epochs = min(self.epochs, 4)
            self.freeze_from = min(self.freeze_from, 1)
            self.finetune_epochs = min(self.finetune_epochs, 2)
            self.distill_epochs = min(self.distill_epochs, 2)
            self.prune_epochs = min(self.prune_epochs, 1)
        self.validate()

    def validate(self):
        """Raise `ValueError` for impossible settings, before any training."""
        if self.model not in _model_names():
            raise ValueError(
                f"Unknown model: model={self.model!r}. Expected one of "
                f"{', '.join(_model_names())}."
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
        if not 0.0 <= self.mark_ratio < 1.0:
            raise ValueError(
                f"Expected 0 <= mark_ratio < 1. Received: mark_ratio={self.mark_ratio}"
            )
        if not 0.0 <= self.prune_sparsity < 1.0:
            raise ValueError(
                f"Expected 0 <= prune_sparsity < 1. Received: prune_sparsity={self.prune_sparsity}"
            )
        if self.prune_sparsity > 0 and self.prune_epochs == 0:
            raise ValueError(
                "prune_sparsity > 0 needs prune_epochs >= 1 to reach the sparsity."
            )
        if self.student != "shrunk" and self.student not in _model_names():
            raise ValueError(
                f"Unknown student: student={self.student!r}. Expected 'shrunk' or one "
                f"of {', '.join(_model_names())}."
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


def _model_names():
    from kerasreg.models import MODELS

    return tuple(MODELS)
