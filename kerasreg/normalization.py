"""Normalization layers by name, and BatchNorm swapped out of a built model.

Keras has all four normalizations the notes compare: `BatchNormalization`,
`LayerNormalization` and `GroupNormalization`, with
`GroupNormalization(groups=-1)` as instance norm. This module adds a
factory that builds any of them by name and a converter that swaps every
`BatchNormalization` of a built model for group, layer or instance norm
(BatchNorm's statistics are noisy at small batch sizes).
"""

from __future__ import annotations

import keras

from kerasreg._layer_tree import replace_layers, walk_layers

__all__ = ["norm_layer", "convert_normalization", "NORM_KINDS"]

NORM_KINDS = ("batch", "layer", "instance", "group")


def norm_layer(kind, **kwargs):
    """Build a normalization layer by name.

    | kind | layer | normalizes over, per sample |
    |---|---|---|
    | `"batch"` | `BatchNormalization` | (across the batch) each channel |
    | `"layer"` | `GroupNormalization(groups=1)` | all of H x W x C |
    | `"instance"` | `GroupNormalization(groups=-1)` | each channel's H x W |
    | `"group"` | `GroupNormalization(groups=...)` | each group of channels |

    `"layer"` is the deep-learning notes' layer norm (one mean and variance over every
    pixel and channel of a sample, per-channel γ and β); on `(N, C)`
    features it equals `keras.layers.LayerNormalization()`. Keras's
    `LayerNormalization(axis=-1)` on images normalizes each pixel's channels
    only, which is a different operation.

    Args:
        kind: one of `"batch"`, `"layer"`, `"instance"`, `"group"`.
        **kwargs: passed to the layer (e.g. `groups=8` for `"group"`,
            `momentum=0.9` for `"batch"`, `name=...`).

    Returns:
        An unbuilt Keras layer.

    Raises:
        ValueError: for an unknown `kind`, or `groups` given with
            `"layer"` or `"instance"`.

    Example:

    >>> norm_layer("group", groups=4).groups
    4
    """
    if kind == "batch":
        return keras.layers.BatchNormalization(**kwargs)
    if kind == "group":
        return keras.layers.GroupNormalization(**kwargs)
    if kind in ("layer", "instance"):
        if "groups" in kwargs:
            raise ValueError(
                f"norm_layer(kind={kind!r}) fixes the groups; remove "
                f"groups={kwargs['groups']} or use kind='group'."
            )
        groups = 1 if kind == "layer" else -1
        return keras.layers.GroupNormalization(groups=groups, **kwargs)
    raise ValueError(
        f"Unknown normalization: kind={kind!r}. Expected one of "
        f"{', '.join(NORM_KINDS)}."
    )


def _channels(bn):
    return int(bn.moving_mean.shape[0])


def _group_count(bn, to, groups):
    if to == "layer":
        return 1
    if to == "instance":
        return -1
    return min(groups, _channels(bn))


def convert_normalization(model, to="group", groups=32):
    """Replace every `BatchNormalization` of a model by group/layer/instance norm.

    BatchNormalization estimates its statistics over the batch, which is
    noisy at batch sizes of 2-8 (the deep-learning notes: "Batch Size が小さい条件下では、
    学習が収束しないことがある"). Group, layer and instance norm compute them per
    sample. This returns a new model with every BN (nested models
    included) replaced by `GroupNormalization` with the BN's axis, epsilon,
    center/scale flags, initializers, regularizers and constraints; the
    trained γ and β carry over (the moving statistics have no counterpart
    and are dropped); every other layer keeps its weights.

    With `to="group"`, a layer with fewer channels than `groups` uses one
    group per channel (instance norm for that layer), so the default works
    on narrow models such as `kerasreg.models.resnet((8, 8, 1), 10)`; a
    layer whose channel count is larger than `groups` but not a multiple of
    it is an error.

    Args:
        model: a functional or Sequential `keras.Model`.
        to: `"group"`, `"layer"` (`groups=1`) or `"instance"`
            (`groups=-1`). Defaults to `"group"`.
        groups: groups for `to="group"`. Defaults to `32`.

    Returns:
        A new, uncompiled `keras.Model`; outputs differ from the input
        model's because the normalization differs.

    Raises:
        ValueError: for an unknown `to`, `groups < 1`, or `groups` not
            dividing some layer's channels.

    Example:

    >>> model = kerasreg.models.cnn((8, 8, 1), 10)
    >>> gn = convert_normalization(model, to="group", groups=8)
    >>> any(isinstance(l, keras.layers.BatchNormalization) for l in gn.layers)
    False

    Reference:
        Wu and He, "Group Normalization", ECCV 2018, arXiv:1803.08494.
    """
    if to not in ("group", "layer", "instance"):
        raise ValueError(
            f"Unknown normalization: to={to!r}. Expected 'group', 'layer' or "
            "'instance'."
        )
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(
            f"Expected groups to be an integer >= 1. Received: groups={groups!r}"
        )
    bns = [
        layer
        for layer in walk_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    for bn in bns:
        count = _group_count(bn, to, groups)
        if count > 0 and _channels(bn) % count:
            raise ValueError(
                f"groups={groups} does not divide the {_channels(bn)} channels "
                f"of layer {bn.name!r}. Pass a groups value that divides "
                "every BatchNormalization's channel count."
            )

    def replace(layer):
        if not isinstance(layer, keras.layers.BatchNormalization):
            return None
        axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
        keep = (
            "name center scale epsilon beta_initializer gamma_initializer "
            "beta_regularizer gamma_regularizer beta_constraint gamma_constraint"
        ).split()
        config = {key: layer.get_config()[key] for key in keep}
        return keras.layers.GroupNormalization(
            groups=_group_count(layer, to, groups), axis=axis, **config
        )

    return replace_layers(model, replace)
