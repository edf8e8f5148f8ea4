"""Run a training function as a multi-worker job on this machine.

`launch(fn, workers=N)` starts N worker processes on 127.0.0.1, gives each
its own `TF_CONFIG` (a cluster of N workers on free ports, and its task
index), runs `fn(*args, **kwargs)` in every one of them and returns what
worker 0, the chief, returned. Inside `fn`,
`kerasreg.distribute.strategy("multiworker")` reads that `TF_CONFIG`, so
the same function runs unchanged on real machines, where each one is given
its `TF_CONFIG` by hand or by a launcher (see docs/distribute.md).

The processes are handled as `LocalCluster` handles its servers: each
runs in its own process group, asks the kernel to kill it when the
launching process dies, and is killed with its group when `launch` returns,
raises, or is interrupted (Ctrl-C). When one worker fails (an exception,
or killed by a signal), the others are stopped at once and `launch` raises
`WorkerError` naming it; the survivors would otherwise wait in an
all-reduce until the coordination service's heartbeat timeout
(`kerasreg.distribute.HEARTBEAT_TIMEOUT`) aborts it.

Worker 0 writes to this process's stdout and stderr (its progress bar is
the job's); the others write to log files in a temporary folder, removed
after a job that succeeds and kept after one that fails: a `WorkerError`
gives the failed worker's log path.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from kerasreg.distribute.cluster import (
    _check_port_free,
    _die_with_parent,
    _kill_group,
    free_ports,
)

__all__ = ["launch", "WorkerError"]


class WorkerError(RuntimeError):
    """A worker of a `launch` job failed; the other workers were stopped."""


def launch(fn, workers=2, *, args=(), kwargs=None, ports=None):
    """Run `fn(*args, **kwargs)` as a multi-worker job of `workers` processes.

    Args:
        fn: a function defined at the top level of a module (or of the
            script being run), so that every worker can import it; inside,
            build the strategy with `kerasreg.distribute.strategy
            ("multiworker")` first, and write artefacts only where
            `kerasreg.distribute.is_chief()`.
        workers: number of worker processes, `>= 1`. Defaults to `2`.
        args: positional arguments of `fn`; they must pickle.
        kwargs: keyword arguments of `fn`; they must pickle.
        ports: one port per worker on 127.0.0.1; free ports are picked when
            `None`. Defaults to `None`.

    Returns:
        What `fn` returned on worker 0 (the chief).

    Raises:
        ValueError: before any worker starts, for `workers < 1`, a wrong
            number of ports, a function the workers cannot import, or
            arguments that do not pickle.
        OSError: before any worker starts, for a port in use.
        WorkerError: when a worker raises or dies; the message names it.

    Example:

    >>> def train_fn(epochs):  # at the top level of train_job.py
    ...     strategy = kerasreg.distribute.strategy("multiworker")
    ...     ...
    >>> launch(train_fn, workers=2, args=(3,))  # doctest: +SKIP
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"Expected workers >= 1. Received: workers={workers!r}")
    if ports is not None and len(ports) != workers:
        raise ValueError(
            f"Expected {workers} ports, one per worker. Received: ports={ports!r}"
        )
    spec = _spec(fn, args, kwargs or {})
    for port in ports or ():
        _check_port_free(port)
    ports = list(ports) if ports is not None else free_ports(workers)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workdir = tempfile.mkdtemp(prefix="kerasreg-launch-")
    processes = []
    try:
        spec_path = os.path.join(workdir, "spec.pkl")
        with open(spec_path, "wb") as handle:
            handle.write(spec)
        for index in range(workers):
            processes.append(_start(cluster, index, spec_path, workdir))
        _wait(processes, workdir)
        with open(os.path.join(workdir, "result-0.pkl"), "rb") as handle:
            result = pickle.load(handle)
    finally:
        for process in processes:
            _kill_group(process)
    shutil.rmtree(workdir, ignore_errors=True)  # kept after a failure: its logs
    return result


