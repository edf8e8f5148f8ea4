"""Where a model meets a dataset: the range and the shape its images must have.

Re-exported by `kerasreg.data`, where they are documented; every workflow
calls both before it feeds images to a model.
"""

from __future__ import annotations

__all__ = ["check_input_shape", "input_scale"]


def input_scale(model, dataset):
    """The factor to multiply a dataset's images by before they enter a model.

    The rule: a model whose first layer after its input (looking inside
    nested models) is `keras.layers.Rescaling` takes images in [0, 255], as
    Keras's applications and tutorials do; any other model takes images in
    [0, 1], as kerasreg's own models do. The factor is the top of that
    range over the dataset's `value_range`:

    | dataset | `value_range` | model starts with `Rescaling` | other model |
    |---|---|---|---|
    | image folder | 255 | 1 | 1/255 |
    | arrays (digits, mnist, cifar10, .npz) | 1 | 255 | 1 |

    Pass the factor as `dataset.batches(split, scale=...)`.

    Args:
        model: a `keras.Model`.
        dataset: a kerasreg dataset, or anything with a `value_range`.

    Returns:
        The factor, a float.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255)])
    >>> input_scale(model, kerasreg.load("digits"))
    255.0
    """
    import keras

    from kerasreg._layer_tree import leaf_layers

    first = next(
        (x for x in leaf_layers(model) if not isinstance(x, keras.layers.InputLayer)),
        None,
    )
    expected = 255.0 if isinstance(first, keras.layers.Rescaling) else 1.0
    return expected / float(dataset.value_range)


def check_input_shape(model, dataset):
    """Raise a `ValueError` when a dataset's images do not fit a model's input.

    Every workflow calls it before training, so a mismatch is one clear
    line instead of a traceback from inside `fit`. A `None` dimension of
    the model takes any size; a `Distiller` is checked through its
    student; a model with no single defined input (subclassed) is not
    checked.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten()])
    >>> check_input_shape(model, kerasreg.load("digits"))
    Traceback (most recent call last):
    ...
    ValueError: The model takes inputs of shape (32, 32, 3), but the data has images of shape (8, 8, 1). Resize the images (load(folder, image_size=(32, 32)), or --image-size 32x32) or use a model that takes (8, 8, 1).
    """
    try:
        shape = getattr(model, "student", model).input_shape
    except AttributeError:
        return
    if not shape or not all(d is None or isinstance(d, int) for d in shape):
        return  # several inputs
    have, want = tuple(shape[1:]), tuple(dataset.input_shape)
    if len(have) == len(want) and all(h in (None, w) for h, w in zip(have, want)):
        return
    fix = "Use"
    if len(have) == len(want) == 3 and None not in have[:2]:
        fix = (
            f"Resize the images (load(folder, image_size={have[:2]}), or "
            f"--image-size {have[0]}x{have[1]}) or use"
        )
    raise ValueError(
        f"The model takes inputs of shape {have}, but the data has images of "
        f"shape {want}. {fix} a model that takes {want}."
    )
