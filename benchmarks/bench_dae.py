"""Denoising autoencoder on MNIST: PSNR gain on noisy test images, and a trunk.

Trains `kerasreg.models.denoising_autoencoder((784,), hidden=(H,),
noise=--noise, amount=--amount)` on the 60,000 MNIST training images
(their labels unused) with binary cross-entropy against the clean image,
--validation of them held out for the validation loss. Then corrupts the
10,000 test images with Gaussian noise of standard deviation --sigma
(seeded, not clipped) and measures PSNR against the clean images:

    PSNR = 10 log10(1 / MSE), images in [0, 1]

for the noisy input and for its reconstruction. The target is a gain of
at least 6 dB. At sigma = 0.5 the noisy input's PSNR is about 6 dB.

The encoder (784-H, ReLU) is saved as `<out>/encoder.keras`:
`bench_pseudo_label.py --encoder <out>/encoder.keras` starts both of its
classifiers from it (Lee 2013's DAE pre-training). A figure of noisy,
reconstructed and clean test images goes to --plot.

    python benchmarks/bench_dae.py            # about 5 minutes on 2 cores
    python benchmarks/bench_dae.py --epochs 1 --hidden 64 --out /tmp/dae  # smoke

Prints one JSON line with `psnr_noisy`, `psnr_reconstructed`, `gain_db`
and `target_met = gain_db >= 6`; the trained model is reused from --out
when its settings match.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from bench_pseudo_label import DEFAULT_DATA, load_mnist  # noqa: E402

from kerasreg import report, saving  # noqa: E402
from kerasreg.models import denoising_autoencoder  # noqa: E402

TARGET_DB = 6.0
ROOT = os.path.join(os.path.dirname(__file__), "..")
TRAINING = ("hidden", "noise", "amount", "epochs", "batch_size", "seed", "validation")


def psnr(images, clean):
    """Mean-squared-error PSNR in dB of `images` against `clean`, both in [0, 1]."""
    return float(10 * np.log10(1.0 / np.mean((images - clean) ** 2)))


def trained_dae(args, x_train):
    """The DAE of these settings: loaded from `args.out`, or trained there."""
    settings = {k: getattr(args, k) for k in TRAINING}
    meta = os.path.join(args.out, "settings.json")
    path = os.path.join(args.out, "dae.keras")
    if os.path.exists(path) and os.path.exists(meta):
        with open(meta) as f:
            if json.load(f) == settings:
                return saving.load_model(path), None
    keras.utils.set_random_seed(args.seed)
    dae = denoising_autoencoder(
        (784,), (args.hidden,), args.noise, args.amount, seed=args.seed
    )
    dae.compile(keras.optimizers.Adam(args.learning_rate), "binary_crossentropy")
    fit, held = x_train[args.validation :], x_train[: args.validation]
    history = dae.fit(
        fit,
        fit,
        validation_data=(held, held),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=2,
    )
    os.makedirs(args.out, exist_ok=True)
    dae.save(path)
    dae.get_layer("encoder").save(os.path.join(args.out, "encoder.keras"))
    with open(meta, "w") as f:
        json.dump(settings, f)
    return dae, history.history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--hidden", type=int, default=1000)
    parser.add_argument("--noise", default="gaussian")
    parser.add_argument("--amount", type=float, default=0.5)
    parser.add_argument("--sigma", type=float, default=0.5, help="test noise")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--validation", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "dae"))
    parser.add_argument(
        "--plot", default=os.path.join(ROOT, "docs", "images", "dae_mnist.png")
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    x_train, _, x_test, _ = load_mnist(args.data)
    dae, history = trained_dae(args, x_train)
    rng = np.random.default_rng(args.seed + 1)
    noisy = x_test + rng.normal(0.0, args.sigma, x_test.shape).astype("float32")
    reconstructed = dae.predict(noisy, batch_size=1000, verbose=0)
    clipped = np.clip(noisy, 0.0, 1.0)
    result = {
        "psnr_noisy": round(psnr(noisy, x_test), 2),
        "psnr_reconstructed": round(psnr(reconstructed, x_test), 2),
        # for insight: clipping the noisy input to [0, 1] alone
        "psnr_noisy_clipped": round(psnr(clipped, x_test), 2),
        "psnr_reconstructed_from_clipped": round(
            psnr(dae.predict(clipped, batch_size=1000, verbose=0), x_test), 2
        ),
    }
    result["gain_db"] = round(result["psnr_reconstructed"] - result["psnr_noisy"], 2)
    result.update(
        target_met=result["gain_db"] >= TARGET_DB,
        target=f"gain_db >= {TARGET_DB}",
        val_loss=history and [round(v, 4) for v in history["val_loss"]],
        settings={k: v for k, v in vars(args).items() if k != "data"},
        seconds=round(time.perf_counter() - start, 1),
    )
    if args.plot:
        rows = {"noisy": noisy, "reconstructed": reconstructed, "clean": x_test}
        report.plot_images(
            rows,
            args.plot,
            columns=10,
            shape=(28, 28),
            title=f"Denoising autoencoder, MNIST test images, Gaussian noise "
            f"sigma={args.sigma}",
        )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
