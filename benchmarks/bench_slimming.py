"""Network slimming targets (issue 3), as ratios within one run.

Parts (run one or all; each prints one JSON object per line):

  accuracy   digits `resnet`: slimmed + shrunk + fine-tuned vs the same model
             trained the same total epochs without slimming; the whole λ
             sweep. Target: >= 90% params removed, <= 1.0 point drop.
  selection  at the same per-layer widths and the same fine-tuning:
             γ-selected channels vs random channels vs the slim architecture
             trained from scratch.
  speed      CPU latency ratio shrunk/original at batch 64 (tf.function)
             against the FLOPs ratio. Target: latency ratio <= 1.5 x FLOPs ratio.
  surgery    shrink() on keras.applications ResNet50 (32x32, 10 classes) with
             half the γ of every BN zeroed. Target: < 30 s.
  overhead   train-step time with NetworkSlimming vs without. Target: <= 1.10x.

Usage:
  python benchmarks/bench_slimming.py [accuracy|selection|speed|surgery|overhead|all]
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasreg import data as data_lib  # noqa: E402
from kerasreg import metrics, models, training  # noqa: E402
from kerasreg.compression import NetworkSlimming, shrink  # noqa: E402
from kerasreg.compression.slimming import batchnorm_layers  # noqa: E402
from kerasreg.compression.surgery import (
    ChannelGraph,  # noqa: E402
    plan_shrink,  # noqa: E402
)

# The recipe measured below (see docs/benchmarks.md).
RECIPE = {
    "model": "resnet",
    "epochs": 30,
    "finetune_epochs": 15,
    "freeze_from_epoch": 10,
    "learning_rate": 3e-3,
    "batch_size": 64,
    "l1": 0.2,
    # Liu et al.'s route on top, ranking channel classes by their largest
    # coupled |γ| so residual-stream channels go together.
    "prune_ratio": 0.7,
    "prune_coupled": True,
    "max_prune_per_layer": 0.95,
}
# The seed's own method (L1 + sign-flip freezing, no marking) over λ. Adam
# needs larger λ than the seed's momentum SGD (0 to 1e-3).
GRID = (0.25, 0.2, 0.15, 0.1, 0.03, 0.0)


def emit(**fields):
    print(json.dumps(fields), flush=True)


def _fit(model, d, epochs, callbacks=()):
    training.fit(
        model,
        d,
        epochs=epochs,
        batch_size=RECIPE["batch_size"],
        callbacks=callbacks,
        validation=False,
    )


def _acc(model, d):
    return training.evaluate_accuracy(model, d.x_test, d.y_test)


_CACHE = {}


def recipe(d):
    """The recipe's (full, shrunk) models, trained once per run."""
    if "recipe" not in _CACHE:
        _CACHE["recipe"] = slim_once(d, RECIPE["l1"], marking=True)
    return _CACHE["recipe"]


def slim_once(d, l1, seed=0, marking=True):
    """Slim, shrink and fine-tune; returns (trained full model, shrunk model)."""
    keras.utils.set_random_seed(seed)
    model = training.compile_model(
        models.build(RECIPE["model"], d.input_shape, d.num_classes),
        RECIPE["learning_rate"],
    )
    callback = NetworkSlimming(
        l1,
        freeze_from_epoch=RECIPE["freeze_from_epoch"],
        prune_ratio=RECIPE["prune_ratio"] if marking else None,
        prune_coupled=RECIPE["prune_coupled"],
        max_prune_per_layer=RECIPE["max_prune_per_layer"],
    )
    _fit(model, d, RECIPE["epochs"], [callback])
    small = shrink(model)
    training.compile_model(small, RECIPE["learning_rate"])
    _fit(small, d, RECIPE["finetune_epochs"])
    return model, small


def baseline(d, seed=0):
    if "baseline" in _CACHE:
        return _CACHE["baseline"]
    keras.utils.set_random_seed(seed)
    model = training.compile_model(
        models.build(RECIPE["model"], d.input_shape, d.num_classes),
        RECIPE["learning_rate"],
    )
    _fit(model, d, RECIPE["epochs"] + RECIPE["finetune_epochs"])
    return model


