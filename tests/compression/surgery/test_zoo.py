"""shrink on keras.applications architectures: exact, or refused with the reason.

The models are built with `weights=None` at the smallest input they accept;
half of every BatchNormalization's γ are zeroed at random and β randomized,
so that removed channels carry constants `shrink` must fold exactly.
"""

import keras
import numpy as np
import pytest

from kerasreg import metrics
from kerasreg.compression import shrink
from kerasreg.compression.slimming import batchnorm_layers


def _build(name, size=32):
    return getattr(keras.applications, name)(
        weights=None,
        input_shape=(size, size, 3),
        classes=10,
        classifier_activation=None,
    )


def _half_dead(model, seed=0):
    rng = np.random.default_rng(seed)
    for bn in batchnorm_layers(model):
        n = bn.gamma.shape[0]
        bn.gamma.assign(
            (rng.uniform(0.5, 1.5, n) * (rng.random(n) >= 0.5)).astype("float32")
        )
        bn.beta.assign(rng.normal(size=n).astype("float32"))


@pytest.mark.parametrize(
    "name, least_removed",
    [("EfficientNetV2B0", 0.03), ("MobileNetV3Large", 0.15), ("MobileNet", 0.4)],
)
def test_exact_after_shrink(name, least_removed):
    model = _build(name)
    _half_dead(model)
    small = shrink(model)
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    a = keras.ops.convert_to_numpy(model(x, training=False))
    b = keras.ops.convert_to_numpy(small(x, training=False))
    assert np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(a))
    assert 1 - metrics.count_params(small) / metrics.count_params(model) > least_removed


def test_refuses_a_model_without_batchnorm():
    with pytest.raises(
        ValueError,
        match=r"^Model 'vgg16' has no BatchNormalization layer, so shrink has no γ "
        r"to tell dead channels by and would return the same model\.",
    ):
        shrink(_build("VGG16"))


def test_refuses_layer_normalization():
    with pytest.raises(
        ValueError,
        match=r"^Model 'convnext_tiny' normalizes with LayerNormalization, not "
        r"BatchNormalization\..*cannot be done exactly",
    ):
        shrink(_build("ConvNeXtTiny"))


def test_refuses_batchnorm_without_scale():
    with pytest.raises(
        ValueError,
        match=r"^Model 'inception_v3' has 94 BatchNormalization layers, all with "
        r"scale=False, so there is no γ",
    ):
        shrink(_build("InceptionV3", size=75))


def test_refuses_inception_resnet_v2():
    with pytest.raises(ValueError, match=r"all with scale=False"):
        shrink(_build("InceptionResNetV2", size=75))
