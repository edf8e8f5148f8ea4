"""Bagging and boosting small Keras models on digits (the study notes' ensembles).

Bagging trains 5 MLPs, each on its own bootstrap resample of the training
set, and averages their probabilities; `to_model()` turns the ensemble into
one `keras.Model`, saved as one `.keras` file. Boosting (AdaBoost, SAMME)
trains 5 tiny MLPs one after the other, each on the examples its
predecessors got wrong, weighted up; a learning rate of 0.3 and 5 epochs
per learner are what `benchmarks/bench_ensemble.py` chose on a validation
split. Run:

    python examples/ensemble.py [--out runs/ensemble]

It prints test accuracies as JSON (about a minute on two CPU cores).
"""

from __future__ import annotations

import argparse
import json
import os

import keras

import kerasreg
from kerasreg import training
from kerasreg.ensemble import AdaBoost, Bagging


def mlp(units):
    """A `build_fn`: a new compiled Flatten -> Dense(units) -> Dense(10) MLP."""

    def build(seed):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(10),
            ]
        )
        return training.compile_model(model, 1e-2)

    return build


def run(out="runs/ensemble", epochs=5):
    data = kerasreg.load("digits")
    fit = dict(epochs=epochs, batch_size=64)
    bag = Bagging(mlp(32), n_members=5).fit(data.x_train, data.y_train, **fit)
    members = bag.member_accuracies(data.x_test, data.y_test)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "bagging.keras")
    bag.to_model().save(path)
    boost = AdaBoost(mlp(8), n_estimators=5, learning_rate=0.3).fit(
        data.x_train, data.y_train, **fit
    )
    return {
        "bagging": {
            "ensemble": bag.accuracy(data.x_test, data.y_test),
            "members": members,
            "saved": path,
        },
        "adaboost": {
            "staged": boost.staged_accuracy(data.x_test, data.y_test),
            "alphas": boost.alphas_.round(3).tolist(),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/ensemble")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.out, args.epochs), indent=2))
