"""Coarse-to-fine vs RandomSearch at an equal budget (issue 7's target).

Both tuners search seed 001's space (lr = 10^U(-6, -2), weight decay =
10^U(-8, -4), AdamW) for the `cnn` reference model on digits, with the same
number of trials and the same epochs per trial, scored on a validation split
of the training set (test data unused). Repeated over seeds; the baseline is
RandomSearch measured in the same run.

Targets:
- mean best validation accuracy: coarse-to-fine >= RandomSearch;
- the final coarse-to-fine ranges contain the best trial (every seed).

Prints one JSON object.

    python benchmarks/bench_tuning.py              # 3 seeds, 15 trials, 2 epochs
    python benchmarks/bench_tuning.py --quick      # 1 seed, 6 trials, 1 epoch
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402

from kerasreg import data as data_lib  # noqa: E402
from kerasreg import tuning  # noqa: E402


def search(
    kind, build, split, *, trials, rounds, top_k, margin, epochs, seed, directory
):
    (x_train, y_train), val = split
    common = dict(
        objective="val_accuracy",
        seed=tuning.oracle_seed(seed),
        directory=directory,
        project_name=kind,
        overwrite=True,
    )
    if kind == "coarse-to-fine":
        tuner = tuning.CoarseToFine(
            build,
            rounds=rounds,
            trials_per_round=trials // rounds,
            top_k=top_k,
            margin=margin,
            **common,
        )
    else:
        tuner = kt.RandomSearch(build, max_trials=trials, **common)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    tuner.search(x_train, y_train, validation_data=val, epochs=epochs, verbose=0)
    best = tuner.oracle.get_best_trials(1)[0]
    result = {
        "best_val_accuracy": float(best.score),
        "best": dict(best.hyperparameters.values),
        "seconds": round(time.perf_counter() - start, 1),
        "best_lines": tuning.format_best(tuner, 3).splitlines(),
    }
    if kind == "coarse-to-fine":
        final = tuner.range_history[-1]
        result["final_ranges"] = final
        result["best_in_final_ranges"] = all(
            low <= best.hyperparameters.values[name] <= high
            for name, (low, high) in final.items()
        )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--margin", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--quick", action="store_true", help="1 seed, 6 trials, 1 epoch"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.trials, args.epochs = 1, 6, 1

    dataset = data_lib.load("digits")
    build = tuning.reference_hypermodel(
        args.model, dataset.input_shape, dataset.num_classes
    )
    runs = []
    with tempfile.TemporaryDirectory() as directory:
        for seed in range(args.seeds):
            split = data_lib.validation_split(
                dataset.x_train, dataset.y_train, rate=0.2, seed=seed
            )
            run = {"seed": seed}
            for kind in ("random", "coarse-to-fine"):
                run[kind] = search(
                    kind,
                    build,
                    split,
                    trials=args.trials,
                    rounds=args.rounds,
                    top_k=args.top_k,
                    margin=args.margin,
                    epochs=args.epochs,
                    seed=seed,
                    directory=directory,
                )
            runs.append(run)

    def mean(kind):
        return statistics.mean(r[kind]["best_val_accuracy"] for r in runs)

    c2f, random = mean("coarse-to-fine"), mean("random")
    report = {
        "benchmark": "tuning",
        "model": args.model,
        "data": "digits",
        "budget": {"trials": args.trials, "epochs_per_trial": args.epochs},
        "coarse_to_fine": {
            "rounds": args.rounds,
            "top_k": args.top_k,
            "margin": args.margin,
        },
        "seeds": args.seeds,
        "mean_best_val_accuracy": {"coarse-to-fine": c2f, "random": random},
        "ratio_c2f_over_random": c2f / random,
        "target_c2f_at_least_random": c2f >= random,
        "target_best_in_final_ranges": all(
            r["coarse-to-fine"]["best_in_final_ranges"] for r in runs
        ),
        "runs": runs,
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
