"""Benchmark of kerasreg.compression.Distiller on digits (issue 4).

Trains the `resnet` teacher once, then a student with at least 10x fewer
parameters three ways on the same epochs and seeds: from scratch, distilled
with kerasreg's `Distiller`, and distilled with Keras's own
`keras.distillation.Distiller` (`LogitsDistillation(T, loss=KLDivergence())`,
`student_loss_weight = λ2 / (λ1 + λ2)`). It also times one train step of the
student alone, of distillation, and one teacher forward pass, interleaved in
the same run. Prints JSON; every target is a comparison within this run.

    python benchmarks/bench_distillation.py [--out runs/bench_distillation]

Targets (issue 4):
  * distilled accuracy >= from-scratch accuracy + 3.0 points (mean of seeds);
  * distilled accuracy >= teacher accuracy - 1.0 point;
  * distilled accuracy >= Keras's Distiller accuracy;
  * distillation step <= 1.10 x (student step + teacher forward).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasreg import data as data_lib  # noqa: E402
from kerasreg import models, training  # noqa: E402
from kerasreg.compression import Distiller  # noqa: E402
from kerasreg.compression.distillation import distillation_report  # noqa: E402

STEPS = 50  # batches per timed fit epoch

STUDENTS = {
    # 702 parameters: Conv(4)-BN-ReLU-pool, Conv(8)-BN-ReLU-pool, Dense(10).
    "cnn-micro": lambda shape, n: models.cnn(
        shape, n, filters=(4, 8), dense_units=0, name="cnn_micro"
    ),
    # 1,394 parameters: Conv(8)-BN-ReLU-pool, Dense(10).
    "cnn-nano": lambda shape, n: models.build("cnn-nano", shape, n),
    "cnn-tiny": lambda shape, n: models.build("cnn-tiny", shape, n),
}


def step_times(teacher, build_student, dataset, args, repeats):
    """Median seconds of a student step, a distillation step, a teacher pass.

    Steps are timed inside `fit`, as users train: one epoch of `STEPS`
    identical batches per measurement, divided by `STEPS`. (`train_on_batch`
    would also time Keras's per-call metric reset, which costs the
    distiller more only because it tracks more metrics.) The teacher pass is
    `teacher(x, training=False)` in a `tf.function`. The four measurements
    are interleaved `repeats` times so that load changes hit all of them.
    """
    x = dataset.x_train[: args.batch_size]
    y = dataset.y_train[: args.batch_size]
    alone = training.compile_model(build_student(), args.lr)
    distiller = Distiller(
        build_student(), teacher, args.temperature, args.lambda_soft, args.lambda_hard
    )
    distiller.compile(optimizer=keras.optimizers.Adam(args.lr), metrics=["accuracy"])
    keras_distiller = keras.distillation.Distiller(
        teacher=teacher,
        student=build_student(),
        distillation_losses=keras.distillation.LogitsDistillation(
            args.temperature, loss=keras.losses.KLDivergence()
        ),
        student_loss_weight=args.lambda_hard / (args.lambda_soft + args.lambda_hard),
    )
    keras_distiller.compile(
        optimizer=keras.optimizers.Adam(args.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    batches = tf.data.Dataset.from_tensors((x, y)).repeat(STEPS)
    forward = tf.function(lambda t: teacher(t, training=False))
    x_tensor = tf.constant(x)

    def teacher_passes():
        for _ in range(STEPS):
            forward(x_tensor).numpy()

    calls = {
        "student_step": lambda: alone.fit(batches, epochs=1, verbose=0, shuffle=False),
        "distillation_step": lambda: distiller.fit(
            batches, epochs=1, verbose=0, shuffle=False
        ),
        "teacher_forward": teacher_passes,
        # for reference only (not in the target): Keras's own Distiller
        "keras_distiller_step": lambda: keras_distiller.fit(
            batches, epochs=1, verbose=0, shuffle=False
        ),
    }
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) / STEPS)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", default="cnn-nano", choices=sorted(STUDENTS))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--teacher-epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--lambda-soft", type=float, default=0.9)
    parser.add_argument("--lambda-hard", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--step-repeats", type=int, default=20)
    parser.add_argument("--out", default=None, help="directory for report files")
    args = parser.parse_args(argv)

    started = time.time()
    dataset = data_lib.load("digits")
    keras.utils.set_random_seed(0)
    teacher = training.compile_model(
        models.build("resnet", dataset.input_shape, dataset.num_classes)
    )
    teacher.fit(
        dataset.x_train,
        dataset.y_train,
        epochs=args.teacher_epochs,
        batch_size=args.batch_size,
        verbose=0,
    )
    build_student = STUDENTS[args.student]
    result = distillation_report(
        teacher,
        build_student,
        dataset,
        epochs=args.epochs,
        seeds=args.seeds,
        temperature=args.temperature,
        lambda_soft=args.lambda_soft,
        lambda_hard=args.lambda_hard,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        include_keras=True,
        out=args.out,
    )
    times = step_times(
        teacher,
        lambda: build_student(dataset.input_shape, 10),
        dataset,
        args,
        args.step_repeats,
    )
    budget = times["student_step"] + times["teacher_forward"]

    teacher_acc = 100 * result["teacher"]["accuracy"]
    scratch = 100 * result["scratch"]["mean"]
    distilled = 100 * result["distilled"]["mean"]
    keras_kd = 100 * result["keras_distiller"]["mean"]
    param_ratio = result["teacher"]["params"] / result["student_params"]
    targets = {
        "params_ratio >= 10": [round(param_ratio, 1), param_ratio >= 10],
        "gain_vs_scratch_points >= 3.0": [
            round(distilled - scratch, 2),
            distilled - scratch >= 3.0,
        ],
        "gap_to_teacher_points <= 1.0": [
            round(teacher_acc - distilled, 2),
            teacher_acc - distilled <= 1.0,
        ],
        "gain_vs_keras_distiller_points >= 0": [
            round(distilled - keras_kd, 2),
            distilled >= keras_kd,
        ],
        "step_ratio <= 1.10": [
            round(times["distillation_step"] / budget, 3),
            times["distillation_step"] <= 1.10 * budget,
        ],
    }
    summary = {
        "benchmark": "distillation_digits",
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "teacher": {"accuracy_pct": round(teacher_acc, 2), **result["teacher"]},
        "student": {"name": args.student, "params": result["student_params"]},
        "accuracy_pct": {
            variant: {
                "mean": round(100 * result[variant]["mean"], 2),
                "std": round(100 * result[variant]["std"], 2),
                "per_seed": [round(100 * a, 2) for a in result[variant]["accuracies"]],
            }
            for variant in ("scratch", "distilled", "keras_distiller")
        },
        "step_ms": {k: round(1e3 * v, 3) for k, v in times.items()},
        "targets": targets,
        "all_met": all(met for _, met in targets.values()),
        "wall_s": round(time.time() - started, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
