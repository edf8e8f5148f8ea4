"""Which kernels pruning acts on, how sparse they are, and a plain copy.

`select_layers` picks the prunable layers of a model (nested models
included), `kernel_sparsity` measures the fraction of exact zeros per
layer, and `strip_pruning` returns a copy with the zeros baked in and no
pruning constraint attached (tfmot's name, for code that calls it).
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from kerasreg._layer_tree import walk_layers

__all__ = ["PRUNABLE_LAYERS", "select_layers", "kernel_sparsity", "strip_pruning"]


# Layers whose `kernel` is pruned when `layers=None`.
PRUNABLE_LAYERS = (
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)


def select_layers(model, layers=None, block=None):
    """The layers whose kernels `MagnitudePruning` prunes.

    Args:
        model: a built `keras.Model` (nested models are searched too).
        layers: `None` for every trainable layer in `PRUNABLE_LAYERS`, or a
            list of layer names and/or classes.
        block: `(N, M)` in N:M mode: layers whose kernel input size is not a
            multiple of `M` are skipped (with a warning) when chosen by type,
            and rejected when named.

    Returns:
        A list of layers, in model order, without duplicates.
    """
    candidates = []
    for layer in walk_layers(model):
        kernel = getattr(layer, "kernel", None)
        if (
            layer not in candidates
            and isinstance(kernel, keras.Variable)
            and kernel.trainable
            and layer.trainable
            and "float" in str(kernel.dtype)
        ):
            candidates.append(layer)
    if layers is None:
        chosen = [x for x in candidates if isinstance(x, PRUNABLE_LAYERS)]
        named = set()
    else:
        names = {x for x in layers if isinstance(x, str)}
        classes = tuple(x for x in layers if isinstance(x, type))
        chosen = [x for x in candidates if x.name in names or isinstance(x, classes)]
        missing = names - {x.name for x in chosen}
        if missing or (classes and not any(isinstance(x, classes) for x in chosen)):
            raise ValueError(
                f"layers={layers!r} includes entries that match no trainable layer "
                f"with a kernel ({sorted(missing) or classes}). Prunable layers: "
                f"{[x.name for x in candidates]}"
            )
        named = names
    if block is not None:
        m = block[1]
        bad = [x for x in chosen if np.prod(x.kernel.shape[:-1]) % m]
        if any(x.name in named for x in bad):
            raise ValueError(
                f"N:M pruning needs each kernel's input size to be a multiple of "
                f"M={m}; it is not for {[x.name for x in bad if x.name in named]}."
            )
        if bad:
            warnings.warn(
                f"Skipping layers whose kernel input size is not a multiple of "
                f"{m}: {[x.name for x in bad]}",
                stacklevel=2,
            )
        chosen = [x for x in chosen if x not in bad]
    if not chosen:
        raise ValueError(f"No prunable layer found in model {model.name!r}.")
    return chosen


def kernel_sparsity(model, layers=None):
    """Fraction of exactly-zero kernel weights, overall and per layer.

    Args:
        model: a `keras.Model`.
        layers: layers to measure; every prunable layer by default.

    Returns:
        A dict `{"sparsity": overall, "sparsity/<layer name>": per layer}`.
    """
    layers = select_layers(model) if layers is None else layers
    result, zeros, total = {}, 0, 0
    for layer in layers:
        values = np.asarray(layer.kernel.numpy())
        layer_zeros = int(np.count_nonzero(values == 0))
        result[f"sparsity/{layer.name}"] = layer_zeros / values.size
        zeros += layer_zeros
        total += values.size
    return {"sparsity": zeros / max(total, 1), **result}


def strip_pruning(model):
    """A plain copy of a pruned model, with its zeros baked into the weights.

    `MagnitudePruning` adds no layers, so this is a clone with the same
    config and weights and no pruning constraint attached (tfmot's
    `strip_pruning`, for code that calls it). Call it on a model saved or
    taken mid-training to get a copy that no callback will touch.

    Args:
        model: a `keras.Model` pruned with `MagnitudePruning`.

    Returns:
        A new `keras.Model` with the same outputs.
    """
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone
