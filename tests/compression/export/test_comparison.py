"""compare_exports: one row per format, and one printed table."""

import os

import pytest

from kerasreg import training
from kerasreg.compression.export.int4 import int4_available

INT4 = ["tflite int4"] if int4_available() else []


def test_compare_exports_table(trained, digits, exports):
    folder, rows, _ = exports
    assert list(rows) == [
        "tflite float32",
        "tflite float16",
        "tflite dynamic",
        "tflite int8",
        "tflite int8-full",
        *INT4,
        "keras int8 (.keras)",
    ]
    keras_accuracy = training.evaluate_accuracy(trained, digits.x_test, digits.y_test)
    assert rows["tflite float32"]["accuracy"] == pytest.approx(keras_accuracy, abs=1e-9)
    assert rows["tflite float32"]["size_ratio"] == 1.0
    # This tiny model's file is mostly flatbuffer overhead (about 5 kB); the
    # 0.30x target on the real CNN is measured in benchmarks/bench_export.py.
    assert rows["tflite float16"]["size_ratio"] < 0.8
    for name in ("tflite dynamic", "tflite int8", "tflite int8-full"):
        assert rows[name]["size_bytes"] < rows["tflite float16"]["size_bytes"], name
        assert rows[name]["accuracy"] > keras_accuracy - 0.03, name
    if INT4:  # 4-bit weights: smaller than int8's, within 5 points
        int4 = rows["tflite int4"]
        assert int4["size_bytes"] < rows["tflite dynamic"]["size_bytes"]
        assert int4["accuracy"] > keras_accuracy - 0.05
    for name, row in rows.items():
        assert row["gzip_bytes"] < row["size_bytes"] and row["latency_ms"] > 0, name
        if name.startswith("tflite"):
            path = folder / f"model_{name.split()[1]}.tflite"
            assert row["size_bytes"] == os.path.getsize(path)


def test_compare_exports_prints_one_table(exports):
    lines = exports[2].splitlines()
    assert lines[0].split() == [
        "format",
        "size_bytes",
        "gzip_bytes",
        "size_ratio",
        "accuracy",
        "latency_ms",
    ]
    assert lines[2].startswith("tflite float32") and len(lines) == 8 + len(INT4)
