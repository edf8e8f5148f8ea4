"""TFLite export: conversion, the `TFLiteModel` runtime, the comparison.

- `tflite_converter.py`: `to_tflite` and `convert`, one call per scheme;
- `tflite_model.py`: `TFLiteModel`, run and measure a `.tflite` file;
- `comparison.py`: `compare_exports` and `export`, what `kerasreg export`
  runs.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "QUANTIZATIONS": "tflite_converter",
    "to_tflite": "tflite_converter",
    "convert": "tflite_converter",
    "calibration_images": "tflite_converter",
    "TFLiteModel": "tflite_model",
    "compare_exports": "comparison",
    "export": "comparison",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
