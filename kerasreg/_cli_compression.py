"""The compression subcommands of `kerasreg`: distill, slim, sweep, prune, export, compress.

Each is a pair `_add_NAME(subparsers)` / `_run_NAME(args)` that parses and
calls one library function; `kerasreg/cli.py` registers them.
"""

from __future__ import annotations

import os

from kerasreg._cli_common import (
    _check_model_name,
    _common_data_args,
    _floats,
    _print_metrics,
    _UsageError,
)

# --- distill ----------------------------------------------------------------


def _add_distill(subparsers):
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
        help="digits (bundled), mnist, cifar10, or a path to an .npz file "
        "(default: digits)",
    )
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


def _run_distill(args):
    from kerasreg.compression import distillation_report

    _check_model_name(args.student)
    if not os.path.isfile(args.teacher):
        raise _UsageError(f"no such teacher model file: --teacher {args.teacher}")
    result = distillation_report.distillation_report(
        args.teacher,
        args.student,
        args.data,
        epochs=args.epochs,
        seeds=args.seeds,
        temperature=args.temperature,
        lambda_soft=args.lambda_soft,
        lambda_hard=args.lambda_hard,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        out=args.out,
    )
    distillation_report.print_report(result)
    print(f"Saved report.json and curves.png to {args.out}")


# --- slim / sweep -------------------------------------------------------------


def _add_slim_args(parser):
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


def _add_slim(subparsers):
    parser = subparsers.add_parser(
        "slim",
        help="network slimming: L1 on BN gamma, sign-flip freezing, shrink, report",
        description="Train with NetworkSlimming, physically remove the dead "
        "channels with shrink(), fine-tune and report. Writes model.keras, "
        "shrunk.keras, report.json, gamma.png, channels.png and curves.png.",
    )
    _add_slim_args(parser)
    parser.add_argument("--l1", type=float, default=1e-3, help="lambda (default: 1e-3)")
    parser.add_argument(
        "--prune-ratio",
        type=float,
        default=None,
        help="also mark this global fraction of the smallest |gamma| (Liu et al.)",
    )
    return parser


def _run_slim(args):
    from kerasreg.compression import slimming_workflow

    _check_model_name(args.model)
    result = slimming_workflow.slim(
        args.model,
        args.data,
        l1=args.l1,
        epochs=args.epochs,
        freeze_from_epoch=args.freeze_from,
        finetune_epochs=args.finetune_epochs,
        prune_ratio=args.prune_ratio,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
        verbose="auto",
    )
    from kerasreg import report

    rows = [
        {"metric": k, "before": v["before"], "after": v["after"], "ratio": v["ratio"]}
        for k, v in result["report"]["totals"].items()
    ]
    report.print_table(rows)
    print(f"Saved the shrunk model and report to {args.out}")


def _add_sweep(subparsers):
    parser = subparsers.add_parser(
        "sweep",
        help="reproduce the slimming seed's Figure 2 over a grid of lambda",
        description="Slim once per lambda and plot test accuracy against "
        "parameter reduction, with the unslimmed baseline dashed. Writes "
        "sweep.csv and sweep.png.",
    )
    _add_slim_args(parser)
    parser.add_argument(
        "--l1",
        type=_floats,
        default=None,
        help="comma-separated lambdas (default: the seed's grid "
        "0.001,0.0008,0.0006,0.0005,0.0004,0.0003,0.0002,0.0001,0.00005,0)",
    )
    return parser


def _run_sweep(args):
    from kerasreg import report
    from kerasreg.compression import slimming_workflow

    _check_model_name(args.model)
    rows = slimming_workflow.sweep(
        args.l1 if args.l1 is not None else slimming_workflow.SEED_L1_GRID,
        args.model,
        args.data,
        epochs=args.epochs,
        freeze_from_epoch=args.freeze_from,
        finetune_epochs=args.finetune_epochs,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
    )
    report.print_table(rows)
    print(f"Saved sweep.csv and sweep.png to {args.out}")


# --- prune / export -----------------------------------------------------------


def _add_prune(subparsers):
    parser = subparsers.add_parser(
        "prune",
        help="magnitude-prune a trained model while fine-tuning it",
        description="Fine-tune a trained model with MagnitudePruning "
        "(PolynomialDecay from 0 to --sparsity over two thirds of the steps). "
        "Writes pruned.keras, history.json and metrics.json under --out.",
    )
    parser.add_argument("--model", required=True, help="a trained .keras file")
    parser.add_argument("--data", default="digits", help="(default: digits)")
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
        "--mode",
        default="layer",
        help="layer, global or N:M such as 2:4 (default: layer)",
    )
    return parser


