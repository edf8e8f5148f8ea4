"""Shared by the slimming tests: the tiny BatchNorm CNN they slim."""

from kerasreg import models


def tiny_cnn(momentum=0.9):
    """`models.cnn` on 8x8x1, 10 classes; BNs `block1_bn`, `block2_bn`, `fc_bn` of 8."""
    return models.cnn(
        (8, 8, 1), 10, filters=(8, 8), dense_units=8, bn_momentum=momentum
    )
