"""How far a QAT model and its int8 file can agree: Keras against two int8 back ends.

`bench_qat.py` reports the top-1 agreement of each Keras QAT model with its
int8 file run on XNNPACK (target: 99.5% of the test images). This script
asks what that figure should be compared with. For each cached QAT folder
(`qat.keras` and `model_int8.tflite`, written by `bench_qat.py` under
`runs/qat/`) and all 9,000 test images it runs the file on XNNPACK and on
LiteRT's builtin reference kernels (`TFLiteModel(kernels="builtin")`) and
reports:

- top-1 agreement and the largest logit difference (in output steps) for
  Keras against XNNPACK, Keras against builtin, and XNNPACK against builtin:
  the last is two implementations of the same integer graph, the ceiling
  a float simulation can be expected to reach;
- the share of images whose two largest Keras logits are within one output
  step (a one-step difference anywhere can flip them), and the agreement
  with XNNPACK on the other images.

Nothing is trained; each folder takes about a minute.

    python benchmarks/bench_qat_agreement.py [FOLDER ...]

Default folders: every `runs/qat/*/qat*` holding both files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cifar  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasreg  # noqa: E402
from kerasreg import data as data_lib  # noqa: E402
from kerasreg.compression.export import TFLiteModel  # noqa: E402


def logits(folder, dataset):
    """Keras, XNNPACK and builtin logits on the test images, and the labels."""
    model = keras.models.load_model(folder / "qat.keras")
    files = {
        kernels: TFLiteModel(folder / "model_int8.tflite", kernels=kernels)
        for kernels in ("xnnpack", "builtin")
    }
    scale = data_lib.input_scale(model, dataset)
    out = {"keras": [], "xnnpack": [], "builtin": [], "labels": []}
    for images, labels in dataset.batches("test", 256, scale=scale):
        images = images.numpy()
        out["keras"].append(model.predict(images, verbose=0))
        for kernels, file in files.items():
            out[kernels].append(file.predict(images, batch_size=256))
        out["labels"].append(labels.numpy())
    step = files["xnnpack"].output_quantization[0]
    return {k: np.concatenate(v) for k, v in out.items()}, step


def compare(a, b, step):
    """Top-1 agreement and the largest difference in output steps."""
    return {
        "agreement": float(np.mean(a.argmax(-1) == b.argmax(-1))),
        "max_steps": float(np.abs(a - b).max() / step),
    }


def report(folder, dataset):
    """The agreement row of one QAT folder."""
    out, step = logits(folder, dataset)
    top2 = np.sort(out["keras"], axis=-1)[:, -2:]
    margin = (top2[:, 1] - top2[:, 0]) / step
    clear = margin > 1.0 + 1e-6
    same = out["keras"].argmax(-1) == out["xnnpack"].argmax(-1)
    return {
        "folder": str(folder),
        "images": int(len(margin)),
        "accuracy": {
            k: float(np.mean(out[k].argmax(-1) == out["labels"]))
            for k in ("keras", "xnnpack", "builtin")
        },
        "keras_vs_xnnpack": compare(out["keras"], out["xnnpack"], step),
        "keras_vs_builtin": compare(out["keras"], out["builtin"], step),
        "xnnpack_vs_builtin": compare(out["xnnpack"], out["builtin"], step),
        "near_tie_share": float(np.mean(~clear)),
        "agreement_beyond_one_step": float(np.mean(same[clear])),
        "disagreements_within_one_step": int(np.sum(~same & ~clear)),
        "disagreements": int(np.sum(~same)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    cifar.add_cifar_args(parser)
    args = parser.parse_args(argv)
    folders = args.folders or sorted(
        f
        for f in (cifar.RUNS / "qat").glob("*/qat*")
        if (f / "qat.keras").exists() and (f / "model_int8.tflite").exists()
    )
    if not folders:
        parser.error("no QAT folder given and none under runs/qat/")
    kerasreg.saving.register_all()
    dataset = cifar.load_cifar(args)
    rows = []
    for folder in folders:
        rows.append(report(folder, dataset))
        print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    main()
