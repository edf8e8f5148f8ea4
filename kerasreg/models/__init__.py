"""Reference functional models, a registry by name, and CIFAR recipes.

Every model is a functional `keras.Model` that ends in logits (no softmax)
and uses BatchNormalization after each convolution, so network slimming
applies to all of them. Examples, benchmarks, tests and the CLI use these.

- small images: `cnn` (and the students `cnn-tiny`, `cnn-nano`), `vgg`,
  `resnet`;
- CIFAR references: `resnet20`, `resnet56` (`resnet_cifar` for any depth),
  `vgg11`, `mobilenetv2`, `resnet50`, with their training recipes in
  `kerasreg.models.recipes`;
- `denoising_autoencoder`: a corrupted-input reconstruction model whose
  encoder is a pre-trained trunk (not in `MODELS`: it is no classifier);
- `build(name, ...)` builds any of them from `MODELS`; `resolve(model, ...)`
  also takes a `.keras` path or a `keras.Model`.

BatchNormalization momentum defaults to 0.9 here, not Keras's 0.99: on small
data such as digits (23 steps an epoch at batch 64) the 0.99 moving averages
lag the weights by about 20 epochs and inference accuracy trails training
accuracy for that long.

The builders live in private modules (`_cnn.py`, `_resnet.py`, ...) so that
no module shares a name with a function it exports: with a module
`kerasreg/models/cnn.py`, `import kerasreg.models.cnn as m` would bind the
function `cnn`, not the module.
"""

from __future__ import annotations

from kerasreg.models._autoencoder import denoising_autoencoder
from kerasreg.models._blocks import BN_MOMENTUM
from kerasreg.models._cnn import cnn, small_cnn
from kerasreg.models._mobilenet_v2 import mobilenetv2
from kerasreg.models._resnet import resnet, resnet20, resnet50, resnet56, resnet_cifar
from kerasreg.models._vgg import vgg, vgg11
from kerasreg.models.recipes import (
    Recipe,
    augmentation_layers,
    make_optimizer,
    recipe_for,
)

__all__ = [
    "BN_MOMENTUM",
    "MODELS",
    "build",
    "resolve",
    "cnn",
    "vgg",
    "vgg11",
    "resnet",
    "resnet_cifar",
    "resnet20",
    "resnet56",
    "resnet50",
    "mobilenetv2",
    "denoising_autoencoder",
    "Recipe",
    "recipe_for",
    "make_optimizer",
    "augmentation_layers",
]

MODELS = {
    "cnn": cnn,
    "cnn-tiny": small_cnn((8, 16), "cnn_tiny"),
    # 1,394 params on digits: the distillation benchmark's student.
    "cnn-nano": small_cnn((8,), "cnn_nano"),
    "vgg": vgg,
    "resnet": resnet,
    "resnet50": resnet50,
    # CIFAR references (docs/models.md), each with a `recipe_for(name)`.
    "resnet20": resnet20,
    "resnet56": resnet56,
    "vgg11": vgg11,
    "mobilenetv2": mobilenetv2,
}


def build(name, input_shape, num_classes, **kwargs):
    """Build a reference model by name.

    Args:
        name: one of `MODELS`: `"cnn"`, `"cnn-tiny"`, `"cnn-nano"`, `"vgg"`,
            `"resnet"`, `"resnet50"`, `"resnet20"`, `"resnet56"`,
            `"vgg11"`, `"mobilenetv2"`.
        input_shape: `(H, W, C)`.
        num_classes: number of output logits.
        **kwargs: passed to the builder.

    Returns:
        A functional `keras.Model` producing logits.

    Raises:
        ValueError: for an unknown name, or arguments the builder rejects.

    Example:

    >>> model = build("resnet20", (32, 32, 3), 10)
    >>> model.name, model.output_shape
    ('resnet20', (None, 10))
    """
    if name not in MODELS:
        raise ValueError(
            f"Unknown model: name={name!r}. Expected one of {', '.join(MODELS)}."
        )
    return MODELS[name](tuple(input_shape), int(num_classes), **kwargs)


def resolve(model, input_shape, num_classes):
    """The `keras.Model` a user means: a reference name, a `.keras` path or a model.

    Every workflow that takes a model (`train`, `slim`, `sweep`, `prune`,
    `distill`, `export`, `compress`) resolves it here, so each accepts all
    three forms.

    Args:
        model: a name in `MODELS` (built fresh for the data), the path of
            a `.keras` file (loaded with every kerasreg object registered;
            trained or not, preprocessing layers and nested models
            included), or a `keras.Model` (returned as it is).
        input_shape: `(H, W, C)` of the data, for a reference name.
        num_classes: number of classes, for a reference name.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: for an unknown name, or a file that is not a readable
            `.keras` model.
        FileNotFoundError: for a `.keras` path that does not exist.

    Example:

    >>> resolve("cnn-tiny", (8, 8, 1), 10).count_params()
    1970
    """
    import os

    import keras

    if isinstance(model, keras.Model):
        return model
    if isinstance(model, str) and model in MODELS:
        return build(model, input_shape, num_classes)
    path = os.fspath(model)
    if path.endswith(".keras") or os.path.exists(path):
        from kerasreg.saving import load_model

        return load_model(path)
    raise ValueError(
        f"Unknown model: model={path!r}. Expected one of {', '.join(MODELS)}, "
        "or the path of a .keras file."
    )
