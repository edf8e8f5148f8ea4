"""`kerasreg compress`: the mobile compression pipeline."""

from __future__ import annotations


def add_compress(subparsers):
    from kerasreg.compression.pipeline.config import flag_fields

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
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show TensorFlow's and the TFLite converter's own output",
    )
    for field, kind, default, help in flag_fields():
        if isinstance(default, tuple):
            default = ",".join(default)
        parser.add_argument(
            "--" + field.replace("_", "-"),
            type=kind,
            default=None,
            help=f"{help} (default: {default!r})"
            if default == ""
            else f"{help} (default: {default})",
        )
    return parser


def run_compress(args):
    from kerasreg.compression import pipeline

    settings = pipeline.load_config(args.config) if args.config else {}
    flags = {
        k: v
        for k, v in vars(args).items()
        if v is not None and k not in ("command", "out", "config", "restart", "verbose")
    }
    settings.update(flags)
    config = pipeline.CompressConfig(**settings)  # validated before training
    result = pipeline.compress(args.out, config, restart=args.restart)
    print(pipeline.stage_table(result["rows"]))
    if result["summary"]:
        print(result["summary"]["sentence"])
    print(f"Saved models, .tflite files, metrics.json and report.html to {args.out}")


COMMANDS = {
    "compress": (add_compress, run_compress),
}
