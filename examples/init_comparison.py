"""Seed 001's weight-initialization comparison: std 0.01, Xavier and He.

Part 1, activation distributions: a 5-layer MLP (100 units a layer) with
sigmoid or ReLU, initialized with std 0.01, Xavier (Glorot) or He, is run
on 1000 Gaussian inputs; `kerasreg.initializers.activation_stats` records
each layer's activations and `plot_activation_histograms` draws them
(`activations.png`). With std 0.01 the sigmoid outputs collapse onto 0.5
and the ReLU outputs onto 0; Xavier suits sigmoid; under ReLU only He
keeps the spread through depth.

Part 2, training: the same deep ReLU MLP is trained on digits with plain
SGD (seed 001's setting) for the same number of epochs from each
initialization (`training.png`: loss per epoch). Run:

    python examples/init_comparison.py --out runs/init_comparison
"""

from __future__ import annotations

import argparse
import json
import os

import keras
import numpy as np

import kerasreg
from kerasreg import initializers, report

SCHEMES = ("std0.01", "xavier", "he")


def build_mlp(activation, scheme, depth=5, width=100, inputs=100, classes=None):
    """`depth` Dense layers of `width` units, all initialized by `scheme`."""
    keras.utils.set_random_seed(0)
    layers = [keras.Input((inputs,))]
    for i in range(depth):
        layers.append(
            keras.layers.Dense(
                width,
                activation=activation,
                kernel_initializer=initializers.initializer_for(
                    activation, scheme, seed=i
                ),
                name=f"layer{i + 1}",
            )
        )
    if classes:
        init = initializers.initializer_for("linear", scheme, seed=depth)
        layers.append(
            keras.layers.Dense(classes, kernel_initializer=init, name="logits")
        )
    return keras.Sequential(layers)


def activation_experiment(out=None):
    """Per-layer activation std for each activation and scheme."""
    x = np.random.default_rng(0).normal(size=(1000, 100)).astype("float32")
    stats = {
        f"{activation} {scheme}": initializers.activation_stats(
            build_mlp(activation, scheme), x
        )
        for activation in ("sigmoid", "relu")
        for scheme in SCHEMES
    }
    if out is not None:
        initializers.plot_activation_histograms(
            stats,
            os.path.join(out, "activations.png"),
            title="Activations per layer (seed 001): std 0.01 vs Xavier vs He",
        )
    return {
        run: [round(layer["std"], 5) for layer in layers.values()]
        for run, layers in stats.items()
    }


def training_experiment(epochs=30, learning_rate=0.01, out=None):
    """Test accuracy of a deep ReLU MLP after `epochs` of SGD, per scheme."""
    data = kerasreg.data.load("digits")
    x = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    results, curves = {}, {}
    for scheme in SCHEMES:
        model = build_mlp("relu", scheme, inputs=64, classes=data.num_classes)
        model.compile(
            keras.optimizers.SGD(learning_rate),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        keras.utils.set_random_seed(0)
        history = model.fit(x, data.y_train, epochs=epochs, batch_size=100, verbose=0)
        curves[scheme] = [float(v) for v in history.history["loss"]]
        results[scheme] = {
            "test_accuracy": kerasreg.training.evaluate_accuracy(
                model, x_test, data.y_test
            ),
            "final_loss": curves[scheme][-1],
        }
    if out is not None:
        _plot_losses(curves, os.path.join(out, "training.png"))
    results["settings"] = {
        "model": "MLP 64-5x100(ReLU)-10",
        "optimizer": f"SGD lr={learning_rate}, batch 100",
        "epochs": epochs,
    }
    return results


def _plot_losses(curves, path):
    plt = report.pyplot()

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for scheme, losses in curves.items():
        ax.plot(range(1, len(losses) + 1), losses, label=scheme)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title("Deep ReLU MLP on digits, SGD")
    ax.legend()
    fig.tight_layout()
    report.save_figure(fig, path, dpi=100)


def run(epochs=30, out=None):
    if out is not None:
        os.makedirs(out, exist_ok=True)
    return {
        "activation_std": activation_experiment(out),
        "training": training_experiment(epochs, out=out),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/init_comparison")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.epochs, args.out), indent=2))


if __name__ == "__main__":
    main()
