"""`kerasreg prune`: magnitude pruning of a trained model."""

from __future__ import annotations

from kerasreg._choices import RECIPES
from kerasreg.cli._common import _add_image_size, _data, _print_metrics


def add_prune(subparsers):
    parser = subparsers.add_parser(
        "prune",
        help="magnitude-prune a trained model while fine-tuning it",
        description="Fine-tune a trained model with MagnitudePruning "
        "(PolynomialDecay from 0 to --sparsity over two thirds of the steps). "
        "Writes pruned.keras, history.json and metrics.json under --out.",
    )
    parser.add_argument("--model", required=True, help="a trained .keras file")
    parser.add_argument("--data", default="digits", help="(default: digits)")
    _add_image_size(parser)
    parser.add_argument("--epochs", type=int, default=10, help="(default: 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="(default: 64)")
    parser.add_argument(
        "--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)"
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--sparsity", type=float, default=0.8, help="final sparsity (default: 0.8)"
    )
    parser.add_argument(
        "--recipe",
        choices=RECIPES,
        default=None,
        help="fine-tune with this model's CIFAR recipe (SGD with momentum, "
        "cosine decay, weight decay, crop and flip; its batch size) instead of "
        "Adam at --lr",
    )
    parser.add_argument(
        "--finetune-rate",
        type=float,
        default=0.1,
        help="with --recipe, the fraction of its learning rate (default: 0.1)",
    )
    parser.add_argument(
        "--mode",
        default="layer",
        help="layer, global or N:M such as 2:4 (default: layer)",
    )
    return parser


def run_prune(args):
    from kerasreg.compression import pruning

    result = pruning.prune(
        args.model,
        _data(args),
        sparsity=args.sparsity,
        epochs=args.epochs,
        mode=args.mode,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        recipe=args.recipe,
        finetune_rate=args.finetune_rate,
        seed=args.seed,
        out=args.out,
        verbose="auto",
    )
    _print_metrics({k: v for k, v in result.items() if k not in ("model", "history")})
    print(f"Saved pruned.keras, history.json and metrics.json to {args.out}")


COMMANDS = {
    "prune": (add_prune, run_prune),
}
