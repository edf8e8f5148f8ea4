"""`kerasreg distill`: distil a trained teacher into a small student."""

from __future__ import annotations

import os

from kerasreg.cli._common import _add_image_size, _check_model_name, _data, _UsageError


def add_distill(subparsers):
    parser = subparsers.add_parser(
        "distill",
        help="distil a trained teacher into a small student; compare with scratch",
        description="Train the student from scratch and distilled from the "
        "teacher on the same epochs and seeds. Prints and writes report.json "
        "and curves.png (validation accuracy of both students) under --out.",
    )
    parser.add_argument(
        "--data",
        default="digits",
        help="digits (bundled), mnist, cifar10, an .npz file, or an image folder "
        "(default: digits)",
    )
    _add_image_size(parser)
    parser.add_argument("--teacher", required=True, help="trained .keras model")
    parser.add_argument(
        "--student", default="cnn-tiny", help="reference model name (default: cnn-tiny)"
    )
    parser.add_argument("--temperature", type=float, default=4.0, help="(default: 4)")
    parser.add_argument(
        "--lambda-soft", type=float, default=0.9, help="λ1 (default: 0.9)"
    )
    parser.add_argument(
        "--lambda-hard", type=float, default=0.1, help="λ2 (default: 0.1)"
    )
    parser.add_argument("--epochs", type=int, default=10, help="(default: 10)")
    parser.add_argument("--seeds", type=int, default=3, help="(default: 3)")
    parser.add_argument("--batch-size", type=int, default=64, help="(default: 64)")
    parser.add_argument(
        "--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)"
    )
    parser.add_argument("--out", required=True, help="output directory")
    return parser


def run_distill(args):
    from kerasreg.compression.distillation import distillation_report, print_report

    _check_model_name(args.student)
    if not os.path.isfile(args.teacher):
        raise _UsageError(f"no such teacher model file: --teacher {args.teacher}")
    result = distillation_report(
        args.teacher,
        args.student,
        _data(args),
        epochs=args.epochs,
        seeds=args.seeds,
        temperature=args.temperature,
        lambda_soft=args.lambda_soft,
        lambda_hard=args.lambda_hard,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        out=args.out,
    )
    print_report(result)
    print(f"Saved report.json and curves.png to {args.out}")


COMMANDS = {
    "distill": (add_distill, run_distill),
}
