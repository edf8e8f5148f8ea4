"""`kerasreg augment-check`: which augmentations change the labels of a dataset."""

from __future__ import annotations

from kerasreg.cli._common import _add_image_size, _check_model_name, _data


def add_augment_check(subparsers):
    parser = subparsers.add_parser(
        "augment-check",
        help="check which augmentations change labels (6 vs 9)",
        description="Apply each transform alone to the test images and report "
        "the accuracy drop and the class pairs predictions move between, with "
        "a model trained without augmentation (a .keras file, or a reference "
        "name trained plainly first). Flagged transforms change labels.",
    )
    parser.add_argument("--data", default="digits", help="(default: digits)")
    _add_image_size(parser)
    parser.add_argument(
        "--model",
        default="cnn",
        help="a .keras file trained without augmentation, or a reference model "
        "name to train plainly for --epochs (default: cnn)",
    )
    parser.add_argument(
        "--transforms",
        help="comma-separated transforms (default: all of them)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="(default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument("--out", help="write label_safety.json here")
    return parser


def run_augment_check(args):
    import os

    from kerasreg import _io, augment, data, label_safety

    _check_model_name(args.model)
    if args.out is not None:
        _io.check_writable(args.out)
    names = args.transforms.split(",") if args.transforms else augment.TRANSFORMS
    dataset = data.load(_data(args))
    model = label_safety.resolve_model(args.model, dataset, args.epochs, "auto")
    pipeline = augment.pipeline(names, seed=args.seed, data=dataset, model=model)
    report = label_safety.check_label_safety(pipeline, dataset, model)
    print(report.table())
    if args.out is not None:
        path = os.path.join(args.out, "label_safety.json")
        _io.write_json(path, report.to_dict())
        print(f"Saved {path}")


COMMANDS = {
    "augment-check": (add_augment_check, run_augment_check),
}
