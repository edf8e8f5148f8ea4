"""The `zoo` part of `bench_slimming_cifar.py`: shrink on every keras.applications model.

For each architecture (`weights=None`, 10 classes, logits, the smallest
input among 32, 75 and 224 pixels it accepts), half of the γ of every
BatchNormalization are zeroed at random (β random too, so removed channels
carry constants that `shrink` must fold), and the model is shrunk. It is
*exact* when the shrunk model's inference outputs on two random images
differ from the original's by at most 1e-4 of their largest magnitude;
otherwise `shrink`'s refusal is recorded with its reason. The seconds of
`shrink` are set against a plain `keras.models.clone_model` + `set_weights`
of the same model, interleaved in the same run (median of `--repeats`).

    python benchmarks/bench_slimming_cifar.py zoo [--only ResNet50,VGG16]
"""

from __future__ import annotations

import gc
import json
import sys
import time

import keras
import numpy as np

from kerasreg import metrics
from kerasreg.compression import shrink
from kerasreg.compression.slimming import batchnorm_layers

SIZES = (32, 75, 224)
TARGET_RATIO = 2.0  # shrink on ResNet50 vs clone_model + set_weights


def architectures():
    return sorted(
        name
        for name in dir(keras.applications)
        if name[0].isupper() and callable(getattr(keras.applications, name))
    )


def build(name):
    constructor = getattr(keras.applications, name)
    for size in SIZES:
        try:
            return size, constructor(
                weights=None,
                input_shape=(size, size, 3),
                classes=10,
                classifier_activation=None,
            )
        except ValueError:
            continue
    model = constructor(weights=None, classes=10, classifier_activation=None)
    return model.input_shape[1], model


def half_dead(model, rng):
    for bn in batchnorm_layers(model):
        n = bn.gamma.shape[0]
        gamma = rng.uniform(0.5, 1.5, n) * (rng.random(n) >= 0.5)
        bn.gamma.assign(gamma.astype("float32"))
        if bn.center:
            bn.beta.assign(rng.normal(size=n).astype("float32"))


def _clone(model):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _seconds(fn, model):
    start = time.perf_counter()
    out = fn(model)
    return time.perf_counter() - start, out


def one(name, repeats, rng):
    row = {"model": name}
    try:
        size, model = build(name)
    except Exception as error:  # an architecture Keras cannot build here
        return {
            **row,
            "status": "not built",
            "reason": f"{type(error).__name__}: {error}",
        }
    row["input"] = size
    try:
        half_dead(model, rng)
    except ValueError as error:  # no BatchNormalization
        row["bn_layers"] = 0
        del error
    try:
        times = {"shrink": [], "clone": []}
        for _ in range(repeats):
            seconds, small = _seconds(shrink, model)
            times["shrink"].append(seconds)
            times["clone"].append(_seconds(_clone, model)[0])
    except ValueError as error:
        return {**row, "status": "refused", "reason": str(error)}
    x = rng.normal(size=(2, size, size, 3)).astype("float32")
    a = keras.ops.convert_to_numpy(model(x, training=False))
    b = keras.ops.convert_to_numpy(small(x, training=False))
    error = float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
    row.update(
        status="exact" if error <= 1e-4 else "inexact",
        max_diff_over_max=error,
        params_before=metrics.count_params(model),
        params_removed=1 - metrics.count_params(small) / metrics.count_params(model),
        shrink_seconds=float(np.median(times["shrink"])),
        clone_seconds=float(np.median(times["clone"])),
    )
    row["ratio_to_clone"] = row["shrink_seconds"] / row["clone_seconds"]
    return row


def part_zoo(only=None, repeats=3):
    names = only or architectures()
    rng = np.random.default_rng(0)
    rows = []
    for name in names:
        row = one(name, repeats if name == "ResNet50" else 1, rng)
        print(json.dumps(row), flush=True)
        rows.append(row)
        keras.backend.clear_session()
        gc.collect()
    resnet = next((r for r in rows if r["model"] == "ResNet50"), None)
    summary = {
        "part": "zoo",
        "exact": [r["model"] for r in rows if r["status"] == "exact"],
        "refused": {r["model"]: r["reason"] for r in rows if r["status"] == "refused"},
        "other": {
            r["model"]: r["status"]
            for r in rows
            if r["status"] not in ("exact", "refused")
        },
    }
    if resnet and "ratio_to_clone" in resnet:
        summary.update(
            resnet50_shrink_seconds=resnet["shrink_seconds"],
            resnet50_clone_seconds=resnet["clone_seconds"],
            resnet50_ratio=resnet["ratio_to_clone"],
            target_ratio=TARGET_RATIO,
            target_met=bool(resnet["ratio_to_clone"] <= TARGET_RATIO),
        )
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    part_zoo(sys.argv[1].split(",") if len(sys.argv) > 1 else None)
