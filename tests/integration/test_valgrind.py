"""Leaks (issue 9): SIGTERM with 1,000 live connections under valgrind.
lwipd resets every connection, exits 0, and valgrind finds no block
definitely lost. The connections are kernel clients in the namespace,
accepted by a lwipd listener: the quickest way to a thousand.

Skipped in the sanitizer builds (valgrind cannot run an ASan or TSan
binary) and where valgrind is missing (tests/setup.sh installs it)."""

import os
import shutil
import signal

import pytest

from helpers import LWIP_IP, PREFIX, Daemon, kill_process, wait_for
from kflood import KFlood

CONNECTIONS = 1000
PORT = 8000
LEAK_STATUS = 99    # valgrind's exit status when it found a definite leak

pytestmark = [
    pytest.mark.skipif(os.environ.get("LWIPD_SANITIZED") == "1",
                       reason="valgrind cannot run a sanitizer build"),
    pytest.mark.skipif(shutil.which("valgrind") is None,
                       reason="valgrind is not installed (tests/setup.sh installs it)"),
]


def established_to_lwip(ns):
    return sum(1 for s in ns.ss() if s["state"] == "ESTAB" and s["peer"] == "%s:%d" % (LWIP_IP, PORT))


def test_sigterm_with_1000_connections_loses_no_memory(lwipd_bin, netns, tmp_path):
    log = tmp_path / "valgrind.log"
    args = ["--leak-check=full", "--errors-for-leak-kinds=definite",
            "--error-exitcode=%d" % LEAK_STATUS, "--log-file=%s" % log, lwipd_bin,
            "--netns", netns.name, "--tap", "tap0", "--address", "%s/%d" % (LWIP_IP, PREFIX),
            "--listen", "127.0.0.1:0"]
    d = Daemon(shutil.which("valgrind"), args, str(tmp_path / "lwipd.stderr"))
    flood = None
    d.start()
    try:
        d.wait_listening(timeout=120)
        d.wait_healthy(timeout=60)
        lst = d.listen(PORT, backlog=1024)
        flood = KFlood(netns, LWIP_IP, PORT, CONNECTIONS, str(tmp_path / "kflood.out"))
        assert flood.connected == CONNECTIONS
        wait_for(lambda: d.listener(lst["id"])["accepted"] == CONNECTIONS,
                 lambda: "%d accepted; now %s" % (CONNECTIONS, d.listener(lst["id"])), timeout=120)
        assert established_to_lwip(netns) == CONNECTIONS

        rc = d.terminate(signal.SIGTERM, timeout=120)
        report = log.read_text()
        assert rc == 0, "exit status %d (%d: a definite leak); valgrind:\n%s" % (rc, LEAK_STATUS, report)
        assert ("definitely lost: 0 bytes" in report or "no leaks are possible" in report), report

        # Every kernel socket was reset: none left in ss, each one's recv says so.
        wait_for(lambda: established_to_lwip(netns) == 0,
                 lambda: "the kernel sockets to be reset; ss: %s" % netns.ss())
        assert int(flood.do("resets", "RESETS")[1]) == CONNECTIONS
    finally:
        if flood is not None:
            flood.stop()
        if d.proc.poll() is None:
            kill_process(d.proc, signal.SIGKILL)
        d.close_files()
