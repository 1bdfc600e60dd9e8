"""What lwipd tells a service manager, checked against a notification socket
this test binds (the sd_notify datagram protocol): READY=1 only once the
API answers, STATUS= with the live connection count, WATCHDOG=1 from the
daemon's own process while WATCHDOG_USEC asks for it, STOPPING=1 on SIGTERM.
Also the journal's priority prefixes when JOURNAL_STREAM names stderr."""

import os
import signal
import socket
import struct
import subprocess
import threading

import pytest

import helpers
from helpers import Daemon, KERNEL_IP, LWIP_IP, PEER_PORT, PREFIX, wait_for


class Notifications:
    """A datagram socket like systemd's: it passes credentials, and a thread
    drains it so that the daemon's non-blocking sends always find room."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.messages = []  # (sender pid, {key: value}) in arrival order
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        ucred = struct.calcsize("3i")
        while self.running:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(ucred))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:ucred])[0]
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            with self.lock:
                self.messages.append((pid, fields))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def keys(self):
        """The keys of every message, in order, one message's keys together."""
        return [sorted(m.keys()) for _, m in self.snapshot()]

    def index(self, key, value=None, after=-1):
        """The position of the first message after `after` with key (=value), or None."""
        for i, (_, m) in enumerate(self.snapshot()):
            if i > after and key in m and (value is None or m[key] == value):
                return i
        return None

    def wait(self, key, value=None, after=-1, timeout=helpers.DEADLINE):
        """Waits for such a message and returns its position."""
        wait_for(lambda: self.index(key, value, after) is not None,
                 lambda: "%s=%s; got %s" % (key, value or "*", self.snapshot()), timeout)
        return self.index(key, value, after)

    def count(self, key):
        return sum(1 for _, m in self.snapshot() if key in m)

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


class EnvDaemon(Daemon):
    """A Daemon started with extra environment variables."""

    def __init__(self, binary, args, stderr_path, env):
        super().__init__(binary, args, stderr_path)
        self.env = env

    def start(self):
        self._err = open(self.stderr_path, "wb")
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
        env.update(self.env)
        self.proc = subprocess.Popen([self.binary] + self.args, stdin=subprocess.DEVNULL,
                                     stdout=self._err, stderr=self._err, env=env,
                                     start_new_session=True)
        return self


@pytest.fixture
def notifications(request, tmp_path):
    made = []

    def make(address=None):
        n = Notifications(address or str(tmp_path / "notify.sock"))
        made.append(n)
        return n
    request.addfinalizer(lambda: [n.close() for n in made])
    return make


@pytest.fixture
def run_daemon(request, lwipd_bin, tmp_path):
    """run_daemon(ns, env, *extra) -> a started (not yet waited for) EnvDaemon,
    killed at the end of the test if it is still running."""
    started = []
    request.node._lwipd_daemons = started

    def run(ns, env, *extra, stderr_path=None):
        args = ["--netns", ns.name, "--tap", "tap0", "--address", "%s/%d" % (LWIP_IP, PREFIX),
                "--listen", "127.0.0.1:0", "--msl-ms", "1000"] + list(extra)
        path = stderr_path or str(tmp_path / ("lwipd-%d.stderr" % len(started)))
        d = EnvDaemon(lwipd_bin, args, path, env)
        started.append(d)
        return d.start()

    def cleanup():
        for d in started:
            if d.proc.poll() is None:
                helpers.kill_process(d.proc, signal.SIGKILL)
            d.close_files()
    request.addfinalizer(cleanup)
    return run


def stop(d):
    rc = d.terminate(signal.SIGTERM, timeout=helpers.DEADLINE)
    assert rc == 0, "lwipd exited with %d after SIGTERM:\n%s" % (rc, d.stderr())
    err = d.stderr()
    assert not any(m in err for m in helpers.SANITIZER_MARKS), err


