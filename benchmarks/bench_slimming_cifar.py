"""Network slimming on CIFAR-10: the flagship where the field measures it.

Every model is trained on the default CIFAR subset of `benchmarks/cifar.py`
(5,000 training images, stratified, seed 0) and tested on all 9,000 test
images; trained models are cached under `runs/slimming_cifar/` (slimmed)
and `runs/cifar/` (plain), so parts reuse each other's runs.

The protocol, the same for every method:

- slimming trains 30 epochs with the model's CIFAR recipe (SGD, momentum
  0.9, cosine decay, coupled weight decay 5e-4, crop and flip) and
  `NetworkSlimming(target=...)`, whose candidates reach zero at epoch 20
  (2/3 of the epochs) and stay frozen for the last 10;
- `shrink` removes the channels, and the small model is fine-tuned for 10
  epochs with the same recipe at a tenth of its learning rate (the
  fine-tuning rate of Torch-Pruning's and Liu et al.'s CIFAR scripts);
- the reference is the unpruned model trained plainly for the same 40
  epochs in total.

Parts:

  resnet  resnet20, `target=0.7` of the parameters. Targets: at least 2.0x
          fewer MACs at no more than 0.5 points below the unpruned model;
          0.7 of the parameters removed at no more than 0.5 points. Reports
          how much of the MAC reduction comes from the residual stream
          (channels coupled across the Adds) and from inside the blocks.
          `--optimizer adam` runs the same with Adam (1e-3, batch 64, no
          augmentation) against a plain Adam model. `--target 0.5 --unit
          macs` asks for the MACs target directly, and `--finetune-lr 1.0`
          fine-tunes at the full training rate (learning-rate rewinding,
          Renda et al. 2020); choose them with `--validation 1000`, which
          trains on 4,000 of the subset and tests on the other 1,000.
  vgg     vgg11, `target=0.85` of the parameters (`--vgg-target`,
          `--vgg-unit channels` to count BatchNormalization channels).
          Target: at least 70% of the channels and 85% of the parameters
          removed at no more than 0.5 points below the unpruned model.
  selection  at about 50%, 70% and 90% of the parameters removed: slimming
          against (a) plain global γ pruning of the plainly trained model
          (λ = 0), (b) random channels and (c) L1-norm filters (Li et al.
          2017) at slimming's per-layer widths, all fine-tuned the same 10
          epochs, and (d) the slim architecture trained from scratch for the
          same 40 epochs. Target: slimming above (a), (b) and (c) at 70% and
          90%. One table and one plot (`runs/slimming_cifar/selection/`).
  distill distillation as the fine-tuning step (`slimming_distill.py`):
          the pruned resnet20 fine-tuned plainly and with the unpruned model
          as teacher, and resnet20 from a resnet56 teacher against resnet20
          alone (`--student pruned|resnet20|both`), over a grid of
          `--temperature` and `--lambda-soft` chosen with `--validation`.
  sweep   the seed's Figure 2 on resnet20: `kerasreg.compression.slimming.
          sweep` (what `kerasreg sweep` runs) over the seed's λ grid (or
          `--l1`) with the recipe's SGD with momentum, sign-flip freezing
          from half the training epochs as in the seed, and the unslimmed
          baseline dashed. Each finished run is kept, so the grid can be
          run a few λ at a time; `sweep.csv` and `sweep.png` are written
          under `runs/slimming_cifar/` after every call.
  speed   for each shrunk model (and the same shrunk with `round_to=8`):
          shrunk/original TFLite float32 latency at batch 1 and 64,
          interleaved in one run. Target: at most 1.3x its MACs ratio.
  zoo     every keras.applications architecture (weights=None): exact after
          shrink with half of its γ zeroed at random, or refused with the
          reason; seconds per model; and shrink's time on ResNet50 against
          clone_model + set_weights. Target: at most 2x that copy.

    python benchmarks/bench_slimming_cifar.py resnet|vgg|selection|distill|sweep|speed|zoo

Each part prints one JSON object per line; the last is its summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cifar  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasreg import metrics, training  # noqa: E402
from kerasreg.compression import NetworkSlimming, shrink  # noqa: E402
from kerasreg.compression.slimming import batchnorm_layers  # noqa: E402
from kerasreg.compression.slimming.target import UNITS  # noqa: E402
from kerasreg.compression.surgery import plan_shrink  # noqa: E402
from kerasreg.models.recipes import recipe_for  # noqa: E402

EPOCHS, FINETUNE = 30, 10
FINETUNE_LR = 0.1  # of the training rate: Torch-Pruning's and Liu et al.'s
MAX_DROP = 0.5
CACHE = cifar.RUNS / "slimming_cifar"


def emit(**fields):
    print(json.dumps(fields), flush=True)
    return fields


def _train_kwargs(name, optimizer, epochs, finetune=None):
    """`training.train` arguments; `finetune`: the fraction of the learning rate."""
    scale = 1.0 if finetune is None else finetune
    if optimizer == "adam":
        return {"learning_rate": 1e-3 * scale, "batch_size": 64}
    recipe = recipe_for(name)
    recipe = dataclasses.replace(recipe, learning_rate=recipe.learning_rate * scale)
    if finetune is not None:  # a trained model needs no warm-up
        recipe = dataclasses.replace(recipe, warmup_epochs=0)
    return {"recipe": dataclasses.replace(recipe, epochs=epochs)}


def plain_reference(name, args, optimizer):
    """The unpruned model trained plainly for the same total epochs."""
    epochs = args.epochs + args.finetune_epochs
    if optimizer == "sgd":  # the model's own recipe, cached under its name
        return cifar.cached_train(name, args, epochs=epochs, recipe=name, verbose=0)
    kwargs = _train_kwargs(name, optimizer, epochs)
    return cifar.cached_train(name, args, epochs=epochs, verbose=0, **kwargs)


def slimmed_folders(name, args, target, unit="params", optimizer="sgd"):
    """The cache folders of `slimmed`: the slimmed model's, and its fine-tune's."""
    key = (
        f"{name}_target{target:g}{unit}_{optimizer}_n{args.train_subset}"
        f"_e{args.epochs}_s{args.seed}"
    )
    if args.validation:
        key += f"_val{args.validation}"
    folder = "finetuned"
    if args.finetune_lr != FINETUNE_LR:
        folder += f"_lr{args.finetune_lr:g}"
    return CACHE / key, CACHE / key / folder


def slimmed(name, args, target, unit="params", optimizer="sgd"):
    """Train with NetworkSlimming(target=...), shrink, fine-tune; cached."""
    out, tuned = slimmed_folders(name, args, target, unit, optimizer)
    data = cifar.load_cifar(args)
    if not (out / "metrics.json").exists():
        callback = NetworkSlimming(target=target, target_unit=unit)
        training.train(
            name,
            data,
            epochs=args.epochs,
            seed=args.seed,
            callbacks=[cifar.EpochTimer(), callback],
            out=str(out),
            verbose=0,
            **_train_kwargs(name, optimizer, args.epochs),
        )
    full = keras.saving.load_model(out / "model.keras")
    before = json.loads((out / "metrics.json").read_text())
    small, after = finetuned(lambda: shrink(full), tuned, name, args, optimizer)
    return full, small, before, after


def finetuned(make_small, out, name, args, optimizer="sgd"):
    """Fine-tune `make_small()` for the fine-tuning epochs, once; cached in `out`."""
    data = cifar.load_cifar(args)
    if not (out / "metrics.json").exists():
        training.train(
            make_small(),
            data,
            epochs=args.finetune_epochs,
            seed=args.seed,
            callbacks=[cifar.EpochTimer()],
            out=str(out),
            verbose=0,
            **_train_kwargs(
                name, optimizer, args.finetune_epochs, finetune=args.finetune_lr
            ),
        )
    after = json.loads((out / "metrics.json").read_text())
    return keras.saving.load_model(out / "model.keras"), after


def channel_fraction(full, small):
    """Fraction of the Conv2D output channels removed."""

    def channels(model):
        return sum(
            layer.filters
            for layer in model.layers
            if type(layer) is keras.layers.Conv2D
        )

    return 1 - channels(small) / channels(full)


def stream_split(full):
    """MACs removed by the residual-stream channels and by the block-internal ones."""
    plan = plan_shrink(full)
    bn_labels = [
        plan.graph.labels[call.outputs[0]]
        for call in plan.graph.calls
        if call.kind == "bn"
    ]
    counts = np.bincount(np.concatenate(bn_labels))
    stream = {int(label) for label in np.flatnonzero(counts > 1)}
    total = metrics.count_flops(full)
    saved = {}
    originals = {bn.name: bn.gamma.numpy() for bn in batchnorm_layers(full)}
    try:
        # Bring the stream channels back (γ = 1): what is left is internal.
        for call in plan.graph.calls:
            if call.kind == "bn":
                labels = plan.graph.labels[call.outputs[0]]
                gamma = call.layer.gamma.numpy()
                on_stream = np.isin(labels, list(stream))
                call.layer.gamma.assign(np.where(on_stream & (gamma == 0), 1.0, gamma))
        saved["internal_only"] = total - plan_shrink(full).cost()[1]
    finally:
        for bn in batchnorm_layers(full):
            bn.gamma.assign(originals[bn.name])
    saved["both"] = total - plan_shrink(full).cost()[1]
    return {
        "macs_removed": saved["both"] / total,
        "from_block_internal": saved["internal_only"] / saved["both"],
        "from_residual_stream": 1 - saved["internal_only"] / saved["both"],
    }


def part_selection(args):
    """Slimming against (a) plain γ, (b) random, (c) L1-norm, (d) from scratch."""
    from kerasreg.compression.slimming import mark_for_target, match_widths

    name = args.model
    plain = cifar.cached_train(name, args, epochs=args.epochs, recipe=name, verbose=0)
    rows = []
    for reduction in (0.5, 0.7, 0.9):
        full, small, _, after = slimmed(name, args, reduction)
        row = {"reduction": reduction, "slimming": after["test_accuracy"]}
        folder = (
            CACHE
            / "selection"
            / f"{name}_r{reduction:g}_n{args.train_subset}_s{args.seed}"
        )

        def from_plain(mark):
            model = keras.saving.load_model(plain["model_path"])
            mark(model)
            return shrink(model)

        controls = {
            "plain_gamma": lambda m, r=reduction: mark_for_target(m, r),
            "random": lambda m, f=full: match_widths(m, f, "random", seed=args.seed),
            "l1_norm": lambda m, f=full: match_widths(m, f, "l1"),
        }
        for label, mark in controls.items():
            model, result = finetuned(
                lambda mark=mark: from_plain(mark), folder / label, name, args
            )
            row[label] = result["test_accuracy"]
            row[f"{label}_params"] = metrics.count_params(model)
        scratch = folder / "scratch"
        if not (scratch / "metrics.json").exists():
            fresh = keras.models.clone_model(small)  # new initial weights
            training.train(
                fresh,
                cifar.load_cifar(args),
                epochs=args.epochs + args.finetune_epochs,
                seed=args.seed,
                callbacks=[cifar.EpochTimer()],
                out=str(scratch),
                verbose=0,
                recipe=dataclasses.replace(
                    recipe_for(name), epochs=args.epochs + args.finetune_epochs
                ),
            )
        row["scratch"] = json.loads((scratch / "metrics.json").read_text())[
            "test_accuracy"
        ]
        row["params_removed"] = 1 - metrics.count_params(small) / metrics.count_params(
            full
        )
        row["slimming_above_a_b_c"] = bool(
            row["slimming"] > max(row["plain_gamma"], row["random"], row["l1_norm"])
        )
        rows.append(emit(part="selection", model=name, **row))
    _plot_selection(rows, CACHE / "selection" / f"{name}_selection.png")
    return emit(part="selection", model=name, rows=rows)


def _plot_selection(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    x = [100 * r["params_removed"] for r in rows]
    for key, label in (
        ("slimming", "slimming (target=)"),
        ("plain_gamma", "(a) plain γ, no L1"),
        ("random", "(b) random, same widths"),
        ("l1_norm", "(c) L1-norm filters, same widths"),
        ("scratch", "(d) slim architecture from scratch"),
    ):
        ax.plot(x, [100 * r[key] for r in rows], marker="o", label=label)
    ax.set_xlabel("parameters removed (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def part_resnet(args):
    name, target, unit = "resnet20", args.target, args.unit
    reference = plain_reference(name, args, args.optimizer)
    full, small, before, after = slimmed(name, args, target, unit, args.optimizer)
    base = reference["test_accuracy"]
    params_removed = 1 - metrics.count_params(small) / metrics.count_params(full)
    macs_factor = metrics.count_flops(full) / metrics.count_flops(small)
    drop = 100 * (base - after["test_accuracy"])
    return emit(
        part="resnet",
        model=name,
        optimizer=args.optimizer,
        target=f"NetworkSlimming(target={target}, target_unit={unit!r})",
        finetune_lr=args.finetune_lr,
        validation=args.validation,
        unpruned_accuracy=base,
        slimmed_accuracy_before_finetune=before["test_accuracy"],
        accuracy=after["test_accuracy"],
        drop_points=drop,
        params_removed=params_removed,
        macs_reduction_factor=macs_factor,
        channels_removed=channel_fraction(full, small),
        **stream_split(full),
        target_macs_met=bool(macs_factor >= 2.0 and drop <= MAX_DROP),
        target_params_met=bool(params_removed >= 0.7 and drop <= MAX_DROP),
    )


def part_vgg(args):
    name = "vgg11"
    reference = plain_reference(name, args, "sgd")
    full, small, before, after = slimmed(name, args, args.vgg_target, args.vgg_unit)
    base = reference["test_accuracy"]
    params_removed = 1 - metrics.count_params(small) / metrics.count_params(full)
    channels = channel_fraction(full, small)
    drop = 100 * (base - after["test_accuracy"])
    return emit(
        part="vgg",
        model=name,
        target=f"{args.vgg_target:g} of the {args.vgg_unit}",
        unpruned_accuracy=base,
        slimmed_accuracy_before_finetune=before["test_accuracy"],
        accuracy=after["test_accuracy"],
        drop_points=drop,
        params_removed=params_removed,
        channels_removed=channels,
        macs_reduction_factor=metrics.count_flops(full) / metrics.count_flops(small),
        target_met=bool(
            channels >= 0.7 and params_removed >= 0.85 and drop <= MAX_DROP
        ),
    )


def part_sweep(args):
    from kerasreg.compression.slimming import L1_GRID, sweep

    key = f"sweep_resnet20_n{args.train_subset}_e{args.epochs}+{args.finetune_epochs}"
    key += f"_s{args.seed}" + (f"_val{args.validation}" if args.validation else "")
    rows = sweep(
        args.l1 if args.l1 is not None else L1_GRID,
        "resnet20",
        cifar.data_folder(args),
        epochs=args.epochs,
        freeze_from_epoch=args.epochs // 2,
        finetune_epochs=args.finetune_epochs,
        recipe="resnet20",
        seed=args.seed,
        out=CACHE / key,
    )
    for row in rows:
        emit(part="sweep", **row)
    return emit(part="sweep", out=str(CACHE / key), runs=len(rows))


def _tflite_latencies(models, batch, rounds=5):
    """Median TFLite float32 latency of each model, measured interleaved."""
    import tempfile

    from kerasreg.compression.export import TFLiteModel, to_tflite

    with tempfile.TemporaryDirectory() as tmp:
        runners = []
        for i, model in enumerate(models):
            path = os.path.join(tmp, f"m{i}.tflite")
            to_tflite(model, path)
            runners.append(TFLiteModel(path))
        times = [[] for _ in models]
        for _ in range(rounds):
            for runner, row in zip(runners, times):
                row.append(runner.measure_latency(batch_size=batch, repeats=20))
    return [float(np.median(row)) for row in times]


def part_speed(args):
    """Shrunk/original TFLite float32 latency against the MACs ratio."""
    rows = []
    # resnet20 at 0.7 is trained when missing; the others are measured when
    # `selection` (0.5, 0.9) or `vgg` has cached them.
    shrunk = (("resnet20", 0.5), ("resnet20", 0.7), ("resnet20", 0.9), ("vgg11", 0.85))
    for name, target in shrunk:
        tuned = slimmed_folders(name, args, target)[1]
        cached = (tuned / "metrics.json").exists()
        if not cached and (name, target) != ("resnet20", 0.7):
            continue
        full, small, _, after = slimmed(name, args, target)
        variants = {"shrunk": small, "shrunk_round_to_8": shrink(full, round_to=8)}
        for batch in (1, 64):
            latencies = _tflite_latencies([full, *variants.values()], batch)
            for (variant, model), latency in zip(variants.items(), latencies[1:]):
                macs_ratio = metrics.count_flops(model) / metrics.count_flops(full)
                ratio = latency / latencies[0]
                rows.append(
                    emit(
                        part="speed",
                        model=name,
                        target=target,
                        variant=variant,
                        batch=batch,
                        latency_original_ms=1e3 * latencies[0],
                        latency_shrunk_ms=1e3 * latency,
                        latency_ratio=ratio,
                        macs_ratio=macs_ratio,
                        latency_over_macs=ratio / macs_ratio,
                        target_met=bool(ratio <= 1.3 * macs_ratio),
                    )
                )
    return emit(
        part="speed",
        summary={
            f"{r['model']}@{r['target']:g}/{r['variant']}/b{r['batch']}": round(
                r["latency_over_macs"], 3
            )
            for r in rows
        },
        target="latency ratio <= 1.3 x MACs ratio",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "part",
        choices=["resnet", "vgg", "selection", "distill", "sweep", "speed", "zoo"],
    )
    parser.add_argument("--model", default="resnet20", help="selection: the model")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    parser.add_argument(
        "--epochs", type=int, default=EPOCHS, help="(default: %(default)s)"
    )
    parser.add_argument(
        "--finetune-epochs", type=int, default=FINETUNE, help="(default: %(default)s)"
    )
    parser.add_argument(
        "--target", type=float, default=0.7, help="resnet: (default: %(default)s)"
    )
    parser.add_argument(
        "--unit",
        choices=UNITS,
        default="params",
        help="resnet: what --target counts (default: %(default)s)",
    )
    parser.add_argument(
        "--vgg-target", type=float, default=0.85, help="vgg: (default: %(default)s)"
    )
    parser.add_argument(
        "--vgg-unit",
        choices=UNITS,
        default="params",
        help="vgg: what --vgg-target counts (default: %(default)s)",
    )
    parser.add_argument(
        "--finetune-lr",
        type=float,
        default=FINETUNE_LR,
        help="fine-tuning learning rate as a fraction of the training rate "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--student", choices=["pruned", "resnet20", "both"], default="both"
    )
    parser.add_argument(
        "--temperature", type=float, nargs="+", default=[4.0], help="distill"
    )
    parser.add_argument(
        "--lambda-soft", type=float, nargs="+", default=[0.9], help="distill"
    )
    parser.add_argument(
        "--l1",
        type=lambda text: [float(v) for v in text.split(",")],
        help="sweep: comma-separated λ (default: the seed's grid)",
    )
    parser.add_argument("--only", help="zoo: comma-separated architectures")
    parser.add_argument(
        "--repeats", type=int, default=3, help="zoo: timed shrinks of ResNet50"
    )
    cifar.add_cifar_args(parser)
    args = parser.parse_args(argv)
    if args.part == "zoo":
        from slimming_zoo import part_zoo

        return part_zoo(args.only.split(",") if args.only else None, args.repeats)
    if args.part == "distill":
        from slimming_distill import part_distill

        return part_distill(args, slimmed, plain_reference, emit)
    parts = {
        "sweep": part_sweep,
        "resnet": part_resnet,
        "vgg": part_vgg,
        "selection": part_selection,
        "speed": part_speed,
    }
    return parts[args.part](args)


if __name__ == "__main__":
    main()
