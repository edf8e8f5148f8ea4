"""Quantized TFLite export of Keras 3 models, and evaluation of the file.

`to_tflite` writes a `.tflite` file with one of five schemes: float32,
float16 weights, dynamic-range (int8 weights), int8 (float input/output)
and int8-full (int8 input and output too, for integer-only accelerators).
It uses Keras's own `keras.export.ExportArchive` to write a SavedModel and
`tf.lite.TFLiteConverter.from_saved_model` to convert it, the path that
`model.export(format="litert")` takes, but restricted to TFLite builtin ops:
an op without a builtin kernel fails the export with its name instead of
silently needing the Flex delegate at run time.

`TFLiteModel` runs the file with `ai_edge_litert.interpreter.Interpreter`;
`compare_exports` tabulates size, gzip size, accuracy and latency of every
scheme next to Keras's in-framework `model.quantize("int8")`.
"""

from __future__ import annotations

import gzip
import os
import re
import statistics
import tempfile
import time
import warnings

import keras
import numpy as np

from kerasreg import _io

__all__ = [
    "QUANTIZATIONS",
    "to_tflite",
    "convert",
    "TFLiteModel",
    "compare_exports",
    "export",
]

QUANTIZATIONS = (None, "float16", "dynamic", "int8", "int8-full")
_CALIBRATION_SAMPLES = 200


def to_tflite(model, path, quantization=None, representative_data=None):
    """Convert a Keras model to a TFLite file, optionally quantized.

    Args:
        model: a built single-input `keras.Model`.
        path: where to write the `.tflite` file. It appears only once the
            conversion succeeded; nothing is left behind on failure.
        quantization: `None` (float32), `"float16"` (float16 weights),
            `"dynamic"` (int8 weights, float activations), `"int8"` (int8
            weights and activations, float input and output) or
            `"int8-full"` (int8 input and output too). Defaults to `None`.
        representative_data: calibration inputs for `"int8"` and
            `"int8-full"`: a float array shaped like the model input with a
            leading batch axis (a few hundred training examples; the first
            200 are used).

    Returns:
        `path`.

    Raises:
        ValueError: for an unknown `quantization`, missing or malformed
            `representative_data`, or a model the converter rejects (the
            message names the ops).

    Example:

    >>> to_tflite(model, "model.tflite", "int8-full",
    ...           representative_data=data.x_train)
    'model.tflite'
    """
    content = convert(model, quantization, representative_data)
    with _io.atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(content)
    return path


def convert(model, quantization=None, representative_data=None):
    """Like `to_tflite`, but returns the file's bytes instead of writing."""
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"Unknown quantization={quantization!r}. Expected one of "
            f"{', '.join(map(repr, QUANTIZATIONS))}."
        )
    spec_shape = tuple(model.input_shape)
    calibration = None
    if quantization in ("int8", "int8-full"):
        calibration = _check_representative(
            representative_data, spec_shape, quantization
        )
    with tempfile.TemporaryDirectory() as saved_model:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            "serve",
            lambda x: model(x, training=False),
            input_signature=[keras.InputSpec(shape=spec_shape, dtype="float32")],
        )
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if calibration is not None:
            converter.representative_dataset = lambda: (
                [calibration[i : i + 1]] for i in range(len(calibration))
            )
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if quantization == "int8-full":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        try:
            return converter.convert()
        except Exception as error:  # ConverterError, RuntimeError from MLIR
            raise _rejected(model, quantization, error) from None


