"""Shared by the export tests: compare_exports run once on `trained`."""

import contextlib
import io

import pytest

from kerasreg.compression.export import compare_exports


@pytest.fixture(scope="session")
def exports(trained, digits, tmp_path_factory):
    """compare_exports run once; its .tflite files are kept for the tests."""
    folder = tmp_path_factory.mktemp("exports")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rows = compare_exports(trained, digits, out_dir=str(folder), latency_repeats=20)
    return folder, {row["format"]: row for row in rows}, printed.getvalue()