def test_ready_status_watchdog_stopping(netns, run_daemon, notifications, start_peer):
    start_peer(netns)
    n = notifications()
    d = run_daemon(netns, {"NOTIFY_SOCKET": n.sock.getsockname(), "WATCHDOG_USEC": "1000000"})
    n.wait("READY", "1")
    # READY=1 means the API already listens: no waiting from here on.
    d.port = int(Daemon.LISTEN_RE.search(d.stderr()).group(1))
    assert d.get("/healthz").status == 200
    ready = n.snapshot()[n.index("READY")][1]
    assert ready.get("STATUS", "").endswith("tap0 %s/%d: 0 live connections" % (LWIP_IP, PREFIX)), ready

    conn = d.open_conn()
    d.wait_state(conn["id"], "ESTABLISHED")
    n.wait("STATUS", "tap0 %s/%d: 1 live connection" % (LWIP_IP, PREFIX))
    one = n.index("STATUS", "tap0 %s/%d: 1 live connection" % (LWIP_IP, PREFIX))
    assert d.delete("/v1/connections/%d?mode=abort" % conn["id"]).status == 202
    d.wait_state(conn["id"], "CLOSED")
    n.wait("STATUS", "tap0 %s/%d: 0 live connections" % (LWIP_IP, PREFIX), after=one)

    # The pings repeat; the count bounds nothing about their pace.
    wait_for(lambda: n.count("WATCHDOG") >= 3,
             lambda: "three WATCHDOG=1; got %s" % n.snapshot(), timeout=60)
    assert all(pid == d.proc.pid for pid, m in n.snapshot() if "WATCHDOG" in m), n.snapshot()
    assert n.snapshot()[n.index("WATCHDOG")][0] == d.proc.pid

    stop(d)
    n.wait("STOPPING", "1")
    msgs = n.snapshot()
    assert n.count("READY") == 1 and n.count("STOPPING") == 1, msgs
    assert n.index("READY") < n.index("STOPPING"), msgs
    assert all(pid == d.proc.pid for pid, _ in msgs), msgs


def test_abstract_socket_name(netns, run_daemon, notifications):
    name = "lwipd-test-notify-%d" % os.getpid()
    n = notifications("\0" + name)
    d = run_daemon(netns, {"NOTIFY_SOCKET": "@" + name})
    n.wait("READY", "1")
    stop(d)
    n.wait("STOPPING", "1")


@pytest.mark.parametrize("env", [{}, {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}],
                         ids=["no-watchdog-usec", "watchdog-for-another-pid"])
def test_no_watchdog_unless_asked(netns, run_daemon, notifications, env, start_peer):
    start_peer(netns)
    n = notifications()
    d = run_daemon(netns, dict(env, NOTIFY_SOCKET=n.sock.getsockname()))
    n.wait("READY", "1")
    d.port = int(Daemon.LISTEN_RE.search(d.stderr()).group(1))
    conn = d.open_conn()
    d.wait_state(conn["id"], "ESTABLISHED")
    n.wait("STATUS", "tap0 %s/%d: 1 live connection" % (LWIP_IP, PREFIX))
    stop(d)
    n.wait("STOPPING", "1")
    assert n.count("WATCHDOG") == 0, n.snapshot()


def test_no_ready_when_start_fails(make_netns, run_daemon, notifications):
    ns = make_netns(tap=None)
    n = notifications()
    d = run_daemon(ns, {"NOTIFY_SOCKET": n.sock.getsockname()}, "--netns", "lwipd-no-such-ns")
    assert d.proc.wait(timeout=helpers.DEADLINE) == 1, d.stderr()
    d.expected_exit = True
    assert n.index("READY") is None, n.snapshot()


def test_malformed_notify_socket_fails_the_start(netns, run_daemon):
    d = run_daemon(netns, {"NOTIFY_SOCKET": "relative/path"})
    assert d.proc.wait(timeout=helpers.DEADLINE) == 1, d.stderr()
    d.expected_exit = True
    assert "NOTIFY_SOCKET" in d.stderr(), d.stderr()
    assert netns.link("tap0") is not None


@pytest.mark.parametrize("matching", [True, False], ids=["stderr-is-journal", "other-stream"])
def test_journal_priorities(netns, run_daemon, tmp_path, matching):
    """With JOURNAL_STREAM naming stderr's file, lines carry <N> priorities
    instead of "lwipd: level:"; naming another file, they do not."""
    path = tmp_path / "stderr"
    other = tmp_path / "other"
    path.touch()
    other.touch()
    st = os.stat(path if matching else other)
    d = run_daemon(netns, {"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)},
                   stderr_path=str(path))
    d.wait_listening()
    stop(d)
    lines = d.stderr().splitlines()
    prefix = "<6>" if matching else "lwipd: info: "
    assert lines and all(line.startswith(prefix) for line in lines), lines
    assert any(line.startswith(prefix + "API listening on 127.0.0.1:") for line in lines), lines
