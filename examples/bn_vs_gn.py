"""Batch norm against group norm at batch size 4 (seed 000).

Seed 000: "Batch Size が小さい条件下では、学習が収束しないことがある" — with
tiny batches, BatchNormalization's per-batch mean and variance are noisy,
and the moving averages used at inference disagree with what the network
saw in training. GroupNormalization computes its statistics per sample, so
the batch size does not matter to it.

The reference `resnet` is built once; `kerasreg.layers.convert_normalization`
turns a copy of it, with the same initial weights, into a group-norm
network. Both train for the same epochs at batch 4 (and, for reference, at
batch 64). Run:

    python examples/bn_vs_gn.py --out runs/bn_vs_gn

It prints test accuracies as JSON and writes `bn_vs_gn.png` (validation
accuracy per epoch).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import keras

import kerasreg
from kerasreg import layers as kr_layers
from kerasreg import models, report, training


def build(norm, groups=8, seed=0, model="resnet"):
    """A reference model with BN, or converted to GN (same initial weights)."""
    keras.utils.set_random_seed(seed)
    model = models.build(model, (8, 8, 1), 10)
    if norm == "group":
        model = kr_layers.convert_normalization(model, to="group", groups=groups)
    return model


def train(norm, batch_size, epochs, data, seed=0, model="resnet", learning_rate=3e-4):
    model = build(norm, seed=seed, model=model)
    training.compile_model(model, learning_rate=learning_rate)
    keras.utils.set_random_seed(seed)
    history = training.fit(model, data, epochs=epochs, batch_size=batch_size)
    return {
        "test_accuracy": training.evaluate_accuracy(model, data.x_test, data.y_test),
        "curve": history["val_accuracy"],
    }


def run(
    epochs=5,
    small_batch=4,
    large_batch=64,
    seeds=(0, 1, 2),
    out=None,
    model="resnet",
    split="test",
    learning_rate=3e-4,
):
    """Test accuracy of BN and GN at a small and a large batch size.

    Args:
        epochs: epochs per run. Defaults to `5`.
        small_batch: the small batch size. Defaults to `4`.
        large_batch: the reference batch size. Defaults to `64`.
        seeds: one run per seed (weights and batches); accuracies are
            averaged. Defaults to `(0, 1, 2)`.
        out: directory for `bn_vs_gn.png` (seed 0's curves); nothing is
            written if `None`.
        model: the `kerasreg.models` name: `"resnet"`, `"cnn"` or `"vgg"`.
            Defaults to `"resnet"`.
        split: `"test"` evaluates on the digits test split; `"validation"`
            holds out a shuffled 25% of the training split
            (`kerasreg.data.validation_split(rate=0.25, seed=0)`), trains
            on the rest and evaluates on it. Defaults to `"test"`.
        learning_rate: Adam learning rate of every run. Defaults to `3e-4`,
            the best of {1e-4, 3e-4, 1e-3} for both BN and GN on the
            validation split at batch 4 (docs/benchmarks.md).

    Returns:
        `{"batch_4": {"batch": acc, "group": acc, "batch_runs": [...],
        "group_runs": [...]}, "batch_64": {...}, "settings": {...}}`.
    """
    data = kerasreg.data.load("digits")
    if split == "validation":
        (x, y), (x_val, y_val) = kerasreg.data.validation_split(
            data.x_train, data.y_train, rate=0.25, seed=0
        )
        data = dataclasses.replace(
            data, x_train=x, y_train=y, x_test=x_val, y_test=y_val
        )
    elif split != "test":
        raise ValueError(f"Expected split 'test' or 'validation'. Received: {split!r}")
    runs = {}
    for batch_size in (small_batch, large_batch):
        for norm in ("batch", "group"):
            runs[(batch_size, norm)] = [
                train(norm, batch_size, epochs, data, seed, model, learning_rate)
                for seed in seeds
            ]
    if out is not None:
        os.makedirs(out, exist_ok=True)
        _plot(
            {key: rs[0] for key, rs in runs.items()}, os.path.join(out, "bn_vs_gn.png")
        )
    results = {}
    for batch_size in (small_batch, large_batch):
        entry = {}
        for norm in ("batch", "group"):
            accuracies = [r["test_accuracy"] for r in runs[(batch_size, norm)]]
            entry[norm] = sum(accuracies) / len(accuracies)
            entry[f"{norm}_runs"] = [round(a, 4) for a in accuracies]
        results[f"batch_{batch_size}"] = entry
    results["settings"] = {
        "model": f"kerasreg.models.{model}, GN groups=8",
        "split": split,
        "optimizer": f"Adam {learning_rate:g}",
        "epochs": epochs,
        "seeds": list(seeds),
    }
    return results


def _plot(runs, path):
    plt = report.pyplot()

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (batch_size, norm), result in runs.items():
        style = "-" if batch_size < 16 else ":"
        ax.plot(
            range(1, len(result["curve"]) + 1),
            result["curve"],
            style,
            marker="o",
            label=f"{norm} norm, batch {batch_size}",
        )
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("test accuracy (inference mode)")
    ax.set_title("BN vs GN on digits (seed 0)")
    ax.legend()
    fig.tight_layout()
    report.save_figure(fig, path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bn_vs_gn")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--model", default="resnet", choices=("resnet", "cnn", "vgg"))
    parser.add_argument("--split", default="test", choices=("test", "validation"))
    args = parser.parse_args(argv)
    results = run(
        args.epochs,
        seeds=tuple(range(args.seeds)),
        out=args.out,
        model=args.model,
        split=args.split,
        learning_rate=args.lr,
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
