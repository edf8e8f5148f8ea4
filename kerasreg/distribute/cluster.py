"""Run a parameter-server cluster of real `tf.distribute.Server` processes.

`LocalCluster(num_workers, num_ps)` starts one operating-system process per
worker and parameter server on 127.0.0.1, each listening on a free port, so
that `ParameterServerStrategy` and `AsyncTrainer` run exactly as they would
across machines. The calling process is the coordinator ("chief").

No process outlives the cluster: each server runs in its own process group,
is killed with that group on `stop()` / leaving the `with` block (normally,
on an exception or on Ctrl-C), and asks the kernel to kill it when its
parent dies (`PR_SET_PDEATHSIG`), so even a SIGKILLed coordinator leaves no
orphan behind.

`serve()` is what each server process runs; on a real cluster, run
`python -m kerasreg.distribute.cluster` with `TF_CONFIG` set on every worker
and parameter-server machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

__all__ = ["LocalCluster", "serve", "free_ports"]


def free_ports(count):
    """Return `count` distinct TCP ports that are free on 127.0.0.1."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    return ports


def _check_port_free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise OSError(
                f"Port {port} on 127.0.0.1 is in use. Choose other ports, or "
                "let kerasreg pick free ones."
            ) from None


def _listening(port):
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LocalCluster:
    """Worker and parameter-server processes on 127.0.0.1, for PS training.

    Args:
        num_workers: number of worker processes, `>= 1`. Defaults to `2`.
        num_ps: number of parameter-server processes, `>= 1`. Defaults to
            `1`.
        ports: explicit ports, workers first then parameter servers; free
            ports are picked when `None`. Defaults to `None`.
        start_timeout: seconds to wait for every server to listen. Defaults
            to `120`.

    Raises:
        ValueError: on counts below 1 or a wrong number of ports.
        OSError: if a port is in use or a server fails to start.

    Example:

    >>> with LocalCluster(num_workers=2, num_ps=1) as cluster:  # doctest: +SKIP
    ...     strategy = cluster.strategy()
    ...     with strategy.scope():
    ...         model = build_model()
    ...     AsyncTrainer(model, strategy).fit(x, y, epochs=2)
    """

    def __init__(self, num_workers=2, num_ps=1, *, ports=None, start_timeout=120):
        for name, value in (("num_workers", num_workers), ("num_ps", num_ps)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected {name} >= 1. Received: {name}={value!r}")
        if ports is not None and len(ports) != num_workers + num_ps:
            raise ValueError(
                f"Expected {num_workers + num_ps} ports (workers then ps). "
                f"Received: ports={ports!r}"
            )
        self.num_workers = num_workers
        self.num_ps = num_ps
        self.start_timeout = start_timeout
        self._ports = list(ports) if ports is not None else None
        self._processes = {}
        self._logdir = None

    # -- lifecycle ------------------------------------------------------
    def start(self):
        """Start every server process and wait until all of them listen."""
        if self._processes:
            raise RuntimeError("This LocalCluster is already running.")
        if self._ports is None:
            ports = free_ports(self.num_workers + self.num_ps)
        else:
            ports = self._ports
            for port in ports:
                _check_port_free(port)
        self.cluster_spec = {
            "worker": [f"127.0.0.1:{p}" for p in ports[: self.num_workers]],
            "ps": [f"127.0.0.1:{p}" for p in ports[self.num_workers :]],
        }
        self._logdir = tempfile.mkdtemp(prefix="kerasreg-cluster-")
        try:
            for job, addresses in self.cluster_spec.items():
                for index in range(len(addresses)):
                    self._launch(job, index)
            for job, addresses in self.cluster_spec.items():
                for index in range(len(addresses)):
                    self._wait_listening(job, index)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Kill every server process (and its process group); idempotent."""
        for key in list(self._processes):
            self._kill(key)
        if self._logdir is not None:
            shutil.rmtree(self._logdir, ignore_errors=True)
            self._logdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
        return False

    def __del__(self):
        with contextlib.suppress(Exception):
            self.stop()

    # -- for the coordinator -------------------------------------------
    def cluster_resolver(self):
        """A `SimpleClusterResolver` for `ParameterServerStrategy`."""
        import tensorflow as tf

        return tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(self.cluster_spec), rpc_layer="grpc"
        )

    def strategy(self):
        """A `tf.distribute.ParameterServerStrategy` over this cluster."""
        from kerasreg.distribute.strategies import strategy

        return strategy("ps", cluster_resolver=self.cluster_resolver())

    def tf_config(self, job, index):
        """The `TF_CONFIG` JSON text of task `job:index` of this cluster."""
        return json.dumps(
            {"cluster": self.cluster_spec, "task": {"type": job, "index": index}}
        )

    @property
    def pids(self):
        """Process ids of the live servers, by `(job, index)`."""
        return {k: p.pid for k, p in self._processes.items() if p.poll() is None}

    # -- fault injection -----------------------------------------------
    def kill_worker(self, index):
        """SIGKILL worker `index`, as a preempted machine would die."""
        self._kill(("worker", index))

    def kill_ps(self, index):
        """SIGKILL parameter server `index`; its variables are lost with it."""
        self._kill(("ps", index))

    def restart_worker(self, index, wait=True):
        """Start worker `index` again on its old port.

        With `wait=False` it returns at once; the coordinator starts using
        the worker again when it listens.
        """
        self._launch("worker", index)
        if wait:
            self._wait_listening("worker", index)

    # -- internals ------------------------------------------------------
    def _launch(self, job, index):
        env = dict(os.environ)
        env["TF_CONFIG"] = self.tf_config(job, index)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["KERASREG_PARENT_PID"] = str(os.getpid())
        env["CUDA_VISIBLE_DEVICES"] = env.get("CUDA_VISIBLE_DEVICES", "")
        log = open(os.path.join(self._logdir, f"{job}-{index}.log"), "ab")
        with log:
            self._processes[(job, index)] = subprocess.Popen(
                [sys.executable, "-m", "kerasreg.distribute.cluster"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_listening(self, job, index):
        process = self._processes[(job, index)]
        port = int(self.cluster_spec[job][index].rpartition(":")[2])
        deadline = time.monotonic() + self.start_timeout
        while not _listening(port):
            if process.poll() is not None:
                raise OSError(
                    f"The {job}:{index} server on port {port} exited with code "
                    f"{process.returncode}: {self._log_tail(job, index)}"
                )
            if time.monotonic() > deadline:
                raise OSError(
                    f"The {job}:{index} server did not listen on port {port} "
                    f"within start_timeout={self.start_timeout} s."
                )
            time.sleep(0.1)

    def _log_tail(self, job, index):
        path = os.path.join(self._logdir, f"{job}-{index}.log")
        with open(path, errors="replace") as handle:
            lines = [line.strip() for line in handle if line.strip()]
        return lines[-1] if lines else "(no output)"

    def _kill(self, key):
        process = self._processes.pop(key, None)
        if process is not None:
            _kill_group(process)


def _kill_group(process):
    """SIGKILL a process started with `start_new_session=True`, and its group."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _die_with_parent():
    """Ask Linux to SIGKILL this process when its parent dies."""
    parent = int(os.environ.get("KERASREG_PARENT_PID", "0"))
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(
            1, signal.SIGKILL
        )  # 1 = PR_SET_PDEATHSIG
    if parent and os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def serve():
    """Run this process's `tf.distribute.Server` from `TF_CONFIG`, forever.

    Every worker and parameter-server task of a parameter-server cluster
    runs this (`python -m kerasreg.distribute.cluster`); the chief runs the
    training script with `AsyncTrainer`.

    Raises:
        ValueError: on a missing or malformed `TF_CONFIG`, or a task that is
            not a worker or ps.
    """
    from kerasreg.distribute.strategies import read_tf_config

    config = read_tf_config()
    task = config.get("task") or {}
    if task.get("type") not in ("worker", "ps"):
        raise ValueError(
            "serve() runs worker and ps tasks only; TF_CONFIG task is "
            f"{task!r}. Run the training script itself on the chief."
        )
    import tensorflow as tf

    server = tf.distribute.Server(
        tf.train.ClusterSpec(config["cluster"]),
        job_name=task["type"],
        task_index=task.get("index", 0),
        protocol="grpc",
        start=True,
    )
    server.join()


if __name__ == "__main__":
    _die_with_parent()
    serve()