def _spec(fn, args, kwargs):
    """The pickled job: where `fn` lives, its arguments, the import path."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if not callable(fn) or module is None or "<" in qualname:
        raise ValueError(
            "launch needs a function defined at the top level of a module, so "
            f"that each worker can import it. Received: fn={fn!r}"
        )
    main_file = None
    if module == "__main__":
        main_file = getattr(sys.modules["__main__"], "__file__", None)
        if main_file is None:
            raise ValueError(
                f"The workers cannot import {qualname}: it is defined in an "
                "interactive session. Put it in a .py file and import it."
            )
        main_file = os.path.abspath(main_file)
    else:
        top = module.partition(".")[0]
        if top not in sys.builtin_module_names and not _findable(top):
            raise ValueError(
                f"The workers cannot import module {module!r} (of {qualname}): "
                "it is not on sys.path. Install it, or add its folder to "
                "PYTHONPATH."
            )
    job = {
        "module": module,
        "qualname": qualname,
        "main_file": main_file,
        "sys_path": [p for p in sys.path if p],
        "args": args,
        "kwargs": kwargs,
    }
    try:
        return pickle.dumps(job)
    except Exception as error:  # pickling raises many types
        raise ValueError(
            f"The arguments of {qualname} must pickle, to reach the workers: "
            f"{type(error).__name__}: {error}"
        ) from None


def _findable(top):
    """Whether a fresh interpreter finds module `top` (ignoring `sys.modules`)."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None and find_spec(top, None) is not None:
            return True
    return False


def _start(cluster, index, spec_path, workdir):
    env = dict(os.environ)
    env["TF_CONFIG"] = json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}
    )
    env["KERASREG_PARENT_PID"] = str(os.getpid())
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, "-m", "kerasreg.distribute.launcher", spec_path]
    command.append(str(index))
    if index == 0:
        return subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
    with open(os.path.join(workdir, f"worker-{index}.log"), "ab") as log:
        return subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait(processes, workdir):
    """Wait for every worker; on the first failure, raise `WorkerError`."""
    start = time.monotonic()
    while True:
        codes = [process.poll() for process in processes]
        for index, code in enumerate(codes):
            if code not in (None, 0):
                raise WorkerError(
                    _failure(index, processes, code, workdir, time.monotonic() - start)
                )
        if all(code == 0 for code in codes):
            return
        time.sleep(0.05)


def _failure(index, processes, code, workdir, seconds):
    who = f"Worker {index} of {len(processes)} (pid {processes[index].pid})"
    if code < 0:
        what = f"was killed by {signal.Signals(-code).name}"
    else:
        what = f"exited with code {code}"
    reason = _read_line(os.path.join(workdir, f"error-{index}.txt"))
    log = os.path.join(workdir, f"worker-{index}.log")
    if reason is None and index and code > 0:
        reason = _read_line(log, last=True)
    detail = f": {reason}" if reason else ""
    if index:
        detail += f" (its log: {log})"
    others = len(processes) - 1
    return (
        f"{who} {what} after {seconds:.0f} s{detail}. Stopped the other {others} "
        f"worker(s). Rerun to resume from the job's last BackupAndRestore "
        "checkpoint, if it saves one."
    )


def _read_line(path, last=False):
    with contextlib.suppress(OSError):
        with open(path, errors="replace") as handle:
            lines = [line.strip() for line in handle if line.strip()]
        if lines:
            return lines[-1] if last else lines[0]
    return None


def _run_worker(spec_path, index):
    """A worker's life: import `fn`, call it, pickle the chief's result."""
    with open(spec_path, "rb") as handle:
        job = pickle.load(handle)
    workdir = os.path.dirname(spec_path)
    sys.path[:] = job["sys_path"] + [p for p in sys.path if p not in job["sys_path"]]
    try:
        if job["main_file"] is not None:
            import runpy

            namespace = runpy.run_path(job["main_file"], run_name="__kerasreg_job__")
            fn = namespace[job["qualname"].partition(".")[0]]
        else:
            import importlib

            fn = importlib.import_module(job["module"])
        for part in job["qualname"].split(".")[int(job["main_file"] is not None) :]:
            fn = getattr(fn, part)
        result = fn(*job["args"], **job["kwargs"])
    except BaseException as error:
        traceback.print_exc()
        line = f"{type(error).__name__}: {error}".splitlines()[0]
        with open(os.path.join(workdir, f"error-{index}.txt"), "w") as handle:
            handle.write(line + "\n")
        sys.stderr.flush()
        os._exit(1)
    if index == 0:
        path = os.path.join(workdir, "result-0.pkl")
        with open(path + ".tmp", "wb") as handle:
            pickle.dump(result, handle)
        os.replace(path + ".tmp", path)
    sys.stdout.flush()
    sys.stderr.flush()
    # TensorFlow's collective threads can hold a clean interpreter exit.
    os._exit(0)


if __name__ == "__main__":
    _die_with_parent()
    _run_worker(sys.argv[1], int(sys.argv[2]))
