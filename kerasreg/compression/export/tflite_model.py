"""`TFLiteModel`: run a `.tflite` file like a Keras model, and measure it.

It runs the file with `ai_edge_litert.interpreter.Interpreter`, quantizes
and dequantizes int8 inputs and outputs with the file's own parameters, and
reports accuracy, file size and batch-1 latency.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings

import numpy as np

from kerasreg import _io

__all__ = ["TFLiteModel"]


class TFLiteModel:
    """A `.tflite` file with a Keras-like `predict` and an `evaluate` report.

    Wraps `ai_edge_litert.interpreter.Interpreter`. Inputs are fed in
    batches (the file keeps a dynamic batch axis); int8 inputs and outputs
    are quantized and dequantized with the file's own scale and zero point,
    so `predict` takes and returns floats whatever the scheme.

    Args:
        path: a `.tflite` file with one input and one or more outputs (a
            model with a dict of outputs, such as `kerasreg.multitask`'s,
            keeps its output names in the file's signature).
        num_threads: interpreter threads. Defaults to `1` (a phone core).
        kernels: `"xnnpack"` (LiteRT's default CPU delegate, what an app
            gets) or `"builtin"` (LiteRT's reference kernels, without the
            delegate: the second opinion when checking a file, since the
            two round int8 arithmetic differently). With `"xnnpack"`, a file
            XNNPACK refuses falls back to `"builtin"` with a warning.
            Defaults to `"xnnpack"`.

    Raises:
        ValueError: for another `kernels`.

    Example:

    >>> from kerasreg.compression.export import to_tflite
    >>> data = kerasreg.load("digits")
    >>> model = kerasreg.models.build("cnn-tiny", (8, 8, 1), 10)
    >>> tflite = TFLiteModel(to_tflite(model, "model.tflite"))
    >>> np.allclose(tflite.predict(data.x_test[:4]), model.predict(data.x_test[:4], verbose=0), atol=1e-4)
    True
    >>> sorted(tflite.evaluate(data.x_test, data.y_test))
    ['accuracy', 'latency_ms', 'size_bytes']
    """

    def __init__(self, path, num_threads=1, kernels="xnnpack"):
        from ai_edge_litert.interpreter import Interpreter

        if kernels not in ("xnnpack", "builtin"):
            raise ValueError(
                "Expected kernels='xnnpack' or 'builtin'. Received: "
                f"kernels={kernels!r}"
            )
        self.path = os.fspath(path)
        self.num_threads = num_threads
        self.delegate = kernels == "xnnpack"  # LiteRT's default CPU delegate
        self._interpreter = self._open(Interpreter, **self._resolver())
        (self._input,) = self._interpreter.get_input_details()
        self._outputs = self._named_outputs()
        self._output = next(iter(self._outputs.values()))
        self._batch = None

    def _named_outputs(self):
        """Output details by name: the signature's names, in its order."""
        details = {d["index"]: d for d in self._interpreter.get_output_details()}
        signatures = self._interpreter.get_signature_list()
        if len(details) > 1 and len(signatures) == 1:
            runner = self._interpreter.get_signature_runner()
            named = runner.get_output_details()
            return {name: details[d["index"]] for name, d in named.items()}
        return {f"output_{i}": d for i, d in enumerate(details.values())}

    def _open(self, interpreter, **kwargs):
        with _io.quiet_native_stderr():  # "Created TensorFlow Lite XNNPACK ..."
            return interpreter(
                model_path=self.path, num_threads=self.num_threads, **kwargs
            )

    def _resolver(self):
        """Interpreter arguments for the builtin kernels, none for XNNPACK."""
        from ai_edge_litert.interpreter import OpResolverType

        if self.delegate:
            return {}
        builtin = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        return {"experimental_op_resolver_type": builtin}

    @property
    def kernels(self):
        """`"xnnpack"` or `"builtin"`: the kernels the file runs on."""
        return "xnnpack" if self.delegate else "builtin"

    def _without_delegate(self, error):
        """Reopen with the builtin kernels: XNNPACK refused an op of the file."""
        from ai_edge_litert.interpreter import Interpreter

        warnings.warn(
            f"XNNPACK cannot run {os.path.basename(self.path)} ({str(error)[:120]}); "
            "running it with LiteRT's builtin kernels instead (sparse int8 fully "
            "connected layers need them).",
            stacklevel=3,
        )
        self.delegate = False
        self._interpreter = self._open(Interpreter, **self._resolver())
        self._batch = None

    @property
    def input_dtype(self):
        """NumPy dtype the file takes (`float32` or `int8`)."""
        return np.dtype(self._input["dtype"])

    @property
    def output_quantization(self):
        """`(scale, zero_point)` of an int8 output; `(0.0, 0)` for float."""
        scale, zero = self._output["quantization"]
        return float(scale), int(zero)

    @property
    def size_bytes(self):
        return os.path.getsize(self.path)

    def _resize(self, batch):
        if batch != self._batch:
            shape = [batch, *self._input["shape"][1:]]
            self._interpreter.resize_tensor_input(self._input["index"], shape)
            try:
                with _io.quiet_native_stderr():
                    self._interpreter.allocate_tensors()
            except RuntimeError as error:
                if not self.delegate or "XNNPack" not in str(error):
                    raise
                self._without_delegate(error)
                return self._resize(batch)
            self._batch = batch

    def _quantize_input(self, x):
        scale, zero = self._input["quantization"]
        if self.input_dtype == np.int8:
            return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        return x.astype(self.input_dtype)

    def _run(self, x):
        self._interpreter.set_tensor(self._input["index"], x)
        self._interpreter.invoke()
        return {
            name: np.array(self._interpreter.get_tensor(d["index"]))
            for name, d in self._outputs.items()
        }

    def predict(self, x, batch_size=32):
        """Outputs of the file on `x`, as float32, batch by batch.

        Args:
            x: float inputs, shaped like the Keras model's input.
            batch_size: examples per interpreter call. Defaults to `32`.

        Returns:
            A float32 array of outputs; for a file of several outputs, a
            dict of them by output name.
        """
        x = np.asarray(x, dtype="float32")
        batches = []
        for start in range(0, len(x), batch_size):
            batch = self._quantize_input(x[start : start + batch_size])
            self._resize(len(batch))
            batches.append(self._run(batch))
        outputs = {}
        for name, detail in self._outputs.items():
            out = np.concatenate([b[name] for b in batches])
            scale, zero = detail["quantization"]
            if np.dtype(detail["dtype"]) == np.int8:
                out = (out.astype("float32") - zero) * scale
            outputs[name] = out.astype("float32")
        return outputs.popitem()[1] if len(outputs) == 1 else outputs

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

    def evaluate(self, x, y=None, batch_size=32, latency_repeats=200, *, scale=1.0):
        """Accuracy on `(x, y)` or a dataset's test split, size and latency.

        Args:
            x: float inputs, or a `kerasreg.data` dataset whose test split
                is streamed batch by batch (then `y` is `None`).
            y: integer labels of `x`.
            batch_size: examples per interpreter call. Defaults to `32`.
            latency_repeats: timed batch-1 calls. Defaults to `200`.
            scale: for a dataset, the factor its images are multiplied by
                (`kerasreg.data.input_scale` of the Keras model the file
                came from). Defaults to `1.0`.

        Returns:
            A dict: `accuracy` (top-1), `size_bytes`, `latency_ms` (median
            per batch-1 call).
        """
        if y is None:
            correct = total = 0
            first = None
            for images, labels in x.batches("test", 256, scale=scale):
                images = images.numpy()
                first = images[:1] if first is None else first
                logits = self.predict(images, batch_size=batch_size)
                correct += int(np.sum(np.argmax(logits, -1) == labels.numpy()))
                total += len(images)
            accuracy, sample = correct / max(total, 1), first
        else:
            logits = self.predict(x, batch_size=batch_size)
            accuracy = float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))
            sample = np.asarray(x[:1])
        latency = self.measure_latency(sample, repeats=latency_repeats)
        return {
            "accuracy": accuracy,
            "size_bytes": self.size_bytes,
            "latency_ms": 1e3 * latency,
        }
