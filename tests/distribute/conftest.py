"""Shared by the distribute tests: one parameter-server run, in a fresh process.

Connecting to a cluster changes TensorFlow's process-wide context, which
must not leak into the rest of the test session, so tests/distribute/
ps_job.py runs it in a subprocess.
"""

import pytest

from ._subprocess import run_result


@pytest.fixture(scope="session")
def kill_run():
    """ps_job.py's "kill" scenario, run once: its RESULT line as a dict."""
    return run_result("ps_job.py", "kill", timeout=240)
