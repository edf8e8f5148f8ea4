"""Data augmentation from Keras's own layers, with a label-safety check.

`pipeline(transforms)` composes the study notes' list of augmentations from
Keras's random preprocessing layers, each seeded:

| name | Keras layer |
|---|---|
| `"flip_horizontal"`, `"flip_vertical"` | `RandomFlip` |
| `"crop"` (pad by `crop_padding`, crop back) | `RandomTranslation`, nearest, zero fill |
| `"scale"` | `RandomZoom` |
| `"rotate"` (± `rotation_degrees`), `"rotate180"` (always 180°) | `RandomRotation` |
| `"cutout"` (a zero square of `cutout_area`) | `RandomErasing(fill_value=0)` |
| `"erasing"` (random rectangles of random values) | `RandomErasing` |
| `"elastic"` | `kerasreg.elastic_distortion.ElasticDistortion` (Simard's recipe; see there why not `RandomElasticTransform`) |

By default the pipeline is a callable for the `tf.data` input pipeline
(`kerasreg.training.fit(..., augment=pipeline)`), so the exported model
carries no augmentation; `as_layers=True` returns a `keras.Sequential` to put
in the model instead.

The notes' warning, that a transform can change what an image means ("6"
rotated half a turn is "9"), is `check_label_safety(pipeline, data, model)`:
with a model trained without augmentation, it applies each transform alone
to the test images and reports the accuracy drop and the class pairs
predictions move between; a transform that moves at least `pair_threshold`
of a class's images to one other class, or keeps less than `min_kept` of
the model's skill above chance, is flagged. `pipeline(..., data=...,
model=..., check=True)` runs the check first and refuses a flagged
transform unless `allow=` names it.
"""

from __future__ import annotations

import keras

from kerasreg.elastic_distortion import ElasticDistortion
from kerasreg.label_safety import check_label_safety

__all__ = [
    "TRANSFORMS",
    "AugmentPipeline",
    "ElasticDistortion",
    "pipeline",
    "check_label_safety",
]

TRANSFORMS = (
    "flip_horizontal",
    "flip_vertical",
    "crop",
    "scale",
    "rotate",
    "rotate180",
    "cutout",
    "erasing",
    "elastic",
)


def _layer(name, seed, options):
    """The seeded Keras layer of transform `name`."""
    size, value_range = options["image_size"], options["value_range"]
    layers = keras.layers
    if name in ("flip_horizontal", "flip_vertical"):
        return layers.RandomFlip(name.split("_")[1], seed=seed, name=name)
    if name == "crop":
        pad = options["crop_padding"]
        return layers.RandomTranslation(
            (pad + 0.5) / size[0],
            (pad + 0.5) / size[1],
            fill_mode="constant",
            interpolation="nearest",
            seed=seed,
            name=name,
        )
    if name == "scale":
        zoom = options["zoom"]
        return layers.RandomZoom(zoom, zoom, fill_mode="constant", seed=seed, name=name)
    if name == "rotate":
        turn = options["rotation_degrees"] / 360
        return layers.RandomRotation(turn, fill_mode="constant", seed=seed, name=name)
    if name == "rotate180":
        return layers.RandomRotation(
            (0.5, 0.5), fill_mode="constant", seed=seed, name=name
        )
    if name in ("cutout", "erasing"):
        area = options["cutout_area"]
        return layers.RandomErasing(
            factor=1.0,
            scale=(area, area) if name == "cutout" else (0.02, 0.33),
            fill_value=0.0 if name == "cutout" else None,
            value_range=value_range,
            seed=seed,
            name=name,
        )
    # Simard's 34 and 4 pixels are for 28x28. Displacements grow as
    # alpha / sigma: scale sigma with the shorter side, alpha with its square.
    side = min(size) / 28
    alpha, sigma = options["elastic_alpha"], options["elastic_sigma"]
    return ElasticDistortion(
        34.0 * side**2 if alpha is None else alpha,
        4.0 * side if sigma is None else sigma,
        seed=seed,
        name=name,
    )


class AugmentPipeline:
    """Seeded augmentation layers applied in order; see `pipeline`.

    Call it on a batch of images (`training=True` by default) in a
    `tf.data` map. `only(name)` gives the one-transform pipeline the
    label-safety check applies; `as_sequential()` the layers as a
    `keras.Sequential`.

    Args:
        transforms: names from `TRANSFORMS`, applied in this order.
        seed: an integer; transform `i` is seeded with `seed + i`, or
            `None` for unseeded layers.
        options: the transforms' settings (see `pipeline`).
        offsets: the seed offset of each transform. Defaults to `None`
            (`0, 1, 2, ...`).
    """

    def __init__(self, transforms, seed, options, offsets=None):
        self.transforms = tuple(transforms)
        self.seed = seed
        self.options = dict(options)
        offsets = range(len(self.transforms)) if offsets is None else offsets
        self.layers = [
            _layer(name, None if seed is None else seed + offset, self.options)
            for name, offset in zip(self.transforms, offsets)
        ]

    def __call__(self, images, training=True):
        for layer in self.layers:
            images = layer(images, training=training)
        return images

    def only(self, name, *, always=False):
        """Transform `name` alone, seeded as it is in this pipeline.

        With `always=True` a flip flips every image, so that the check
        measures the transform, not a coin toss.
        """
        if always and name.startswith("flip_"):
            axis = 2 if name == "flip_horizontal" else 1
            return lambda images, training=True: keras.ops.flip(images, axis=axis)
        offset = self.transforms.index(name)
        return AugmentPipeline([name], self.seed, self.options, offsets=[offset])

    def as_sequential(self):
        """The layers as a `keras.Sequential`, to put in a model."""
        return keras.Sequential(self.layers, name="augmentation")

    def __repr__(self):
        return f"AugmentPipeline({list(self.transforms)!r}, seed={self.seed!r})"


