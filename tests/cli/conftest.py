"""Shared by the CLI tests: `python -m kerasreg.cli` in a fresh process."""

import os
import subprocess
import sys


def run_cli(*args, cwd=None):
    """`python -m kerasreg.cli *args` on the CPU, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "kerasreg.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