def _check_representative(data, input_shape, quantization):
    if data is None:
        raise ValueError(
            f"quantization={quantization!r} needs representative_data: a few "
            f"hundred training inputs of shape (N, {', '.join(map(str, input_shape[1:]))}) "
            "to calibrate activation ranges. Received: representative_data=None"
        )
    data = np.asarray(data)
    if not np.issubdtype(data.dtype, np.floating):
        raise ValueError(
            "Expected floating-point representative_data, preprocessed like the "
            f"training inputs. Received: representative_data.dtype={data.dtype}"
        )
    if data.ndim != len(input_shape) or any(
        want is not None and want != got
        for want, got in zip(input_shape[1:], data.shape[1:])
    ):
        raise ValueError(
            f"Expected representative_data of shape (N, "
            f"{', '.join(map(str, input_shape[1:]))}) to match the model input. "
            f"Received: representative_data.shape={data.shape}"
        )
    if len(data) == 0:
        raise ValueError("Received an empty representative_data; pass some samples.")
    return data[:_CALIBRATION_SAMPLES].astype("float32")


def _rejected(model, quantization, error):
    """A one-paragraph ValueError naming the ops (and layers) that failed."""
    text = str(error)
    ops = sorted(set(re.findall(r"'(tf\.\w+|tfl\.\w+)' op is neither", text)))
    unquantized = sorted(set(re.findall(r"not yet supported for op: '(\w+)'", text)))
    names = {layer.name for layer in model.layers}
    layers = set()
    for scope in re.findall(r'fused\["\w+:", "([^"@]+)@', text):
        for part in scope.split("/")[1:-1]:
            base = re.sub(r"_\d+$", "", part)
            layers.update(x for x in (part, base) if x in names)
    where = f" in layer(s) {sorted(layers)}" if layers else ""
    if ops:
        return ValueError(
            f"The TFLite converter rejected model {model.name!r}: op(s) "
            f"{', '.join(ops)}{where} have no TFLite builtin kernel. Replace "
            "that layer with one built from TFLite-supported ops."
        )
    if unquantized:
        return ValueError(
            f"The TFLite converter cannot quantize op(s) {', '.join(unquantized)}"
            f" of model {model.name!r} to int8 (quantization={quantization!r}). "
            "Use quantization='dynamic' or 'float16' instead."
        )
    first = next((line for line in text.splitlines() if "error" in line), text)
    return ValueError(
        f"The TFLite converter rejected model {model.name!r} "
        f"(quantization={quantization!r}): {first.strip()[:400]}"
    )


class TFLiteModel:
    """A `.tflite` file with a Keras-like `predict` and an `evaluate` report.

    Wraps `ai_edge_litert.interpreter.Interpreter`. Inputs are fed in
    batches (the file keeps a dynamic batch axis); int8 inputs and outputs
    are quantized and dequantized with the file's own scale and zero point,
    so `predict` takes and returns floats whatever the scheme.

    Args:
        path: a `.tflite` file with one input and one output.
        num_threads: interpreter threads. Defaults to `1` (a phone core).

    Example:

    >>> tflite = TFLiteModel("model.tflite")
    >>> tflite.evaluate(data.x_test, data.y_test)
    {'accuracy': 0.99, 'size_bytes': 63832, 'latency_ms': 0.018}
    """

    def __init__(self, path, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter

        self.path = os.fspath(path)
        self.num_threads = num_threads
        self._interpreter = Interpreter(model_path=self.path, num_threads=num_threads)
        (self._input,) = self._interpreter.get_input_details()
        (self._output,) = self._interpreter.get_output_details()
        self._batch = None

    @property
    def input_dtype(self):
        """NumPy dtype the file takes (`float32` or `int8`)."""
        return np.dtype(self._input["dtype"])

    @property
    def size_bytes(self):
        return os.path.getsize(self.path)

    def _resize(self, batch):
        if batch != self._batch:
            shape = [batch, *self._input["shape"][1:]]
            self._interpreter.resize_tensor_input(self._input["index"], shape)
            self._interpreter.allocate_tensors()
            self._batch = batch

    def _quantize_input(self, x):
        scale, zero = self._input["quantization"]
        if self.input_dtype == np.int8:
            return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        return x.astype(self.input_dtype)

    def _run(self, x):
        self._interpreter.set_tensor(self._input["index"], x)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"])

    def predict(self, x, batch_size=32):
        """Outputs of the file on `x`, as float32, batch by batch.

        Args:
            x: float inputs, shaped like the Keras model's input.
            batch_size: examples per interpreter call. Defaults to `32`.

        Returns:
            A float32 array of outputs.
        """
        x = np.asarray(x, dtype="float32")
        outputs = []
        for start in range(0, len(x), batch_size):
            batch = self._quantize_input(x[start : start + batch_size])
            self._resize(len(batch))
            outputs.append(np.array(self._run(batch)))
        out = np.concatenate(outputs)
        scale, zero = self._output["quantization"]
        if np.dtype(self._output["dtype"]) == np.int8:
            out = (out.astype("float32") - zero) * scale
        return out.astype("float32")

    def measure_latency(self, x=None, repeats=200, warmup=20, batch_size=1):
        """Median seconds of one call on `batch_size` inputs: set, invoke, read.

        The input is quantized once beforehand: on a device the int8 input
        comes from the sensor pipeline, not from a float conversion.
        """
        shape = (batch_size, *self._input["shape"][1:])
        if x is None:
            x = np.zeros(shape, "float32")
        else:
            x = np.resize(np.asarray(x, "float32"), shape)
        x = self._quantize_input(np.asarray(x, "float32"))
        self._resize(batch_size)
        times = []
        for i in range(warmup + repeats):
            start = time.perf_counter()
            self._run(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
        return statistics.median(times)

    def evaluate(self, x, y, batch_size=32, latency_repeats=200):
        """Accuracy on `(x, y)`, file size and batch-1 latency.

        Returns:
            A dict: `accuracy` (top-1), `size_bytes`, `latency_ms` (median
            per batch-1 call).
        """
        logits = self.predict(x, batch_size=batch_size)
        accuracy = float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))
        latency = self.measure_latency(np.asarray(x[:1]), repeats=latency_repeats)
        return {
            "accuracy": accuracy,
            "size_bytes": self.size_bytes,
            "latency_ms": 1e3 * latency,
        }


