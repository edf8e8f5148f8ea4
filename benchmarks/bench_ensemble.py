"""Benchmark of kerasreg.ensemble: boosting and bagging against their baselines.

Default mode, on digits (11 minutes on the 2-core machine shared with two
CIFAR trainings, load 5-7; boosting takes 10 of them):

  * boosting: `AdaBoost` of 10 weak learners, each a one-hidden-layer MLP
    of 8 units (Flatten -> Dense(8, relu) -> Dense(10)), against ONE such
    learner trained the same epochs (the same training budget per
    learner). The learners' epochs and AdaBoost's learning rate come from
    a grid, chosen by the boosted ensemble's accuracy on a validation split
    of the training data (`kerasreg.data.validation_split`), never on the
    test set; then both are retrained on the whole training set (boosting
    over `--boost-seeds` seeds, the single learner over `--single-seeds`)
    and tested. For context it also reports the single learner at its own
    best validation epochs, and scikit-learn's `AdaBoostClassifier` with
    decision stumps (10 and 50 estimators).
  * bagging: 5 MLP members, bootstrap resamples and plain random-seed
    averaging (`bootstrap=False`), ensemble against the mean member.

`--cifar` mode (about an hour; not part of the default run): bagging of 5
small CNNs on the default CIFAR-10 subset of `benchmarks/cifar.py`, tested
on all 9,000 test images, ensemble against the mean of its members.

    python benchmarks/bench_ensemble.py [--seed 0]
    python benchmarks/bench_ensemble.py --cifar [--train-subset 5000] [--cifar-epochs 15]

Prints one JSON object; every target is a comparison within this run:
  * digits: boosted accuracy >= single weak learner accuracy + 5.0 points;
  * cifar: bagged accuracy >= mean member accuracy + 2.0 points.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cifar  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import data as data_lib  # noqa: E402
from kerasreg import models, training  # noqa: E402
from kerasreg.ensemble import AdaBoost, Bagging  # noqa: E402

BOOST_TARGET_POINTS = 5.0
BAG_TARGET_POINTS = 2.0
CIFAR_ONLY = (
    "cifar", "data", "train_subset", "validation", "cifar_model", "cifar_epochs",
    "no_bootstrap",
)  # fmt: skip


def mlp(units, lr):
    """`build_fn` of a Flatten -> Dense(units, relu) -> Dense(10) logits MLP."""

    def build(seed):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(10),
            ],
            name=f"mlp{units}",
        )
        return training.compile_model(model, lr)

    return build


def pct(value):
    return round(100 * float(value), 2)


def boost(args, x, y, x_eval, y_eval, epochs, learning_rate, seed):
    """Staged accuracies on `(x_eval, y_eval)` of `--estimators` boosted MLPs."""
    booster = AdaBoost(
        mlp(8, args.lr), args.estimators, learning_rate=learning_rate, seed=seed
    )
    booster.fit(x, y, epochs=epochs, batch_size=args.batch_size, verbose=0)
    return booster, booster.staged_accuracy(x_eval, y_eval)


def single(args, x, y, x_eval, y_eval, epochs, seeds):
    """Test accuracies of one weak learner trained alone, over `seeds`."""
    accuracies = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = mlp(8, args.lr)(seed)
        model.fit(x, y, epochs=epochs, batch_size=args.batch_size, verbose=0)
        accuracies.append(training.evaluate_accuracy(model, x_eval, y_eval))
    return accuracies


def choose(args, digits):
    """Boosting's learning rate and the learners' epochs, on a validation split.

    Every (learning_rate, epochs) of the grid boosts on 80% of the training
    set and is scored on the other 20%; the best boosted validation
    accuracy wins (ties: fewer epochs). The first learner of each run is the
    single learner at those epochs (it trains on uniform weights), so the
    grid also gives the single learner's own best epochs.
    """
    (xt, yt), (xv, yv) = data_lib.validation_split(
        digits.x_train, digits.y_train, rate=0.2, seed=args.seed
    )
    grid = []
    for learning_rate in args.boost_lr_grid:
        for epochs in args.epoch_grid:
            _, staged = boost(args, xt, yt, xv, yv, epochs, learning_rate, args.seed)
            grid.append(
                {
                    "learning_rate": learning_rate,
                    "epochs": epochs,
                    "boosted_pct": pct(staged[-1]),
                    "single_pct": pct(staged[0]),
                    "gain_points": round(pct(staged[-1]) - pct(staged[0]), 2),
                }
            )
    best = max(grid, key=lambda r: (r["boosted_pct"], -r["epochs"]))
    own = max(grid, key=lambda r: (r["single_pct"], -r["epochs"]))["epochs"]
    return grid, best, own


def sklearn_stumps(digits, seed):
    """Test accuracy of scikit-learn's AdaBoost of decision stumps."""
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.tree import DecisionTreeClassifier

    x = digits.x_train.reshape(len(digits.x_train), -1)
    x_test = digits.x_test.reshape(len(digits.x_test), -1)
    result = {}
    for n in (10, 50):
        clf = AdaBoostClassifier(
            DecisionTreeClassifier(max_depth=1), n_estimators=n, random_state=seed
        ).fit(x, digits.y_train)
        result[f"stumps_{n}"] = pct(clf.score(x_test, digits.y_test))
    return result


