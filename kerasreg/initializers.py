"""Weight initialization by activation, re-initialization and diagnostics.

The notes: He initialization (std `sqrt(2 / n_in)`) for ReLU,
Xavier/Glorot for sigmoid and tanh, and the naive "std 0.01" Gaussian whose
activations collapse towards zero in deep ReLU nets. The initializers
themselves are Keras built-ins (`HeNormal`, `GlorotNormal`,
`RandomNormal`); this module picks one from an activation, re-draws the
kernels of a built model, and measures and plots the activation
distribution of every layer (the search notes' comparison).
"""

from __future__ import annotations

import keras
import numpy as np

from kerasreg import _io
from kerasreg._layer_tree import walk_layers

__all__ = [
    "SCHEMES",
    "initializer_for",
    "activation_name",
    "reinitialize",
    "activation_stats",
    "plot_activation_histograms",
]

SCHEMES = ("auto", "he", "xavier", "std0.01")
_RELU_FAMILY = frozenset(
    "relu relu6 leaky_relu elu selu gelu silu swish mish softplus".split()
)
_S_SHAPED = frozenset("sigmoid tanh hard_sigmoid softsign linear".split())
_ACTIVATION_LAYERS = {
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "PReLU": "relu",
    "Softmax": "softmax",
}
_KERNELS = ("kernel", "depthwise_kernel", "pointwise_kernel")


def initializer_for(activation="relu", scheme="auto", seed=None):
    """The initializer the initialization notes recommend for an activation.

    Args:
        activation: activation name (`"relu"`, `"tanh"`, ...), a Keras
            activation function, or `None` for linear. Defaults to `"relu"`.
        scheme: `"auto"` (He for the ReLU family, Xavier otherwise),
            `"he"` (`HeNormal`: std `sqrt(2 / fan_in)`), `"xavier"`
            (`GlorotNormal`: std `sqrt(2 / (fan_in + fan_out))`) or
            `"std0.01"` (`RandomNormal(stddev=0.01)`). Defaults to `"auto"`.
        seed: initializer seed. Defaults to `None`.

    Returns:
        A `keras.initializers.Initializer`.

    Raises:
        ValueError: for an unknown `scheme` or, with `"auto"`, an unknown
            activation.

    Example:

    >>> type(initializer_for("relu")).__name__
    'HeNormal'
    >>> type(initializer_for("tanh")).__name__
    'GlorotNormal'
    """
    if scheme not in SCHEMES:
        raise ValueError(
            f"Unknown initialization scheme: scheme={scheme!r}. Expected one "
            f"of {', '.join(SCHEMES)}."
        )
    if scheme == "auto":
        name = _activation_key(activation)
        if name in _RELU_FAMILY:
            scheme = "he"
        elif name in _S_SHAPED or name == "softmax":
            scheme = "xavier"
        else:
            raise ValueError(
                f"No initializer rule for activation={activation!r}. Pass "
                "scheme='he', 'xavier' or 'std0.01'."
            )
    if scheme == "he":
        return keras.initializers.HeNormal(seed=seed)
    if scheme == "xavier":
        return keras.initializers.GlorotNormal(seed=seed)
    return keras.initializers.RandomNormal(stddev=0.01, seed=seed)


def _activation_key(activation):
    if activation is None:
        return "linear"
    if callable(activation):
        activation = keras.activations.serialize(activation)
    return str(activation).lower()


def activation_name(layer):
    """The activation a layer applies to its output, or `None` if linear.

    Covers layers with an `activation` argument (`Dense`, `Conv2D`,
    `Activation`, ...) and the activation layers (`ReLU`, `LeakyReLU`,
    `ELU`, `PReLU`, `Softmax`).

    Example:

    >>> activation_name(keras.layers.Dense(3, activation="tanh"))
    'tanh'
    >>> activation_name(keras.layers.Dense(3)) is None
    True
    """
    name = _ACTIVATION_LAYERS.get(type(layer).__name__)
    if name is not None:
        return name
    activation = getattr(layer, "activation", None)
    if activation is None or isinstance(layer, keras.Model):
        return None
    name = _activation_key(activation)
    return None if name == "linear" else name


def _following_activation(layer):
    """The activation of `layer`, or of the activation layer right after it.

    Looks through normalization and dropout, so that Conv -> BN -> ReLU
    counts as a ReLU conv.
    """
    seen = 0
    while layer is not None and seen < 8:
        name = activation_name(layer)
        if name is not None:
            return name
        nodes = getattr(layer, "_outbound_nodes", [])
        if len(nodes) != 1:
            return None
        layer = nodes[0].operation
        passthrough = (
            keras.layers.BatchNormalization,
            keras.layers.GroupNormalization,
            keras.layers.LayerNormalization,
            keras.layers.Dropout,
        )
        if not isinstance(layer, (passthrough, keras.layers.Activation)) and (
            type(layer).__name__ not in _ACTIVATION_LAYERS
        ):
            return None
        seen += 1
    return None


