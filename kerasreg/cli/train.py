"""`kerasreg train`: train a model on a dataset and save it with its curves."""

from __future__ import annotations

import contextlib

from kerasreg._choices import PRECISIONS
from kerasreg.cli._common import (
    _check_model_name,
    _common_data_args,
    _print_metrics,
    _UsageError,
)


def add_train(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a model and save model, history, metrics, curves",
        description="Train a reference model or a .keras model with a progress "
        "bar. Writes model.keras, history.json, metrics.json and curves.png "
        "under --out.",
    )
    _common_data_args(parser)
    parser.add_argument(
        "--strategy",
        choices=("mirrored", "ps"),
        help="data-parallel training: mirrored (sync, local devices or "
        "logical CPUs) or ps (async, a local parameter-server cluster)",
    )
    parser.add_argument(
        "--replicas", type=int, help="mirrored replicas (default: 2 on a CPU)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="ps workers (default: 2)"
    )
    parser.add_argument(
        "--ps", type=int, default=1, help="parameter servers (default: 1)"
    )
    parser.add_argument(
        "--recipe",
        help="train with a CIFAR recipe (SGD, cosine lr, weight decay, crop and "
        "flip), e.g. resnet20; --lr and --batch-size are then the recipe's",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="keras.mixed_precision dtype policy (default: float32)",
    )
    return parser


def run_train(args):
    from kerasreg import training

    _check_model_name(args.model)
    if args.strategy is None and args.replicas is not None:
        raise _UsageError("--replicas needs --strategy mirrored")
    with contextlib.ExitStack() as stack:
        strategy = None
        if args.strategy == "mirrored":
            from kerasreg import distribute

            strategy = distribute.strategy("mirrored", replicas=args.replicas)
        elif args.strategy == "ps":
            from kerasreg import distribute

            cluster = stack.enter_context(
                distribute.LocalCluster(args.workers, args.ps)
            )
            strategy = cluster.strategy()
        result = training.train(
            args.model,
            args.data,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            out=args.out,
            strategy=strategy,
            precision=args.precision,
            recipe=args.recipe,
        )
    _print_metrics(result)
    print(f"Saved model.keras, history.json, metrics.json, curves.png to {args.out}")


COMMANDS = {
    "train": (add_train, run_train),
}
