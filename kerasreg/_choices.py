"""The one definition of each set of names a user picks from.

Kept free of imports, so the CLI can offer them as `choices` without
loading TensorFlow; the library modules re-export them where they are
documented (`kerasreg.compression.export.QUANTIZATIONS`,
`kerasreg.tuning.TUNERS`, `kerasreg.training.PRECISIONS`,
`kerasreg.compression.slimming.target.UNITS`,
`kerasreg.models.recipes.RECIPES`); and of the fine-tuning rate that
`compress`, `prune`, `slim` and `sweep` share, with its check; and of the
`HEIGHTxWIDTH` text of an image size on the command line.
"""

__all__ = [
    "QUANTIZATIONS",
    "PRECISIONS",
    "TUNERS",
    "STRATEGIES",
    "TARGET_UNITS",
    "RECIPES",
    "FINETUNE_RATE",
    "check_finetune_rate",
    "parse_image_size",
]

# TFLite export schemes: float32, float16 weights, dynamic-range (int8
# weights), int8 with float input/output, int8 input/output too, and int4
# weights with float compute (through the optional ai-edge-quantizer).
QUANTIZATIONS = ("float32", "float16", "dynamic", "int8", "int8-full", "int4")

# `keras.mixed_precision` dtype policies a model can be built under.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")

# Tuners `kerasreg.tuning.tune` can run.
TUNERS = ("coarse-to-fine", "random", "bayesian", "hyperband")

# `kerasreg.distribute.strategy` kinds.
STRATEGIES = ("mirrored", "multiworker", "ps")

# What `NetworkSlimming(target=...)` counts: parameters, multiply-accumulates
# per example, or BatchNormalization channels.
TARGET_UNITS = ("params", "macs", "channels")

# Reference models with a CIFAR-10 training recipe (`kerasreg.models.recipes`).
RECIPES = ("resnet20", "resnet56", "vgg11", "mobilenetv2")

# A trained model is fine-tuned at this fraction of its recipe's learning
# rate: a tenth, Liu et al.'s and Torch-Pruning's fine-tune.
FINETUNE_RATE = 0.1


def check_finetune_rate(finetune_rate, recipe):
    """Raise `ValueError` for a rate outside (0, 1], or one set without a recipe.

    The check of every `finetune_rate=` (`CompressConfig`, `prune`, `slim`, `sweep`): the
    rate is a fraction of a recipe's SGD rate, so it means nothing for Adam.
    """
    if not 0.0 < finetune_rate <= 1.0:
        raise ValueError(
            f"Expected 0 < finetune_rate <= 1. Received: finetune_rate={finetune_rate}"
        )
    if finetune_rate != FINETUNE_RATE and not recipe:
        raise ValueError(
            f"finetune_rate={finetune_rate} applies to a recipe's SGD; "
            "without recipe, Adam fine-tunes at learning_rate."
        )


def parse_image_size(text):
    """`"HEIGHTxWIDTH"` (or `"N"` for N x N) as `(height, width)`.

    The one reading of `--image-size` (every command) and of
    `CompressConfig.image_size`; raises `ValueError` for anything else.

    Example:

    >>> parse_image_size("32x48"), parse_image_size("64")
    ((32, 48), (64, 64))
    """
    try:
        size = tuple(int(part) for part in str(text).lower().split("x"))
    except ValueError:
        size = ()
    size = size * 2 if len(size) == 1 else size
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            "Expected an image size HEIGHTxWIDTH such as 32x32. "
            f"Received: image_size={text!r}"
        )
    return size
