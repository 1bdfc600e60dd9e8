"""Plumbing for lwipd's integration tests: namespaces, the daemon, the
kernel-side peer and HTTP. Packet captures and the segments read from them
are wire.py's.

Every wait here polls a condition with a generous, bounded deadline; nothing
asserts how long something took.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEER_PY = os.path.join(HERE, "peer.py")
PYTHON = "/usr/bin/python3"

KERNEL_IP = "10.9.0.1"
LWIP_IP = "10.9.0.2"
PREFIX = 24
PEER_PORT = 7000

# Generous deadlines for shared, slow machines. They bound loops; they are
# never the subject of an assertion.
DEADLINE = 20.0
POLL = 0.05


class Timeout(AssertionError):
    pass


def wait_for(predicate, what, timeout=DEADLINE, interval=POLL):
    """Polls predicate() until it returns something truthy, and returns that.

    Raises Timeout naming `what` (a string or a callable giving one, called
    at the end so it can describe the last state seen).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            desc = what() if callable(what) else what
            raise Timeout("timed out after %.0f s waiting for %s" % (timeout, desc))
        time.sleep(interval)


def run(cmd, check=True, timeout=60):
    """Runs a command, returns CompletedProcess with text stdout/stderr."""
    cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError("command %r failed with %d: %s%s" % (
            cmd, cp.returncode, cp.stdout, cp.stderr))
    return cp


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, for the rare test
    that cannot read the port from lwipd's log (--log-level error)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stops one process we started (by its pid), escalating to SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=timeout)


