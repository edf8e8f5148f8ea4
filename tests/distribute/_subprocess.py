"""Run a job script of this folder in a fresh process and read its RESULT line."""

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
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])
