"""LocalCluster: no server outlives it, on exit or Ctrl-C; a busy port is named."""

import signal
import subprocess
import sys

import pytest

from kerasreg.distribute import LocalCluster

from ._subprocess import alive


def test_no_server_outlives_the_cluster(kill_run):
    pids = kill_run["pids"] + kill_run["pids_after_restart"]
    assert not [pid for pid in pids if alive(pid)]


def test_port_in_use_is_reported():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cluster = LocalCluster(1, 1, ports=[port, port + 1 if port < 65535 else 1025])
        with pytest.raises(OSError, match=f"Port {port} on 127.0.0.1 is in use"):
            cluster.start()
        assert cluster.pids == {}


def test_ctrl_c_leaves_no_orphans(tmp_path):
    # Ctrl-C interrupts a terminal's foreground job, whose SIGINT raises
    # KeyboardInterrupt. The script sets that up itself: it inherits SIGINT
    # from pytest, which ignores it when started as a background job of a
    # shell without job control (`sh -c 'pytest &'`, some CI runners), and
    # an ignored SIGINT would leave it asleep, not interrupted.
    script = tmp_path / "interrupted.py"
    script.write_text(
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from kerasreg.distribute import LocalCluster\n"
        "with LocalCluster(1, 1) as cluster:\n"
        "    print(*cluster.pids.values(), flush=True)\n"
        "    time.sleep(120)\n"
    )
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    )
    try:
        pids = [int(p) for p in process.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        process.send_signal(signal.SIGINT)
        # A safety net: the exit takes well under a second, loaded or not.
        process.wait(timeout=60)
    finally:
        process.kill()
    # Python re-raises an uncaught KeyboardInterrupt as death by SIGINT.
    assert process.returncode == -signal.SIGINT
    assert not [pid for pid in pids if alive(pid)]
