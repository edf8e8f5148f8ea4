"""`kerasreg train`: train a model on a dataset and save it with its curves."""

from __future__ import annotations

import contextlib

from kerasreg._choices import PRECISIONS, STRATEGIES
from kerasreg.cli._common import (
    _check_model_name,
    _common_data_args,
    _data,
    _print_metrics,
    _UsageError,
)


def add_train(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a model and save model, history, metrics, curves",
        description="Train a reference model or a .keras model with a progress "
        "bar. Writes model.keras, history.json, metrics.json and curves.png "
        "under --out.",
    )
    _common_data_args(parser)
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help="data-parallel training: mirrored (sync, local devices or "
        "logical CPUs), multiworker (sync, --workers processes here, or one "
        "process per machine with TF_CONFIG set) or ps (async, a local "
        "parameter-server cluster)",
    )
    parser.add_argument(
        "--replicas", type=int, help="mirrored replicas (default: 2 on a CPU)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes on this machine, for multiworker and ps "
        "(default: 2 for ps)",
    )
    parser.add_argument(
        "--port",
        type=int,
        help="multiworker: the first of --workers consecutive ports on "
        "127.0.0.1 (default: free ports)",
    )
    parser.add_argument(
        "--ps", type=int, default=1, help="parameter servers (default: 1)"
    )
    parser.add_argument(
        "--recipe",
        help="train with a CIFAR recipe (SGD, cosine lr, weight decay, crop and "
        "flip), e.g. resnet20; --lr and --batch-size are then the recipe's",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="keras.mixed_precision dtype policy (default: float32)",
    )
    return parser


def run_train(args):
    _check_model_name(args.model)
    if args.strategy != "mirrored" and args.replicas is not None:
        raise _UsageError("--replicas needs --strategy mirrored")
    if args.workers is not None and args.strategy not in ("multiworker", "ps"):
        raise _UsageError("--workers needs --strategy multiworker or ps")
    if args.port is not None and args.strategy != "multiworker":
        raise _UsageError("--port needs --strategy multiworker")
    if args.workers is not None and args.workers < 1:
        raise _UsageError(f"--workers must be at least 1, not {args.workers}")
    if args.strategy == "multiworker":
        result = _run_multiworker(args)
    else:
        result = _train(args)
    _print_metrics(result)
    print(f"Saved model.keras, history.json, metrics.json, curves.png to {args.out}")


def _run_multiworker(args):
    """Launch `--workers` local workers, or be one task of a `TF_CONFIG` job."""
    import os

    from kerasreg import distribute

    if os.environ.get("TF_CONFIG"):
        if args.workers is not None:
            raise _UsageError(
                "TF_CONFIG is set, so this process is one task of that cluster; "
                "--workers starts a cluster of its own on this machine. Unset "
                "TF_CONFIG or drop --workers."
            )
        return _train_task(args)
    if args.workers is None:
        raise _UsageError(
            "--strategy multiworker needs --workers N to start N workers on "
            "this machine, or TF_CONFIG set in each machine's environment"
        )
    batch = _global_batch(args)
    if batch % args.workers:
        raise _UsageError(
            f"the global batch of {batch} does not split evenly over "
            f"{args.workers} workers; choose a --batch-size divisible by "
            f"{args.workers}"
        )
    ports = None
    if args.port is not None:
        ports = list(range(args.port, args.port + args.workers))
    try:
        result = distribute.launch(_train_task, args.workers, args=(args,), ports=ports)
    except distribute.WorkerError as error:
        raise _UsageError(str(error)) from None
    # Every worker has removed its own backup by now; the chief may have
    # looked before a slower worker had.
    with contextlib.suppress(OSError):
        os.rmdir(os.path.join(args.out, "backup"))
    return result


def _global_batch(args):
    if args.recipe is None:
        return args.batch_size
    from kerasreg.models import recipes

    return recipes.recipe_for(args.recipe).batch_size


def _train_task(args):
    """One worker of a multi-worker job: every worker trains, the chief saves.

    Each worker keeps a `keras.callbacks.BackupAndRestore` checkpoint under
    `<out>/backup/worker-<i>`, so rerunning the same command after a failure
    resumes from the last finished epoch.
    """
    import json
    import os

    import keras

    from kerasreg import distribute

    strategy = distribute.strategy("multiworker")
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    backup = os.path.join(args.out, "backup", f"{task['type']}-{task['index']}")
    restore = keras.callbacks.BackupAndRestore(backup, double_checkpoint=True)
    chief = distribute.is_chief()
    result = dict(_train(args, strategy, callbacks=[restore], out=chief))
    if chief:  # BackupAndRestore removed its own folder; the others remove theirs
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(backup))
    return result


def _train(args, strategy=None, callbacks=None, out=True):
    from kerasreg import training

    with contextlib.ExitStack() as stack:
        strategy = None
        if args.strategy == "mirrored":
            from kerasreg import distribute

            strategy = distribute.strategy("mirrored", replicas=args.replicas)
        elif args.strategy == "ps":
            from kerasreg import distribute

            cluster = stack.enter_context(
                distribute.LocalCluster(args.workers or 2, args.ps)
            )
            strategy = cluster.strategy()
        return training.train(
            args.model,
            _data(args),
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            out=args.out if out else None,
            strategy=strategy,
            precision=args.precision,
            recipe=args.recipe,
            callbacks=callbacks,
        )


COMMANDS = {
    "train": (add_train, run_train),
}
