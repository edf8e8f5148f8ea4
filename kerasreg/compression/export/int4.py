"""4-bit weights, which the TFLite converter cannot write, via ai-edge-quantizer.

The converter stores weights in 8 bits at the least. `ai-edge-quantizer`
(Google's quantizer of `.tflite` files, an optional dependency: `pip
install "kerasreg[int4]"`) rewrites a float32 file with int4 weights, one
scale per output channel, that are dequantized to float before each op:
the file is about 7x smaller than float32 and still computes in float, so
it suits a download-size budget rather than integer-only hardware.
"""

from __future__ import annotations

import contextlib
import io

__all__ = ["weight_only_int4", "int4_available"]


def int4_available():
    """Whether `ai_edge_quantizer` can be imported (`quantization="int4"`)."""
    try:
        import ai_edge_quantizer  # noqa: F401
    except ImportError:
        return False
    return True


def weight_only_int4(content):
    """The bytes of a float32 `.tflite` file rewritten with int4 weights.

    Raises:
        ImportError: when ai-edge-quantizer is not installed, saying how to
            install it.
    """
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError:
        raise ImportError(
            "quantization='int4' needs ai-edge-quantizer, an optional dependency: "
            "pip install 'kerasreg[int4]'"
        ) from None
    rewriter = quantizer.Quantizer(bytearray(content), recipe.weight_only_wi4_afp32())
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a size report
        result = rewriter.quantize()
    return bytes(result.quantized_model)
