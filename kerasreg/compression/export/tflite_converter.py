"""Quantized TFLite export of Keras 3 models: `to_tflite` and `convert`.

`to_tflite` writes a `.tflite` file with one of six schemes: float32,
float16 weights, dynamic-range (int8 weights), int8 (float input/output),
int8-full (int8 input and output too, for integer-only accelerators) and
int4 (4-bit weights, float compute; `int4.py`).
It uses Keras's own `keras.export.ExportArchive` to write a SavedModel and
`tf.lite.TFLiteConverter.from_saved_model` to convert it, the path that
`model.export(format="litert")` takes, but restricted to TFLite builtin ops:
an op without a builtin kernel fails the export with its name instead of
silently needing the Flex delegate at run time.
"""

from __future__ import annotations

import re
import tempfile

import keras
import numpy as np

from kerasreg import _io, _keras_compat
from kerasreg import data as data_lib

__all__ = ["QUANTIZATIONS", "to_tflite", "convert", "calibration_images"]

from kerasreg._choices import QUANTIZATIONS  # noqa: E402

_CALIBRATION_SAMPLES = 200


def to_tflite(
    model,
    path,
    quantization=None,
    representative_data=None,
    *,
    per_channel=None,
    sparse=False,
):
    """Convert a Keras model to a TFLite file, optionally quantized.

    Args:
        model: a built single-input `keras.Model`.
        path: where to write the `.tflite` file. It appears only once the
            conversion succeeded; nothing is left behind on failure.
        quantization: `None` (float32), `"float16"` (float16 weights),
            `"dynamic"` (int8 weights, float activations), `"int8"` (int8
            weights and activations, float input and output) or
            `"int8-full"` (int8 input and output too) or `"int4"` (int4
            weights per output channel, float compute, written by the
            optional ai-edge-quantizer from the float32 file). Defaults to
            `None`.
        representative_data: calibration inputs for `"int8"` and
            `"int8-full"`: a float array shaped like the model input with a
            leading batch axis (a few hundred training examples; the first
            200 are used). A quantization-aware model (`quantize_aware`)
            carries its learned ranges and needs none.
        per_channel: int8 weights with one scale per output channel (the
            converter's default), or `False` for one scale per kernel.
            Defaults to per channel, or for a quantization-aware model to
            the scales it was trained with (`quantize_aware(per_channel=)`),
            which are the only ones its file can match.
        sparse: store mostly-zero kernels (a pruned model) in TFLite's
            sparse format (`tf.lite.Optimize.EXPERIMENTAL_SPARSITY`), which
            the interpreter densifies when it loads the file: smaller files,
            the same outputs. Defaults to `False`.

    Returns:
        `path`.

    Raises:
        ValueError: for an unknown `quantization`, missing or malformed
            `representative_data`, a `per_channel` other than a
            quantization-aware model's own, or a model the converter
            rejects (the message names the ops).
        ImportError: for `"int4"` without ai-edge-quantizer installed.

    Example:

    >>> data = kerasreg.load("digits")
    >>> model = kerasreg.models.build("cnn-tiny", (8, 8, 1), 10)
    >>> to_tflite(model, "model.tflite", "int8-full",
    ...           representative_data=data.x_train)
    'model.tflite'
    """
    content = convert(
        model, quantization, representative_data, per_channel=per_channel, sparse=sparse
    )
    with _io.atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(content)
    return path


def convert(
    model,
    quantization=None,
    representative_data=None,
    *,
    per_channel=None,
    sparse=False,
):
    """Like `to_tflite`, but returns the file's bytes instead of writing."""
    import tensorflow as tf

    from kerasreg.compression.quantization import is_quantization_aware

    if quantization is None:
        quantization = "float32"
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"Unknown quantization={quantization!r}. Expected one of "
            f"{', '.join(map(repr, QUANTIZATIONS))}."
        )
    if quantization == "int4":
        return _int4(model, sparse)
    spec_shape = tuple(model.input_shape)
    calibration = None
    if isinstance(representative_data, data_lib.BaseDataset):
        representative_data = calibration_images(model, representative_data)
    qat = is_quantization_aware(model)
    per_channel = _per_channel(model, per_channel, qat)
    if quantization in ("int8", "int8-full") and not qat:
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
        optimizations = []
        if quantization != "float32":
            optimizations.append(tf.lite.Optimize.DEFAULT)
        if sparse:
            optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
        converter.optimizations = optimizations
        if not per_channel:
            _keras_compat.disable_per_channel_quantization(converter)
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
            with _io.quiet_native_stderr():
                return converter.convert()
        except Exception as error:  # ConverterError, RuntimeError from MLIR
            raise _rejected(model, quantization, error) from None


def _int4(model, sparse):
    """The float32 file with its kernels rewritten in 4 bits (`int4.py`)."""
    from kerasreg.compression.export.int4 import weight_only_int4

    if sparse:
        raise ValueError("sparse=True is not available with quantization='int4'.")
    return weight_only_int4(convert(model, "float32"))


def _per_channel(model, per_channel, qat):
    """The weight scales of the file: the ones a QAT model trained with."""
    from kerasreg.compression.quantization.layers import weights_per_channel

    trained = weights_per_channel(model) if qat else None
    if per_channel is None:
        return True if trained is None else trained
    if trained is not None and bool(per_channel) != trained:
        raise ValueError(
            f"Model {model.name!r} was trained quantization-aware with "
            f"per_channel={trained}, and its file must use the same weight scales. "
            f"Received: per_channel={per_channel}"
        )
    return bool(per_channel)


def calibration_images(model, dataset, n=_CALIBRATION_SAMPLES):
    """`n` training images of a dataset, in the range `model` expects.

    Arrays in memory give their first `n` images; folders and pipelines
    read only the `n` images drawn (`dataset.sample`), never the whole
    split.

    Example:

    >>> data = kerasreg.load("digits")
    >>> model = kerasreg.models.build("cnn-tiny", (8, 8, 1), 10)
    >>> calibration_images(model, data).shape
    (200, 8, 8, 1)
    """
    scale = data_lib.input_scale(model, dataset)
    if isinstance(dataset, data_lib.Dataset):
        images = dataset.x_train[:n]
        return images * np.float32(scale) if scale != 1 else images
    images, _ = dataset.sample(n, "train", seed=0, scale=scale)
    return images


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
