"""Fixtures for lwipd's integration tests.

Each test gets its own network namespace (lwipd-t-<pid>-<n>) holding a
persistent TAP tap0 whose kernel side is 10.9.0.1/24; lwipd runs with
--netns, so all test traffic stays inside that namespace, and its API
listens on 127.0.0.1:<ephemeral port>. Every namespace, daemon, peer and
tcpdump a test starts is stopped by a finalizer, also when the test fails.

The daemon binary is $LWIPD_BIN (ctest sets it), else build/lwipd.
"""

import itertools
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402
from helpers import Daemon, Netns, Peer  # noqa: E402
from wire import Capture  # noqa: E402

_ns_counter = itertools.count(1)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes minutes (e.g. waits out lwIP's SYN retries); still runs in CI")
    config.addinivalue_line(
        "markers", "very_slow: takes many minutes; runs in the plain build, not the sanitizer ones")


def pytest_collection_modifyitems(config, items):
    """Sanitizer builds (LWIPD_SANITIZED=1, set by CMake) skip very_slow tests:
    minutes of lwIP's own retransmission timers under ASan or TSan exercise no
    code the other tests do not, and the plain build runs them."""
    if os.environ.get("LWIPD_SANITIZED") != "1":
        return
    skip = pytest.mark.skip(reason="very_slow: runs in the plain build only")
    for item in items:
        if "very_slow" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for d in getattr(item, "_lwipd_daemons", []):
            report.sections.append(("lwipd stderr (%s)" % " ".join(d.args), d.stderr()))
        for p in getattr(item, "_lwipd_peers", []):
            report.sections.append(("peer.py output (port %d)" % p.port, p.output()))


@pytest.fixture(scope="session")
def lwipd_bin():
    path = os.environ.get("LWIPD_BIN") or os.path.join(helpers.ROOT, "build", "lwipd")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("lwipd binary not found at %s (set LWIPD_BIN)" % path, pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the integration tests need root (network namespaces, TAP)", pytrace=False)
    return path


def new_ns_name():
    return "lwipd-t-%d-%d" % (os.getpid(), next(_ns_counter))


@pytest.fixture
def make_netns(request):
    """make_netns(tap="tap0", kernel_addr="10.9.0.1/24", up=True) -> a fresh
    Netns with a persistent TAP. tap=None makes a namespace with only lo."""
    made = []

    def make(tap="tap0", kernel_addr="%s/%d" % (helpers.KERNEL_IP, helpers.PREFIX), up=True):
        ns = Netns(new_ns_name())
        made.append(ns)
        return ns.create(tap=tap, kernel_addr=kernel_addr, up=up)

    def cleanup():
        for ns in reversed(made):
            ns.destroy()
    request.addfinalizer(cleanup)
    return make


@pytest.fixture
def netns(make_netns):
    return make_netns()


@pytest.fixture
def start_daemon(request, lwipd_bin, tmp_path):
    """start_daemon(ns, *extra, tap="tap0", address="10.9.0.2/24",
    msl_ms=1000, healthy=True, port=0) -> a running Daemon whose API
    answers. With port 0 the API port is read from the daemon's log."""
    started = []
    item = request.node
    item._lwipd_daemons = []

    def start(ns, *extra, tap="tap0", address="%s/%d" % (helpers.LWIP_IP, helpers.PREFIX),
              msl_ms=1000, healthy=True, port=0):
        args = ["--netns", ns.name, "--tap", tap, "--address", address,
                "--listen", "127.0.0.1:%d" % port]
        if msl_ms is not None:
            args += ["--msl-ms", str(msl_ms)]
        args += list(extra)
        d = Daemon(lwipd_bin, args, str(tmp_path / ("lwipd-%d.stderr" % (len(started) + 1))))
        started.append(d)
        item._lwipd_daemons.append(d)
        d.start()
        if healthy:
            if port:
                d.port = port
            else:
                d.wait_listening()
            d.wait_healthy()
        return d

    def cleanup():
        problems = []
        for d in reversed(started):
            if d.proc is None:
                continue
            if d.proc.poll() is not None:
                if not d.expected_exit:
                    problems.append("lwipd exited on its own with status %d" % d.proc.returncode)
            else:
                try:
                    rc = d.terminate(signal.SIGTERM, timeout=10)
                    if rc != 0:
                        problems.append("lwipd exited with status %d after SIGTERM" % rc)
                except AssertionError as e:
                    problems.append(str(e))
                    helpers.kill_process(d.proc, signal.SIGKILL)
            d.close_files()
            err = d.stderr()
            if any(m in err for m in helpers.SANITIZER_MARKS):
                problems.append("sanitizer report in lwipd stderr")
            if problems:
                sys.stderr.write("---- lwipd stderr (%s) ----\n%s\n" % (" ".join(d.args), err))
        if problems:
            pytest.fail("; ".join(problems), pytrace=False)
    request.addfinalizer(cleanup)
    return start


@pytest.fixture
def lwipd(netns, start_daemon):
    """A daemon on a fresh namespace's tap0 (10.9.0.2/24, --msl-ms 1000)."""
    d = start_daemon(netns)
    d.ns = netns
    return d


@pytest.fixture
def start_peer(request, tmp_path):
    """start_peer(ns, port=7000, mode="hold", backlog=None) -> a listening Peer."""
    peers = []
    request.node._lwipd_peers = []

    def start(ns, port=helpers.PEER_PORT, mode="hold", backlog=None):
        p = Peer(ns, port, mode, str(tmp_path / ("peer-%d-%s.out" % (port, mode))),
                 backlog=backlog)
        peers.append(p)
        request.node._lwipd_peers.append(p)
        return p.start()

    def cleanup():
        for p in reversed(peers):
            if p.proc is not None:
                p.stop()
    request.addfinalizer(cleanup)
    return start


@pytest.fixture
def start_capture(request, tmp_path):
    """start_capture(ns, iface="tap0", bpf="tcp", snaplen=None) -> a running Capture."""
    caps = []

    def start(ns, iface="tap0", bpf="tcp", snaplen=None):
        n = len(caps) + 1
        c = Capture(ns, str(tmp_path / ("cap-%d.pcap" % n)), str(tmp_path / ("cap-%d.err" % n)),
                    iface=iface, bpf=bpf, snaplen=snaplen)
        caps.append(c)
        return c.start()

    def cleanup():
        for c in reversed(caps):
            if c.proc is not None and c.proc.poll() is None:
                helpers.kill_process(c.proc, signal.SIGINT)
    request.addfinalizer(cleanup)
    return start


@pytest.fixture
def start_kclient(request, tmp_path):
    """start_kclient(ns, ip="10.9.0.2", port=9000) -> a connected KClient:
    the kernel's end of a connection to one of lwIP's listeners."""
    from kclient import KClient
    clients = []
    numbers = itertools.count(1)    # next() is safe from several threads

    def start(ns, ip=helpers.LWIP_IP, port=9000):
        c = KClient(ns, ip, port, str(tmp_path / ("kclient-%d.out" % next(numbers))))
        clients.append(c)
        return c

    def cleanup():
        for c in reversed(clients):
            c.stop()
    request.addfinalizer(cleanup)
    return start


@pytest.fixture
def start_rawpeer(request):
    """start_rawpeer(daemon) -> a running crafted.RawPeer on the daemon's
    namespace (daemon.ns) that answers ARP for 10.9.0.3."""
    import crafted
    peers = []

    def start(daemon, ip=crafted.RAW_IP, mac=crafted.RAW_MAC):
        p = crafted.RawPeer(daemon.ns, daemon.interface()["mac"], ip=ip, mac=mac)
        peers.append(p)
        return p.start()

    def cleanup():
        for p in reversed(peers):
            p.stop()
    request.addfinalizer(cleanup)
    return start
