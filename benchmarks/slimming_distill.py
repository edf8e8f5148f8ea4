"""The `distill` part of `bench_slimming_cifar.py`: distillation as the fine-tuning step.

Two questions, each against a plain run of the same epochs, learning rate
and augmentation in the same benchmark:

- `--student pruned`: the slimmed and shrunk `resnet20` of the `resnet`
  part (`--target`, `--unit`) is fine-tuned plainly (the `resnet` part's
  row) and again with kerasreg's `Distiller` and the unpruned model,
  trained plainly for the same total epochs, as its teacher;
- `--student resnet20`: a `resnet20` trained from scratch for all the
  epochs with a `resnet56` teacher (trained plainly for the same epochs),
  against `resnet20` alone.

The Distiller trains with the model's CIFAR recipe (SGD with momentum,
cosine decay, coupled weight decay, crop and flip), at the fine-tuning
rate for the pruned student and at the full rate from scratch. Every
(`--temperature`, `--lambda-soft`) pair of the grid is one run, cached
under `runs/slimming_cifar/distill/`; choose the pair with `--validation
1000` (scored on 1,000 held-out training images), then run that pair alone
on the test images.

    python benchmarks/bench_slimming_cifar.py distill --student pruned \\
        --validation 1000 --temperature 2 4 8 --lambda-soft 0.5 0.9
    python benchmarks/bench_slimming_cifar.py distill --student resnet20 \\
        --temperature 4 --lambda-soft 0.9
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import cifar
import keras

from kerasreg import _io, training
from kerasreg import data as data_lib
from kerasreg.compression import Distiller, shrink
from kerasreg.models import build, recipes


def distilled(student, teacher, out, name, args, *, epochs, lr_fraction, pair):
    """Train `student` with `teacher` under `name`'s recipe, once; cached in `out`.

    Returns:
        The metrics dict: `test_accuracy` (of the student), `temperature`,
        `lambda_soft`, `epochs`, `history`.
    """
    if (out / "metrics.json").exists():
        return json.loads((out / "metrics.json").read_text())
    temperature, lambda_soft = pair
    data = cifar.load_cifar(args)
    base = recipes.recipe_for(name)
    recipe = dataclasses.replace(
        base, epochs=epochs, learning_rate=base.learning_rate * lr_fraction
    )
    keras.utils.set_random_seed(args.seed)
    student = recipes.apply_weight_decay(student, recipe)
    distiller = Distiller(student, teacher, temperature, lambda_soft, 1 - lambda_soft)
    steps = -(-data.num_train // recipe.batch_size)
    distiller.compile(
        optimizer=recipes.make_optimizer(recipe, steps), metrics=["accuracy"]
    )
    history = training.fit(
        distiller,
        data,
        epochs=epochs,
        batch_size=recipe.batch_size,
        callbacks=[cifar.EpochTimer()],
        augment=recipes.augmentation_function(recipe, args.seed, data.input_shape),
        seed=args.seed,
        scale=data_lib.input_scale(student, data),
    )
    result = {
        "test_accuracy": training.evaluate(distiller.student, data),
        "temperature": temperature,
        "lambda_soft": lambda_soft,
        "epochs": epochs,
        "history": history,
    }
    _io.save_model(distiller.student, out / "model.keras")
    _io.write_json(out / "metrics.json", result)
    return result


def _folder(args, label, pair):
    key = (
        f"{label}_T{pair[0]:g}_l{pair[1]:g}_n{args.train_subset}"
        f"_e{args.epochs}+{args.finetune_epochs}_s{args.seed}"
    )
    if args.validation:
        key += f"_val{args.validation}"
    return cifar.RUNS / "slimming_cifar" / "distill" / key


def pruned_rows(args, slimmed, plain_reference, emit):
    """The slimmed resnet20 fine-tuned plainly and with its unpruned teacher."""
    name = "resnet20"
    reference = plain_reference(name, args, "sgd")
    teacher = keras.saving.load_model(reference["model_path"])
    full, _, before, plain = slimmed(name, args, args.target, args.unit)
    label = f"pruned_{args.target:g}{args.unit}_lr{args.finetune_lr:g}"
    rows = []
    for pair in itertools.product(args.temperature, args.lambda_soft):
        result = distilled(
            shrink(full),
            teacher,
            _folder(args, label, pair),
            name,
            args,
            epochs=args.finetune_epochs,
            lr_fraction=args.finetune_lr,
            pair=pair,
        )
        rows.append(
            emit(
                part="distill",
                student="pruned resnet20",
                target=f"{args.target:g} of the {args.unit}",
                validation=args.validation,
                temperature=pair[0],
                lambda_soft=pair[1],
                teacher_accuracy=reference["test_accuracy"],
                before_finetune=before["test_accuracy"],
                plain_finetune=plain["test_accuracy"],
                distilled_finetune=result["test_accuracy"],
                gain_points=100 * (result["test_accuracy"] - plain["test_accuracy"]),
            )
        )
    return rows


def scratch_rows(args, plain_reference, emit):
    """resnet20 from scratch with a resnet56 teacher, against resnet20 alone."""
    epochs = args.epochs + args.finetune_epochs
    alone = plain_reference("resnet20", args, "sgd")
    teacher_run = cifar.cached_train(
        "resnet56", args, epochs=epochs, recipe="resnet56", verbose=0
    )
    teacher = keras.saving.load_model(teacher_run["model_path"])
    data = cifar.load_cifar(args)
    rows = []
    for pair in itertools.product(args.temperature, args.lambda_soft):
        result = distilled(
            build("resnet20", data.input_shape, data.num_classes),
            teacher,
            _folder(args, "resnet20_from_resnet56", pair),
            "resnet20",
            args,
            epochs=epochs,
            lr_fraction=1.0,
            pair=pair,
        )
        rows.append(
            emit(
                part="distill",
                student="resnet20 from scratch",
                teacher="resnet56",
                validation=args.validation,
                temperature=pair[0],
                lambda_soft=pair[1],
                teacher_accuracy=teacher_run["test_accuracy"],
                alone=alone["test_accuracy"],
                distilled=result["test_accuracy"],
                gain_points=100 * (result["test_accuracy"] - alone["test_accuracy"]),
            )
        )
    return rows


def part_distill(args, slimmed, plain_reference, emit):
    """Run the students of `--student`; the summary names the best pair of each."""
    rows = []
    if args.student in ("pruned", "both"):
        rows += pruned_rows(args, slimmed, plain_reference, emit)
    if args.student in ("resnet20", "both"):
        rows += scratch_rows(args, plain_reference, emit)
    best = {}
    for row in rows:
        if (
            row["student"] not in best
            or row["gain_points"] > best[row["student"]]["gain_points"]
        ):
            best[row["student"]] = row
    scored_on = f"{args.validation} held-out" if args.validation else "test"
    return emit(
        part="distill",
        scored_on=scored_on,
        best={
            student: {k: row[k] for k in ("temperature", "lambda_soft", "gain_points")}
            for student, row in best.items()
        },
    )
