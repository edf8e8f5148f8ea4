"""Shared by the distribute tests: one parameter-server run, in a fresh process.

Connecting to a cluster changes TensorFlow's process-wide context, which
must not leak into the rest of the test session, so tests/distribute/
ps_job.py runs it in a subprocess.
"""

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="session")
def kill_run():
    """ps_job.py's "kill" scenario, run once: its RESULT line as a dict."""
    process = subprocess.run(
        [sys.executable, os.path.join(HERE, "ps_job.py"), "kill"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [x for x in process.stdout.splitlines() if x.startswith("RESULT ")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])
