"""Pseudo-labelling (Lee, 2013) on digits with 5 labels per class.

50 of the 1,437 training digits keep their labels (5 per class, fixed by
`--seed`); the other 1,387 are unlabelled. A small MLP (Flatten ->
Dense(64, relu) -> Dense(10)) is trained twice from the same initial
weights, for the same epochs:

- supervised only: the 50 labelled pairs (`pseudo_label` with `epochs=0`,
  so both runs present the labelled set equally often per epoch);
- pseudo-labelled: `supervised_epochs` on the labels, then epochs that add
  the unlabelled digits whose predicted class has softmax >= 0.95, their
  loss weighted by Lee's ramp alpha(t) up to 3.

Run:

    python examples/pseudo_label_digits.py [--seed 0] [--epochs 6]

It prints both test accuracies and the pseudo-labels kept per epoch as
JSON (under a minute on two CPU cores).
"""

from __future__ import annotations

import argparse
import json

import keras

import kerasreg
from kerasreg import training
from kerasreg.semi_supervised import pseudo_label, split_labelled


def mlp(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def run(seed=0, per_class=5, supervised_epochs=3, epochs=6):
    data = kerasreg.load("digits")
    labelled, unlabelled = split_labelled(data.y_train, per_class, seed=seed)
    pairs = (data.x_train[labelled], data.y_train[labelled])
    x_u = data.x_train[unlabelled]
    common = dict(learning_rate=1e-2, seed=seed)
    supervised = pseudo_label(
        mlp(seed),
        pairs,
        x_u,
        epochs=0,
        supervised_epochs=supervised_epochs + epochs,
        **common,
    )
    pseudo = pseudo_label(
        mlp(seed),
        pairs,
        x_u,
        epochs=epochs,
        supervised_epochs=supervised_epochs,
        ramp_epochs=(supervised_epochs, supervised_epochs + epochs // 2),
        **common,
    )
    test = (data.x_test, data.y_test)
    return {
        "labelled": len(labelled),
        "unlabelled": len(unlabelled),
        "supervised_accuracy": training.evaluate_accuracy(supervised["model"], *test),
        "pseudo_label_accuracy": training.evaluate_accuracy(pseudo["model"], *test),
        "kept": pseudo["history"]["kept"],
        "alpha": pseudo["history"]["alpha"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=5)
    parser.add_argument("--supervised-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    result = run(args.seed, args.per_class, args.supervised_epochs, args.epochs)
    print(json.dumps(result, indent=2))