def _run_prune(args):
    from kerasreg.compression import pruning_workflow

    result = pruning_workflow.prune(
        args.model,
        args.data,
        sparsity=args.sparsity,
        epochs=args.epochs,
        mode=args.mode,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
        verbose="auto",
    )
    _print_metrics({k: v for k, v in result.items() if k not in ("model", "history")})
    print(f"Saved pruned.keras, history.json and metrics.json to {args.out}")


def _add_export(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="export a .tflite file and compare every quantization scheme",
        description="Write --out as a TFLite file quantized with --quantize, "
        "then print size, gzip size, accuracy and batch-1 latency of float32, "
        "float16, dynamic, int8 and int8-full TFLite and Keras int8.",
    )
    parser.add_argument("--model", required=True, help="a trained .keras file")
    parser.add_argument("--data", default="digits", help="(default: digits)")
    parser.add_argument(
        "--quantize",
        default="int8-full",
        choices=["none", "float16", "dynamic", "int8", "int8-full"],
        help="scheme of the written file (default: int8-full)",
    )
    parser.add_argument("--out", required=True, help="the .tflite file to write")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the comparison table"
    )
    return parser


def _run_export(args):
    from kerasreg.compression import export

    quantization = None if args.quantize == "none" else args.quantize
    result = export.export(
        args.model, args.data, args.out, quantization, compare=not args.no_compare
    )
    evaluation = result["evaluation"]
    print(
        f"Saved {args.out} ({args.quantize}): {evaluation['size_bytes']} bytes, "
        f"accuracy {evaluation['accuracy']:.4f}, "
        f"{evaluation['latency_ms']:.4f} ms per batch-1 call"
    )


# --- compress -----------------------------------------------------------------


def _add_compress(subparsers):
    from kerasreg.compression.compress_config import CompressConfig

    defaults = CompressConfig.__new__(CompressConfig)  # defaults, unvalidated
    parser = subparsers.add_parser(
        "compress",
        help="the mobile compression pipeline: slim, shrink, fine-tune, distil, "
        "prune, export TFLite, report",
        description="Train with NetworkSlimming, shrink, fine-tune, optionally "
        "distil and prune, export float32/float16/int8 TFLite and evaluate every "
        "stage. Writes models, .tflite files, metrics.json and report.html under "
        "--out. Rerunning with the same --out skips finished stages.",
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--config", help="TOML file whose keys match these flags")
    parser.add_argument(
        "--fast", action="store_true", default=None, help="a ~1 minute smoke run"
    )
    parser.add_argument(
        "--restart", action="store_true", help="ignore finished stages in --out"
    )
    for field, kind in (
        ("data", str),
        ("model", str),
        ("l1", float),
        ("epochs", int),
        ("freeze_from", int),
        ("mark_ratio", float),
        ("finetune_epochs", int),
        ("distill_epochs", int),
        ("student", str),
        ("temperature", float),
        ("lambda_soft", float),
        ("lambda_hard", float),
        ("prune_sparsity", float),
        ("prune_epochs", int),
        ("quantize", str),
        ("learning_rate", float),
        ("batch_size", int),
        ("seed", int),
    ):
        default = getattr(defaults, field)
        if field == "quantize":
            default = ",".join(default)
        parser.add_argument(
            "--" + field.replace("_", "-"),
            type=kind,
            default=None,
            help=f"(default: {default})",
        )
    return parser


def _run_compress(args):
    from kerasreg.compression import compress as compress_lib
    from kerasreg.compression.compress_report import stage_table

    settings = compress_lib.load_config(args.config) if args.config else {}
    flags = {
        k: v
        for k, v in vars(args).items()
        if v is not None and k not in ("command", "out", "config", "restart")
    }
    settings.update(flags)
    config = compress_lib.CompressConfig(**settings)  # validated before training
    result = compress_lib.compress(args.out, config, restart=args.restart)
    print(stage_table(result["rows"]))
    targets = result["targets"]
    if targets:
        print(
            f"int8 file: {targets['size_reduction_x']:.1f}x smaller than the float32 "
            f"baseline file, accuracy drop {targets['accuracy_drop_points']:.2f} points"
        )
    print(f"Saved models, .tflite files, metrics.json and report.html to {args.out}")


COMMANDS = {
    "compress": (_add_compress, _run_compress),
    "slim": (_add_slim, _run_slim),
    "sweep": (_add_sweep, _run_sweep),
    "distill": (_add_distill, _run_distill),
    "prune": (_add_prune, _run_prune),
    "export": (_add_export, _run_export),
}
