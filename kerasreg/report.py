"""Show results: plain-text tables, training curves and image grids.

The measurements themselves (`count_params`, `count_flops`, `saved_size`,
`measure_latency`) live in `kerasreg.metrics` and are re-exported here,
where they were first documented.
"""

from __future__ import annotations

import numpy as np

from kerasreg import _io
from kerasreg._io import pyplot, save_figure
from kerasreg.metrics import count_flops, count_params, measure_latency, saved_size

__all__ = [
    "count_params",
    "count_flops",
    "saved_size",
    "measure_latency",
    "format_table",
    "print_table",
    "plot_curves",
    "plot_images",
    "save_figure",
    "pyplot",
]


def format_table(rows, columns=None, floatfmt="{:.4g}"):
    """Format a list of dicts as a plain-text table.

    Args:
        rows: list of dicts, one per row.
        columns: column keys in order; the keys of the first row by default.
        floatfmt: format for floats. Defaults to `"{:.4g}"`.

    Returns:
        A `str` with a header, a rule, and one line per row.

    Example:

    >>> print(format_table([{"stage": "base", "acc": 0.98}]))
    stage  acc
    -----  ----
    base   0.98
    """
    rows = list(rows)
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def cell(value):
        if isinstance(value, float):
            return floatfmt.format(value)
        return "" if value is None else str(value)

    table = [columns] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def print_table(rows, columns=None, floatfmt="{:.4g}"):
    """Print `format_table(rows, columns, floatfmt)`."""
    print(format_table(rows, columns, floatfmt))


def plot_curves(history, path=None, title=None):
    """Plot training curves: one panel per metric, train and validation.

    Args:
        history: a `keras.callbacks.History` or its `.history` dict.
        path: where to save a PNG; not saved when `None`.
        title: figure title.

    Returns:
        The matplotlib `Figure`.
    """
    plt = _io.pyplot()

    logs = getattr(history, "history", history)
    metrics = [k for k in logs if not k.startswith("val_")]
    fig, axes = plt.subplots(
        1, max(len(metrics), 1), figsize=(4 * max(len(metrics), 1), 3.2)
    )
    axes = np.atleast_1d(axes)
    for ax, key in zip(axes, metrics):
        epochs = np.arange(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], label="train")
        if f"val_{key}" in logs:
            ax.plot(epochs, logs[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path, title)


def plot_images(rows, path=None, columns=8, shape=None, title=None):
    """Plot rows of images side by side, one labelled row per entry.

    For example clean, noisy and reconstructed images of a denoising
    autoencoder: `plot_images({"noisy": x_noisy, "reconstructed": x_hat,
    "clean": x})`. Grey images are shown in `[0, 1]`, clipped.

    Args:
        rows: a dict from row label to an array of images, `(n, h, w)`,
            `(n, h, w, 1)`, `(n, h, w, 3)`, or flat `(n, h * w)` with `shape`.
        path: where to save a PNG; not saved when `None`.
        columns: images per row, at most `n`. Defaults to `8`.
        shape: `(h, w)` or `(h, w, c)` to reshape flat images to. Defaults
            to `None` (the arrays are images already).
        title: figure title. Defaults to `None`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: if `rows` is empty.

    Example:

    >>> fig = plot_images({"a": np.zeros((3, 16)), "b": np.ones((3, 16))}, shape=(4, 4))
    >>> len(fig.axes)
    6
    """
    if not rows:
        raise ValueError("Expected at least one row of images. Received: rows={}")
    plt = _io.pyplot()
    columns = min(columns, *(len(images) for images in rows.values()))
    fig, axes = plt.subplots(
        len(rows), columns, figsize=(1.1 * columns + 1, 1.1 * len(rows)), squeeze=False
    )
    for ax_row, (label, images) in zip(axes, rows.items()):
        images = np.asarray(images[:columns], "float32")
        if shape is not None:
            images = images.reshape((len(images), *shape))
        for ax, image in zip(ax_row, images):
            image = np.clip(image.squeeze(), 0.0, 1.0)
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(label, rotation=0, ha="right", va="center")
    return _finish(fig, path, title)


def _finish(fig, path, title):
    """Title, lay out and (when `path`) save `fig`; return it."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path:
        _io.save_figure(fig, path)
    return fig
