"""Job scripts of this folder in fresh processes: their RESULT lines, their pids."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(__file__)


def run_result(script, *args, timeout=300):
    """`python tests/distribute/<script> *args`: its last `RESULT {...}` as a dict."""
    process = subprocess.run(
        [sys.executable, os.path.join(HERE, script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [x for x in process.stdout.splitlines() if x.startswith("RESULT ")]
    assert process.returncode == 0 and lines, _traceback(process.stderr)
    return json.loads(lines[-1][len("RESULT ") :])


def _traceback(stderr):
    """The last Python traceback in `stderr`, else its tail.

    A cluster that shuts down after an error floods stderr with gRPC
    "connection refused" lines, which would hide the error itself.
    """
    start = stderr.rfind("Traceback (most recent call last)")
    return stderr[start:][:4000] if start >= 0 else stderr[-3000:]


def alive(pid):
    """Whether process `pid` runs; a zombie, or one reaped since, is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
