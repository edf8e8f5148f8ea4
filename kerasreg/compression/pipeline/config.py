"""Settings of `compress`, importable without TensorFlow (the CLI reads them)."""

from __future__ import annotations

import dataclasses
import os

__all__ = ["CompressConfig", "load_config", "flag_fields", "QUANTIZATIONS"]

from kerasreg._choices import (  # noqa: E402
    FINETUNE_RATE,
    QUANTIZATIONS,
    RECIPES,
    TARGET_UNITS,
    check_finetune_rate,
    parse_image_size,
)


def _field(default, help):
    """A config field: its default and the help text of its CLI flag."""
    return dataclasses.field(default=default, metadata={"help": help})


# annotation -> (accepted Python types, how the error names it)
_TYPES = {
    "str": ((str,), "a string"),
    "int": ((int,), "an integer"),
    "float": ((int, float), "a number"),
    "bool": ((bool,), "true or false"),
    "tuple": ((tuple, list, str), "a list of strings"),
}


def _check_types(config):
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        accepted, expected = _TYPES[field.type]
        wrong_bool = isinstance(value, bool) and field.type != "bool"
        if wrong_bool or not isinstance(value, accepted):
            raise ValueError(
                f"{field.name} must be {expected}. Received: "
                f"{field.name}={value!r} ({type(value).__name__})"
            )


def flag_fields():
    """`(name, type, default, help)` of every field that is a `compress` flag.

    The CLI generates its flags from these, so a new field is a new flag.
    `fast` is a switch and is left to the CLI.
    """
    kinds = {"str": str, "int": int, "float": float, "tuple": str}
    return [
        (f.name, kinds[f.type], f.default, f.metadata["help"])
        for f in dataclasses.fields(CompressConfig)
        if f.type != "bool"
    ]


