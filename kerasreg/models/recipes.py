"""CIFAR training recipes for the reference models, built from Keras parts.

A `Recipe` holds the numbers (SGD with momentum, learning rate 0.1 at batch
128, weight decay 5e-4, cosine decay, crop-and-flip augmentation);
`recipe_for(name)` gives the one for each CIFAR model; `make_optimizer`,
`apply_weight_decay` and `augmentation_layers` turn it into
`keras.optimizers.SGD`, kernel L2 penalties and preprocessing layers.

Weight decay is an L2 penalty on the Conv2D and Dense kernels, with factor
`weight_decay / 2`, not the optimizer's `weight_decay` argument. The
published CIFAR numbers come from PyTorch's `SGD(weight_decay=5e-4)`, which
adds `5e-4 * w` to the gradient before the momentum buffer; that is the
gradient of `2.5e-4 * sum(w**2)`, i.e. `keras.regularizers.L2(2.5e-4)`.
Keras's `weight_decay` is decoupled: it shrinks `w` by `lr * 5e-4` outside
the momentum, which with momentum 0.9 decays about 10 times less than the
recipe the accuracies were measured with. BatchNormalization γ and β and
depthwise kernels are not decayed: γ is what network slimming ranks, and
MobileNet's authors use little or no decay on depthwise filters.
"""

from __future__ import annotations

import dataclasses

import keras

from kerasreg._choices import RECIPES
from kerasreg.regularizers import regularize

