"""Every export scheme of one model, side by side, and the `kerasreg export` run.

`compare_exports` tabulates size, gzip size, accuracy and latency of every
TFLite scheme next to Keras's in-framework `model.quantize("int8")`;
`export` converts one model and evaluates the file on a dataset.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import warnings

import keras

from kerasreg import data as data_lib
from kerasreg._choices import QUANTIZATIONS
from kerasreg.compression.export.tflite_converter import to_tflite
from kerasreg.compression.export.tflite_model import TFLiteModel
from kerasreg.saving import load_model

__all__ = ["compare_exports", "export"]


def compare_exports(
    model,
    data,
    quantizations=None,
    keras_int8=True,
    out_dir=None,
    latency_repeats=200,
    verbose=True,
):
    """Export every scheme, evaluate each file, and print one table.

    Args:
        model: a trained single-input `keras.Model` that outputs logits.
        data: anything `kerasreg.data.load` takes; 200 training images
            calibrate int8 (`calibration_images`), the test split measures
            accuracy, streamed in the model's input range.
        quantizations: schemes to export. Defaults to all of
            `QUANTIZATIONS`, `"int4"` only when ai-edge-quantizer is
            installed.
        keras_int8: add a row for Keras's in-framework
            `model.quantize("int8")` (Dense/EinsumDense/Embedding weights),
            measured in Keras; skipped when nothing in the model quantizes.
            Defaults to `True`.
        out_dir: keep the `.tflite` files there; a temporary directory
            otherwise.
        latency_repeats: timed batch-1 calls per row. Defaults to `200`.
        verbose: print the table. Defaults to `True`.

    Returns:
        A list of dicts, one per row: `format`, `size_bytes`, `gzip_bytes`,
        `size_ratio` (to float32 TFLite), `accuracy`, `latency_ms`.
    """
    from kerasreg import report
    from kerasreg.compression.export.int4 import int4_available

    if quantizations is None:
        quantizations = [q for q in QUANTIZATIONS if q != "int4" or int4_available()]
    data = data_lib.load(data)
    scale = data_lib.input_scale(model, data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = out_dir or tmp
        for scheme in quantizations:
            name = scheme or "float32"  # None is float32 too
            path = os.path.join(folder, f"model_{name}.tflite")
            to_tflite(model, path, scheme, representative_data=data)
            result = TFLiteModel(path).evaluate(
                data, latency_repeats=latency_repeats, scale=scale
            )
            with open(path, "rb") as f:
                gzipped = len(gzip.compress(f.read(), 9))
            rows.append({"format": f"tflite {name}", "gzip_bytes": gzipped, **result})
        if keras_int8:
            row = _keras_int8_row(model, data, latency_repeats)
            if row is not None:
                rows.append(row)
    base = next(
        (r["size_bytes"] for r in rows if r["format"] == "tflite float32"), None
    )
    for row in rows:
        row["size_ratio"] = row["size_bytes"] / base if base else None
    columns = [
        "format",
        "size_bytes",
        "gzip_bytes",
        "size_ratio",
        "accuracy",
        "latency_ms",
    ]
    rows = [{c: row[c] for c in columns} for row in rows]
    if verbose:
        report.print_table(rows, columns)
    return rows


def _keras_int8_row(model, data, repeats):
    from kerasreg import metrics, training

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    try:
        with warnings.catch_warnings():  # "Layer X has no quantize method"
            warnings.simplefilter("ignore")
            copy.quantize("int8")
    except (ValueError, NotImplementedError):
        return None
    if not any("int8" in str(w.dtype) for w in copy.weights):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        copy.save(path)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            gzipped = len(gzip.compress(f.read(), 9))
    return {
        "format": "keras int8 (.keras)",
        "size_bytes": size,
        "gzip_bytes": gzipped,
        "accuracy": training.evaluate(copy, data),
        "latency_ms": 1e3
        * metrics.measure_latency(copy, batch_size=1, repeats=repeats),
    }


def export(
    model, data="digits", path="model.tflite", quantization="int8-full", compare=True
):
    """Write one `.tflite` file and compare every scheme (`kerasreg export`).

    Args:
        model: a trained logits `keras.Model` or the path of a `.keras`
            file.
        data: anything `kerasreg.data.load` takes: 200 training images
            calibrate, the test split is evaluated. Defaults to `"digits"`.
        path: the `.tflite` file to write. Defaults to `"model.tflite"`.
        quantization: the scheme of that file (see `to_tflite`). Defaults to
            `"int8-full"`.
        compare: also print and return `compare_exports`' table. Defaults
            to `True`.

    Returns:
        A dict: `path`, `evaluation` (of the written file, see
        `TFLiteModel.evaluate`) and `rows` (the comparison; empty when
        `compare=False`).
    """
    dataset = data_lib.load(data)
    if not isinstance(model, keras.Model):
        model = load_model(model)
    to_tflite(model, path, quantization, representative_data=dataset)
    scale = data_lib.input_scale(model, dataset)
    evaluation = TFLiteModel(path).evaluate(dataset, scale=scale)
    rows = compare_exports(model, dataset) if compare else []
    return {"path": path, "evaluation": evaluation, "rows": rows}
