"""Norm penalties for models that already exist, parameter tying, sparsity.

Keras has the penalties themselves (`keras.regularizers.L1`, `L2`, `L1L2`,
`OrthogonalRegularizer`, the `MaxNorm` constraint, the optimizers'
`weight_decay`) but attaches them only when a layer is constructed. This
module:

- `regularize` rebuilds a trained model with kernel penalties attached and
  its weights kept (the regularization notes' パラメータノルムペナルティー; the search notes' weight
  decay `½λ‖W‖²` is `l2=λ/2`, since Keras's `L2(l2)` adds `l2·Σw²`);
- `ElasticNet` names the built-in `L1L2`;
- `ParameterTying` adds `α·‖w_A − w_B‖²` between two models (the regularization notes'
  パラメータ拘束); parameter *sharing* is a Keras layer called twice;
- `regularize_activity` puts an L1 penalty on representations (the regularization notes'
  スパース表現).
"""

from __future__ import annotations

import keras
from keras import ops

from kerasreg._layer_tree import replace_layers, walk_layers
from kerasreg.initializers import activation_name

__all__ = ["ElasticNet", "regularize", "regularize_activity", "ParameterTying"]

#: Elastic net (L1 + L2 penalty): an alias for `keras.regularizers.L1L2`.
ElasticNet = keras.regularizers.L1L2


def _check_penalty(value, name):
    if float(value) < 0:
        raise ValueError(f"Expected {name} >= 0. Received: {name}={value}")
    return float(value)


def _penalty(l1, l2):
    if l1 == 0.0 and l2 == 0.0:
        return None
    return keras.regularizers.serialize(keras.regularizers.L1L2(l1=l1, l2=l2))


def regularize(
    model,
    l1=0.0,
    l2=0.0,
    layer_types=(keras.layers.Conv2D, keras.layers.Dense),
    include_bias=False,
):
    """Return a copy of a model with L1/L2 kernel penalties, weights kept.

    A built Keras layer cannot take a regularizer afterwards, so the model
    is rebuilt from its config with `kernel_regularizer=L1L2(l1, l2)` on
    every layer of `layer_types` (nested models included; an existing
    kernel regularizer is replaced), and every trained weight is copied
    over. The result computes the same outputs; it is not compiled.
    `l1 = l2 = 0` removes the kernel penalties.

    Args:
        model: a functional or Sequential `keras.Model`.
        l1: L1 factor: adds `l1·Σ|w|`. Defaults to `0.0`.
        l2: L2 factor: adds `l2·Σw²`. Defaults to `0.0`.
        layer_types: layer classes to penalize (subclasses included).
            Defaults to `(Conv2D, Dense)`.
        include_bias: also penalize biases (the regularization notes leave them out).
            Defaults to `False`.

    Returns:
        A new, uncompiled `keras.Model`.

    Raises:
        ValueError: for a negative `l1` or `l2`, or a subclassed model.

    Example:

    >>> model = kerasreg.models.cnn((8, 8, 1), 10)
    >>> penalized = regularize(model, l2=1e-4)
    >>> len(penalized.losses) > 0
    True
    """
    penalty = _penalty(_check_penalty(l1, "l1"), _check_penalty(l2, "l2"))
    layer_types = tuple(layer_types)

    def replace(layer):
        if not isinstance(layer, layer_types):
            return None
        config = layer.get_config()
        config["kernel_regularizer"] = penalty
        if include_bias:
            config["bias_regularizer"] = penalty
        return layer.__class__.from_config(config)

    return replace_layers(model, replace)