def compare_exports(
    model,
    data,
    quantizations=QUANTIZATIONS,
    keras_int8=True,
    out_dir=None,
    latency_repeats=200,
    verbose=True,
):
    """Export every scheme, evaluate each file, and print one table.

    Args:
        model: a trained single-input `keras.Model` that outputs logits.
        data: a `kerasreg.data.Dataset`; `x_train` calibrates int8,
            `x_test`/`y_test` measure accuracy and latency.
        quantizations: schemes to export. Defaults to all of
            `QUANTIZATIONS`.
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

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = out_dir or tmp
        for scheme in quantizations:
            name = scheme or "float32"
            path = os.path.join(folder, f"model_{name}.tflite")
            to_tflite(model, path, scheme, representative_data=data.x_train)
            result = TFLiteModel(path).evaluate(
                data.x_test, data.y_test, latency_repeats=latency_repeats
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
    from kerasreg import report, training

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
        "accuracy": training.evaluate_accuracy(copy, data.x_test, data.y_test),
        "latency_ms": 1e3
        * report.measure_latency(
            copy, batch_size=1, repeats=repeats, input_data=data.x_test[:1]
        ),
    }


def export(
    model, data="digits", path="model.tflite", quantization="int8-full", compare=True
):
    """Write one `.tflite` file and compare every scheme (`kerasreg export`).

    Args:
        model: a trained logits `keras.Model` or a path to a `.keras` file.
        data: a `kerasreg.data` source or `Dataset`: `x_train` calibrates,
            the test split is evaluated. Defaults to `"digits"`.
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
    from kerasreg import data as data_lib

    dataset = data if isinstance(data, data_lib.Dataset) else data_lib.load(data)
    if not isinstance(model, keras.Model):
        model = keras.models.load_model(model)
    to_tflite(model, path, quantization, representative_data=dataset.x_train)
    evaluation = TFLiteModel(path).evaluate(dataset.x_test, dataset.y_test)
    rows = compare_exports(model, dataset) if compare else []
    return {"path": path, "evaluation": evaluation, "rows": rows}
