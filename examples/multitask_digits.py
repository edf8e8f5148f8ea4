"""Multi-task learning on digits: a rotation head helps a 100-label classifier.

100 of the 1,437 training digits keep their labels (10 a class); all 1,437
are also shown rotated by a random quarter turn, with which turn as the
target of a second head (self-supervised: the rotation is known without
any label). Both runs share a `cnn` trunk built by `kerasreg.multitask`
and start from the same weights:

- `single`: the class head alone, on the 100 labelled digits;
- `rotation`: the class head on the same digits plus the rotation head on
  every digit; the rotated copies carry no class label (`-1`, which the
  class loss skips).

Run:

    python examples/multitask_digits.py [--seed 0] [--epochs 40]

It prints both test accuracies on the 360 test digits as JSON (about a
minute on two CPU cores). `benchmarks/bench_multitask.py` is the CIFAR-10
version with a resnet20 trunk.
"""

from __future__ import annotations

import argparse
import json

import keras
import numpy as np

import kerasreg
from kerasreg.multi_task import MISSING
from kerasreg.semi_supervised import split_labelled


def build(tasks, seed):
    keras.utils.set_random_seed(seed)
    full = kerasreg.models.build("cnn-tiny", (8, 8, 1), 10)
    trunk = keras.Model(full.input, full.layers[-2].output)
    heads = {"label": keras.layers.Dense(10), "rotation": keras.layers.Dense(4)}
    return kerasreg.multitask(trunk, {t: heads[t] for t in tasks})


def run(seed=0, per_class=10, epochs=40):
    data = kerasreg.load("digits")
    labelled, _ = split_labelled(data.y_train, per_class, seed=seed)
    x, y = data.x_train[labelled], data.y_train[labelled]
    turns = np.random.default_rng(seed).integers(0, 4, len(data.x_train))
    rotated = np.stack([np.rot90(img, k) for img, k in zip(data.x_train, turns)])
    accuracy = {}
    for run_name, tasks in (("single", ["label"]), ("rotation", ["label", "rotation"])):
        model = build(tasks, seed)
        if run_name == "single":
            inputs, targets = x, {"label": y}
        else:
            inputs = np.concatenate([x, rotated])
            targets = {
                "label": np.concatenate([y, np.full(len(rotated), MISSING)]),
                "rotation": np.concatenate([np.zeros(len(x), "int64"), turns]),
            }
        model.fit(inputs, targets, epochs=epochs, batch_size=32, verbose=0)
        logits = model.predict(data.x_test, verbose=0)["label"]
        accuracy[run_name] = float(np.mean(logits.argmax(-1) == data.y_test))
    return {"labelled": len(labelled), "test_accuracy": accuracy}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(run(args.seed, args.per_class, args.epochs), indent=2))
