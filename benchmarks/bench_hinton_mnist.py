"""Hinton et al.'s MNIST distillation experiment, in spirit (issue 4).

Teacher: an MLP 784-1200-1200-10 (ReLU) with dropout (0.2 on the inputs,
0.5 on the hidden units) trained on images jittered by up to ±2 pixels.
Student: an MLP 784-800-800-10 with no regularization, trained alone and
distilled from the teacher at T = 20 (kerasreg's `Distiller`), for the same
number of epochs. Test errors out of 10,000 are printed beside the paper's
(teacher 67, student alone 146, distilled 74; arXiv:1503.02531, section 3).

The number of epochs is chosen to fit a wall-clock budget (about 20 minutes
by default): a short timing probe measures one epoch of each run. The two
students get the same epochs E; the teacher, which the paper trained far
longer than its students, gets `--teacher-factor` x E (2 by default). Every
run uses Adam with a cosine-decayed learning rate, so each ends converged
for its epoch budget rather than mid-descent.

Target: the distilled student closes at least half of the error gap between
the student alone and the teacher.

    python benchmarks/bench_hinton_mnist.py [--data ../shared/data/mnist/mnist.npz]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from kerasreg import data as data_lib  # noqa: E402
from kerasreg.compression import Distiller  # noqa: E402

DEFAULT_DATA = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist", "mnist.npz"
)
PAPER_ERRORS = {"teacher": 67, "student_alone": 146, "student_distilled": 74}


def teacher_mlp(input_shape):
    inputs = keras.Input(input_shape)
    jitter = 2.0 / input_shape[0]  # ±2 pixels
    x = layers.RandomTranslation(jitter, jitter, fill_mode="constant")(inputs)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.2)(x)
    for _ in range(2):
        x = layers.Dense(1200, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(10)(x), name="teacher_1200x2")


def student_mlp(input_shape):
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    for _ in range(2):
        x = layers.Dense(800, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10)(x), name="student_800x2")


def compiled(kind, dataset, args, teacher=None):
    if kind == "teacher":
        model = teacher_mlp(dataset.input_shape)
    else:
        model = student_mlp(dataset.input_shape)
    epochs = args.teacher_epochs if kind == "teacher" else args.student_epochs
    steps = epochs * -(-len(dataset.x_train) // args.batch_size)
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(args.lr, max(1, steps))
    )
    if kind == "distilled":
        model = Distiller(
            model,
            teacher,
            temperature=args.temperature,
            lambda_soft=args.lambda_soft,
            lambda_hard=args.lambda_hard,
        )
        model.compile(optimizer=optimizer, metrics=["accuracy"])
    else:
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    return model


def errors(model, dataset):
    logits = model.predict(dataset.x_test, batch_size=1000, verbose=0)
    return int(np.sum(np.argmax(logits, axis=-1) != dataset.y_test))


def epoch_seconds(kind, dataset, args, teacher):
    """Seconds per full epoch, from a timed fit on a slice of the data."""
    model = compiled(kind, dataset, args, teacher)
    n = 20 * args.batch_size
    x, y = dataset.x_train[:n], dataset.y_train[:n]
    model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)  # trace
    start = time.perf_counter()
    model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
    return (time.perf_counter() - start) * len(dataset.x_train) / n


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument(
        "--budget-min",
        type=float,
        default=18.0,
        help="wall-clock budget of the three runs (default: 18)",
    )
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="fix the students' epochs instead of fitting the budget",
    )
    parser.add_argument(
        "--teacher-factor",
        type=float,
        default=2.0,
        help="teacher epochs = this x the students' epochs (default: 2)",
    )
    parser.add_argument("--temperature", type=float, default=20.0)
    parser.add_argument("--lambda-soft", type=float, default=0.9)
    parser.add_argument("--lambda-hard", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    if not os.path.isfile(args.data):
        print(f"MNIST not found at {args.data}; pass --data PATH", file=sys.stderr)
        return 1

    started = time.time()
    dataset = data_lib.load(args.data)
    keras.utils.set_random_seed(0)
    probe_teacher = teacher_mlp(dataset.input_shape)
    args.teacher_epochs = args.student_epochs = 1  # for the probe's schedules
    per_epoch = {
        kind: epoch_seconds(kind, dataset, args, probe_teacher)
        for kind in ("teacher", "alone", "distilled")
    }
    if args.epochs is None:
        left = 60 * args.budget_min - (time.time() - started)
        cost = (
            args.teacher_factor * per_epoch["teacher"]
            + per_epoch["alone"]
            + per_epoch["distilled"]
        )
        epochs = max(1, min(args.max_epochs, int(left // cost)))
    else:
        epochs = args.epochs
    args.student_epochs = epochs
    args.teacher_epochs = max(1, round(args.teacher_factor * epochs))

    fit = {"batch_size": args.batch_size, "epochs": epochs, "verbose": 2}
    runs = {}
    keras.utils.set_random_seed(0)
    teacher = compiled("teacher", dataset, args)
    t0 = time.time()
    teacher.fit(
        dataset.x_train, dataset.y_train, **{**fit, "epochs": args.teacher_epochs}
    )
    runs["teacher"] = (errors(teacher, dataset), time.time() - t0)
    for kind in ("alone", "distilled"):
        keras.utils.set_random_seed(1)  # the same initial student both times
        model = compiled(kind, dataset, args, teacher)
        t0 = time.time()
        model.fit(dataset.x_train, dataset.y_train, **fit)
        runs[f"student_{kind}"] = (errors(model, dataset), time.time() - t0)

    teacher_err = runs["teacher"][0]
    alone_err = runs["student_alone"][0]
    distilled_err = runs["student_distilled"][0]
    gap = alone_err - teacher_err
    closed = (alone_err - distilled_err) / gap if gap > 0 else float("nan")
    summary = {
        "benchmark": "hinton_mnist",
        "epochs": {"teacher": args.teacher_epochs, "students": epochs},
        "config": {k: v for k, v in vars(args).items() if k != "data"},
        "probe_epoch_s": {k: round(v, 1) for k, v in per_epoch.items()},
        "test_errors_of_10000": {k: v[0] for k, v in runs.items()},
        "paper_errors_of_10000": PAPER_ERRORS,
        "run_s": {k: round(v[1], 1) for k, v in runs.items()},
        "gap_closed": round(closed, 3),
        "target_gap_closed_>=_0.5": bool(closed >= 0.5),
        "wall_s": round(time.time() - started, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