def regularize_activity(model, l1=1e-4, l2=0.0, layers=None):
    """Return a copy of a model with a penalty on its representations.

    The regularization notes: ReLU already makes representations sparse; an L1 penalty on
    them (`activity_regularizer=L1L2(l1, l2)`, a Keras built-in) makes them
    sparser. Keras adds `l1·Σ|h|` per sample, averaged over the batch.
    Weights are kept; the result is not compiled.

    Args:
        model: a functional or Sequential `keras.Model`.
        l1: L1 factor on the activations. Defaults to `1e-4`.
        l2: L2 factor on the activations. Defaults to `0.0`.
        layers: names of the layers whose outputs are penalized; defaults
            to every layer that applies an activation (a `ReLU` layer, a
            `Dense(activation="relu")`, ...), except a final softmax.

    Returns:
        A new, uncompiled `keras.Model`.

    Raises:
        ValueError: for a negative penalty or a name not in the model.

    Example:

    >>> model = kerasreg.models.cnn((8, 8, 1), 10)
    >>> sparse = regularize_activity(model, l1=1e-4)
    >>> sparse.get_layer("fc_relu").activity_regularizer is not None
    True
    """
    penalty = _penalty(_check_penalty(l1, "l1"), _check_penalty(l2, "l2"))
    names = {layer.name for layer in walk_layers(model)}
    if layers is not None:
        missing = sorted(set(layers) - names)
        if missing:
            raise ValueError(
                f"layers={missing} are not in the model. Pass names of its "
                "layers (nested models included)."
            )
        chosen = set(layers)
    else:
        chosen = {
            layer.name
            for layer in walk_layers(model)
            if activation_name(layer) not in (None, "softmax")
        }

    def replace(layer):
        if layer.name not in chosen:
            return None
        config = layer.get_config()
        config["activity_regularizer"] = penalty
        return layer.__class__.from_config(config)

    return replace_layers(model, replace)


def _kernel_layers(model):
    return [
        layer
        for layer in walk_layers(model)
        if isinstance(getattr(layer, "kernel", None), keras.Variable)
    ]


def _matched_kernels(model_a, model_b):
    layers_a, layers_b = _kernel_layers(model_a), _kernel_layers(model_b)
    if len(layers_a) != len(layers_b):
        raise ValueError(
            "model_a and model_b must have the same kernel layers in the same "
            f"order. Received: model_a has {len(layers_a)} "
            f"({[layer.name for layer in layers_a]}), model_b has "
            f"{len(layers_b)} ({[layer.name for layer in layers_b]})."
        )
    pairs = []
    for a, b in zip(layers_a, layers_b):
        if tuple(a.kernel.shape) != tuple(b.kernel.shape):
            raise ValueError(
                f"model_a and model_b do not match: layer {a.name!r} has a "
                f"kernel of shape {tuple(a.kernel.shape)}, its counterpart "
                f"{b.name!r} in model_b has {tuple(b.kernel.shape)}."
            )
        pairs.append((a.kernel, b.kernel))
    return pairs


@keras.saving.register_keras_serializable(package="kerasreg")
class ParameterTying(keras.Model):
    """Train `model_a` with a penalty `weight·Σ‖w_A − w_B‖²` tying it to `model_b`.

    The regularization notes (パラメータ拘束): when two tasks are alike, their models'
    parameters should be close, so `Ω(w_A, w_B) = ‖w_A − w_B‖²` is a norm
    penalty. This model runs `model_a` on its inputs and adds the penalty
    over the kernels of the matched layers (the i-th `Dense`/`Conv` kernel
    of `model_a` with the i-th of `model_b`, nested models included) to
    the loss. Set `model_b.trainable = False` to pull `model_a` towards a
    fixed reference model (e.g. one trained on the similar task); leave it
    trainable and the penalty also pulls `model_b` towards `model_a`.

    Parameter *sharing* (パラメータ共有), the limit of tying, needs no
    kerasreg code: call one Keras layer object in both branches of a
    functional model and both use the same variables.

    Args:
        model_a: the model trained and returned by `call`.
        model_b: the model it is tied to; same kernel layers and shapes.
        weight: the penalty factor α, `>= 0`. Defaults to `1e-3`.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Raises:
        ValueError: for a negative `weight` or models whose kernel layers
            differ in number or shape.

    Example:

    >>> a = kerasreg.models.cnn((8, 8, 1), 10)
    >>> b = kerasreg.models.cnn((8, 8, 1), 10)
    >>> b.trainable = False
    >>> tied = ParameterTying(a, b, weight=1e-3)
    >>> tied.compile("adam", "sparse_categorical_crossentropy")
    """

    def __init__(self, model_a, model_b, weight=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.weight = _check_penalty(weight, "weight")
        _matched_kernels(model_a, model_b)  # validates
        self.model_a = model_a
        self.model_b = model_b

    def penalty(self):
        """`weight · Σ‖w_A − w_B‖²` over the matched kernels, as a scalar."""
        total = 0.0
        for a, b in _matched_kernels(self.model_a, self.model_b):
            total = total + ops.sum(ops.square(a - b))
        return self.weight * total

    def call(self, inputs, training=None):
        self.add_loss(self.penalty())
        return self.model_a(inputs, training=training)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "model_a": keras.saving.serialize_keras_object(self.model_a),
            "model_b": keras.saving.serialize_keras_object(self.model_b),
            "weight": self.weight,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("model_a", "model_b"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
