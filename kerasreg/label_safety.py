"""Does an augmentation change what an image means? Measure it per transform.

`check_label_safety(pipeline, data, model)` takes a model trained without
augmentation and, for each transform of the pipeline alone, predicts the
test images clean and transformed. A transform that keeps the label leaves
most predictions where they were, and the ones it breaks scatter over many
classes. A transform that changes the label (a "6" turned half a round is a
"9") moves a class's images to one other class together. So a transform is
flagged when

- at least `pair_threshold` of the images of some class `a` that the model
  gets right clean are predicted as one other class `b` transformed (the
  pair `a→b` is named), or
- the transformed images keep less than `min_kept` of the model's skill
  above chance, `(accuracy - 1/classes) / (clean accuracy - 1/classes)`:
  the transform leaves too little of what makes the label.

The second test is relative on purpose. A model trained without a
transform is not invariant to it, so a label-safe transform can still
cost it points (a 4-pixel shift costs an unaugmented CIFAR-10 `resnet20`
11 points, scattered over many classes); an absolute limit on the drop
would then flag random crops on every hard dataset.

Flips are applied to every image for the check (a flip layer flips half).
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = [
    "check_label_safety",
    "resolve_model",
    "LabelSafetyReport",
    "TransformSafety",
]


@dataclasses.dataclass
class TransformSafety:
    """What one transform did to the predictions of the test images.

    Attributes:
        name: the transform.
        clean_accuracy: accuracy on the clean images.
        accuracy: accuracy on the transformed images.
        pairs: `(a, b, share, count)` for each class pair whose share of
            class `a`'s correctly predicted images moved to `b` reaches
            `pair_threshold`, largest share first; `a` and `b` are class
            names.
        flagged: whether the transform changes labels.
        chance: the accuracy of guessing, `1 / number of classes`.
    """

    name: str
    clean_accuracy: float
    accuracy: float
    pairs: list
    flagged: bool
    chance: float = 0.0

    @property
    def drop(self):
        """Accuracy lost to the transform, in [−1, 1]."""
        return self.clean_accuracy - self.accuracy

    @property
    def kept(self):
        """The share of the clean skill above chance left on transformed images."""
        skill = self.clean_accuracy - self.chance
        return (self.accuracy - self.chance) / skill if skill > 0 else 1.0


@dataclasses.dataclass
class LabelSafetyReport:
    """`check_label_safety`'s result: one `TransformSafety` per transform."""

    rows: list

    @property
    def flagged(self):
        """The names of the flagged transforms."""
        return [row.name for row in self.rows if row.flagged]

    def __getitem__(self, name):
        return next(row for row in self.rows if row.name == name)

    def table(self):
        """The report as a plain-text table."""
        lines = [
            f"{'transform':16} {'clean':>7} {'augmented':>9} {'drop':>6} "
            f"{'kept':>5}  verdict"
        ]
        for row in self.rows:
            moved = ", ".join(f"{a}→{b} {share:.0%}" for a, b, share, _ in row.pairs)
            verdict = f"FLAGGED {moved}".rstrip() if row.flagged else "ok"
            lines.append(
                f"{row.name:16} {row.clean_accuracy:7.2%} {row.accuracy:9.2%} "
                f"{100 * row.drop:+6.1f} {row.kept:5.0%}  {verdict}"
            )
        return "\n".join(lines)

    def refusal(self, names):
        """The one-line error for flagged transforms `names`."""
        parts = []
        for name in names:
            row = self[name]
            moved = ", ".join(f"{a}→{b} ({share:.0%})" for a, b, share, _ in row.pairs)
            why = moved or (
                f"accuracy drops {100 * row.drop:.1f} points, keeping "
                f"{row.kept:.0%} of its skill above chance"
            )
            parts.append(f"{name!r} changes labels on this data: {why}")
        return "; ".join(parts) + f". Drop it, or keep it with allow={tuple(names)!r}."

    def to_dict(self):
        """A JSON-ready dict."""
        return {
            row.name: {**dataclasses.asdict(row), "drop": row.drop, "kept": row.kept}
            for row in self.rows
        }


