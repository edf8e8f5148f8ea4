"""Distributed coarse-to-fine search: one chief and two workers on 127.0.0.1.

keras-tuner's own distributed mode runs the same script in several processes.
Three environment variables tell each process its part:

- `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`: where the chief serves
  the oracle (gRPC);
- `KERASTUNER_TUNER_ID`: `chief` for the process that serves the oracle,
  any other unique name (`tuner0`, `tuner1`) for a worker that runs trials.

`kerasreg.tuning.tune` reads them: on the chief it serves trials, then
retrains the best and writes the report; on a worker it trains trials and
returns `None`. The coarse-to-fine oracle starts a round only once every
trial of the previous round has ended, so workers wait at round boundaries.

Run it (launches the three processes and stops them on exit or error):

    python examples/distributed_tuning.py --out /tmp/dist_tune

On several machines, run the same `--role` command on each with the same
`KERASTUNER_*` variables (the chief's address) and a shared `--out`.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

WORKERS = ("tuner0", "tuner1")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--model", default="cnn-tiny")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--final-epochs", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600, help="seconds")
    parser.add_argument("--role", help=argparse.SUPPRESS)  # set by the launcher
    return parser.parse_args(argv)


def run_role(args):
    """One process of the search; its part comes from KERASTUNER_TUNER_ID."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from kerasreg import tuning

    result = tuning.tune(
        args.model,
        "digits",
        tuner="coarse-to-fine",
        max_trials=args.trials,
        rounds=args.rounds,
        top_k=args.top_k,
        epochs=args.epochs,
        final_epochs=args.final_epochs,
        directory=os.path.join(args.out, "search"),
        project_name="distributed",
        out=args.out if args.role == "chief" else None,
    )
    if result is not None:  # the chief
        print(result.best_lines(5))
        print(f"Retrained best: val accuracy {result.val_accuracy:.4f}")
        trials = result.tuner.oracle.trials.values()
        done = sum(t.status == "COMPLETED" for t in trials)
        print(f"chief: {done} trials completed")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(args, argv):
    """Start the chief and the workers, wait for all, stop them on failure."""
    port = str(free_port())
    base = [sys.executable, os.path.abspath(__file__), *argv]
    processes = {}
    try:
        for role in ("chief", *WORKERS):
            env = dict(
                os.environ,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=port,
                KERASTUNER_TUNER_ID=role,
            )
            processes[role] = subprocess.Popen(
                [*base, "--role", role],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            if role == "chief":
                time.sleep(1.0)  # let the chief clear the project directory first
        deadline = time.monotonic() + args.timeout
        outputs = {}
        for role, process in processes.items():
            remaining = max(deadline - time.monotonic(), 1)
            outputs[role], _ = process.communicate(timeout=remaining)
        for role, process in processes.items():
            text = outputs[role]
            lines = [line for line in text.splitlines() if _worth_showing(line)]
            print(f"--- {role} (exit {process.returncode}) ---")
            print("\n".join(lines))
        failed = [role for role, p in processes.items() if p.returncode != 0]
        if failed:
            raise RuntimeError(f"processes {failed} failed; see their output above")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _worth_showing(line):
    return not line.startswith(("I0000", "W0000", "E0000", "WARNING: All", "To enable"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.role:
        run_role(args)
    else:
        launch(args, argv)


if __name__ == "__main__":
    main()
