"""Augmentation gains, each against no augmentation in the same run.

Two parts, each built on `kerasreg.augment.pipeline` (Keras's own random
layers in the `tf.data` input pipeline):

`cifar`: `resnet20` with its recipe (SGD, cosine, batch 64, `--epochs`) on
the default CIFAR-10 subset of `benchmarks/cifar.py`, tested on all 9,000
test images, trained

  * with no augmentation (`pipeline([])` replaces the recipe's),
  * with flip plus crop (`pipeline(["flip_horizontal", "crop"])`),
  * with flip plus crop plus each of `--extras` in turn (`scale`, `rotate`,
    `cutout`, `erasing`, `elastic`), at `pipeline`'s default settings.

Target: flip plus crop at least 5 points above none. Each extra's gain is
reported on top of flip plus crop. Trained models are cached under
`runs/cifar/` (about 10 minutes each on 2 cores).

`mnist`: 1,000 MNIST training images (100 a class, fixed by `--seed`) and
the small `cnn` (Conv32-Conv64-Dense128), with and without `"elastic"`
(Simard et al. 2003: `ElasticDistortion`, sigma 4 pixels). The epochs of
each and the displacement scale alpha (16 or Simard's 34) are chosen
on 5,000 other training images held out as a validation split, never on
the test set; then both are tested on the 10,000 test images. Target:
elastic at least 1 point above none. About 15 minutes on 2 cores.

    python benchmarks/bench_augment.py cifar [--extras scale cutout] [--epochs 30]
    python benchmarks/bench_augment.py mnist [--seed 0]

Prints one JSON line per part.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cifar  # noqa: E402
import numpy as np  # noqa: E402
from bench_pseudo_label import DEFAULT_DATA  # noqa: E402

from kerasreg import augment, models, training  # noqa: E402
from kerasreg.data import Dataset  # noqa: E402
from kerasreg.semi_supervised import split_labelled  # noqa: E402

CIFAR_TARGET_POINTS = 5.0
MNIST_TARGET_POINTS = 1.0
EXTRAS = ("scale", "rotate", "cutout", "erasing", "elastic")
FLIP_CROP = ("flip_horizontal", "crop")


def run_cifar(args):
    """resnet20 with none, flip+crop, and flip+crop+each extra."""
    runs = {"none": (), "flip+crop": FLIP_CROP}
    runs.update({f"flip+crop+{extra}": (*FLIP_CROP, extra) for extra in args.extras})
    accuracy, seconds = {}, {}
    for label, transforms in runs.items():
        result = cifar.cached_train(
            "resnet20",
            args,
            tag="aug-" + ("-".join(transforms) or "none"),
            epochs=args.epochs,
            recipe="resnet20",
            augment=augment.pipeline(transforms, seed=args.seed),
            verbose=2,
        )
        accuracy[label] = round(100 * result["test_accuracy"], 2)
        seconds[label] = round(result["timing"].get("total_seconds", 0.0))
    gain = round(accuracy["flip+crop"] - accuracy["none"], 2)
    return {
        "part": "cifar",
        "accuracy": accuracy,
        "gain_flip_crop_points": gain,
        "target_met": gain >= CIFAR_TARGET_POINTS,
        "target": f"flip+crop - none >= {CIFAR_TARGET_POINTS} points",
        "extra_gain_points": {
            extra: round(accuracy[f"flip+crop+{extra}"] - accuracy["flip+crop"], 2)
            for extra in args.extras
        },
        "train_seconds": seconds,
    }


def mnist_splits(path, per_class, validation, seed):
    """Two Datasets on the same `per_class`-a-class training images: one
    evaluated on `validation` other training images, one on the test set."""
    with np.load(path) as npz:
        x = npz["x_train"][..., None].astype("float32") / 255.0
        y = npz["y_train"].astype("int64")
        x_test = npz["x_test"][..., None].astype("float32") / 255.0
        y_test = npz["y_test"].astype("int64")
    chosen, rest = split_labelled(y, per_class, seed=seed)
    held = np.random.default_rng(seed).permutation(rest)[:validation]

    def dataset(x_eval, y_eval):
        return Dataset(
            x[chosen], y[chosen], x_eval, y_eval, tuple(map(str, range(10))),
            (28, 28, 1), 10,
        )  # fmt: skip

    return dataset(x[held], y[held]), dataset(x_test, y_test)


def mnist_accuracy(dataset, transforms, epochs, seed, alpha=34.0, sigma=4.0):
    """Test accuracy of the small `cnn` trained with `transforms` (or none)."""
    pipe = augment.pipeline(
        transforms,
        seed=seed,
        image_size=(28, 28),
        elastic_alpha=alpha,
        elastic_sigma=sigma,
    )
    model = models.cnn((28, 28, 1), 10)
    result = training.train(
        model, dataset, epochs=epochs, seed=seed, augment=pipe, verbose=0
    )
    return round(100 * result["test_accuracy"], 2)


def run_mnist(args):
    """Elastic distortion on 1,000 MNIST images, settings chosen on validation."""
    held, test = mnist_splits(args.mnist, 100, 5000, args.seed)
    grid = {"none": {(e, None): None for e in args.mnist_epochs}}
    grid["elastic"] = {
        (e, s): None for e in args.mnist_epochs for s in args.elastic_alphas
    }
    for kind, settings in grid.items():
        for epochs, scale in settings:
            transforms = () if kind == "none" else ("elastic",)
            settings[epochs, scale] = mnist_accuracy(
                held, transforms, epochs, args.seed, scale or 0.0, args.elastic_sigma
            )
    chosen = {kind: max(s, key=s.get) for kind, s in grid.items()}
    none = mnist_accuracy(test, (), chosen["none"][0], args.seed)
    epochs, scale = chosen["elastic"]
    elastic = mnist_accuracy(
        test, ("elastic",), epochs, args.seed, scale, args.elastic_sigma
    )
    return {
        "part": "mnist",
        "none_accuracy": none,
        "elastic_accuracy": elastic,
        "gain_points": round(elastic - none, 2),
        "target_met": elastic - none >= MNIST_TARGET_POINTS,
        "target": f"elastic - none >= {MNIST_TARGET_POINTS} points",
        "chosen": {
            k: {"epochs": e, "elastic_alpha": s} for k, (e, s) in chosen.items()
        },
        "validation_accuracy": {
            kind: {f"epochs{e}_alpha{s}": acc for (e, s), acc in settings.items()}
            for kind, settings in grid.items()
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("cifar", "mnist"))
    cifar.add_cifar_args(parser)
    parser.add_argument("--epochs", type=int, default=30, help="cifar epochs")
    parser.add_argument("--extras", nargs="*", default=list(EXTRAS), choices=EXTRAS)
    parser.add_argument("--mnist", default=DEFAULT_DATA, help="mnist.npz")
    parser.add_argument("--mnist-epochs", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--elastic-alphas", type=float, nargs="+", default=[16.0, 34.0])
    parser.add_argument("--elastic-sigma", type=float, default=4.0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.part == "cifar":
        result = run_cifar(args)
    else:
        result = run_mnist(args)
    result["settings"] = {k: v for k, v in vars(args).items() if k != "data"}
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