def reinitialize(model, scheme="auto", seed=0):
    """Re-draw every kernel of a built model in place; zero the biases.

    With `scheme="auto"` each kernel gets the initializer of the activation
    that follows it (its own, or an activation layer after a
    normalization): He for the ReLU family, Xavier for sigmoid/tanh and for
    linear outputs such as logits. Normalization layers are untouched.

    Args:
        model: a built `keras.Model` (nested models are descended into).
        scheme: see `initializer_for`. Defaults to `"auto"`.
        seed: base seed; layer `i` uses `seed + i`. Defaults to `0`.

    Returns:
        The same model, re-initialized.

    Raises:
        ValueError: for an unknown `scheme`.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> _ = reinitialize(model, "std0.01")
    >>> float(np.std(model.layers[0].kernel.numpy())) < 0.05
    True
    """
    initializer_for("relu", scheme)  # validates the scheme
    for index, layer in enumerate(walk_layers(model)):
        kernels = [getattr(layer, k, None) for k in _KERNELS]
        kernels = [k for k in kernels if isinstance(k, keras.Variable)]
        if not kernels:
            continue
        activation = _following_activation(layer) if scheme == "auto" else None
        init = initializer_for(
            activation if activation in _RELU_FAMILY else "linear",
            scheme,
            seed=seed + index,
        )
        for kernel in kernels:
            kernel.assign(init(kernel.shape, dtype=kernel.dtype))
        bias = getattr(layer, "bias", None)
        if isinstance(bias, keras.Variable):
            bias.assign(np.zeros(bias.shape, dtype=bias.dtype))
    return model


def activation_stats(model, x, layers=None, bins=30):
    """Distribution of every activation output of a model on inputs `x`.

    The search notes' diagnostic: with std 0.01, sigmoid activations bunch at 0.5
    and ReLU activations at 0 layer after layer; with Xavier (sigmoid) or
    He (ReLU) they keep their spread through depth.

    Args:
        model: a functional or Sequential `keras.Model`.
        x: a batch of inputs.
        layers: names of the layers to probe; defaults to every top-level
            layer that applies an activation (see `activation_name`).
        bins: histogram bins. Defaults to `30`.

    Returns:
        A dict `{layer_name: {"activation", "mean", "std", "zero_fraction",
        "histogram", "edges"}}` in layer order; `histogram` and `edges` are
        lists of floats.

    Raises:
        ValueError: if a name in `layers` is not in the model, or no layer
            applies an activation.
    """
    if layers is None:
        chosen = [layer for layer in model.layers if activation_name(layer)]
    else:
        names = [layer.name for layer in model.layers]
        missing = [name for name in layers if name not in names]
        if missing:
            raise ValueError(
                f"layers={missing} are not top-level layers of the model; "
                f"available: {names}"
            )
        chosen = [model.get_layer(name) for name in layers]
    if not chosen:
        raise ValueError(
            "The model has no layer that applies an activation; pass layers=..."
        )
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, [layer.output for layer in chosen])
    chunks = [
        probe(x[start : start + 1024], training=False)
        for start in range(0, len(x), 1024)
    ]
    stats = {}
    for index, layer in enumerate(chosen):
        values = np.concatenate(
            [keras.ops.convert_to_numpy(chunk[index]) for chunk in chunks]
        )
        values = values.astype("float64").ravel()
        counts, edges = np.histogram(values, bins=bins)
        stats[layer.name] = {
            "activation": activation_name(layer),
            "mean": float(values.mean()),
            "std": float(values.std()),
            "zero_fraction": float(np.mean(values == 0.0)),
            "histogram": counts.astype(float).tolist(),
            "edges": edges.tolist(),
        }
    return stats


def plot_activation_histograms(stats_by_run, path, title=None):
    """Save a grid of activation histograms: one row per run, one column per layer.

    Args:
        stats_by_run: `{run_name: activation_stats(...)}`.
        path: PNG path to write.
        title: figure title. Defaults to `None`.

    Returns:
        `path`.
    """
    plt = _io.pyplot()

    rows = list(stats_by_run.items())
    cols = max(len(stats) for _, stats in rows)
    fig, axes = plt.subplots(
        len(rows), cols, figsize=(2.4 * cols, 1.9 * len(rows)), squeeze=False
    )
    for r, (run, stats) in enumerate(rows):
        for c, (layer, s) in enumerate(stats.items()):
            ax = axes[r][c]
            edges = np.asarray(s["edges"])
            ax.stairs(s["histogram"], edges, fill=True)
            ax.set_title(f"{layer}\nstd={s['std']:.3g}", fontsize=7)
            ax.tick_params(labelsize=6)
            if c == 0:
                ax.set_ylabel(run, fontsize=8)
        for c in range(len(stats), cols):
            axes[r][c].axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _io.save_figure(fig, path, dpi=100)
    return path
