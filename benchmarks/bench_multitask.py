"""Multi-task learning on CIFAR-10 with 1,000 labels: auxiliary heads against none.

Every run is `kerasreg.multitask` on a `resnet20` trunk (up to its global
average pooling), trained with resnet20's recipe (SGD, momentum 0.9, cosine
decay, weight decay 5e-4, batch 64; flip plus crop on every image) for the
same `--epochs`, from the same initial weights:

  * `single`: one head, the 10 classes, on the `--labels` labelled images
    (100 a class, fixed by `--seed`, from the default CIFAR subset of
    `benchmarks/cifar.py`), each presented `--repeat` times an epoch;
  * `rotation`: the same labelled stream, plus every image of the subset
    (5,000 by default) rotated by 0, 90, 180 or 270 degrees at random each
    epoch, and a second head that predicts which (Gidaris et al. 2018; as
    an auxiliary task, Hendrycks et al. 2019). The rotated images have no
    class label (`-1`, skipped by the class loss); flip and crop come
    before the rotation, so the rotation label stays true;
  * `coarse`: the labelled stream with a second head for animal / vehicle
    (airplane, automobile, ship, truck are vehicles).

The auxiliary loss weight is `--aux-weight` (1.0, not tuned). The class
head's accuracy is measured on all 9,000 test images. Target: `rotation`
at least 1 point above `single`. About 40 minutes on 2 cores.

    python benchmarks/bench_multitask.py [--epochs 30] [--runs single rotation]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cifar  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import augment, models  # noqa: E402
from kerasreg.models import recipes  # noqa: E402
from kerasreg.multi_task import MISSING  # noqa: E402
from kerasreg.semi_supervised import split_labelled  # noqa: E402

TARGET_POINTS = 1.0
VEHICLES = ("airplane", "automobile", "ship", "truck")
RUNS = ("single", "rotation", "coarse")


def arrays(args):
    """Train images of the subset, its class labels, and the test split, in [0, 1]."""
    x, y, x_test, y_test, dataset = cifar.load_arrays(args)
    vehicle = np.array([name in VEHICLES for name in dataset.class_names], "int64")
    return x, y, x_test, y_test, vehicle


def stream(x, targets, pipe):
    """A tf.data stream of single images, flipped and cropped, with their targets."""
    ds = tf.data.Dataset.from_tensor_slices((x, targets))
    return ds.map(lambda image, t: (pipe(image), t))


def training_data(run, x, y, labelled, vehicle, args):
    """The epoch stream of one run, shuffled and batched."""
    n = len(labelled)
    targets = {"label": y[labelled]}
    if run == "coarse":
        targets["coarse"] = vehicle[y[labelled]]
    if run == "rotation":
        targets["rotation"] = np.zeros(n, "int64")
    pipe = augment.pipeline(("flip_horizontal", "crop"), seed=args.seed)
    ds = stream(x[labelled], targets, pipe).repeat(args.repeat)
    if run == "rotation":
        every = {"label": np.full(len(x), MISSING, "int64")}
        every["rotation"] = np.zeros(len(x), "int64")
        extra = augment.pipeline(("flip_horizontal", "crop"), seed=args.seed + 10)
        extra_ds = stream(x, every, extra).enumerate()
        extra_ds = extra_ds.map(lambda i, pair: _turn(i, pair, args.seed))
        ds = ds.concatenate(extra_ds)
    size = n * args.repeat + (len(x) if run == "rotation" else 0)
    ds = ds.shuffle(size, seed=args.seed, reshuffle_each_iteration=True)
    return ds.batch(args.batch_size).prefetch(2), -(-size // args.batch_size)


def _turn(index, pair, seed):
    image, targets = pair
    k = tf.random.stateless_uniform(
        (), tf.stack([tf.cast(seed, "int64"), index]), 0, 4, dtype=tf.int32
    )
    return tf.image.rot90(image, k), {**targets, "rotation": tf.cast(k, "int64")}


def build(run, recipe, steps, args):
    """The run's model: the resnet20 trunk, its heads, compiled with the recipe."""
    keras.utils.set_random_seed(args.seed)
    full = models.resnet20((32, 32, 3), 10)
    trunk = keras.Model(full.input, full.get_layer("gap").output, name="trunk")
    trunk = recipes.apply_weight_decay(trunk, recipe)
    decay = keras.regularizers.L2(recipe.l2)
    heads = {"label": keras.layers.Dense(10, kernel_regularizer=decay)}
    if run == "rotation":
        heads["rotation"] = keras.layers.Dense(4, kernel_regularizer=decay)
    if run == "coarse":
        heads["coarse"] = keras.layers.Dense(2, kernel_regularizer=decay)
    weights = {task: args.aux_weight for task in heads if task != "label"}
    return kerasreg.multitask(
        trunk,
        heads,
        loss_weights=weights,
        optimizer=recipes.make_optimizer(recipe, steps),
    )


def run_one(run, data, args):
    x, y, x_test, y_test, vehicle = data
    labelled, _ = split_labelled(y, args.labels // 10, seed=args.seed)
    recipe = dataclasses.replace(recipes.recipe_for("resnet20"), epochs=args.epochs)
    ds, steps = training_data(run, x, y, labelled, vehicle, args)
    model = build(run, recipe, steps, args)
    start = time.perf_counter()
    model.fit(ds, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    out = model.predict(x_test, batch_size=500, verbose=0)
    result = {
        "accuracy": round(100 * float(np.mean(out["label"].argmax(-1) == y_test)), 2),
        "train_seconds": round(seconds),
        "steps_per_epoch": steps,
    }
    if run == "coarse":
        hits = out["coarse"].argmax(-1) == vehicle[y_test]
        result["coarse_accuracy"] = round(100 * float(np.mean(hits)), 2)
        via_fine = vehicle[out["label"].argmax(-1)] == vehicle[y_test]
        result["coarse_accuracy_from_class_head"] = round(
            100 * float(np.mean(via_fine)), 2
        )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cifar.add_cifar_args(parser)
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--aux-weight", type=float, default=1.0)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = arrays(args)
    results = {run: run_one(run, data, args) for run in args.runs}
    result = {"runs": results}
    if "single" in results and "rotation" in results:
        gain = round(results["rotation"]["accuracy"] - results["single"]["accuracy"], 2)
        result.update(
            rotation_gain_points=gain,
            target_met=gain >= TARGET_POINTS,
            target=f"rotation - single >= {TARGET_POINTS} points",
        )
    if "single" in results and "coarse" in results:
        result["coarse_gain_points"] = round(
            results["coarse"]["accuracy"] - results["single"]["accuracy"], 2
        )
    result["settings"] = {k: v for k, v in vars(args).items() if k != "data"}
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