def boosting_report(args, digits):
    start = time.perf_counter()
    grid, best, own_epochs = choose(args, digits)
    epochs, learning_rate = best["epochs"], best["learning_rate"]
    train_test = (digits.x_train, digits.y_train, digits.x_test, digits.y_test)
    runs = [
        boost(args, *train_test, epochs, learning_rate, args.seed + 100 * k)
        for k in range(args.boost_seeds)
    ]
    seeds = [args.seed + 100 * k for k in range(args.single_seeds)]
    singles = single(args, *train_test, epochs, seeds)
    own = single(args, *train_test, own_epochs, seeds)
    boosted = statistics.mean(100 * staged[-1] for _, staged in runs)
    one, own_mean = 100 * statistics.mean(singles), 100 * statistics.mean(own)
    return {
        "weak_learner": "Flatten -> Dense(8, relu) -> Dense(10)",
        "validation_grid": grid,
        "chosen": {"learning_rate": learning_rate, "epochs": epochs},
        "boosted_pct": {
            "mean": round(boosted, 2),
            "per_seed": [pct(staged[-1]) for _, staged in runs],
            "staged": [[pct(a) for a in staged] for _, staged in runs],
            "alphas": [[round(float(a), 3) for a in b.alphas_] for b, _ in runs],
            "weighted_errors": [
                [round(float(e), 3) for e in b.errors_] for b, _ in runs
            ],
        },
        "single_pct": {"mean": round(one, 2), "per_seed": [pct(a) for a in singles]},
        "single_at_own_best_epochs": {
            "epochs": own_epochs,
            "mean_pct": round(own_mean, 2),
            "per_seed": [pct(a) for a in own],
            "gain_points": round(boosted - own_mean, 2),
        },
        "sklearn_adaboost_pct": sklearn_stumps(digits, args.seed),
        "target": {
            f"gain_points >= {BOOST_TARGET_POINTS}": [
                round(boosted - one, 2),
                boosted - one >= BOOST_TARGET_POINTS,
            ]
        },
        "seconds": round(time.perf_counter() - start, 1),
    }


