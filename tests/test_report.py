"""kerasreg.report: plain-text tables and training curves."""

import numpy as np
import pytest

from kerasreg import report


def test_format_table():
    text = report.format_table(
        [
            {"stage": "baseline", "acc": 0.98765, "params": 1200},
            {"stage": "slim", "acc": 0.5},
        ]
    )
    assert text.splitlines() == [
        "stage     acc     params",
        "--------  ------  ------",
        "baseline  0.9877  1200",
        "slim      0.5",
    ]
    assert report.format_table([]) == ""


def test_plot_curves_writes_png(tmp_path):
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}
    path = tmp_path / "curves.png"
    fig = report.plot_curves(history, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), [1.1, 0.7])


def test_plot_images_writes_one_labelled_row_per_entry(tmp_path):
    path = tmp_path / "rows.png"
    rows = {"noisy": np.zeros((5, 784)), "clean": np.ones((5, 784))}
    fig = report.plot_images(rows, path, columns=3, shape=(28, 28))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 6
    assert [fig.axes[i].get_ylabel() for i in (0, 3)] == ["noisy", "clean"]
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), np.ones((28, 28)))
    with pytest.raises(ValueError, match="Expected at least one row of images"):
        report.plot_images({})