@dataclasses.dataclass
class CompressConfig:
    """Settings of `compress`; the keys match the CLI flags and config file.

    Attributes:
        data: a `kerasreg.data` source: a name, an `.npz` file or an
            image folder. Defaults to `"digits"`.
        image_size: image folders only: `"HEIGHTxWIDTH"` (such as
            `"32x32"`) to resize every image to, for photos of mixed sizes
            or a model that takes another size. Defaults to `""`: the size
            the files share.
        model: a reference model name, or the path of the user's `.keras`
            model (the report's `original`; slimming starts from its
            weights). Defaults to `"resnet"`.
        l1: λ of `NetworkSlimming`; `0` trains a plain baseline.
        target: fraction of the original to remove, in (0, 1), with
            `NetworkSlimming(target=...)` instead of a fixed `l1` (which it
            replaces): the size is reached whatever the data size, optimizer
            or learning rate. `0` (the default) keeps the `l1` mode.
        target_unit: what `target` counts: `"params"`, `"macs"` or `"channels"`.
        epochs: baseline epochs.
        freeze_from: first epoch of sign-flip freezing; in target mode, the
            epoch by which the target's channels reach zero.
        mark_ratio: after slimming, also mark this global fraction of the
            channels with the smallest coupled |γ| (Liu et al.'s route,
            `NetworkSlimming(prune_ratio=..., prune_coupled=True)`); `0`
            is off. `fast` uses 0.5 so that the smoke run really shrinks,
            unless `target` is given.
        finetune_epochs: epochs after `shrink`; `0` skips the stage.
        finetune_rate: with `recipe`, the fine-tuning learning rate as a
            fraction of the recipe's: `0.1` (the default, the rate of Liu
            et al.'s and Torch-Pruning's CIFAR scripts) or `1.0`, which
            rewinds to the full rate (Renda et al. 2020). Without a recipe,
            Adam fine-tunes at `learning_rate`.
        distill_epochs: epochs of distillation; `0` (the default) skips the
            stage. The teacher is the slimming-trained baseline, which the
            penalty leaves weaker than the fine-tuned shrunk model on small
            data; distil when the teacher is strong.
        student: `"shrunk"` (distil into the fine-tuned shrunk model) or a
            reference model name (a fresh smaller student).
        temperature, lambda_soft, lambda_hard: distillation settings.
        prune_sparsity: final weight sparsity; `0` skips pruning.
        prune_epochs: pruning fine-tune epochs.
        qat_epochs: quantization-aware fine-tuning epochs (`qat`) as the
            last stage; its model then gives the int8 files, with the
            learned ranges instead of post-training calibration. `0` (the
            default) skips the stage.
        quantize: TFLite variants of the final model to export.
        recipe: train `original` and `slim` with this reference model's
            CIFAR recipe (`kerasreg.models.recipes`: SGD with momentum,
            cosine decay, coupled weight decay, crop-and-flip augmentation,
            its batch size) instead of Adam, fine-tune with it at a tenth of
            its rate, and run `qat` with it as `qat(recipe=...)` does.
            `learning_rate` and `batch_size` then apply to the `distill`
            and `prune` stages only. `""` (the default) trains with Adam.
        learning_rate, batch_size, seed: training settings.
        fast: a smoke run of about a minute (few epochs everywhere).
    """

    data: str = _field("digits", "a kerasreg.data source")
    image_size: str = _field(
        "", "image folders: resize every image to HEIGHTxWIDTH; '' keeps their size"
    )
    model: str = _field("resnet", "a reference model name or a .keras file")
    l1: float = _field(0.1, "λ of NetworkSlimming; 0 trains a plain baseline")
    target: float = _field(
        0.0, "fraction of params (or MACs) to remove, replacing --l1; 0 is off"
    )
    target_unit: str = _field(
        "params", "what --target counts: params, macs or channels"
    )
    epochs: int = _field(30, "baseline epochs")
    freeze_from: int = _field(10, "first epoch of sign-flip freezing")
    mark_ratio: float = _field(0.0, "also mark this global fraction of channels")
    finetune_epochs: int = _field(15, "epochs after shrink; 0 skips the stage")
    finetune_rate: float = _field(
        FINETUNE_RATE,
        "with --recipe: fine-tuning rate as a fraction of the recipe's (1 rewinds)",
    )
    distill_epochs: int = _field(0, "distillation epochs; 0 skips the stage")
    student: str = _field("shrunk", "'shrunk' or a reference model name")
    temperature: float = _field(4.0, "distillation temperature T")
    lambda_soft: float = _field(0.9, "weight of the soft (teacher) loss")
    lambda_hard: float = _field(0.1, "weight of the hard (label) loss")
    prune_sparsity: float = _field(0.0, "final weight sparsity; 0 skips pruning")
    prune_epochs: int = _field(5, "pruning fine-tune epochs")
    qat_epochs: int = _field(0, "quantization-aware fine-tuning epochs; 0 skips")
    quantize: tuple = _field(
        ("float32", "float16", "int8"), "comma-separated TFLite variants to export"
    )
    recipe: str = _field(
        "",
        f"train with this model's CIFAR recipe (SGD, crop+flip) instead of Adam: "
        f"{', '.join(RECIPES)}; '' is Adam",
    )
    learning_rate: float = _field(3e-3, "Adam learning rate")
    batch_size: int = _field(64, "batch size")
    seed: int = _field(0, "seed of weights and shuffling")
    fast: bool = _field(False, "a ~1 minute smoke run")

    def __post_init__(self):
        for name in ("data", "model"):  # a pathlib.Path is a path too
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        _check_types(self)
        if isinstance(self.quantize, str):
            self.quantize = tuple(
                q.strip() for q in self.quantize.split(",") if q.strip()
            )
        self.quantize = tuple(self.quantize)
        if self.fast:
            if not self.target:  # the target already makes it shrink
                self.mark_ratio = self.mark_ratio or 0.5
            self.epochs = min(self.epochs, 4)
            self.freeze_from = min(self.freeze_from, 1)
            self.finetune_epochs = min(self.finetune_epochs, 2)
            self.distill_epochs = min(self.distill_epochs, 2)
            self.prune_epochs = min(self.prune_epochs, 1)
            self.qat_epochs = min(self.qat_epochs, 1)
        self.validate()

    def validate(self):
        """Raise `ValueError` for impossible settings, before any training."""
        self._check_names()
        if self.image_size:
            parse_image_size(self.image_size)
        if self.model not in _model_names():
            if self.model.endswith(".keras") or os.path.exists(self.model):
                if not os.path.isfile(self.model):
                    raise FileNotFoundError(f"No such model file: {self.model}")
            else:
                raise ValueError(
                    f"Unknown model: model={self.model!r}. Expected one of "
                    f"{', '.join(_model_names())}, or the path of a .keras file."
                )
        if not self.l1 >= 0:
            raise ValueError(f"Expected l1 >= 0. Received: l1={self.l1}")
        if self.epochs < 1:
            raise ValueError(f"Expected epochs >= 1. Received: epochs={self.epochs}")
        for name in ("finetune_epochs", "distill_epochs", "prune_epochs", "qat_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"Expected {name} >= 0. Received: {name}={getattr(self, name)}"
                )
        if not 0.0 <= self.target < 1.0:
            raise ValueError(
                f"Expected 0 <= target < 1. Received: target={self.target}"
            )
        if self.slims_by_penalty and not 0 <= self.freeze_from < self.epochs:
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
        if self.student != "shrunk" and self.distill_epochs == 0:
            raise ValueError(
                f"student={self.student!r} is a fresh model and needs distill_epochs >= 1."
            )
        check_finetune_rate(self.finetune_rate, self.recipe)
        if self.temperature <= 0:
            raise ValueError(f"Expected temperature > 0. Received: {self.temperature}")

    def _check_names(self):
        """Raise `ValueError` for a name outside its set of choices."""
        if self.target_unit not in TARGET_UNITS:
            raise ValueError(
                f"Expected target_unit to be one of {', '.join(TARGET_UNITS)}. Received: "
                f"target_unit={self.target_unit!r}"
            )
        if self.student != "shrunk" and self.student not in _model_names():
            raise ValueError(
                f"Unknown student: student={self.student!r}. Expected 'shrunk' or one "
                f"of {', '.join(_model_names())}."
            )
        if self.recipe and self.recipe not in RECIPES:
            raise ValueError(
                f"Unknown recipe: recipe={self.recipe!r}. Expected one of "
                f"{', '.join(RECIPES)}, or '' for Adam."
            )
        unknown = [q for q in self.quantize if q not in QUANTIZATIONS]
        if unknown or not self.quantize:
            raise ValueError(
                f"Unknown quantization {unknown or self.quantize}. Expected a non-empty "
                f"list from {', '.join(QUANTIZATIONS)}."
            )

    @property
    def slims_by_penalty(self):
        """Whether training penalizes γ (`target > 0` or `l1 > 0`)."""
        return self.target > 0 or self.l1 > 0

    @property
    def slims(self):
        """Whether the slimming stages run (a penalty or `mark_ratio > 0`)."""
        return self.slims_by_penalty or self.mark_ratio > 0

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
