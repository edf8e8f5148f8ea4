"""Seed 001's overfitting experiment on a 300-sample subset of digits.

A deep MLP (6 hidden ReLU layers of 100 units) trained on only 300 digits
reaches ~100% training accuracy while test accuracy stays far lower: the
train-test gap is overfitting. Two regularizers narrow it:

- weight decay: `kerasreg.regularizers.regularize(model, l2=λ/2)` adds the
  seed's `½λ‖W‖²` to the loss (Keras's `L2(l2)` is `l2·Σw²`), λ = 0.005;
- dropout: `keras.layers.Dropout(0.2)` after every hidden layer.

Training is seed 001's: batch 100, 200 passes; SGD gets momentum 0.9 so
the unregularized net reaches 100% training accuracy on 8x8 digits as it
does on MNIST in the seed. λ = 0.1 (the seed's value on MNIST) stops this
6-layer net from learning at all on digits; 0.005 is the largest of
0.005 / 0.01 / 0.02 that narrowed the gap on every seed.

Every variant starts from the same initial weights and sees the same
batches. Run:

    python examples/overfitting.py --out runs/overfitting

It prints the accuracies as JSON and writes `overfitting.png` (train/test
accuracy per epoch for each variant).
"""

from __future__ import annotations

import argparse
import json
import os

import keras
import numpy as np

import kerasreg
from kerasreg import regularizers, report

SUBSET = 300


def build_mlp(dropout=0.0, depth=6, width=100, seed=0):
    """A deep ReLU MLP on flattened 8x8 digits, ending in logits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,))
    x = inputs
    for i in range(depth):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden{i + 1}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, seed=seed + i, name=f"drop{i + 1}")(x)
    outputs = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name="mlp")


def subset(data, size=SUBSET, seed=0):
    """The first `size` training digits after a seeded shuffle, flattened."""
    order = np.random.default_rng(seed).permutation(len(data.x_train))[:size]
    flat = data.x_train.reshape(len(data.x_train), -1)
    return flat[order], data.y_train[order]


def train_variant(model, x, y, x_test, y_test, epochs, seed, passes_per_fit=10):
    """SGD with momentum, batch 100; one curve point every `passes_per_fit` epochs.

    The 300 samples are tiled `passes_per_fit` times per `fit` epoch: the
    same number of passes over the data as `epochs` separate epochs, with
    a tenth of Keras's per-epoch overhead.
    """
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    keras.utils.set_random_seed(seed)
    history = model.fit(
        np.concatenate([x] * passes_per_fit),
        np.concatenate([y] * passes_per_fit),
        validation_data=(x_test, y_test),
        epochs=max(1, epochs // passes_per_fit),
        batch_size=100,
        verbose=0,
    )
    train_acc = kerasreg.training.evaluate_accuracy(model, x, y)
    test_acc = kerasreg.training.evaluate_accuracy(model, x_test, y_test)
    return {
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "gap": train_acc - test_acc,
        "curves": {
            "epoch": [passes_per_fit * (i + 1) for i in range(len(history.epoch))],
            "train": [float(v) for v in history.history["accuracy"]],
            "test": [float(v) for v in history.history["val_accuracy"]],
        },
    }


def run(epochs=200, weight_decay=0.005, dropout=0.2, seeds=(0, 1, 2), out=None):
    """Train the baseline, weight-decay and dropout variants; return the numbers.

    Args:
        epochs: passes over the 300 samples. Defaults to `200`.
        weight_decay: the seed's λ in `½λ‖W‖²` (`l2=λ/2`). Defaults to
            `0.005`.
        dropout: dropout rate after every hidden layer. Defaults to `0.2`.
        seeds: one run per seed (subset, weights, batches); results are
            averaged. Defaults to `(0, 1, 2)`.
        out: directory for `overfitting.png`; nothing is written if `None`.

    Returns:
        `{"baseline" | "weight_decay" | "dropout": {"train_accuracy",
        "test_accuracy", "gap", "gaps"}, "settings": {...}}`: means over
        the seeds, and the gap of each seed.
    """
    data = kerasreg.data.load("digits")
    x_test = data.x_test.reshape(len(data.x_test), -1)
    variants = {
        "baseline": lambda seed: build_mlp(seed=seed),
        "weight_decay": lambda seed: regularizers.regularize(
            build_mlp(seed=seed), l2=weight_decay / 2
        ),
        "dropout": lambda seed: build_mlp(dropout=dropout, seed=seed),
    }
    runs = {name: [] for name in variants}
    for seed in seeds:
        x, y = subset(data, seed=seed)
        for name, build in variants.items():
            runs[name].append(
                train_variant(build(seed), x, y, x_test, data.y_test, epochs, seed)
            )
    results = {
        name: {
            **{
                key: float(np.mean([r[key] for r in rs]))
                for key in ("train_accuracy", "test_accuracy", "gap")
            },
            "gaps": [round(r["gap"], 4) for r in rs],
        }
        for name, rs in runs.items()
    }
    results["settings"] = {
        "subset": SUBSET,
        "epochs": epochs,
        "seeds": list(seeds),
        "weight_decay_lambda": weight_decay,
        "dropout": dropout,
        "model": "MLP 64-6x100(ReLU)-10, SGD lr 0.01 momentum 0.9, batch 100",
    }
    if out is not None:
        os.makedirs(out, exist_ok=True)
        _plot(runs, os.path.join(out, "overfitting.png"))
    return results


def _plot(runs, path):
    plt = report.pyplot()

    fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.2), sharey=True)
    for ax, (name, rs) in zip(axes, runs.items()):
        curves = rs[0]["curves"]
        ax.plot(curves["epoch"], curves["train"], label="train")
        ax.plot(curves["epoch"], curves["test"], label="test")
        ax.set_title(f"{name}\ngap {rs[0]['gap']:.3f} (seed 0)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("accuracy")
    axes[0].legend()
    fig.tight_layout()
    report.save_figure(fig, path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/overfitting")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    results = run(epochs=args.epochs, seeds=tuple(range(args.seeds)), out=args.out)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
