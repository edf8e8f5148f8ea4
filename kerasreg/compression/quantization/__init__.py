"""Quantization-aware training: TFLite's int8 arithmetic simulated in `fit`.

- `layers.py`: `ActivationQuantizer` and the `Quantized*` weight layers;
- `rebuild.py`: `quantize_aware`, which rebuilds a model out of them, and
  `calibrate`;
- `workflow.py`: `qat`, fine-tune and export end to end.

Keras 3's own `model.quantize` covers Dense, EinsumDense and Embedding
after training and has no quantization-aware training; tfmot's runs only on
tf_keras. The export is `to_tflite(qat_model, path, "int8-full")`.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "quantize_aware": "rebuild",
    "qat": "workflow",
    "calibrate": "rebuild",
    "fold_batchnorm": "rebuild",
    "ActivationQuantizer": "layers",
    "QuantizedConv2D": "layers",
    "QuantizedDepthwiseConv2D": "layers",
    "QuantizedDense": "layers",
    "fake_quantize_weights": "layers",
    "is_quantization_aware": "layers",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