def run_lwipd(binary, args, timeout=20):
    """Runs lwipd to completion (bounded); a daemon that keeps running is a failure."""
    try:
        return subprocess.run([binary] + args, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("lwipd %s kept running instead of exiting; stderr: %s"
                             % (args, e.stderr)) from None


# --------------------------------------------------------------------------
# Network namespaces


class Netns:
    """A network namespace this test created, with helpers to run in it."""

    def __init__(self, name):
        self.name = name
        self.created = False

    def create(self, tap="tap0", kernel_addr="%s/%d" % (KERNEL_IP, PREFIX), up=True):
        run(["ip", "netns", "add", self.name])
        self.created = True
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        if tap:
            run(["ip", "-n", self.name, "tuntap", "add", "dev", tap, "mode", "tap"])
            if kernel_addr:
                run(["ip", "-n", self.name, "addr", "add", kernel_addr, "dev", tap])
            if up:
                run(["ip", "-n", self.name, "link", "set", tap, "up"])
        return self

    def cmd(self, *argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, *argv, check=True):
        return run(self.cmd(*argv), check=check)

    def ss(self):
        """The kernel's TCP sockets: a list of dicts state/local/peer."""
        out = self.run("ss", "-tanH").stdout
        socks = []
        for line in out.splitlines():
            f = line.split()
            if len(f) < 5:
                continue
            socks.append({"state": f[0], "local": f[3], "peer": f[4]})
        return socks

    def ss_find(self, local, peer):
        """States of the kernel sockets with that local and peer 'ip:port'."""
        return [s["state"] for s in self.ss() if s["local"] == local and s["peer"] == peer]

    def link(self, dev):
        """`ip -j link show dev` as a dict, or None when it does not exist."""
        cp = run(["ip", "-n", self.name, "-j", "link", "show", "dev", dev], check=False)
        if cp.returncode != 0:
            return None
        data = json.loads(cp.stdout or "[]")
        return data[0] if data else None

    def ipv4_addrs(self, dev):
        cp = run(["ip", "-n", self.name, "-j", "-4", "addr", "show", "dev", dev])
        data = json.loads(cp.stdout or "[]")
        return [a["local"] for d in data for a in d.get("addr_info", [])]

    def nstat(self):
        """The namespace's kernel TCP MIB counters (nstat -asz: absolute
        values, history file neither read nor written), as a dict
        {"TcpActiveOpens": N, ...}, plus the gauge TcpCurrEstab."""
        cp = run(self.cmd("nstat", "-asz", "--json"))
        data = json.loads(cp.stdout)
        out = {k: v for k, v in data["kernel"].items() if k.startswith("Tcp")}
        # nstat leaves out gauges; CurrEstab is one. Read it where nstat
        # reads the rest, the namespace's /proc/net/snmp.
        lines = [l.split() for l in self.run("cat", "/proc/net/snmp").stdout.splitlines()
                 if l.startswith("Tcp:")]
        out["TcpCurrEstab"] = int(dict(zip(lines[0][1:], lines[1][1:]))["CurrEstab"])
        return out

    def socket(self, family=None, type_=None, proto=0):
        """A socket created inside this namespace from this process: the
        calling thread enters the namespace with setns(2), creates the
        socket and returns to its own namespace (a socket keeps the
        namespace it was created in)."""
        import socket as socketmod
        family = socketmod.AF_INET if family is None else family
        type_ = socketmod.SOCK_STREAM if type_ is None else type_
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open("/run/netns/%s" % self.name, os.O_RDONLY)
            try:
                _setns(target)
                try:
                    return socketmod.socket(family, type_, proto)
                finally:
                    _setns(own)
            finally:
                os.close(target)
        finally:
            os.close(own)

    def connect(self, port, ip=LWIP_IP, timeout=DEADLINE):
        """A kernel TCP socket in this namespace connected to ip:port
        (blocking, with a bounded timeout). Raises what connect() raises,
        e.g. ConnectionRefusedError."""
        s = self.socket()
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
        except BaseException:
            s.close()
            raise
        return s

    def destroy(self):
        if not self.created:
            return
        cp = run(["ip", "netns", "pids", self.name], check=False)
        for pid in cp.stdout.split():
            # Only processes started by this test live in its namespace.
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run(["ip", "netns", "del", self.name], check=False)
        self.created = False


_CLONE_NEWNET = 0x40000000
_libc = None


def _setns(fd):
    global _libc
    import ctypes
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: %s" % os.strerror(err))


# --------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError as e:
            raise AssertionError("response body is not JSON (%s): %r" % (e, self.body[:500]))

    def __repr__(self):
        return "<HTTP %d %s %r>" % (self.status, self.content_type, self.body[:300])


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, content_type="application/json", headers=None, timeout=20):
    """One HTTP request. body: dict/list (sent as JSON), str or bytes."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    hdrs = dict(headers or {})
    if body is not None and content_type is not None:
        hdrs["Content-Type"] = content_type
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Response(e.code, e.headers, e.read())


def http_raw(port, method, path, body, content_type="application/json", expect=False,
             timeout=20):
    """One HTTP/1.1 request on a plain socket, for bodies the server may
    refuse before reading them (413). A send cut short by the server closing
    (EPIPE, ECONNRESET) is not an error: the answer it sent first is read.
    With expect=True the request carries "Expect: 100-continue" and the body
    is sent only after "100 Continue" (or after a bounded wait for it)."""
    import http.client
    import select
    import socket
    if isinstance(body, str):
        body = body.encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\nConnection: close\r\n%s\r\n"
                % (method, path, port, content_type, len(body),
                   "Expect: 100-continue\r\n" if expect else "")).encode()
        sock.sendall(head)
        send_body = True
        if expect:
            readable, _, _ = select.select([sock], [], [], 10)
            if readable:
                peek = sock.recv(64, socket.MSG_PEEK)
                if peek.startswith(b"HTTP/1.1 100"):
                    # Drop the interim answer, up to its blank line.
                    buf = b""
                    while not buf.endswith(b"\r\n\r\n"):
                        buf += sock.recv(1)
                else:
                    send_body = False
        if send_body:
            try:
                sock.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        try:
            data = resp.read()
        except (ConnectionResetError, http.client.IncompleteRead) as e:
            data = getattr(e, "partial", b"")
        return Response(resp.status, resp.headers, data)
    finally:
        sock.close()


# --------------------------------------------------------------------------
# The daemon


class Daemon:
    LISTEN_RE = re.compile(r"API listening on 127\.0\.0\.1:(\d+)")

    def __init__(self, binary, args, stderr_path):
        self.binary = binary
        self.args = list(args)
        self.stderr_path = stderr_path
        self.proc = None
        self.port = None
        self.expected_exit = False

    def start(self):
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([self.binary] + self.args, stdin=subprocess.DEVNULL,
                                     stdout=self._err, stderr=self._err,
                                     start_new_session=True)
        return self

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_listening(self, timeout=DEADLINE):
        def port():
            m = self.LISTEN_RE.search(self.stderr())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise AssertionError("lwipd exited with %d before listening; stderr:\n%s"
                                     % (self.proc.returncode, self.stderr()))
            return None
        self.port = wait_for(port, "the 'API listening on 127.0.0.1:<port>' line", timeout)
        return self.port

    def wait_healthy(self, timeout=DEADLINE):
        def ok():
            if self.proc.poll() is not None:
                raise AssertionError("lwipd exited with %d; stderr:\n%s"
                                     % (self.proc.returncode, self.stderr()))
            try:
                return self.get("/healthz", timeout=2).status == 200
            except OSError:
                return False
        wait_for(ok, "GET /healthz to answer 200", timeout)
        return self

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None, **kw):
        return http(method, self.base + path, body=body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # Connections --------------------------------------------------------

    def open_conn(self, remote_ip=KERNEL_IP, remote_port=PEER_PORT, local_port=None):
        body = {"remote_ip": remote_ip, "remote_port": remote_port}
        if local_port is not None:
            body["local_port"] = local_port
        r = self.post("/v1/connections", body)
        assert r.status == 201, "POST /v1/connections %r -> %r" % (body, r)
        obj = r.json()
        assert r.headers.get("Location") == "/v1/connections/%s" % obj["id"], r.headers
        return obj

    def conn(self, cid):
        r = self.get("/v1/connections/%s" % cid)
        assert r.status == 200, "GET /v1/connections/%s -> %r" % (cid, r)
        return r.json()

    def conns(self, query=""):
        r = self.get("/v1/connections" + query)
        assert r.status == 200, "GET /v1/connections%s -> %r" % (query, r)
        return r.json()["connections"]

    def wait_state(self, cid, state, timeout=DEADLINE):
        last = {}

        def reached():
            last["obj"] = self.conn(cid)
            return last["obj"] if last["obj"]["state"] == state else None
        return wait_for(reached, lambda: "connection %s to reach %s; last: %s" % (
            cid, state, json.dumps(last.get("obj"))), timeout)

    def interface(self):
        r = self.get("/v1/interface")
        assert r.status == 200, r
        return r.json()

    # Listeners, data, half-close, counters (issue 3) ------------------------

    def listen(self, port, backlog=None):
        body = {"port": port}
        if backlog is not None:
            body["backlog"] = backlog
        r = self.post("/v1/listeners", body)
        assert r.status == 201, "POST /v1/listeners %r -> %r" % (body, r)
        obj = r.json()
        assert r.headers.get("Location") == "/v1/listeners/%s" % obj["id"], r.headers
        return obj

    def listener(self, lid):
        r = self.get("/v1/listeners/%s" % lid)
        assert r.status == 200, "GET /v1/listeners/%s -> %r" % (lid, r)
        return r.json()

    def stats(self):
        r = self.get("/v1/stats")
        assert r.status == 200, "GET /v1/stats -> %r" % r
        return r.json()

    def send(self, cid, body):
        r = self.post("/v1/connections/%s/send" % cid, body, timeout=120)
        assert r.status == 202, "POST /v1/connections/%s/send -> %r" % (cid, r)
        return r.json()

    def read_data(self, cid):
        """GET .../data: (bytes, truncated)."""
        import base64
        r = self.get("/v1/connections/%s/data" % cid)
        assert r.status == 200, "GET /v1/connections/%s/data -> %r" % (cid, r)
        obj = r.json()
        data = base64.b64decode(obj["data_base64"], validate=True)
        assert obj["bytes"] == len(data), obj
        return data, obj["truncated"]

    def shutdown(self, cid, how):
        r = self.post("/v1/connections/%s/shutdown" % cid, {"how": how})
        assert r.status == 202, "POST /v1/connections/%s/shutdown %s -> %r" % (cid, how, r)
        return r.json()

    def wait_api(self, cid, state, timeout_ms=None, http_timeout=90):
        """GET /v1/connections/{id}?wait_for=STATE[&timeout_ms=N] (the
        Response: 200 or 408)."""
        q = "?wait_for=%s" % state
        if timeout_ms is not None:
            q += "&timeout_ms=%d" % timeout_ms
        return self.get("/v1/connections/%s%s" % (cid, q), timeout=http_timeout)

    # Stopping -----------------------------------------------------------

    def terminate(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig and waits (bounded) for the exit; returns the status."""
        self.expected_exit = True
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("lwipd did not exit within %.0f s of signal %d" % (timeout, sig))

    def close_files(self):
        try:
            self._err.close()
        except (AttributeError, OSError):
            pass


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")


