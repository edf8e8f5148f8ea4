"""What `compress` measures: every stage's row and the one-line summary.

Each finished Keras stage and each TFLite file gets a row: parameters,
multiply-accumulates, file size, test accuracy and batch-1 latency. The
summary compares the smallest int8 file with `original`, the model the
user started from (their `.keras` model as given, or the reference model
trained plainly), and says it in words.
"""

from __future__ import annotations

from kerasreg import metrics
from kerasreg.compression.export import TFLiteModel
from kerasreg.data import input_scale
from kerasreg.saving import load_model
from kerasreg.training import evaluate

__all__ = ["stage_rows", "summarize"]


def stage_rows(runner):
    """One row per finished stage of a `StageRunner`, Keras then TFLite."""
    rows = []
    for name, filename in runner.KERAS_STAGES:
        if name in runner.state.done:
            model = load_model(runner.path(filename), compile=False)
            rows.append(_keras_row(name, model, runner.dataset))
    original = rows[0]
    final = rows[-1]
    scale = input_scale(
        load_model(runner.path("original.keras"), compile=False),
        runner.dataset,
    )
    files = [("tflite original float32", "original_float32.tflite", original)]
    files += [
        (f"tflite {q}", f"final_{q}.tflite", final) for q in runner.config.quantize
    ]
    for stage, filename, source in files:
        result = TFLiteModel(runner.path(filename)).evaluate(
            runner.dataset, scale=scale
        )
        rows.append(
            {
                "stage": stage,
                "params": source["params"],
                "flops": source["flops"],
                "size_bytes": result["size_bytes"],
                "accuracy": result["accuracy"],
                "latency_ms": result["latency_ms"],
            }
        )
    return rows


def summarize(rows, user_model):
    """The int8 file against `original`: ratios, points and one sentence.

    Args:
        rows: `stage_rows` output.
        user_model: whether `original` is the user's own model (the
            sentence says "your model") or a plainly trained reference.

    Returns:
        A dict (empty when no int8 file was exported): `stage`,
        `size_ratio` (original float32 TFLite bytes / int8 bytes),
        `accuracy_change_points` (int8 minus original, in points),
        `original_accuracy`, `final_accuracy` and `sentence`.
    """
    by_stage = {r["stage"]: r for r in rows}
    int8 = [r for r in rows if r["stage"].startswith("tflite int8")]
    if not int8:
        return {}
    smallest = min(int8, key=lambda r: r["size_bytes"])
    original = by_stage["original"]
    ratio = by_stage["tflite original float32"]["size_bytes"] / smallest["size_bytes"]
    change = 100 * (smallest["accuracy"] - original["accuracy"])
    whom = "your model" if user_model else "the plainly trained model"
    if abs(change) < 0.005:
        accuracy = "just as accurate"
    else:
        accuracy = (
            f"{abs(change):.2f} points {'more' if change > 0 else 'less'} accurate"
        )
    sentence = (
        f"{smallest['stage'].removeprefix('tflite ')} file: {ratio:.1f}x smaller "
        f"than {whom} and {accuracy} ({100 * smallest['accuracy']:.2f}% against "
        f"{100 * original['accuracy']:.2f}%)"
    )
    return {
        "stage": smallest["stage"],
        "size_ratio": ratio,
        "accuracy_change_points": change,
        "original_accuracy": original["accuracy"],
        "final_accuracy": smallest["accuracy"],
        "sentence": sentence,
    }


def _keras_row(stage, model, dataset):
    return {
        "stage": stage,
        "params": metrics.count_params(model),
        "flops": metrics.count_flops(model),
        "size_bytes": metrics.saved_size(model),  # weights only, no optimizer
        "accuracy": evaluate(model, dataset),
        "latency_ms": 1e3 * metrics.measure_latency(model, batch_size=1, repeats=50),
    }
