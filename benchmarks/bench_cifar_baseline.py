"""Benchmark the plain resnet20 CIFAR-10 baseline every CIFAR benchmark builds on.

`resnet20` trained with its standard recipe (`kerasreg.models.recipes`:
SGD 0.1, momentum 0.9, cosine decay over `--epochs`, coupled weight decay
5e-4, batch 64, pad-4 crop and flip) on a stratified `--train-subset` of
the shared CIFAR-10 folder, and tested on all 9,000 test images (see
`benchmarks/cifar.py`). Target: at least 78% test accuracy at 10,000
training images in at most 40 epochs (`target_met`). The trained model is
cached under `runs/cifar/`, so a second run only reads it back; later
benchmarks reuse it as their baseline. Run:

    python benchmarks/bench_cifar_baseline.py [--train-subset 10000] [--epochs 30]

It prints one JSON line per epoch while training, then one JSON object.
"""

from __future__ import annotations

import argparse
import json

import cifar

TARGET_ACCURACY = 0.78
TARGET_SUBSET = 10_000
TARGET_MAX_EPOCHS = 40


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cifar.add_cifar_args(parser, train_subset=TARGET_SUBSET)
    parser.add_argument("--epochs", type=int, default=30, help="(default: %(default)s)")
    args = parser.parse_args(argv)

    result = cifar.cached_train(
        "resnet20", args, epochs=args.epochs, recipe="resnet20", verbose=0
    )
    timing = result["timing"]
    report = {
        "model": "resnet20",
        "recipe": "resnet20",
        "train_images": timing.get("num_train"),
        "test_images": timing.get("num_test"),
        "epochs": args.epochs,
        "test_accuracy": round(result["test_accuracy"], 4),
        "seconds_per_epoch": timing.get("seconds_per_epoch"),
        "train_seconds_per_epoch": timing.get("train_seconds_per_epoch"),
        "total_seconds": round(timing.get("total_seconds", float("nan")), 1),
        "params": result["params"],
        "target": f">= {TARGET_ACCURACY:.0%} at {TARGET_SUBSET} images in <= "
        f"{TARGET_MAX_EPOCHS} epochs",
        "target_met": bool(
            result["test_accuracy"] >= TARGET_ACCURACY
            and args.train_subset == TARGET_SUBSET
            and args.epochs <= TARGET_MAX_EPOCHS
        ),
        "cached": result["cached"],
        "out": result["out"],
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
