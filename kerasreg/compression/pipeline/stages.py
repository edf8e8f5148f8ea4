"""The stages of the compression pipeline, one method each, and their helpers."""

from __future__ import annotations

import json
import os

import keras
import numpy as np

from kerasreg import _io
from kerasreg import data as data_lib
from kerasreg import models as models_lib
from kerasreg.compression.export import calibration_images
from kerasreg.models.recipes import finetune_recipe
from kerasreg.saving import load_model
from kerasreg.training import compile_for, compile_model, fit

__all__ = ["StageRunner"]


class StageRunner:
    """Runs the pipeline stages in order, skipping those already done.

    The stages, each written atomically under `out`:

    1. `original`  the model the report compares against: the user's
                   `.keras` model as given, or a reference model trained
                   plainly for `epochs`;
    2. `slim`      training with `NetworkSlimming` (from the original's
                   weights for a user model, fresh for a reference name);
    3. `shrink`    physical removal of the dead channels;
    4. `finetune`  plain training of the shrunk model;
    5. `distill`   the original as teacher, the latest model as student;
    6. `prune`     magnitude pruning, then `strip_pruning`;
    7. `qat`       quantization-aware fine-tuning (`qat`) of the latest
                   model, whose learned ranges then give the int8 files;
    8. `export`    TFLite files of the final model, and a float32 file of
                   the original for comparison.

    `slim`, `shrink` and `finetune` are skipped when `l1`, `target` and
    `mark_ratio` are all 0. With `recipe`, `original`, `slim`, `finetune`
    and `qat` train with that CIFAR recipe's SGD and augmentation.
    """

    KERAS_STAGES = (
        ("original", "original.keras"),
        ("slim", "slimmed.keras"),
        ("shrink", "shrunk.keras"),
        ("finetune", "finetuned.keras"),
        ("distill", "distilled.keras"),
        ("prune", "pruned.keras"),
        ("qat", "qat.keras"),
    )

    def __init__(self, out, config, dataset, state, verbose):
        self.out = out
        self.config = config
        self.dataset = dataset
        self.state = state
        self.verbose = verbose

    def path(self, name):
        return os.path.join(self.out, name)

    def _say(self, text):
        if self.verbose:
            print(f"[kerasreg compress] {text}", flush=True)

    def _stage(self, name, enabled, run):
        if not enabled:
            return
        if name in self.state.done:
            self._say(f"stage {name}: already done, skipped")
            return
        self._say(f"stage {name}")
        self.state.finish(name, run() or {})

    @property
    def slims(self):
        """Whether the slimming stages run (see `CompressConfig.slims`)."""
        return self.config.slims

    def run_all(self):
        c = self.config
        self._stage("original", True, self._original)
        self._stage("slim", self.slims, self._slim)
        self._stage("shrink", self.slims, self._shrink)
        self._stage("finetune", self.slims and c.finetune_epochs > 0, self._finetune)
        self._stage("distill", c.distill_epochs > 0, self._distill)
        self._stage("prune", c.prune_sparsity > 0, self._prune)
        self._stage("qat", c.qat_epochs > 0, self._qat)
        self._stage("export", True, self._export)

    # -- training stages ------------------------------------------------------

    @property
    def recipe(self):
        """The CIFAR recipe the training stages use, or `None` (Adam)."""
        return self.config.recipe or None

    def _compiled(self, model, epochs, recipe):
        """`model` compiled for `epochs`, and the settings to fit it with.

        Adam at the config's rate, or `recipe`'s SGD on a copy of `model`
        that carries its weight decay, with its batch size and augmentation.
        """
        c = self.config
        return compile_for(
            model, self.dataset, epochs, c.learning_rate, c.batch_size, recipe, c.seed
        )

    def _fit(self, model, epochs, callbacks=(), settings=None):
        settings = {"seed": self.config.seed, **(settings or {})}
        settings.setdefault("batch_size", self.config.batch_size)
        return fit(
            model,
            self.dataset,
            epochs=epochs,
            callbacks=callbacks,
            verbose=self.verbose,
            **settings,
        )

    def _build(self):
        c = self.config
        return models_lib.build(
            c.model, self.dataset.input_shape, self.dataset.num_classes
        )

    def _save_history(self, stage, history):
        _io.write_json(self.path(f"history_{stage}.json"), history)

    @property
    def user_model(self):
        """Whether `config.model` is the user's `.keras` file (not a name)."""
        return self.config.model not in models_lib.MODELS

    def _original(self):
        c = self.config
        if self.user_model:
            model = load_model(c.model, compile=False)
            _io.save_model(model, self.path("original.keras"))
            return {"source": os.path.abspath(c.model)}
        keras.utils.set_random_seed(c.seed)
        model, settings = self._compiled(self._build(), c.epochs, self.recipe)
        self._save_history("original", self._fit(model, c.epochs, settings=settings))
        _io.save_model(model, self.path("original.keras"))
        return {"source": c.model, "epochs": c.epochs}

    def _slim(self):
        from kerasreg.compression.slimming import NetworkSlimming

        c = self.config
        keras.utils.set_random_seed(c.seed)
        if self.user_model:
            model = _load(self.path("original.keras"))
        else:
            model = self._build()
        model, settings = self._compiled(model, c.epochs, self.recipe)
        if c.target > 0:
            slimming = NetworkSlimming(
                target=c.target,
                target_unit=c.target_unit,
                freeze_from_epoch=c.freeze_from,
            )
        else:
            slimming = NetworkSlimming(
                c.l1, freeze_from_epoch=c.freeze_from if c.l1 > 0 else None
            )
        history = self._fit(model, c.epochs, [slimming], settings)
        gammas = {
            name: np.stack([epoch[name] for epoch in slimming.gamma_history])
            for name in slimming.gamma_history[0]
        }
        with _io.atomic_path(self.path("gamma_history.npz")) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **gammas)
        self._save_history("slim", history)
        _io.save_model(model, self.path("slimmed.keras"))

    def _shrink(self):
        from kerasreg.compression.slimming import channel_profile, mark_channels
        from kerasreg.compression.surgery import shrink

        model = _load(self.path("slimmed.keras"))
        if self.config.mark_ratio > 0:
            mark_channels(model, prune_ratio=self.config.mark_ratio, coupled=True)
        small = shrink(model)
        _io.save_model(small, self.path("shrunk.keras"))
        return {
            "channels_before": channel_profile(model),
            "channels_after": channel_profile(small),
        }

    def _finetune(self):
        c = self.config
        keras.utils.set_random_seed(c.seed + 1)
        model, settings = self._compiled(
            _load(self.path("shrunk.keras")),
            c.finetune_epochs,
            finetune_recipe(self.recipe, divisor=1 / c.finetune_rate),
        )
        history = self._fit(model, c.finetune_epochs, settings=settings)
        self._save_history("finetune", history)
        _io.save_model(model, self.path("finetuned.keras"))

    def _distill(self):
        from kerasreg.compression.distillation import distill

        c = self.config
        keras.utils.set_random_seed(c.seed + 2)
        teacher = _load(self.path("original.keras"))
        if c.student == "shrunk":
            student = _load(self.path(self._latest_before("distill")))
        else:
            student = _fresh(c.student, self.dataset, c.learning_rate)
        distiller = distill(
            teacher,
            student,
            self.dataset,
            c.distill_epochs,
            temperature=c.temperature,
            lambda_soft=c.lambda_soft,
            lambda_hard=c.lambda_hard,
            learning_rate=c.learning_rate / 3,
            batch_size=c.batch_size,
            verbose=self.verbose,
        )
        history = getattr(distiller, "history", None)
        if history is not None:
            self._save_history(
                "distill",
                {k: [float(v) for v in vs] for k, vs in history.history.items()},
            )
        _io.save_model(distiller.student, self.path("distilled.keras"))

    def _prune(self):
        from kerasreg.compression.pruning import prune

        c = self.config
        result = prune(
            self.path(self._latest_before("prune")),
            self.dataset,
            sparsity=c.prune_sparsity,
            epochs=c.prune_epochs,
            learning_rate=c.learning_rate / 3,
            batch_size=c.batch_size,
            seed=c.seed + 3,
            verbose=self.verbose,
        )
        self._save_history("prune", result["history"])
        _io.save_model(result["model"], self.path("pruned.keras"))
        return {"sparsity": result["sparsity"]}

    def _qat(self):
        from kerasreg.compression.quantization import qat

        c = self.config
        result = qat(
            self.path(self._latest_before("qat")),
            self.dataset,
            epochs=c.qat_epochs,
            learning_rate=c.learning_rate / 30,
            batch_size=c.batch_size,
            recipe=self.recipe,
            seed=c.seed + 4,
            verbose=self.verbose,
        )
        self._save_history("qat", result["history"])
        _io.save_model(result["model"], self.path("qat.keras"))
        return {"accuracy_qat": result["accuracy_qat"]}

    def _export(self):
        from kerasreg.compression.export import to_tflite

        original = _load(self.path("original.keras"))
        to_tflite(original, self.path("original_float32.tflite"))
        final = _load(self.path(self._latest_before("qat")))
        quantized = _load(self.path("qat.keras")) if "qat" in self.state.done else None
        representative = _representative(final, self.dataset)
        for q in self.config.quantize:
            integer = q.startswith("int8")
            to_tflite(
                quantized if integer and quantized is not None else final,
                self.path(f"final_{q}.tflite"),
                quantization=q,
                representative_data=representative if integer else None,
            )

    # -- bookkeeping ----------------------------------------------------------

    def _latest_before(self, stage):
        """The file of the last finished Keras stage before `stage`."""
        latest = None
        for name, filename in self.KERAS_STAGES:
            if name == stage:
                break
            if name in self.state.done:
                latest = filename
        return latest

    def histories(self):
        """Training curves of every finished training stage, in order."""
        curves = {}
        for stage in ("original", "slim", "finetune", "distill", "prune", "qat"):
            path = self.path(f"history_{stage}.json")
            if os.path.exists(path):
                with open(path) as f:
                    curves[stage] = json.load(f)
        return curves

    def channels(self):
        """`{layer: [channels before, after]}` of the shrink stage, or `None`."""
        info = self.state.done.get("shrink", {})
        if "channels_before" not in info:
            return None
        before, after = info["channels_before"], info["channels_after"]
        return {name: [w, after.get(name, 0)] for name, w in before.items()}

    def gamma_history(self):
        path = self.path("gamma_history.npz")
        if not os.path.exists(path):
            return None
        with np.load(path) as archive:
            names = list(archive.files)
            stacked = {name: archive[name] for name in names}
        epochs = len(next(iter(stacked.values())))
        return [{name: stacked[name][e] for name in names} for e in range(epochs)]


def _fresh(name, dataset, learning_rate):
    model = models_lib.build(name, dataset.input_shape, dataset.num_classes)
    return compile_model(model, learning_rate)


def _load(path):
    return load_model(path, compile=False)


def _representative(model, dataset, n=200):
    """Calibration images: a seeded random draw of `n` training images."""
    if isinstance(dataset, data_lib.Dataset):
        rng = np.random.default_rng(0)
        images = dataset.x_train[rng.permutation(len(dataset.x_train))[:n]]
        scale = data_lib.input_scale(model, dataset)
        return images * np.float32(scale) if scale != 1 else images
    return calibration_images(model, dataset, n)