def _row(small, d, base_acc, base_params, base_flops):
    acc = _acc(small, d)
    return {
        "accuracy": acc,
        "drop_points": 100 * (base_acc - acc),
        "params": metrics.count_params(small),
        "param_reduction": 1 - metrics.count_params(small) / base_params,
        "flops_ratio": metrics.count_flops(small) / base_flops,
    }


def part_accuracy(d, sweep=True):
    base = baseline(d)
    base_acc, base_params = _acc(base, d), metrics.count_params(base)
    base_flops = metrics.count_flops(base)
    emit(part="accuracy", run="baseline", accuracy=base_acc, params=base_params)
    _, small = recipe(d)
    row = _row(small, d, base_acc, base_params, base_flops)
    emit(
        part="accuracy",
        run="recipe",
        recipe=RECIPE,
        target="param_reduction >= 0.90 with drop_points <= 1.0",
        met=bool(row["param_reduction"] >= 0.90 and row["drop_points"] <= 1.0),
        **row,
    )
    for l1 in GRID if sweep else ():
        _, small = slim_once(d, l1, marking=False)
        emit(
            part="accuracy",
            run="sweep_seed_method",
            l1=l1,
            **_row(small, d, base_acc, base_params, base_flops),
        )


def _families(graph):
    """Groups of channel classes that share one set of tensors."""
    families = {}
    for labels in graph.labels.values():
        key = tuple(sorted(set(labels.tolist())))
        if len(key) > 1:
            families.setdefault(key, None)
    return list(families)


def _keep_classes(model, keep_labels, graph):
    """Zero γ and β in every BN for channel classes not in `keep_labels`."""
    for call in graph.calls:
        if call.kind != "bn" or not call.layer.scale:
            continue
        labels = graph.labels[call.outputs[0]]
        drop = ~np.isin(labels, list(keep_labels))
        for var in (call.layer.gamma, call.layer.beta):
            value = keras.ops.convert_to_numpy(var).copy()
            value[drop] = 0.0
            var.assign(value)


def part_selection(d):
    full, small = recipe(d)
    graph = ChannelGraph(full)
    plan = plan_shrink(full)
    kept = set()
    for tid, labels in graph.labels.items():
        kept.update(labels[plan.keep[tid]].tolist())
    rng = np.random.default_rng(0)
    random_keep = set()
    for family in _families(graph):
        family_kept = [label for label in family if label in kept]
        random_keep.update(rng.choice(family, len(family_kept), replace=False).tolist())
    # Random channels at the same widths, taken from the model trained
    # without slimming (every channel alive), then the same fine-tuning.
    base = baseline(d)
    randomized = keras.models.clone_model(base)
    randomized.set_weights(base.get_weights())
    _keep_classes(randomized, random_keep, graph=ChannelGraph(randomized))
    random_small = shrink(randomized)
    training.compile_model(random_small, RECIPE["learning_rate"])
    _fit(random_small, d, RECIPE["finetune_epochs"])
    # The slim architecture from scratch, same fine-tuning epochs and all epochs.
    scratch = keras.models.clone_model(small)
    training.compile_model(scratch, RECIPE["learning_rate"])
    _fit(scratch, d, RECIPE["finetune_epochs"])
    scratch_long = keras.models.clone_model(small)
    training.compile_model(scratch_long, RECIPE["learning_rate"])
    _fit(scratch_long, d, RECIPE["epochs"] + RECIPE["finetune_epochs"])
    emit(
        part="selection",
        params_gamma=metrics.count_params(small),
        params_random=metrics.count_params(random_small),
        gamma_selected=_acc(small, d),
        random_channels=_acc(random_small, d),
        scratch_same_finetune=_acc(scratch, d),
        scratch_all_epochs=_acc(scratch_long, d),
    )


def _interleaved_latency(a, b, batch, rounds=7):
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(metrics.measure_latency(a, batch_size=batch, repeats=20))
        tb.append(metrics.measure_latency(b, batch_size=batch, repeats=20))
    return float(np.median(ta)), float(np.median(tb))


def _tflite_latency(model, batch, path):
    from kerasreg.compression.export import TFLiteModel, to_tflite

    to_tflite(model, path)
    return TFLiteModel(path).measure_latency(batch_size=batch, repeats=100)


