"""`kerasreg tune`: hyperparameter search on keras-tuner."""

from __future__ import annotations

from kerasreg._choices import TUNERS
from kerasreg.cli._common import _add_image_size, _check_model_name, _data, _UsageError


def add_tune(subparsers):
    parser = subparsers.add_parser(
        "tune",
        help="search lr and weight decay (the search notes), or a size knob's Pareto front",
        description="Search hyperparameters on a validation split of the "
        "training set, print one line per trial and the search notes' Best-k lines, "
        "retrain the best for longer. Writes best.txt, trials.csv, search.png, "
        "model.keras and result.json under --out. With --pareto, search a size "
        "knob and write the accuracy-vs-params front (front.txt, pareto.csv, "
        "pareto.png) instead.",
    )
    parser.add_argument("--data", default="digits", help="(default: digits)")
    _add_image_size(parser)
    parser.add_argument("--model", default="cnn", help="reference model (default: cnn)")
    parser.add_argument(
        "--tuner",
        default="coarse-to-fine",
        help=f"{', '.join(TUNERS)} (default: coarse-to-fine)",
    )
    parser.add_argument("--trials", type=int, default=30, help="budget (default: 30)")
    parser.add_argument("--rounds", type=int, default=3, help="(default: 3)")
    parser.add_argument("--top-k", type=int, default=3, help="(default: 3)")
    parser.add_argument(
        "--margin",
        type=float,
        default=0.2,
        help="range padding fraction (default: 0.2)",
    )
    parser.add_argument("--epochs", type=int, default=3, help="per trial (default: 3)")
    parser.add_argument(
        "--final-epochs", type=int, default=None, help="retraining (default: 3x epochs)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="(default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument(
        "--resume", action="store_true", help="resume an interrupted search in --out"
    )
    parser.add_argument(
        "--pareto",
        choices=("width", "slimming_l1"),
        help="search this size knob for the accuracy-vs-params Pareto front",
    )
    parser.add_argument("--out", required=True, help="output directory")
    return parser


def run_tune(args):
    from kerasreg import tuning

    # A .keras model has no width to search: only its slimming λ.
    _check_model_name(args.model, files=args.pareto == "slimming_l1")
    if args.pareto:
        result = tuning.pareto_search(
            args.model,
            _data(args),
            knob=args.pareto,
            max_trials=args.trials,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            overwrite=not args.resume,
            out=args.out,
        )
        print(f"Saved front.txt, pareto.csv, pareto.png to {args.out}")
        return
    if args.tuner not in TUNERS:
        raise _UsageError(
            f"unknown tuner {args.tuner!r}; choose one of {', '.join(TUNERS)}"
        )
    result = tuning.tune(
        args.model,
        _data(args),
        tuner=args.tuner,
        max_trials=args.trials,
        rounds=args.rounds,
        top_k=args.top_k,
        margin=args.margin,
        epochs=args.epochs,
        final_epochs=args.final_epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        overwrite=not args.resume,
        out=args.out,
    )
    print(result.best_lines(5))
    print(f"Retrained best: val accuracy {result.val_accuracy:.4f}")
    print(f"Saved best.txt, trials.csv, search.png, model.keras to {args.out}")


COMMANDS = {
    "tune": (add_tune, run_tune),
}
