"""Weight-level noise layers and normalization tools.

Keras already has the noise that acts on activations (`Dropout`,
`GaussianNoise`, `GaussianDropout`) and all four normalizations
(`BatchNormalization`, `LayerNormalization`, `GroupNormalization`, with
`GroupNormalization(groups=-1)` as instance norm). This module adds what
acts on the *weights* — DropConnect and weight noise — plus a factory for
the normalizations and a converter that swaps every `BatchNormalization` of
a built model for group, layer or instance norm (seed 000: BN fails at
small batch sizes).

At inference every layer here computes exactly the plain layer it extends.
"""

from __future__ import annotations

import inspect

import keras
from keras import ops

__all__ = [
    "DropConnectDense",
    "DropConnectConv2D",
    "WeightNoise",
    "norm_layer",
    "convert_normalization",
    "replace_layers",
    "NORM_KINDS",
]

NORM_KINDS = ("batch", "layer", "instance", "group")


def _check_rate(rate, name="rate"):
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"Expected 0 <= {name} < 1. Received: {name}={rate}")
    return float(rate)


def _call_with_kernel(layer, call, inputs, kernel):
    """Run `call(inputs)` with `layer.kernel` read as the tensor `kernel`."""
    with keras.StatelessScope(state_mapping=[(layer.kernel, kernel)]):
        return call(inputs)


def _dropconnect_call(layer, call, inputs, training):
    if not training or layer.rate == 0.0:
        return call(inputs)
    kernel = keras.random.dropout(layer.kernel, layer.rate, seed=layer.seed_generator)
    return _call_with_kernel(layer, call, inputs, kernel)


