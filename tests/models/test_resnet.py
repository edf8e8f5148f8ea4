"""kerasreg.models: resnet, resnet_cifar / resnet20 / resnet56, resnet50."""

import keras
import numpy as np
import pytest

from kerasreg import models, report


def _within(value, published, rel):
    return abs(value - published) <= rel * published


def _projection_macs(model):
    """MACs of the 1x1 projection shortcuts: output elements x input channels."""
    return sum(
        int(np.prod(layer.output.shape[1:])) * layer.input.shape[-1]
        for layer in model.layers
        if layer.name.endswith("_proj_conv")
    )


def _ptflops_count(model):
    """Operations as Torch-Pruning's counter (ptflops' rules) counts them.

    Conv and Dense multiply-accumulates plus one per bias, two per
    BatchNormalization element (affine), one per ReLU element, one per
    element entering a pooling layer; additions of shortcuts are free.
    """
    total = report.count_flops(model)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense) and layer.use_bias:
            total += layer.units
        elif isinstance(layer, keras.layers.BatchNormalization):
            total += 2 * int(np.prod(layer.output.shape[1:]))
        elif isinstance(layer, keras.layers.ReLU):
            total += int(np.prod(layer.output.shape[1:]))
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            total += int(np.prod(layer.input.shape[1:]))
    return total


def test_resnet20_matches_he_et_al(cifar_model):
    model = cifar_model("resnet20")
    params = report.count_params(model)
    trainable = report.count_params(model, trainable_only=True)
    macs = report.count_flops(model)
    # He et al. 2016, table 6: 0.27M parameters; about 41M MACs.
    assert _within(params, 0.27e6, 0.03) and _within(trainable, 0.27e6, 0.03)
    assert _within(macs, 41e6, 0.03)
    assert (params, trainable, macs) == (274_042, 272_474, 40_813_184)
    # Option A (identity shortcuts with zero padding) would be 40,551,040.
    assert macs - _projection_macs(model) == 40_551_040


def test_resnet56_matches_torch_pruning(cifar_model):
    model = cifar_model("resnet56")
    params = report.count_params(model)
    trainable = report.count_params(model, trainable_only=True)
    macs = report.count_flops(model)
    # Torch-Pruning's ResNet-56 log: 0.86M params, 127.12M MACs.
    assert _within(params, 0.86e6, 0.03) and _within(trainable, 0.86e6, 0.03)
    assert (params, trainable, macs) == (860_026, 855_770, 125_747_840)
    # count_flops counts conv and Dense only: 1.08% under 127.12M. Counted
    # with BN, ReLU, pooling and biases, as Torch-Pruning does, it is 0.2% over.
    assert _within(_ptflops_count(model), 127.12e6, 0.01)
    assert _ptflops_count(model) == 127_373_962
    # Without the two 1x1 projections: the 125.49M of option A.
    assert macs - _projection_macs(model) == 125_485_696


def test_resnet_cifar_depth_width_and_layer_names():
    model = models.resnet_cifar((8, 8, 3), 10, depth=14, width=0.5)
    assert model.name == "resnet14"
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    assert len(convs) == 1 + 3 * 2 * 2 + 2  # stem, two per block, two projections
    assert [model.get_layer(f"stage{s}_block1_a_conv").filters for s in (1, 2, 3)] == [
        8,
        16,
        32,
    ]
    assert model.get_layer("stage2_block1_proj_conv").kernel_size == (1, 1)
    # resnet20 is resnet(blocks_per_stage=3): same layers, same names.
    a = [la.name for la in models.resnet20().layers]
    b = [la.name for la in models.resnet((32, 32, 3), 10, blocks_per_stage=3).layers]
    assert a == b


def test_resnet_depth_and_width():
    model = models.resnet((8, 8, 1), 10, widths=(8, 16, 32), blocks_per_stage=2)
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    assert len(convs) == 1 + 3 * 2 * 2 + 2  # stem, two per block, two projections
    assert model.get_layer("stage3_block1_b_conv").filters == 32


def test_resnet50_matches_the_seed_size():
    model = models.resnet50((32, 32, 3), 10)
    # The seed reports 23,573,642 parameters for its ResNet-50 on CIFAR-10.
    assert 23.4e6 < model.count_params() < 23.7e6
    assert model.output_shape == (None, 10)
    bns = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert len(bns) == 53


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: models.resnet50((8, 8, 1), 10),
            r"resnet50 needs inputs of at least 32x32.*Use `resnet`",
        ),
        (
            lambda: models.resnet((8, 8, 1), 10, blocks_per_stage=0),
            r"blocks_per_stage >= 1",
        ),
        (
            lambda: models.resnet_cifar(depth=21),
            r"Expected depth = 6n \+ 2 .* Received: depth=21",
        ),
        (lambda: models.resnet_cifar(depth=2), r"Received: depth=2"),
        (lambda: models.resnet56(width=0), r"Expected width > 0. Received: width=0"),
        (lambda: models.resnet20((32, 32), 10), r"Expected input_shape=\(H, W, C\)"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
