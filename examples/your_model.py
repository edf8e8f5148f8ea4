"""Your own model and your own images: plain Keras first, then kerasreg.

The Keras guides' way to train on a folder of images: read it with
`keras.utils.image_dataset_from_directory`, start the model with
`Rescaling(1/255)` and augmentation layers, `fit`, `save`. This script does
exactly that (nothing from kerasreg) and writes `my_model.keras`; then

    kerasreg compress --model OUT/my_model.keras --data IMAGES --out OUT/compress

slims, shrinks, fine-tunes, quantizes and reports it against the model as
you gave it. `IMAGES` is a folder of class folders, or of `train/` and
`test/` folders of class folders (docs/data.md).

    python examples/your_model.py --data ../shared/data/cifar10 --out runs/mine
"""

from __future__ import annotations

import argparse
import os

import keras


def build(input_shape, num_classes):
    """A small CNN in the Keras guides' style, with BatchNormalization."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.RandomFlip("horizontal")(x)
    for width in (32, 64, 128):
        for _ in range(2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="my_model")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with train/ and test/")
    parser.add_argument("--out", default="runs/mine")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    train = keras.utils.image_dataset_from_directory(
        os.path.join(args.data, "train"), image_size=(32, 32), batch_size=64, seed=0
    )
    test = keras.utils.image_dataset_from_directory(
        os.path.join(args.data, "test"),
        image_size=(32, 32),
        batch_size=256,
        shuffle=False,
    )
    model = build((32, 32, 3), len(train.class_names))
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train.cache(), validation_data=test.cache(), epochs=args.epochs)
    os.makedirs(args.out, exist_ok=True)
    model.save(os.path.join(args.out, "my_model.keras"))
    print(f"Saved {os.path.join(args.out, 'my_model.keras')}")


if __name__ == "__main__":
    main()
