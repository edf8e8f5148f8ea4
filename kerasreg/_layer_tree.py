"""The one walker over a model's layers, and the rebuild that replaces some.

Keras lists a model's direct sublayers in `.layers` (functional, Sequential
and subclassed models alike; a `Distiller` tracks its student and teacher
there). Every kerasreg module that needs all layers of a model, nested
models included, walks them here.
"""

from __future__ import annotations

import inspect

import keras

__all__ = ["walk_layers", "leaf_layers", "replace_layers"]


def walk_layers(layer, *, include_self=False):
    """Every sublayer of `layer`, depth first, parents before children.

    Args:
        layer: a `keras.Model` or any layer with sublayers in `.layers`.
        include_self: yield `layer` itself first. Defaults to `False`.

    Yields:
        Layers; a layer shared by two parents is yielded once per parent.

    Example:

    >>> inner = keras.Sequential([keras.layers.Dense(2)], name="inner")
    >>> outer = keras.Sequential([keras.Input((3,)), inner, keras.layers.ReLU()])
    >>> [type(x).__name__ for x in walk_layers(outer)]
    ['Sequential', 'Dense', 'ReLU']
    """
    if include_self:
        yield layer
    for sub in getattr(layer, "layers", None) or ():
        yield sub
        yield from walk_layers(sub)


def leaf_layers(layer):
    """The layers of `layer` that have no sublayers (nested models opened).

    Example:

    >>> inner = keras.Sequential([keras.layers.Dense(2)], name="inner")
    >>> outer = keras.Sequential([keras.Input((3,)), inner, keras.layers.ReLU()])
    >>> [type(x).__name__ for x in leaf_layers(outer)]
    ['Dense', 'ReLU']
    """
    for sub in walk_layers(layer):
        if not getattr(sub, "layers", None):
            yield sub


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

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> new = replace_layers(model, lambda layer: None)
    >>> new is model, len(new.weights) == len(model.weights)
    (False, True)
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
