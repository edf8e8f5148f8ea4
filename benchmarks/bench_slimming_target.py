"""Slimming in a user's own training loop: a fixed λ against `target=`, on digits.

The setup a new user tried: a digits ResNet (widths 32/64/128, 2 basic
blocks per stage, 0.3M parameters) trained with their own optimizer for 30
epochs with `NetworkSlimming(..., freeze_from_epoch=15)`, then `shrink` and
10 fine-tuning epochs with the same optimizer settings. The reference is the
same model trained plainly for the same 40 epochs, in the same run.

- SGD: learning rate 0.05, momentum 0.9, weight decay 5e-4 (Keras's
  `weight_decay`), batch 64.
- Adam: learning rate 1e-3, batch 64.

Target: `NetworkSlimming(target=0.7)` removes at least 70% of the parameters
after `shrink`, at most 1.0 point below the plain model, with each optimizer.
`--grid` adds the fixed λ grid {1e-4, 3e-4, 1e-3, 3e-3} for comparison, with
the warning each run prints when nothing could be removed.

    python benchmarks/bench_slimming_target.py [--optimizers sgd,adam] [--grid]

Prints one JSON object per run, then a summary object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from kerasreg import data as data_lib  # noqa: E402
from kerasreg import metrics, models, training  # noqa: E402
from kerasreg.compression import NetworkSlimming, shrink  # noqa: E402

EPOCHS, FREEZE, FINETUNE, BATCH = 30, 15, 10, 64
TARGET, MAX_DROP = 0.7, 1.0
GRID = (1e-4, 3e-4, 1e-3, 3e-3)
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def optimizer(name):
    if name == "sgd":
        return keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=5e-4)
    return keras.optimizers.Adam(1e-3)


def build(d, name, seed):
    keras.utils.set_random_seed(seed)
    model = models.resnet(
        d.input_shape, d.num_classes, widths=(32, 64, 128), blocks_per_stage=2
    )
    model.compile(optimizer(name), LOSS, metrics=["accuracy"])
    return model


def fit(model, d, epochs, callbacks=()):
    model.fit(
        d.x_train,
        d.y_train,
        epochs=epochs,
        batch_size=BATCH,
        callbacks=list(callbacks),
        verbose=0,
    )


def accuracy(model, d):
    return training.evaluate_accuracy(model, d.x_test, d.y_test)


def run_slimming(d, name, seed, **slimming):
    model = build(d, name, seed)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(model, d, EPOCHS, [NetworkSlimming(freeze_from_epoch=FREEZE, **slimming)])
    before = accuracy(model, d)
    small = shrink(model)
    small.compile(optimizer(name), LOSS, metrics=["accuracy"])
    fit(small, d, FINETUNE)
    advice = [str(w.message) for w in caught if "NetworkSlimming" in str(w.message)]
    return {
        "accuracy_before_finetune": before,
        "accuracy": accuracy(small, d),
        "param_reduction": 1
        - metrics.count_params(small) / metrics.count_params(model),
        "macs_ratio": metrics.count_flops(small) / metrics.count_flops(model),
        "seconds": round(time.perf_counter() - start, 1),
        "warning": advice[0] if advice else None,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--grid", action="store_true", help="also run the fixed λ grid")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    d = data_lib.load("digits")
    summary = {}
    for name in args.optimizers.split(","):
        plain = build(d, name, args.seed)
        fit(plain, d, EPOCHS + FINETUNE)
        base = accuracy(plain, d)
        print(
            json.dumps(
                {
                    "optimizer": name,
                    "run": "plain",
                    "epochs": EPOCHS + FINETUNE,
                    "accuracy": base,
                }
            ),
            flush=True,
        )
        runs = [("target", {"target": TARGET})]
        if args.grid:
            runs += [(f"l1={l1:g}", {"l1": l1}) for l1 in GRID]
        for label, kwargs in runs:
            row = run_slimming(d, name, args.seed, **kwargs)
            row.update(
                optimizer=name, run=label, drop_points=100 * (base - row["accuracy"])
            )
            print(json.dumps(row), flush=True)
            if label == "target":
                summary[name] = {
                    "plain_accuracy": base,
                    "accuracy": row["accuracy"],
                    "drop_points": row["drop_points"],
                    "param_reduction": row["param_reduction"],
                    "target_met": bool(
                        row["param_reduction"] >= TARGET
                        and row["drop_points"] <= MAX_DROP
                    ),
                }
    print(
        json.dumps(
            {
                "summary": summary,
                "target": f"removed >= {TARGET}, drop <= {MAX_DROP} point",
            }
        )
    )


if __name__ == "__main__":
    main()