def bagging_summary(bag, x_test, y_test, target=None):
    """Ensemble (mean and majority vote) against its members, in points."""
    members = [100 * a for a in bag.member_accuracies(x_test, y_test)]
    mean_vote = 100 * bag.accuracy(x_test, y_test)
    bag.vote = "majority"
    majority = 100 * bag.accuracy(x_test, y_test)
    bag.vote = "mean"
    gain = mean_vote - statistics.mean(members)
    summary = {
        "ensemble_pct": round(mean_vote, 2),
        "majority_vote_pct": round(majority, 2),
        "members_pct": [round(a, 2) for a in members],
        "mean_member_pct": round(statistics.mean(members), 2),
        "best_member_pct": round(max(members), 2),
        "gain_vs_mean_member_points": round(gain, 2),
    }
    if target is not None:
        summary["target"] = {
            f"gain_vs_mean_member_points >= {target}": [round(gain, 2), gain >= target]
        }
    return summary


def bagging_report(args, digits):
    start = time.perf_counter()
    result = {"member": f"Flatten -> Dense({args.bag_units}, relu) -> Dense(10)"}
    for bootstrap in (True, False):
        bag = Bagging(
            mlp(args.bag_units, args.lr), args.members, bootstrap=bootstrap,
            seed=args.seed,
        )  # fmt: skip
        bag.fit(
            digits.x_train, digits.y_train, epochs=args.bag_epochs,
            batch_size=args.batch_size, verbose=0,
        )  # fmt: skip
        name = "bootstrap" if bootstrap else "random_init_only"
        result[name] = bagging_summary(bag, digits.x_test, digits.y_test)
    result.update(epochs=args.bag_epochs, seconds=round(time.perf_counter() - start, 1))
    return result


def cifar_report(args):
    """Bagging of small CNNs on the CIFAR subset (about an hour)."""
    start = time.perf_counter()
    dataset = cifar.load_cifar(args)

    def build(seed):
        model = models.build(args.cifar_model, dataset.input_shape, dataset.num_classes)
        return training.compile_model(model, 1e-3)

    scale = data_lib.input_scale(build(0), dataset)
    x, y = dataset.to_arrays("train")
    x_test, y_test = dataset.to_arrays("test")
    x, x_test = x * np.float32(scale), x_test * np.float32(scale)
    bag = Bagging(build, args.members, bootstrap=not args.no_bootstrap, seed=args.seed)
    bag.fit(x, y, epochs=args.cifar_epochs, batch_size=args.batch_size, verbose=1)
    return {
        "benchmark": "ensemble_cifar",
        "config": vars(args),
        "num_train": len(x),
        "num_test": len(x_test),
        "bagging": bagging_summary(bag, x_test, y_test, BAG_TARGET_POINTS),
        "seconds": round(time.perf_counter() - start, 1),
        **cifar.cpu_load(),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cifar.add_cifar_args(parser)
    parser.add_argument("--cifar", action="store_true", help="CIFAR bagging mode")
    parser.add_argument("--estimators", type=int, default=10)
    parser.add_argument(
        "--epoch-grid",
        type=lambda s: [int(e) for e in s.split(",")],
        default=[5, 10, 20],
        help="weak learner epochs to choose from (default: 5,10,20)",
    )
    parser.add_argument(
        "--boost-lr-grid",
        type=lambda s: [float(e) for e in s.split(",")],
        default=[0.1, 0.3, 1.0],
        help="AdaBoost learning rates to choose from (default: 0.1,0.3,1.0)",
    )
    parser.add_argument("--boost-seeds", type=int, default=2)
    parser.add_argument("--single-seeds", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--bag-units", type=int, default=32)
    parser.add_argument("--bag-epochs", type=int, default=20)
    parser.add_argument("--cifar-model", default="cnn")
    parser.add_argument("--cifar-epochs", type=int, default=15)
    parser.add_argument("--no-bootstrap", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.cifar:
        print(json.dumps(cifar_report(args), indent=2))
        return
    digits = kerasreg.load("digits")
    report = {
        "benchmark": "ensemble_digits",
        "config": {k: v for k, v in vars(args).items() if k not in CIFAR_ONLY},
        "boosting": boosting_report(args, digits),
        "bagging": bagging_report(args, digits),
        **cifar.cpu_load(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
