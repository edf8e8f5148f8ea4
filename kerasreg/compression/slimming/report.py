"""`slimming_report`: what network slimming removed, and what it bought.

Compares a model with its shrunk copy: channels per layer, parameters,
FLOPs, `.keras` size and CPU latency at batch 1 and 64 measured in the same
run, plus plots of the γ distribution over training epochs and of the kept
channels per layer.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from kerasreg import _io, metrics
from kerasreg._layer_tree import leaf_layers
from kerasreg.training import evaluate

__all__ = ["slimming_report", "channel_profile", "plot_gamma_history", "plot_channels"]

_CHANNEL_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Dense,
)


def channel_profile(model):
    """`{layer name: output channels}` for every Conv / Dense layer."""
    return {
        layer.name: int(layer.output.shape[-1])
        for layer in leaf_layers(model)
        if isinstance(layer, _CHANNEL_LAYERS)
    }


def slimming_report(before, after, data=None, gamma_history=None, out=None, repeats=30):
    """Compare a model with its shrunk copy.

    Args:
        before: the original `keras.Model`.
        after: the model returned by `shrink` (or any slimmer copy).
        data: an optional `kerasreg.data.Dataset`; adds test accuracy.
        gamma_history: optional `NetworkSlimming.gamma_history` (a list of
            `{layer: |γ|}` per epoch) for the γ-distribution plot.
        out: directory for `gamma.png` and `channels.png`; no plots when
            `None`.
        repeats: timed calls per latency figure. Defaults to `30`.

    Returns:
        A dict with `layers` (`{name: [before, after]}` channels), `totals`
        (`{metric: {"before", "after", "ratio"}}` for params, flops,
        size_bytes, latency_b1_ms, latency_b64_ms and, with `data`,
        accuracy) and `plots` (paths written).

    Example:

    >>> from kerasreg import models
    >>> from kerasreg.compression import shrink
    >>> model = models.cnn((8, 8, 1), 10)
    >>> info = slimming_report(model, shrink(model), repeats=3)
    >>> info["totals"]["params"]["ratio"]
    1.0
    """
    profile_before, profile_after = channel_profile(before), channel_profile(after)
    layers = {
        name: [width, profile_after.get(name, 0)]
        for name, width in profile_before.items()
    }
    totals = {}

    def add(name, a, b):
        totals[name] = {"before": a, "after": b, "ratio": (b / a) if a else None}

    add("params", metrics.count_params(before), metrics.count_params(after))
    add("flops", metrics.count_flops(before), metrics.count_flops(after))
    add("size_bytes", metrics.saved_size(before), metrics.saved_size(after))
    for batch in (1, 64):
        add(
            f"latency_b{batch}_ms",
            1e3 * metrics.measure_latency(before, batch_size=batch, repeats=repeats),
            1e3 * metrics.measure_latency(after, batch_size=batch, repeats=repeats),
        )
    if data is not None:
        add(
            "accuracy",
            evaluate(before, data),
            evaluate(after, data),
        )
    plots = {}
    if out is not None:
        os.makedirs(out, exist_ok=True)
        plots["channels"] = plot_channels(layers, os.path.join(out, "channels.png"))
        if gamma_history:
            plots["gamma"] = plot_gamma_history(
                gamma_history, os.path.join(out, "gamma.png")
            )
    return {"layers": layers, "totals": totals, "plots": plots}


def plot_gamma_history(gamma_history, path):
    """Histogram of |γ| (log scale) at a few epochs, and dead channels per epoch."""
    plt = _io.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = len(gamma_history)
    picks = sorted({0, epochs // 3, 2 * epochs // 3, epochs - 1})
    floor = 1e-6
    for epoch in picks:
        values = np.concatenate(list(gamma_history[epoch].values()))
        left.hist(
            np.log10(np.maximum(values, floor)),
            bins=40,
            histtype="step",
            label=f"epoch {epoch + 1}",
        )
    left.set_xlabel("log10 |γ|  (dead channels at -6)")
    left.set_ylabel("channels")
    left.set_title("γ distribution")
    left.legend()
    dead = [sum(int(np.sum(v == 0)) for v in h.values()) for h in gamma_history]
    right.plot(np.arange(1, epochs + 1), dead, marker="o")
    right.set_xlabel("epoch")
    right.xaxis.get_major_locator().set_params(integer=True)
    right.set_ylabel("dead channels (γ = 0)")
    right.set_title("frozen channels")
    right.grid(alpha=0.3)
    fig.tight_layout()
    _io.save_figure(fig, path)
    return path


def plot_channels(layers, path):
    """Bar chart of channels per layer before and after."""
    plt = _io.pyplot()
    names = list(layers)
    before = [layers[n][0] for n in names]
    after = [layers[n][1] for n in names]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(names)), 3.8))
    x = np.arange(len(names))
    ax.bar(x, before, color="#cccccc", label="before")
    ax.bar(x, after, color="#1f77b4", label="after")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel("channels")
    ax.set_title("kept channels per layer")
    ax.legend()
    fig.tight_layout()
    _io.save_figure(fig, path)
    return path
