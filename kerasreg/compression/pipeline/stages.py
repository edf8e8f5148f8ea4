"""The stages of the compression pipeline, one method each, and their helpers."""

from __future__ import annotations

import json
import os

import keras
import numpy as np

from kerasreg import _io, metrics
from kerasreg import models as models_lib
from kerasreg.training import compile_model, evaluate_accuracy, fit

__all__ = ["StageRunner"]


class StageRunner:
    """Runs the pipeline stages in order, skipping those already done."""

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

    def run_all(self):
        c = self.config
        self._stage("baseline", True, self._baseline)
        self._stage("shrink", True, self._shrink)
        self._stage("finetune", c.finetune_epochs > 0, self._finetune)
        self._stage("distill", c.distill_epochs > 0, self._distill)
        self._stage("prune", c.prune_sparsity > 0, self._prune)
        self._stage("export", True, self._export)

    # -- training stages ------------------------------------------------------

    def _fit(self, model, epochs, callbacks=()):
        return fit(
            model,
            self.dataset,
            epochs=epochs,
            batch_size=self.config.batch_size,
            callbacks=callbacks,
            verbose=self.verbose,
        )

    def _save_history(self, stage, history):
        _io.write_json(self.path(f"history_{stage}.json"), history)

    def _baseline(self):
        from kerasreg.compression.slimming.network_slimming import NetworkSlimming

        c = self.config
        keras.utils.set_random_seed(c.seed)
        model = _fresh(c.model, self.dataset, c.learning_rate)
        callbacks = []
        if c.l1 > 0 or c.mark_ratio > 0:
            slimming = NetworkSlimming(
                c.l1, freeze_from_epoch=c.freeze_from if c.l1 > 0 else None
            )
            callbacks.append(slimming)
        history = self._fit(model, c.epochs, callbacks)
        if callbacks:
            gammas = {
                name: np.stack([epoch[name] for epoch in slimming.gamma_history])
                for name in slimming.gamma_history[0]
            }
            with _io.atomic_path(self.path("gamma_history.npz")) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **gammas)
        self._save_history("baseline", history)
        _io.save_model(model, self.path("baseline.keras"))

    def _shrink(self):
        from kerasreg.compression.slimming.report import channel_profile
        from kerasreg.compression.surgery.rebuild import shrink

        model = _load(self.path("baseline.keras"))
        if self.config.mark_ratio > 0:
            from kerasreg.compression.slimming.channel_marking import mark_channels

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
        model = compile_model(_load(self.path("shrunk.keras")), c.learning_rate)
        self._save_history("finetune", self._fit(model, c.finetune_epochs))
        _io.save_model(model, self.path("finetuned.keras"))

    def _distill(self):
        from kerasreg.compression.distillation.distiller import distill

        c = self.config
        keras.utils.set_random_seed(c.seed + 2)
        teacher = _load(self.path("baseline.keras"))
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
        from kerasreg.compression.pruning.workflow import prune

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

    def _export(self):
        from kerasreg.compression.export.tflite_converter import to_tflite

        c = self.config
        representative = _representative(self.dataset)
        baseline = _load(self.path("baseline.keras"))
        to_tflite(baseline, self.path("baseline_float32.tflite"))
        final = _load(self.path(self._latest_before("export")))
        for q in c.quantize:
            to_tflite(
                final,
                self.path(f"final_{q}.tflite"),
                quantization=None if q == "float32" else q,
                representative_data=representative if q.startswith("int8") else None,
            )

    # -- bookkeeping ----------------------------------------------------------

    KERAS_STAGES = (
        ("baseline", "baseline.keras"),
        ("shrink", "shrunk.keras"),
        ("finetune", "finetuned.keras"),
        ("distill", "distilled.keras"),
        ("prune", "pruned.keras"),
    )

    def _latest_before(self, stage):
        """The file of the last finished Keras stage before `stage`."""
        latest = None
        for name, filename in self.KERAS_STAGES:
            if name == stage:
                break
            if name in self.state.done:
                latest = filename
        return latest

    def evaluate(self):
        from kerasreg.compression.export.tflite_model import TFLiteModel

        rows = []
        for name, filename in self.KERAS_STAGES:
            if name in self.state.done:
                rows.append(
                    _keras_row(
                        name,
                        _load(self.path(filename)),
                        self.dataset,
                    )
                )
        tflites = [("tflite baseline float32", "baseline_float32.tflite")]
        tflites += [(f"tflite {q}", f"final_{q}.tflite") for q in self.config.quantize]
        x, y = self.dataset.x_test, self.dataset.y_test
        final_params = rows[-1]["params"]
        final_flops = rows[-1]["flops"]
        for name, filename in tflites:
            metrics = TFLiteModel(self.path(filename)).evaluate(x, y)
            is_base = "baseline" in name
            rows.append(
                {
                    "stage": name,
                    "params": rows[0]["params"] if is_base else final_params,
                    "flops": rows[0]["flops"] if is_base else final_flops,
                    "size_bytes": metrics["size_bytes"],
                    "accuracy": metrics["accuracy"],
                    "latency_ms": metrics["latency_ms"],
                }
            )
        by_stage = {r["stage"]: r for r in rows}
        base = by_stage["tflite baseline float32"]
        smallest = min(
            (r for r in rows if r["stage"].startswith("tflite int8")),
            key=lambda r: r["size_bytes"],
            default=None,
        )
        targets = {}
        if smallest is not None:
            targets = {
                "int8_stage": smallest["stage"],
                "size_reduction_x": base["size_bytes"] / smallest["size_bytes"],
                "accuracy_drop_points": 100 * (base["accuracy"] - smallest["accuracy"]),
                "target_size_reduction_x": 10.0,
                "target_accuracy_drop_points": 1.5,
            }
        return rows, targets

    def histories(self):
        """Training curves of every finished training stage, in order."""
        curves = {}
        for stage in ("baseline", "finetune", "distill", "prune"):
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


def _accuracy(model, dataset):
    return evaluate_accuracy(model, dataset.x_test, dataset.y_test)


def _keras_row(stage, model, dataset):
    return {
        "stage": stage,
        "params": metrics.count_params(model),
        "flops": metrics.count_flops(model),
        "size_bytes": metrics.saved_size(model),  # weights only, no optimizer
        "accuracy": _accuracy(model, dataset),
        "latency_ms": 1e3 * metrics.measure_latency(model, batch_size=1, repeats=50),
    }


def _fresh(name, dataset, learning_rate):
    model = models_lib.build(name, dataset.input_shape, dataset.num_classes)
    return compile_model(model, learning_rate)


def _load(path):
    return keras.saving.load_model(path, compile=False)


def _representative(dataset, n=200):
    rng = np.random.default_rng(0)
    return dataset.x_train[rng.permutation(len(dataset.x_train))[:n]]
