"""Augment digits through the input pipeline, after checking which transforms are safe.

Run: python examples/augment.py

A model trained without augmentation shows that a half-turn changes a "6"
into a "9" and a vertical flip scrambles digits, so only the safe
transforms go into training; the refused one is named in the error.
"""

import kerasreg
from kerasreg import augment, label_safety, training

digits = kerasreg.load("digits")
plain = training.train("cnn", digits, epochs=15, verbose=0)
print(f"plain cnn: {plain['test_accuracy']:.2%}")

candidates = ["scale", "rotate", "elastic", "rotate180", "flip_vertical"]
report = label_safety.check_label_safety(
    augment.pipeline(candidates, data=digits, model=plain.model), digits, plain.model
)
print(report.table())

safe = [name for name in candidates if name not in report.flagged]
pipeline = augment.pipeline(safe, data=digits, model=plain.model, seed=0)
model = training.compile_model(kerasreg.models.build("cnn", (8, 8, 1), 10))
training.fit(model, digits, epochs=15, augment=pipeline)
print(f"cnn with {', '.join(safe)}: {training.evaluate(model, digits):.2%}")

try:
    augment.pipeline(["rotate180"], data=digits, model=plain.model, check=True)
except ValueError as error:
    print(f"refused: {error}")