def part_speed(d):
    """Latency ratio vs FLOPs ratio: tf.function (graph) and TFLite float32.

    Measured for the recipe's shrunk model and for the same slimmed model
    shrunk with `round_to=8` (then fine-tuned the same epochs).
    """
    import tempfile

    full, small = recipe(d)
    rounded = shrink(full, round_to=8)
    training.compile_model(rounded, RECIPE["learning_rate"])
    _fit(rounded, d, RECIPE["finetune_epochs"])
    for variant, model in (("recipe", small), ("recipe_round_to_8", rounded)):
        flops_ratio = metrics.count_flops(model) / metrics.count_flops(full)
        for batch in (1, 64):
            t_full, t_small = _interleaved_latency(full, model, batch)
            with tempfile.TemporaryDirectory() as tmp:
                l_full = _tflite_latency(full, batch, os.path.join(tmp, "full.tflite"))
                l_small = _tflite_latency(
                    model, batch, os.path.join(tmp, "small.tflite")
                )
            for runtime, a, b in (
                ("tf.function", t_full, t_small),
                ("tflite", l_full, l_small),
            ):
                emit(
                    part="speed",
                    variant=variant,
                    runtime=runtime,
                    batch=batch,
                    accuracy=_acc(model, d),
                    param_reduction=1
                    - metrics.count_params(model) / metrics.count_params(full),
                    latency_full_ms=1e3 * a,
                    latency_small_ms=1e3 * b,
                    latency_ratio=b / a,
                    flops_ratio=flops_ratio,
                    latency_over_flops=(b / a) / flops_ratio,
                    target="latency_ratio <= 1.5 x flops_ratio at batch 64",
                )


def part_surgery():
    model = keras.applications.ResNet50(
        weights=None, input_shape=(32, 32, 3), classes=10, classifier_activation=None
    )
    rng = np.random.default_rng(0)
    for bn in batchnorm_layers(model):
        gamma = keras.ops.convert_to_numpy(bn.gamma).copy()
        gamma[rng.choice(gamma.size, gamma.size // 2, replace=False)] = 0.0
        bn.gamma.assign(gamma)
    start = time.perf_counter()
    small = shrink(model)
    seconds = time.perf_counter() - start
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    a = keras.ops.convert_to_numpy(model(x, training=False))
    b = keras.ops.convert_to_numpy(small(x, training=False))
    emit(
        part="surgery",
        seconds=seconds,
        target_seconds=30,
        params_before=metrics.count_params(model),
        params_after=metrics.count_params(small),
        max_abs_diff_over_max=float(np.max(np.abs(a - b)) / np.max(np.abs(a))),
    )


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def part_overhead(d, rounds=3, epochs=6):
    """Steady-state seconds per epoch (23 steps), with and without slimming.

    Each fit's first epoch (tracing the train step) is excluded; runs with
    and without the callback alternate so load changes hit both alike.
    """
    times = {"plain": [], "slimming": []}
    for _ in range(rounds):
        for name in ("plain", "slimming"):
            keras.utils.set_random_seed(0)
            model = training.compile_model(models.resnet(d.input_shape, 10), 3e-3)
            timer = _EpochTimer()
            callbacks = [timer]
            if name == "slimming":
                callbacks.insert(0, NetworkSlimming(1e-2, freeze_from_epoch=0))
            _fit(model, d, epochs, callbacks)
            times[name].extend(timer.seconds[1:])
    plain, slim = np.median(times["plain"]), np.median(times["slimming"])
    emit(
        part="overhead",
        epoch_seconds_plain=float(plain),
        epoch_seconds_slimming=float(slim),
        ratio=float(slim / plain),
        target_ratio=1.10,
    )


def main(argv):
    which = argv[1] if len(argv) > 1 else "all"
    d = data_lib.load("digits")
    parts = {
        "accuracy": lambda: part_accuracy(d),
        "selection": lambda: part_selection(d),
        "speed": lambda: part_speed(d),
        "surgery": part_surgery,
        "overhead": lambda: part_overhead(d),
    }
    for name, run in parts.items():
        if which in (name, "all"):
            run()


if __name__ == "__main__":
    main(sys.argv)
