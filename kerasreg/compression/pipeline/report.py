"""`report.html` of `compress`: one self-contained page (images embedded)."""

from __future__ import annotations

import base64
import html
import os

from kerasreg import _io, report

__all__ = ["write_report", "stage_table"]

_COLUMNS = ("stage", "params", "flops", "size_bytes", "accuracy", "latency_ms")


def stage_table(rows):
    """The terminal table of `compress`: one row per stage."""
    pretty = [
        {
            "stage": r["stage"],
            "params": f"{r['params']:,}",
            "FLOPs": f"{r['flops']:,}",
            "size": _kib(r["size_bytes"]),
            "test acc": f"{100 * r['accuracy']:.2f}%",
            "latency b1": f"{r['latency_ms']:.3f} ms",
        }
        for r in rows
    ]
    return report.format_table(pretty)


def _kib(n):
    return f"{n / 1024:.1f} KiB"


def _png(fig):
    return base64.b64encode(_io.figure_png(fig)).decode()


def _png_file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def _accuracy_vs_size(rows):
    plt = _io.pyplot()

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in rows:
        tflite = r["stage"].startswith("tflite")
        point = (r["size_bytes"] / 1024, 100 * r["accuracy"])
        ax.scatter(
            *point, marker="s" if tflite else "o", color="C1" if tflite else "C0"
        )
        # Keras rows labelled above, TFLite rows below: files of the same
        # model sit at the same accuracy.
        ax.annotate(
            r["stage"].removeprefix("tflite "),
            point,
            xytext=(4, -11 if tflite else 5),
            textcoords="offset points",
            fontsize=7,
            color="C1" if tflite else "C0",
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.scatter([], [], marker="o", color="C0", label="Keras model")
    ax.scatter([], [], marker="s", color="C1", label="TFLite file")
    ax.legend(fontsize=8, loc="best")
    ax.margins(x=0.12, y=0.12)
    ax.set_xlabel("file size (KiB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("accuracy vs size across stages")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _curves(histories):
    merged = {}
    for history in histories.values():
        for key, values in history.items():
            if key in ("loss", "val_loss", "accuracy", "val_accuracy"):
                merged.setdefault(key, []).extend(values)
    if not merged:
        return None
    names = " + ".join(histories)
    return _png(report.plot_curves(merged, title=f"training curves: {names}"))


def write_report(out, rows, summary, *, histories, gamma_history=None, channels=None):
    """Write `out/report.html` with the table and all plots embedded.

    Args:
        out: the output directory.
        rows: one dict per stage (`stage_table`'s columns).
        summary: `evaluation.summarize`'s dict; its sentence heads the page.
        histories: `{stage: History.history}` of the training stages.
        gamma_history: |γ| per BatchNormalization layer per epoch, or `None`.
        channels: `{layer: [before, after]}` of the shrink stage, or `None`.

    Returns:
        The path of `report.html`.
    """
    images = _images(rows, histories, gamma_history, channels)
    head, body = _table_html(rows)
    sentence = summary.get("sentence", "No int8 file was exported.")
    figures = "".join(
        f'<h2>{html.escape(title)}</h2>\n<img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{data}">\n'
        for title, data in images
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kerasreg compress report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1100px; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>kerasreg compress</h1>
<p><strong>{html.escape(sentence)}.</strong></p>
<p>The first row, <em>original</em>, is the model the run started from; every
later row is measured on the same test images.
Size is the file on disk; latency is the median of one-image calls on this
machine.</p>
<table><tr>{head}</tr>
{body}</table>
{figures}</body></html>
"""
    with _io.atomic_path(os.path.join(out, "report.html")) as tmp, open(tmp, "w") as f:
        f.write(page)
    return os.path.join(out, "report.html")


def _images(rows, histories, gamma_history, channels):
    """`[(title, base64 PNG)]` of every plot the report shows."""
    import tempfile

    from kerasreg.compression.slimming.report import plot_channels, plot_gamma_history

    images = [("Accuracy against size", _accuracy_vs_size(rows))]
    with tempfile.TemporaryDirectory() as tmp:
        if gamma_history:
            path = plot_gamma_history(gamma_history, os.path.join(tmp, "gamma.png"))
            images.append(("BatchNormalization γ over training", _png_file(path)))
        if channels:
            path = plot_channels(channels, os.path.join(tmp, "channels.png"))
            images.append(
                ("Channels per layer, before and after shrink", _png_file(path))
            )
    curves = _curves(histories)
    if curves:
        images.append(("Training curves", curves))

    return images


def _table_html(rows):
    """The header and body rows of the stage table, as HTML."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
    body = ""
    for r in rows:
        cells = [
            r["stage"],
            f"{r['params']:,}",
            f"{r['flops']:,}",
            _kib(r["size_bytes"]),
            f"{100 * r['accuracy']:.2f}%",
            f"{r['latency_ms']:.3f} ms",
        ]
        body += (
            "<tr>"
            + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
            + "</tr>\n"
        )
    return head, body
