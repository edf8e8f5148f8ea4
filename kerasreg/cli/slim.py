"""`kerasreg slim` and `kerasreg sweep`: network slimming, one run or an L1 sweep."""

from __future__ import annotations

from kerasreg._choices import FINETUNE_RATE, RECIPES, TARGET_UNITS
from kerasreg.cli._common import (
    _check_model_name,
    _common_data_args,
    _data,
    _floats,
    _UsageError,
)


def add_slim_args(parser):
    _common_data_args(parser)
    parser.set_defaults(epochs=30, lr=3e-3)
    parser.add_argument(
        "--freeze-from",
        type=int,
        default=None,
        help="first epoch (0-based) of sign-flip freezing (default: epochs // 3)",
    )
    parser.add_argument(
        "--finetune-epochs",
        type=int,
        default=15,
        help="epochs of fine-tuning after shrink (default: 15)",
    )
    parser.add_argument(
        "--recipe",
        choices=RECIPES,
        default=None,
        help="train with this model's CIFAR recipe (SGD with momentum, cosine "
        "decay, weight decay, crop and flip) instead of Adam; fine-tuning uses "
        "it at --finetune-rate of its learning rate",
    )
    parser.add_argument(
        "--finetune-rate",
        type=float,
        default=FINETUNE_RATE,
        help="with --recipe, the fraction of its learning rate for fine-tuning; "
        f"1.0 rewinds to the full rate (default: {FINETUNE_RATE})",
    )


def add_slim(subparsers):
    parser = subparsers.add_parser(
        "slim",
        help="network slimming: L1 on BN gamma, sign-flip freezing, shrink, report",
        description="Train with NetworkSlimming, physically remove the dead "
        "channels with shrink(), fine-tune and report. Writes model.keras, "
        "shrunk.keras, report.json, gamma.png, channels.png and curves.png.",
    )
    add_slim_args(parser)
    parser.add_argument(
        "--l1", type=float, default=None, help="lambda (default: 1e-3 unless --target)"
    )
    parser.add_argument(
        "--target",
        type=float,
        default=None,
        help="remove this fraction of the model instead of a fixed lambda, "
        "e.g. 0.7 (NetworkSlimming(target=...))",
    )
    parser.add_argument(
        "--target-unit",
        choices=TARGET_UNITS,
        default="params",
        help="what --target counts (default: params)",
    )
    parser.add_argument(
        "--prune-ratio",
        type=float,
        default=None,
        help="also mark this global fraction of the smallest |gamma| (Liu et al.)",
    )
    return parser


def run_slim(args):
    from kerasreg.compression import slimming

    _check_model_name(args.model)
    if args.l1 is not None and args.target is not None:
        raise _UsageError("give --l1 or --target, not both")
    result = slimming.slim(
        args.model,
        _data(args),
        l1=args.l1 if args.l1 is not None else 1e-3,
        target=args.target,
        target_unit=args.target_unit,
        epochs=args.epochs,
        freeze_from_epoch=args.freeze_from,
        finetune_epochs=args.finetune_epochs,
        prune_ratio=args.prune_ratio,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
        verbose="auto",
        recipe=args.recipe,
        finetune_rate=args.finetune_rate,
    )
    from kerasreg import report

    rows = [
        {"metric": k, "before": v["before"], "after": v["after"], "ratio": v["ratio"]}
        for k, v in result["report"]["totals"].items()
    ]
    report.print_table(rows)
    print(f"Saved the shrunk model and report to {args.out}")


def add_sweep(subparsers):
    parser = subparsers.add_parser(
        "sweep",
        help="reproduce the slimming report's Figure 2 over a grid of lambda",
        description="Slim once per lambda and plot test accuracy against "
        "parameter reduction, with the unslimmed baseline dashed. Writes "
        "sweep.csv and sweep.png.",
    )
    add_slim_args(parser)
    parser.add_argument(
        "--l1",
        type=_floats,
        default=None,
        help="comma-separated lambdas (default: the slimming report's grid "
        "0.001,0.0008,0.0006,0.0005,0.0004,0.0003,0.0002,0.0001,0.00005,0)",
    )
    return parser


def run_sweep(args):
    from kerasreg import report
    from kerasreg.compression import slimming

    _check_model_name(args.model)
    rows = slimming.sweep(
        args.l1 if args.l1 is not None else slimming.L1_GRID,
        args.model,
        _data(args),
        epochs=args.epochs,
        freeze_from_epoch=args.freeze_from,
        finetune_epochs=args.finetune_epochs,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
        recipe=args.recipe,
        finetune_rate=args.finetune_rate,
    )
    report.print_table(rows)
    print(f"Saved sweep.csv and sweep.png to {args.out}")


COMMANDS = {
    "slim": (add_slim, run_slim),
    "sweep": (add_sweep, run_sweep),
}