def pipeline(
    transforms=("flip_horizontal", "crop"),
    *,
    seed=0,
    image_size=None,
    value_range=None,
    crop_padding=4,
    zoom=0.1,
    rotation_degrees=15,
    cutout_area=0.25,
    elastic_alpha=None,
    elastic_sigma=None,
    as_layers=False,
    check=False,
    data=None,
    model=None,
    allow=(),
):
    """Compose seeded augmentations from Keras layers.

    Args:
        transforms: names from `TRANSFORMS`, applied in this order.
            Defaults to `("flip_horizontal", "crop")`, the CIFAR standard.
        seed: an integer: the same seed gives the same augmentations.
            Defaults to `0`.
        image_size: `(height, width)` of the images. Defaults to `None`:
            `data`'s, or `(32, 32)` without `data`.
        value_range: the range of the images the pipeline sees, which is
            the model's input range: `(0, 1)` for kerasreg's reference
            models, `(0, 255)` for a model that starts with `Rescaling`.
            Defaults to `None`: what `model` expects of `data`
            (`kerasreg.data.input_scale`), or `(0, 1)` without them.
        crop_padding: pixels of zero padding of `"crop"`. Defaults to `4`.
        zoom: `"scale"`'s largest zoom, a fraction. Defaults to `0.1`.
        rotation_degrees: `"rotate"`'s largest angle. Defaults to `15`.
        cutout_area: `"cutout"`'s square, a fraction of the image area.
            Defaults to `0.25` (16x16 of 32x32, DeVries & Taylor).
        elastic_alpha: `"elastic"`'s displacement scale, in pixels.
            Defaults to `None`: Simard et al.'s 34 for 28x28 digits, scaled
            by the square of `image_size`'s shorter side over 28.
        elastic_sigma: `"elastic"`'s smoothing, in pixels. Defaults to
            `None`: Simard et al.'s 4 at 28x28, scaled by the shorter side
            over 28. The pixels then move the same fraction of the image.
        as_layers: return a `keras.Sequential` for the model instead of a
            pipeline for `tf.data`. Defaults to `False`.
        check: run `check_label_safety` on `data` with `model` first, and
            refuse a flagged transform. Defaults to `False`.
        data: the dataset (anything `kerasreg.load` takes): the check's
            data, and where `image_size` comes from.
        model: the check's model, trained without augmentation, and where
            `value_range` comes from.
        allow: flagged transforms to keep anyway. Defaults to none.

    Returns:
        An `AugmentPipeline`, or a `keras.Sequential` with `as_layers=True`.

    Raises:
        ValueError: for an unknown transform, a check without `data` and
            `model`, or a flagged transform that `allow` does not name.

    Example:

    >>> augment = pipeline(["flip_horizontal", "crop"], seed=0)
    >>> tuple(augment(np.ones((2, 32, 32, 3), "float32")).shape)
    (2, 32, 32, 3)

    Reference:
        - [Simard et al., 2003](https://doi.org/10.1109/ICDAR.2003.1227801)
          (elastic distortion)
        - [DeVries & Taylor, 2017](https://arxiv.org/abs/1708.04552) (cutout)
        - [Zhong et al., 2020](https://arxiv.org/abs/1708.04896) (erasing)
    """
    transforms = [transforms] if isinstance(transforms, str) else list(transforms)
    for name in [*transforms, *allow]:
        if name not in TRANSFORMS:
            raise ValueError(
                f"Unknown transform {name!r}. Expected names from: "
                f"{', '.join(TRANSFORMS)}. Received: transforms={transforms!r}"
            )
    if data is not None:
        from kerasreg import data as data_lib

        data = data_lib.load(data)
        image_size = image_size or tuple(data.input_shape[:2])
        if value_range is None and model is not None:
            top = data.value_range * data_lib.input_scale(model, data)
            value_range = (0.0, float(top))
    options = dict(
        image_size=tuple(image_size or (32, 32)),
        value_range=tuple(value_range or (0.0, 1.0)),
        crop_padding=crop_padding,
        zoom=zoom,
        rotation_degrees=rotation_degrees,
        cutout_area=cutout_area,
        elastic_alpha=elastic_alpha,
        elastic_sigma=elastic_sigma,
    )
    result = AugmentPipeline(transforms, seed, options)
    if check:
        if data is None or model is None:
            raise ValueError(
                "check=True needs data= and model= (a model trained without "
                f"augmentation). Received: data={data!r}, model={model!r}"
            )
        report = check_label_safety(result, data, model)
        refused = [name for name in report.flagged if name not in allow]
        if refused:
            raise ValueError(report.refusal(refused))
    return result.as_sequential() if as_layers else result