__all__ = [
    "Recipe",
    "RECIPES",
    "recipe_for",
    "finetune_recipe",
    "make_optimizer",
    "apply_weight_decay",
    "augmentation_layers",
    "augmentation_function",
]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train a reference model on CIFAR-10 from scratch.

    The common CIFAR recipe: SGD with momentum 0.9 at learning rate 0.1 for
    batch 128 (He et al. 2016), weight decay 5e-4 and 200 epochs (as in
    Torch-Pruning's ResNet-56 pretraining), the learning rate following a
    cosine from 0.1 to 0 over all steps (Loshchilov & Hutter 2017) instead
    of He et al.'s steps, and each training image zero-padded by 4 pixels,
    randomly cropped back to 32x32 and randomly flipped left-right.

    Args:
        optimizer: only `"sgd"`. Defaults to `"sgd"`.
        learning_rate: peak learning rate, for `batch_size`; scale it
            linearly with the batch size (Goyal et al. 2017) when you change
            that. Defaults to `0.1`.
        momentum: SGD momentum. Defaults to `0.9`.
        nesterov: Nesterov momentum. Defaults to `False`.
        weight_decay: PyTorch-style (coupled) weight decay, applied as an L2
            penalty `weight_decay / 2 * sum(w**2)` on Conv2D and Dense
            kernels by `apply_weight_decay`. Defaults to `5e-4`.
        batch_size: examples per step. Defaults to `128`.
        epochs: epochs, over which the learning rate decays to 0.
            Defaults to `200`.
        warmup_epochs: epochs at the start over which the learning rate
            rises linearly from 0 to `learning_rate` (Goyal et al. 2017),
            before the cosine decay over the remaining epochs. Defaults
            to `0`.
        crop_padding: pixels of zero padding before the random crop; `0`
            turns cropping off. Defaults to `4`.
        horizontal_flip: random left-right flips. Defaults to `True`.

    Raises:
        ValueError: for a value out of range.

    Example:

    >>> recipe = Recipe(epochs=30)
    >>> recipe.learning_rate, recipe.l2
    (0.1, 0.00025)

    Reference:
        - [He et al., 2016](https://arxiv.org/abs/1512.03385)
        - [Loshchilov & Hutter, 2017](https://arxiv.org/abs/1608.03983)
    """

    optimizer: str = "sgd"
    learning_rate: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    batch_size: int = 128
    epochs: int = 200
    warmup_epochs: int = 0
    crop_padding: int = 4
    horizontal_flip: bool = True

    def __post_init__(self):
        if self.optimizer != "sgd":
            raise ValueError(
                f"Expected optimizer='sgd'. Received: optimizer={self.optimizer!r}"
            )
        checks = (
            ("learning_rate", "learning_rate > 0", self.learning_rate > 0),
            ("momentum", "0 <= momentum < 1", 0 <= self.momentum < 1),
            ("weight_decay", "weight_decay >= 0", self.weight_decay >= 0),
            ("batch_size", "an integer batch_size >= 1", _is_count(self.batch_size, 1)),
            ("epochs", "an integer epochs >= 1", _is_count(self.epochs, 1)),
            (
                "warmup_epochs",
                "an integer 0 <= warmup_epochs < epochs",
                _is_count(self.warmup_epochs, 0)
                and self.warmup_epochs < max(self.epochs, 1),
            ),
            (
                "crop_padding",
                "an integer crop_padding >= 0",
                _is_count(self.crop_padding, 0),
            ),
        )
        for field, expected, ok in checks:
            if not ok:
                raise ValueError(
                    f"Expected {expected}. Received: {field}={getattr(self, field)!r}"
                )

    @property
    def l2(self):
        """The `keras.regularizers.L2` factor equal to `weight_decay`."""
        return self.weight_decay / 2


def _is_count(value, minimum):
    """Whether `value` is an `int` (not a `bool`) of at least `minimum`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


# A model's own recipe. resnet20's batch of 64 (at the same learning rate
# of 0.1, so twice the optimizer steps per epoch) was chosen on a held-out
# validation split of the 10,000-image CIFAR subset: 77.4% against 74.2%
# for batch 128 after 40 epochs (benchmarks/bench_cifar_recipe.py). vgg11
# diverges in its first epochs at a rate of 0.1 (it has no shortcut to
# carry the signal); a 5-epoch linear warm-up was chosen the same way on
# the 5,000-image subset: 67.5% against 65.9% for a rate of 0.02, where
# the common recipe reached 18.8% by epoch 17. The others keep the common
# recipe until they are measured the same way.
_RECIPES = {
    "resnet20": Recipe(batch_size=64),
    "resnet56": Recipe(),
    "vgg11": Recipe(warmup_epochs=5),
    "mobilenetv2": Recipe(),
}


def recipe_for(name):
    """The CIFAR-10 training recipe of a reference model.

    Args:
        name: `"resnet20"`, `"resnet56"`, `"vgg11"` or `"mobilenetv2"`.

    Returns:
        A `Recipe`.

    Raises:
        ValueError: for a model without a CIFAR recipe.

    Example:

    >>> recipe = recipe_for("resnet56")
    >>> recipe.batch_size, recipe.epochs, recipe.weight_decay
    (128, 200, 0.0005)
    """
    if name not in _RECIPES:
        raise ValueError(
            f"No CIFAR recipe for name={name!r}. Expected one of {', '.join(_RECIPES)}."
        )
    return _RECIPES[name]


def finetune_recipe(recipe, divisor=10):
    """`recipe` (a `Recipe` or a model name) with its learning rate / `divisor`.

    The fine-tuning recipe of slim, sweep and qat: a trained model is
    fine-tuned at a tenth of the rate it was trained at, without warm-up. `None` stays
    `None` (those workflows then use Adam).

    Example:

    >>> finetune_recipe("resnet20").learning_rate
    0.01
    """
    if recipe is None:
        return None
    recipe = recipe_for(recipe) if isinstance(recipe, str) else recipe
    return dataclasses.replace(
        recipe, learning_rate=recipe.learning_rate / divisor, warmup_epochs=0
    )


def make_optimizer(recipe, steps_per_epoch):
    """`keras.optimizers.SGD` with the recipe's cosine learning-rate decay.

    The learning rate starts at `recipe.learning_rate` and follows
    `keras.optimizers.schedules.CosineDecay` to 0 at
    `recipe.epochs * steps_per_epoch` steps. With `recipe.warmup_epochs`,
    it first rises linearly from 0 over those epochs (`CosineDecay`'s
    `warmup_steps`), then decays over the rest. The optimizer has no
    `weight_decay` of its own; see `apply_weight_decay`.

    Args:
        recipe: a `Recipe`.
        steps_per_epoch: optimizer steps per epoch, e.g.
            `ceil(50000 / recipe.batch_size)` = 391 on CIFAR-10.

    Returns:
        A `keras.optimizers.SGD`.

    Raises:
        ValueError: for `steps_per_epoch < 1`.

    Example:

    >>> optimizer = make_optimizer(recipe_for("resnet20"), steps_per_epoch=391)
    >>> round(float(optimizer.learning_rate), 6)  # step 0 of 200 * 391
    0.1
    >>> _ = optimizer.iterations.assign(200 * 391 // 2)
    >>> round(float(optimizer.learning_rate), 6)  # halfway: 0.1 * (1 + cos(pi/2)) / 2
    0.05
    """
    if not _is_count(steps_per_epoch, 1):
        raise ValueError(
            "Expected an integer steps_per_epoch >= 1. Received: "
            f"steps_per_epoch={steps_per_epoch!r}"
        )
    if recipe.warmup_epochs:
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            decay_steps=(recipe.epochs - recipe.warmup_epochs) * steps_per_epoch,
            warmup_target=recipe.learning_rate,
            warmup_steps=recipe.warmup_epochs * steps_per_epoch,
        )
    else:
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=recipe.learning_rate,
            decay_steps=recipe.epochs * steps_per_epoch,
        )
    return keras.optimizers.SGD(
        learning_rate=schedule, momentum=recipe.momentum, nesterov=recipe.nesterov
    )


def apply_weight_decay(model, recipe):
    """A copy of `model` with the recipe's weight decay as kernel L2 penalties.

    `kerasreg.regularize(model, l2=recipe.weight_decay / 2)`: every Conv2D
    and Dense kernel gets `L2(recipe.l2)`, whose gradient `weight_decay * w`
    is PyTorch's coupled weight decay. Weights are kept; the copy is not
    compiled.

    Args:
        model: a functional `keras.Model`.
        recipe: a `Recipe`.

    Returns:
        A new, uncompiled `keras.Model`.

    Example:

    >>> from kerasreg import models
    >>> model = apply_weight_decay(models.resnet20(), recipe_for("resnet20"))
    >>> model.get_layer("stem_conv").kernel_regularizer.l2
    0.00025
    """
    return regularize(model, l2=recipe.l2)


def augmentation_layers(recipe, seed, *, image_size=(32, 32)):
    """Random crop after 4-pixel zero padding, and horizontal flip.

    Pad-then-crop is `keras.layers.RandomTranslation` by a factor of
    `(crop_padding + 0.5) / size` with nearest interpolation and zero fill:
    each image moves by a whole number of pixels drawn uniformly from
    `-crop_padding..crop_padding` on each axis, which is exactly the
    `(2 * crop_padding + 1)**2` crops of the padded image, equally likely.
    `ZeroPadding2D` + `RandomCrop` would crop a whole batch at one place
    (Keras draws one window per call), and resize rather than pass through
    at inference. `keras.layers.RandomFlip("horizontal")` follows. Both
    draw per image, run inside `tf.data.Dataset.map` (map them over
    batches: one call a batch is the fast way; an instance first called on
    single images takes only single images after), and are the identity
    when `training=False`.

    Args:
        recipe: a `Recipe`.
        seed: an integer: the same seed gives the same augmentations.
            `None` draws a seed.
        image_size: `(height, width)` of the images. Defaults to `(32, 32)`.

    Returns:
        A `keras.Sequential` of the augmentation layers; call it with
        `training=True`.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> augment = augmentation_layers(recipe_for("resnet20"), seed=0)
    >>> images = tf.data.Dataset.from_tensor_slices(np.ones((4, 32, 32, 3)))
    >>> batch = next(iter(images.batch(4).map(lambda x: augment(x, training=True))))
    >>> tuple(batch.shape)
    (4, 32, 32, 3)
    """
    height, width = image_size
    layers = []
    if recipe.crop_padding:
        layers.append(
            keras.layers.RandomTranslation(
                height_factor=(recipe.crop_padding + 0.5) / height,
                width_factor=(recipe.crop_padding + 0.5) / width,
                fill_mode="constant",
                fill_value=0.0,
                interpolation="nearest",
                seed=seed,
                name="pad_and_crop",
            )
        )
    if recipe.horizontal_flip:
        flip_seed = None if seed is None else seed + 1
        layers.append(
            keras.layers.RandomFlip("horizontal", seed=flip_seed, name="flip")
        )
    if not layers:
        layers.append(keras.layers.Identity(name="identity"))
    return keras.Sequential(layers, name="cifar_augmentation")


def augmentation_function(recipe, seed, input_shape):
    """`augmentation_layers` as a function of a batch, for `tf.data` maps.

    Args:
        recipe: a `Recipe`.
        seed: augmentation seed.
        input_shape: `(H, W, C)` of the images.

    Returns:
        `fn(images) -> images`, the layers called with `training=True`.

    Example:

    >>> augment = augmentation_function(recipe_for("resnet20"), 0, (32, 32, 3))
    >>> tuple(augment(np.ones((2, 32, 32, 3), "float32")).shape)
    (2, 32, 32, 3)
    """
    layers = augmentation_layers(recipe, seed, image_size=tuple(input_shape[:2]))

    def augment(images):
        return layers(images, training=True)

    return augment
