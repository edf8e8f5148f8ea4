"""`kerasreg export`: a trained model to a quantized `.tflite` file."""

from __future__ import annotations

from kerasreg._choices import QUANTIZATIONS
from kerasreg.cli._common import _add_image_size, _data


def add_export(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="export a .tflite file and compare every quantization scheme",
        description="Write --out as a TFLite file quantized with --quantize, "
        "then print size, gzip size, accuracy and batch-1 latency of float32, "
        "float16, dynamic, int8, int8-full and int4 TFLite and Keras int8.",
    )
    parser.add_argument("--model", required=True, help="a trained .keras file")
    parser.add_argument("--data", default="digits", help="(default: digits)")
    _add_image_size(parser)
    parser.add_argument(
        "--quantize",
        default="int8-full",
        # "none" is the old spelling of float32, still accepted.
        type=lambda text: "float32" if text == "none" else text,
        choices=QUANTIZATIONS,
        help="scheme of the written file (default: int8-full)",
    )
    parser.add_argument("--out", required=True, help="the .tflite file to write")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the comparison table"
    )
    return parser


def run_export(args):
    from kerasreg.compression import export

    result = export.export(
        args.model, _data(args), args.out, args.quantize, compare=not args.no_compare
    )
    evaluation = result["evaluation"]
    print(
        f"Saved {args.out} ({args.quantize}): {evaluation['size_bytes']} bytes, "
        f"accuracy {evaluation['accuracy']:.4f}, "
        f"{evaluation['latency_ms']:.4f} ms per batch-1 call"
    )


COMMANDS = {
    "export": (add_export, run_export),
}