def check_label_safety(
    pipeline,
    data,
    model,
    *,
    split="test",
    pair_threshold=0.2,
    min_kept=0.5,
    batch_size=256,
    train_epochs=10,
    verbose="auto",
):
    """Measure, for each transform alone, how it moves a model's predictions.

    Args:
        pipeline: a `kerasreg.augment.AugmentPipeline`.
        data: anything `kerasreg.load` takes (a folder is streamed).
        model: a `keras.Model` trained without augmentation, the path of
            a `.keras` file, or a reference model name, which is then
            trained plainly on `data` for `train_epochs` first. Images
            reach it in the range it expects (`kerasreg.data.input_scale`);
            build `pipeline` with the same `data` and `model` so that it
            works in that range.
        split: the split to transform. Defaults to `"test"`.
        pair_threshold: the share of a class's correct images that moving
            to one other class flags a transform, in (0, 1). Defaults to
            `0.2`.
        min_kept: the share of the skill above chance (see the module
            docstring) a transform must keep, in (0, 1). Defaults to `0.5`.
        batch_size: images per batch. Defaults to `256`.
        train_epochs: epochs of the plain training of a model given by
            name. Defaults to `10`.
        verbose: that training's progress bar. Defaults to `"auto"`.

    Returns:
        A `LabelSafetyReport`.

    Raises:
        ValueError: for a threshold outside (0, 1).

    Example:

    >>> from kerasreg import augment, training
    >>> digits = kerasreg.load("digits")
    >>> model = training.train("cnn", digits, epochs=15, verbose=0).model
    >>> pipeline = augment.pipeline(["rotate180", "scale"], data=digits, model=model)
    >>> report = check_label_safety(pipeline, digits, model)  # doctest: +SKIP
    >>> report.flagged, report["rotate180"].pairs[0][:2]  # doctest: +SKIP
    (['rotate180'], ('6', '9'))
    """
    from kerasreg import data as data_lib

    for name, value in (("pair_threshold", pair_threshold), ("min_kept", min_kept)):
        if not 0 < value < 1:
            raise ValueError(f"Expected 0 < {name} < 1. Received: {name}={value!r}")
    dataset = data_lib.load(data)
    model = resolve_model(model, dataset, train_epochs, verbose)
    scale = data_lib.input_scale(model, dataset)
    names = list(dataset.class_names)
    labels, clean = _predict(model, dataset, split, batch_size, scale, None)
    rows = []
    for name in pipeline.transforms:
        transform = pipeline.only(name, always=True)
        _, moved = _predict(model, dataset, split, batch_size, scale, transform)
        pairs = _moved_pairs(labels, clean, moved, pair_threshold, names)
        clean_accuracy = float(np.mean(clean == labels))
        accuracy = float(np.mean(moved == labels))
        row = TransformSafety(
            name, clean_accuracy, accuracy, pairs, False, 1.0 / len(names)
        )
        row.flagged = bool(pairs) or row.kept < min_kept
        rows.append(row)
    return LabelSafetyReport(rows)


def resolve_model(model, dataset, epochs=10, verbose="auto"):
    """A `keras.Model`: as given, loaded from `.keras`, or trained plainly."""
    if not isinstance(model, str):
        return model
    if model.endswith(".keras"):
        from kerasreg import saving

        return saving.load_model(model)
    from kerasreg import training

    return training.train(model, dataset, epochs=epochs, verbose=verbose).model


def _predict(model, dataset, split, batch_size, scale, transform):
    """Labels and predicted classes of a split, optionally transformed."""
    labels, predicted = [], []
    for images, y in dataset.batches(split, batch_size, scale=scale):
        if transform is not None:
            images = transform(images, training=True)
        predicted.append(np.argmax(model.predict_on_batch(images), axis=-1))
        labels.append(np.asarray(y))
    return np.concatenate(labels), np.concatenate(predicted)


def _moved_pairs(labels, clean, moved, threshold, names):
    """`(a, b, share, count)` of the class pairs that reach `threshold`."""
    pairs = []
    for a in np.unique(labels):
        right = (labels == a) & (clean == a)
        if not right.any():
            continue
        targets, counts = np.unique(moved[right & (moved != a)], return_counts=True)
        for b, count in zip(targets, counts):
            share = count / right.sum()
            if share >= threshold:
                pairs.append((names[a], names[b], float(share), int(count)))
    return sorted(pairs, key=lambda pair: -pair[2])
