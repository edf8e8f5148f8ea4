"""kerasreg.models.recipes: CIFAR recipes, optimizer, weight decay, augmentation."""

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasreg import models
from kerasreg.models import recipes


def test_recipe_defaults_are_the_cifar_recipe():
    recipe = recipes.recipe_for("resnet56")
    assert dataclasses.astuple(recipe) == (
        "sgd",
        0.1,
        0.9,
        False,
        5e-4,
        128,
        200,
        0,
        4,
        True,
    )
    assert recipe.l2 == 2.5e-4
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.epochs = 10


def test_learning_rate_follows_cosine_decay():
    recipe = recipes.Recipe(epochs=10)
    optimizer = recipes.make_optimizer(recipe, steps_per_epoch=5)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert (optimizer.momentum, optimizer.nesterov) == (0.9, False)
    assert optimizer.weight_decay is None  # decay is the kernels' L2 instead
    for step, expected in [
        (0, 0.1),
        (10, 0.1 * (1 + math.cos(math.pi * 10 / 50)) / 2),
        (25, 0.05),
        (50, 0.0),
        (60, 0.0),
    ]:
        optimizer.iterations.assign(step)
        assert np.isclose(float(optimizer.learning_rate), expected, atol=1e-7), step


def test_warmup_rises_linearly_then_decays_over_the_remaining_epochs():
    recipe = recipes.Recipe(learning_rate=0.2, epochs=10, warmup_epochs=2)
    optimizer = recipes.make_optimizer(recipe, steps_per_epoch=5)
    for step, expected in [
        (0, 0.0),
        (5, 0.1),
        (10, 0.2),
        (30, 0.1),  # halfway through the 40 decay steps after the warm-up
        (50, 0.0),
    ]:
        optimizer.iterations.assign(step)
        assert np.isclose(float(optimizer.learning_rate), expected, atol=1e-7), step


def test_a_fit_shorter_than_twice_the_warmup_warms_up_for_half_of_it():
    from kerasreg import data, training

    digits = data.load("digits")  # 1,437 training images: 12 steps of 128
    model = models.build("cnn-tiny", digits.input_shape, digits.num_classes)
    model, batch_size, _ = training.compile_with_recipe(model, digits, "vgg11", 3)
    assert batch_size == 128
    optimizer = model.optimizer
    for step, expected in [(0, 0.0), (6, 0.05), (12, 0.1), (24, 0.05), (36, 0.0)]:
        optimizer.iterations.assign(step)
        assert np.isclose(float(optimizer.learning_rate), expected, atol=1e-7), step


def test_every_recipe_is_offered_as_a_choice():
    from kerasreg import _choices

    assert recipes.RECIPES == _choices.RECIPES
    assert [recipes.recipe_for(name).optimizer for name in recipes.RECIPES] == [
        "sgd"
    ] * 4


def test_finetune_recipe_has_no_warmup():
    recipe = recipes.finetune_recipe(recipes.Recipe(warmup_epochs=5))
    assert (recipe.learning_rate, recipe.warmup_epochs) == (0.01, 0)


def test_weight_decay_is_coupled_l2_on_kernels():
    recipe = recipes.Recipe(weight_decay=1e-2)
    model = models.resnet_cifar((8, 8, 3), 10, depth=8)
    decayed = recipes.apply_weight_decay(model, recipe)
    kernels = [
        la.kernel
        for la in decayed.layers
        if isinstance(la, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    with tf.GradientTape() as tape:
        penalty = sum(decayed.losses)
    # PyTorch's SGD(weight_decay=wd) adds wd * w to the gradient.
    expected = recipe.l2 * sum(float(tf.reduce_sum(k**2)) for k in kernels)
    assert np.isclose(float(penalty), expected, rtol=1e-5)
    gamma = decayed.get_layer("stem_bn").gamma
    *gradients, gamma_gradient = tape.gradient(penalty, [*kernels, gamma])
    for kernel, gradient in zip(kernels, gradients, strict=True):
        np.testing.assert_allclose(gradient, 1e-2 * kernel.numpy(), rtol=1e-5)
    assert gamma_gradient is None  # slimming's γ is left alone


def _augment_in_tf_data(images, seed, recipe=None, batch_size=256):
    augment = recipes.augmentation_layers(recipe or recipes.Recipe(), seed=seed)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
    dataset = dataset.map(lambda x: augment(x, training=True))
    return np.concatenate(list(dataset.as_numpy_iterator()))


def test_augmentation_is_pad_4_crop_and_flip_per_image():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.5, 1.5, (1024, 32, 32, 1)).astype("float32")
    out = _augment_in_tf_data(images, seed=1)
    assert out.shape == images.shape
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    offset = np.full((len(images), 2), -1)
    flipped = np.zeros(len(images), bool)
    for dy in range(9):
        for dx in range(9):
            crop = padded[:, dy : dy + 32, dx : dx + 32]
            for flip, view in ((False, crop), (True, crop[:, :, ::-1])):
                match = np.all(out == view, axis=(1, 2, 3))
                offset[match] = (dy, dx)
                flipped[match] = flip
    assert (offset >= 0).all()  # every output is a crop of the padded image
    # The 9 offsets per axis and the flips are equally likely.
    for axis in (0, 1):
        counts = np.bincount(offset[:, axis], minlength=9)
        assert counts.min() > 70 and counts.max() < 160, counts  # mean 113.8
    assert 0.45 < flipped.mean() < 0.55


def test_augmentation_is_seeded_and_identity_at_inference():
    images = np.random.default_rng(1).uniform(size=(64, 32, 32, 3)).astype("float32")
    first = _augment_in_tf_data(images, seed=7, batch_size=16)
    np.testing.assert_array_equal(
        first, _augment_in_tf_data(images, seed=7, batch_size=16)
    )
    assert not np.array_equal(first, _augment_in_tf_data(images, seed=8, batch_size=16))
    augment = recipes.augmentation_layers(recipes.Recipe(), seed=0)
    np.testing.assert_array_equal(augment(images, training=False), images)
    # A fresh instance takes single images (a Sequential keeps its input rank).
    augment = recipes.augmentation_layers(recipes.Recipe(), seed=0)
    assert tuple(augment(images[0], training=True).shape) == (32, 32, 3)


def test_augmentation_can_be_turned_off():
    recipe = recipes.Recipe(crop_padding=0, horizontal_flip=False)
    images = np.ones((2, 32, 32, 3), "float32")
    out = recipes.augmentation_layers(recipe, seed=0)(images, training=True)
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: recipes.Recipe(optimizer="adam"), r"Expected optimizer='sgd'"),
        (
            lambda: recipes.Recipe(learning_rate=0),
            r"Expected learning_rate > 0. Received: learning_rate=0",
        ),
        (lambda: recipes.Recipe(momentum=1.0), r"Received: momentum=1.0"),
        (lambda: recipes.Recipe(batch_size=12.5), r"Received: batch_size=12.5"),
        (lambda: recipes.Recipe(crop_padding=-1), r"Received: crop_padding=-1"),
        (
            lambda: recipes.Recipe(epochs=3, warmup_epochs=3),
            r"Expected an integer 0 <= warmup_epochs < epochs. "
            r"Received: warmup_epochs=3",
        ),
        (lambda: recipes.Recipe(warmup_epochs=-1), r"Received: warmup_epochs=-1"),
        (lambda: recipes.recipe_for("cnn"), r"No CIFAR recipe for name='cnn'"),
        (
            lambda: recipes.make_optimizer(recipes.Recipe(), 0),
            r"Received: steps_per_epoch=0",
        ),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