def history_pairs(obj):
    return [(h["state"], h["cause"]) for h in obj["history"]]


def assert_times_increase(obj):
    times = [h["at_us"] for h in obj["history"]]
    for t in times:
        assert isinstance(t, int) and not isinstance(t, bool) and t >= 0, obj["history"]
    assert all(a < b for a, b in zip(times, times[1:])), "at_us not increasing: %s" % times


# --------------------------------------------------------------------------
# The kernel-side peer


class Peer:
    def __init__(self, ns, port, mode, out_path, ip=KERNEL_IP, backlog=None):
        self.ns = ns
        self.port = port
        self.mode = mode
        self.ip = ip
        self.out_path = out_path
        self.backlog = backlog
        self.proc = None

    def start(self):
        self._out = open(self.out_path, "wb")
        extra = [] if self.backlog is None else ["--backlog", str(self.backlog)]
        self.proc = subprocess.Popen(
            self.ns.cmd(PYTHON, PEER_PY, "--mode", self.mode, "--ip", self.ip,
                        "--port", str(self.port), *extra),
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT)
        wait_for(lambda: self._ready(), "peer.py to listen on %s:%d" % (self.ip, self.port))
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("peer.py exited with %d: %s" % (self.proc.returncode, self.output()))
        return any(e[0] == "LISTENING" for e in self.events())

    def output(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def events(self):
        return [line.split() for line in self.output().splitlines() if line.strip()]

    def has_event(self, kind, addr=None):
        return any(e[0] == kind and (addr is None or (len(e) > 1 and e[1] == addr))
                   for e in self.events())

    def wait_event(self, kind, addr=None, timeout=DEADLINE):
        return wait_for(lambda: self.has_event(kind, addr),
                        lambda: "peer event %s %s; events: %s" % (kind, addr or "", self.events()),
                        timeout)

    def close_all(self):
        """Makes the peer close every connection it holds (SIGUSR1)."""
        self.proc.send_signal(signal.SIGUSR1)

    def stop(self):
        kill_process(self.proc)
        try:
            self._out.close()
        except OSError:
            pass
