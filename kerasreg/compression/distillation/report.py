"""Compare a student trained from scratch with the same student distilled.

`distillation_report` is what `kerasreg distill` calls: it measures the
teacher, then trains the student alone and through `Distiller` on the same
epochs and seeds, optionally also through Keras's own
`keras.distillation.Distiller`, and reports accuracies as mean ± std with a
plot of the validation curves.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from kerasreg import _io, metrics, report, training
from kerasreg import data as data_lib
from kerasreg import models as models_lib
from kerasreg.compression.distillation.distiller import Distiller
from kerasreg.saving import load_model

__all__ = ["distillation_report", "print_report"]

_VARIANTS = ("scratch", "distilled", "keras_distiller")


def distillation_report(
    teacher,
    student="cnn-tiny",
    data="digits",
    *,
    epochs=10,
    seeds=3,
    temperature=4.0,
    lambda_soft=0.9,
    lambda_hard=0.1,
    batch_size=64,
    learning_rate=1e-3,
    include_keras=False,
    out=None,
    verbose=0,
):
    """Train a student from scratch and distilled, over several seeds.

    Args:
        teacher: a trained logits `keras.Model`, or the path of a `.keras`
            file holding one.
        student: a `kerasreg.models` name, the path of a `.keras` file
            (loaded afresh, as saved, for every run) or a callable
            `(input_shape, num_classes) -> keras.Model`; a fresh student is
            built for every seed and variant. Defaults to `"cnn-tiny"`.
        data: anything `kerasreg.data.load` takes; the test split is the
            validation data. Defaults to `"digits"`.
        epochs: epochs of every student run. Defaults to `10`.
        seeds: number of seeds, `0 .. seeds - 1`. Defaults to `3`.
        temperature, lambda_soft, lambda_hard: see `Distiller`.
        batch_size: batch size. Defaults to `64`.
        learning_rate: Adam learning rate. Defaults to `1e-3`.
        include_keras: also train with `keras.distillation.Distiller`
            (`LogitsDistillation(temperature, loss=KLDivergence())`,
            `student_loss_weight = λ2 / (λ1 + λ2)`) as a baseline. Defaults to `False`.
        out: directory for `report.json` and `curves.png`; nothing is
            written when `None`.
        verbose: passed to `fit`. Defaults to `0`.

    Returns:
        A dict: `teacher` (accuracy, params), `student_params`, and for each
        variant its per-seed `accuracies`, `mean`, `std` and mean
        `val_accuracy` curve.

    Raises:
        ValueError: for `epochs < 1`, `seeds < 1` or bad distillation
            arguments.
    """
    if epochs < 1 or seeds < 1:
        raise ValueError(
            f"Expected epochs >= 1 and seeds >= 1. Received: epochs={epochs}, "
            f"seeds={seeds}"
        )
    dataset = data_lib.load(data)
    if not isinstance(teacher, keras.Model):
        teacher = load_model(teacher, compile=False)
    build = _student_builder(student, dataset)
    result = {
        "teacher": {
            "accuracy": training.evaluate(teacher, dataset),
            "params": metrics.count_params(teacher),
        },
        "student_params": metrics.count_params(build()),
        "epochs": epochs,
        "seeds": seeds,
        "temperature": temperature,
        "lambda_soft": lambda_soft,
        "lambda_hard": lambda_hard,
    }
    variants = _VARIANTS if include_keras else _VARIANTS[:2]
    weights = (temperature, lambda_soft, lambda_hard)
    for variant in variants:
        accuracies, curves = [], []
        for seed in range(seeds):
            keras.utils.set_random_seed(seed)
            model = _fit(
                variant,
                teacher,
                build(),
                dataset,
                weights,
                epochs,
                batch_size,
                learning_rate,
                verbose,
            )
            accuracies.append(training.evaluate(_student_of(model), dataset))
            curves.append(model.history.history["val_accuracy"])
        result[variant] = {
            "accuracies": accuracies,
            "mean": float(np.mean(accuracies)),
            "std": float(np.std(accuracies)),
            "val_accuracy": [float(v) for v in np.mean(curves, axis=0)],
        }
    if out is not None:
        _io.write_json(os.path.join(out, "report.json"), result)
        _plot(result, variants, os.path.join(out, "curves.png"))
    return result


def print_report(result):
    """Print a `distillation_report` result as a table (accuracy in %)."""
    rows = [
        {
            "model": "teacher",
            "params": result["teacher"]["params"],
            "test accuracy (%)": f"{100 * result['teacher']['accuracy']:.2f}",
        }
    ]
    for variant in _VARIANTS:
        if variant in result:
            entry = result[variant]
            rows.append(
                {
                    "model": f"student, {variant.replace('_', ' ')}",
                    "params": result["student_params"],
                    "test accuracy (%)": f"{100 * entry['mean']:.2f} ± "
                    f"{100 * entry['std']:.2f}",
                }
            )
    report.print_table(rows)
    print(
        f"{result['seeds']} seed{'s' if result['seeds'] != 1 else ''}, "
        f"{result['epochs']} epochs, "
        f"T={result['temperature']}, λ1={result['lambda_soft']}, "
        f"λ2={result['lambda_hard']}"
    )


def _student_of(model):
    """The student inside a distiller (whose own input range decides)."""
    return getattr(model, "student", model)


def _student_builder(student, dataset):
    if isinstance(student, (str, os.PathLike)):
        return lambda: models_lib.resolve(
            student, dataset.input_shape, dataset.num_classes
        )
    if callable(student) and not isinstance(student, keras.Model):
        return lambda: student(dataset.input_shape, dataset.num_classes)
    raise ValueError(
        "Expected student to be a kerasreg.models name or a callable "
        f"(input_shape, num_classes) -> keras.Model. Received: student={student!r}"
    )


def _fit(variant, teacher, student, dataset, weights, epochs, batch_size, lr, verbose):
    temperature, lambda_soft, lambda_hard = weights
    optimizer = keras.optimizers.Adam(lr)
    if variant == "scratch":
        model = training.compile_model(student, lr)
    elif variant == "distilled":
        model = Distiller(student, teacher, temperature, lambda_soft, lambda_hard)
        model.compile(optimizer=optimizer, metrics=["accuracy"])
    else:
        model = keras.distillation.Distiller(
            teacher=teacher,
            student=student,
            # A KLDivergence *instance*: with the default string "kl_divergence"
            # Keras 3.15 skips the softmax and T² (the loss is taken on logits).
            distillation_losses=keras.distillation.LogitsDistillation(
                temperature, loss=keras.losses.KLDivergence()
            ),
            student_loss_weight=lambda_hard / (lambda_soft + lambda_hard),
        )
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    scale = data_lib.input_scale(student, dataset)
    training.fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
        scale=scale,
    )
    return model


def _plot(result, variants, path):
    plt = _io.pyplot()

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for variant in variants:
        curve = result[variant]["val_accuracy"]
        label = f"{variant} ({100 * result[variant]['mean']:.1f}%)"
        ax.plot(np.arange(1, len(curve) + 1), curve, label=label)
    ax.axhline(result["teacher"]["accuracy"], color="gray", ls="--", label="teacher")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("validation accuracy")
    seeds = result["seeds"]
    ax.set_title(f"student, mean of {seeds} seeds" if seeds > 1 else "student, seed 0")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _io.save_figure(fig, path)