@keras.saving.register_keras_serializable(package="kerasreg")
class DropConnectDense(keras.layers.Dense):
    """A `Dense` layer that drops kernel weights at train time (DropConnect).

    Dropout zeroes activations; DropConnect zeroes individual weights: each
    training step draws a fresh Bernoulli mask over the kernel, keeps each
    weight with probability `1 - rate` and scales the kept ones by
    `1 / (1 - rate)`, so at inference the layer computes the plain `Dense`
    (seed 004, ドロップコネクト). The bias is not dropped.

    Args:
        units: output width.
        rate: fraction of kernel weights dropped per step, in `[0, 1)`.
            Defaults to `0.5`.
        seed: seed of the mask stream. Defaults to `None`.
        **kwargs: passed to `keras.layers.Dense`.

    Raises:
        ValueError: if `rate` is outside `[0, 1)`.

    Example:

    >>> layer = DropConnectDense(4, rate=0.3, seed=0)
    >>> layer(np.ones((2, 3)), training=True).shape
    (2, 4)

    Reference:
        Wan et al., "Regularization of Neural Networks using DropConnect",
        ICML 2013.
    """

    def __init__(self, units, rate=0.5, seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self.rate = _check_rate(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        return _dropconnect_call(self, super().call, inputs, training)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerasreg")
class DropConnectConv2D(keras.layers.Conv2D):
    """A `Conv2D` layer that drops kernel weights at train time (DropConnect).

    Each training step keeps every kernel weight with probability
    `1 - rate` and scales the kept ones by `1 / (1 - rate)`; inference is the
    plain `Conv2D`. See `DropConnectDense`.

    Args:
        filters: output channels.
        kernel_size: int or pair.
        rate: fraction of kernel weights dropped per step, in `[0, 1)`.
            Defaults to `0.5`.
        seed: seed of the mask stream. Defaults to `None`.
        **kwargs: passed to `keras.layers.Conv2D`.

    Raises:
        ValueError: if `rate` is outside `[0, 1)`.

    Example:

    >>> layer = DropConnectConv2D(4, 3, rate=0.2, padding="same")
    >>> layer(np.ones((1, 8, 8, 1))).shape
    (1, 8, 8, 4)

    Reference:
        Wan et al., "Regularization of Neural Networks using DropConnect",
        ICML 2013.
    """

    def __init__(self, filters, kernel_size, rate=0.5, seed=None, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self.rate = _check_rate(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        return _dropconnect_call(self, super().call, inputs, training)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerasreg")
class WeightNoise(keras.layers.Wrapper):
    """Add Gaussian noise to the kernel of the wrapped layer at train time.

    Seed 004 (中間層の重みにノイズを入れる): each training step adds fresh
    `N(0, stddev^2)` noise to the wrapped layer's `kernel`; gradients flow to
    the clean kernel. At inference the wrapped layer runs unchanged. Works
    for any layer with a `kernel` variable (`Dense`, `Conv1D/2D/3D`,
    `DropConnectDense`, ...). Noise on inputs and hidden units is built in:
    `keras.layers.GaussianNoise` and `keras.layers.GaussianDropout`.

    Args:
        layer: the layer to wrap; it must have a `kernel`.
        stddev: standard deviation of the additive noise, `>= 0`. Defaults
            to `0.01`.
        seed: seed of the noise stream. Defaults to `None`.
        **kwargs: passed to `keras.layers.Wrapper`.

    Raises:
        ValueError: if `stddev` is negative.

    Example:

    >>> layer = WeightNoise(keras.layers.Dense(4), stddev=0.05, seed=0)
    >>> layer(np.ones((2, 3)), training=True).shape
    (2, 4)

    Reference:
        Graves, "Practical Variational Inference for Neural Networks",
        NeurIPS 2011.
    """

    def __init__(self, layer, stddev=0.01, seed=None, **kwargs):
        super().__init__(layer, **kwargs)
        if float(stddev) < 0:
            raise ValueError(f"Expected stddev >= 0. Received: stddev={stddev}")
        self.stddev = float(stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        if getattr(self.layer, "kernel", None) is None:
            raise ValueError(
                "WeightNoise needs a layer with a `kernel`. Received: "
                f"layer={self.layer.__class__.__name__}"
            )
        self.built = True

    def call(self, inputs, training=None):
        if not training or self.stddev == 0.0:
            outputs = self.layer(inputs)
        else:
            kernel = self.layer.kernel
            noisy = kernel + keras.random.normal(
                ops.shape(kernel),
                stddev=self.stddev,
                dtype=kernel.dtype,
                seed=self.seed_generator,
            )
            outputs = _call_with_kernel(self.layer, self.layer, inputs, noisy)
        # the wrapped layer keeps its own dtype policy; answer in ours
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


def norm_layer(kind, **kwargs):
    """Build a normalization layer by name.

    | kind | layer | normalizes over, per sample |
    |---|---|---|
    | `"batch"` | `BatchNormalization` | (across the batch) each channel |
    | `"layer"` | `GroupNormalization(groups=1)` | all of H x W x C |
    | `"instance"` | `GroupNormalization(groups=-1)` | each channel's H x W |
    | `"group"` | `GroupNormalization(groups=...)` | each group of channels |

    `"layer"` is seed 000's layer norm (one mean and variance over every
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


def _walk(model):
    """Every layer of `model`, descending into nested models."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _walk(layer)


def replace_layers(model, replace):
    """Rebuild a functional or Sequential model with some layers replaced.

    `replace(layer)` returns the new (unbuilt) layer for `layer`, or `None`
    to keep a fresh copy of it. Nested models are descended into. After the
    rebuild, every weight of a new layer is copied from the old layer's
    weight of the same name where the shapes agree (`kernel`, `bias`,
    `gamma`, `beta`, ...); weights with no counterpart keep their
    initial values. The input model is not changed; the new model is not
    compiled.

    Args:
        model: a functional or Sequential `keras.Model`.
        replace: `callable(layer) -> keras.layers.Layer | None`.

    Returns:
        A new `keras.Model`.

    Raises:
        ValueError: for a subclassed model, which has no graph to rebuild.
    """
    pairs = []

    def clone(layer):
        new = replace(layer)
        if new is None:
            new = layer.__class__.from_config(layer.get_config())
        pairs.append((layer, new))
        return new

    # A replacement may not take the old layer's call arguments (BN's
    # `mask`), so functional graphs drop the ones its `call` lacks.
    call = None if isinstance(model, keras.Sequential) else _call_accepted
    try:
        new_model = keras.models.clone_model(
            model, clone_function=clone, call_function=call, recursive=True
        )
    except ValueError as error:
        raise ValueError(
            "Only functional and Sequential models can be rebuilt. Received: "
            f"model={model.__class__.__name__} ({error})"
        ) from None
    for old, new in pairs:
        old_weights = {w.name: w for w in old.weights}
        for weight in new.weights:
            source = old_weights.get(weight.name)
            if source is not None and tuple(source.shape) == tuple(weight.shape):
                weight.assign(source)
    return new_model


def _call_accepted(layer, *args, **kwargs):
    params = inspect.signature(layer.call).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {key: value for key, value in kwargs.items() if key in params}
    return layer(*args, **kwargs)


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
    noisy at batch sizes of 2-8 (seed 000: "Batch Size が小さい条件下では、
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
        for layer in _walk(model)
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
