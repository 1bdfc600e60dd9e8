"""The peer's state as lwipd infers it, checked against the Linux kernel's
real transitions from its sock:inet_sock_set_state tracepoint (ktrace.py,
a tracefs instance of the test's own): an active open closed by lwIP, one
closed by the peer, a simultaneous close, a refused open, an abort, and a
passive open. The one rule: a kernel CLOSE right after FIN_WAIT_2 or
CLOSING stands for TIME_WAIT (README "The peer's state"). And the same
through the daemon's own --peer-trace (peer_state_source "kernel")."""

import os

import pytest

from helpers import LWIP_IP, PEER_PORT, PREFIX, Daemon, wait_for
from kit import established_active, lwip_end
from ktrace import TRACEFS, KernelTrace, parse, states_entered

LISTEN_PORT = 9000


@pytest.fixture
def ktrace():
    trace = KernelTrace().start()
    yield trace
    trace.stop()


def inferred(d, cid):
    return [e["state"] for e in d.conn(cid)["peer_history"]]


def segment_states(d, cid):
    """The distinct peer states over the segments' peer_state_before and
    peer_state_after, in order."""
    out = []
    for e in d.get("/v1/connections/%d/timeline" % cid).json()["events"]:
        if e["kind"] != "segment":
            continue
        for state in (e["peer_state_before"], e["peer_state_after"]):
            if not out or out[-1] != state:
                out.append(state)
    return out


def assert_segments_agree(d, cid):
    """The states on the segments pass through peer_history in order, after
    the peer's starting state: LISTEN when it answered lwIP's SYN with a
    SYN+ACK (README "The peer's state", rule 1), else CLOSED."""
    history = inferred(d, cid)
    states = segment_states(d, cid)
    start = "LISTEN" if history[:1] == ["SYN_RCVD"] else "CLOSED"
    assert states == [start] + history, "segments %s, peer_history %s" % (states, history)


def assert_same(d, ktrace, cid, kernel_port):
    """The inferred peer history equals the kernel's, once the kernel's
    last transition has been traced, and the segments' states agree."""
    obj = d.conn(cid)
    lport = obj["local"]["port"]
    assert obj["peer_state_source"] == "inferred", obj
    assert obj["peer_kernel_history"] == [], obj
    assert all(h["peer_state_source"] == "inferred" for h in obj["peer_history"]), obj

    def same():
        return states_entered(ktrace.transitions(lport, kernel_port)) == inferred(d, cid)
    wait_for(same, lambda: "the kernel's states %s (from %s) to equal the inferred %s" % (
        states_entered(ktrace.transitions(lport, kernel_port)),
        ktrace.transitions(lport, kernel_port), d.conn(cid)["peer_history"]), timeout=10)
    assert_segments_agree(d, cid)
    return inferred(d, cid)


def open_and_close_first(d, ns, start_peer):
    """lwIP opens to the kernel and closes first; the kernel closes after it."""
    peer = start_peer(ns, PEER_PORT, "hold")
    obj = established_active(d, peer)
    cid = obj["id"]
    assert d.delete("/v1/connections/%d" % cid).status == 202
    d.wait_state(cid, "FIN_WAIT_2")
    peer.wait_event("EOF", lwip_end(obj))
    peer.close_all()
    d.wait_state(cid, "CLOSED")
    return cid


def test_active_open_closed_by_lwip(lwipd, start_peer, ktrace):
    cid = open_and_close_first(lwipd, lwipd.ns, start_peer)
    assert assert_same(lwipd, ktrace, cid, PEER_PORT) == [
        "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    events = [e for e in lwipd.get("/v1/connections/%d/timeline" % cid).json()["events"]
              if e["kind"] == "segment"]
    # The textbook's picture: the peer listened, and our FIN took it to CLOSE_WAIT.
    first = [e for e in events if e["step"] == "handshake-1"][0]
    assert (first["peer_state_before"], first["peer_state_after"]) == ("LISTEN", "SYN_RCVD"), first
    fin = [e for e in events if e["step"] == "teardown-1"][0]
    assert fin["peer_state_after"] == "CLOSE_WAIT", fin
    close_wait = [h for h in lwipd.conn(cid)["peer_history"] if h["state"] == "CLOSE_WAIT"][0]
    assert close_wait["at_us"] == fin["at_us"], (close_wait, fin)


def test_active_open_closed_by_the_peer(lwipd, start_peer, ktrace):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    cid = obj["id"]
    peer.close_all()
    lwipd.wait_state(cid, "CLOSE_WAIT")
    assert lwipd.delete("/v1/connections/%d" % cid).status == 202
    lwipd.wait_state(cid, "CLOSED")
    assert assert_same(lwipd, ktrace, cid, PEER_PORT) == [
        "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]


def test_simultaneous_close(lwipd, start_peer, ktrace):
    """lwIP's FIN is held on its way out until the kernel's FIN has left,
    and lwIP's ACKs of that FIN are held behind it, so the two FINs cross on
    the wire: both sides go FIN_WAIT_1 -> CLOSING -> TIME_WAIT."""
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    cid = obj["id"]
    r = lwipd.post("/v1/faults", {"dir": "out", "match": {"step": "teardown-1"},
                                  "action": "delay", "delay_ms": 500})
    assert r.status == 201, r
    # Every ACK lwIP sends in CLOSING, the kernel's retransmitted FIN's too.
    r = lwipd.post("/v1/faults", {"dir": "out", "match": {"state": "CLOSING"},
                                  "action": "delay", "delay_ms": 500, "count": 0})
    assert r.status == 201, r
    assert lwipd.delete("/v1/connections/%d" % cid).status == 202
    peer.close_all()
    peer.wait_event("CLOSED", lwip_end(obj))
    lwipd.wait_state(cid, "CLOSED")
    history = [h["state"] for h in lwipd.conn(cid)["history"]]
    assert "CLOSING" in history, history
    assert assert_same(lwipd, ktrace, cid, PEER_PORT) == [
        "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT"]


def test_refused_open(lwipd, ktrace):
    obj = lwipd.open_conn(remote_port=7001)        # nobody listens there
    lwipd.wait_state(obj["id"], "CLOSED")
    assert assert_same(lwipd, ktrace, obj["id"], 7001) == []


def test_abort(lwipd, start_peer, ktrace):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    cid = obj["id"]
    assert lwipd.delete("/v1/connections/%d?mode=abort" % cid).status == 202
    lwipd.wait_state(cid, "CLOSED")
    assert assert_same(lwipd, ktrace, cid, PEER_PORT) == ["SYN_RCVD", "ESTABLISHED", "CLOSED"]


def test_passive_open(lwipd, start_kclient, ktrace):
    r = lwipd.post("/v1/listeners", {"port": LISTEN_PORT, "backlog": 4})
    assert r.status == 201, r
    client = start_kclient(lwipd.ns)
    r = lwipd.get("/v1/listeners/%d?wait_accepted=1" % r.json()["id"])
    assert r.status == 200, r
    cid = [c for c in lwipd.conns() if c["origin"] == "passive"
           and c["remote"]["port"] == client.local_port][0]["id"]
    lwipd.wait_state(cid, "ESTABLISHED")
    client.do("shutdown", "SHUTDOWN")
    lwipd.wait_state(cid, "CLOSE_WAIT")
    assert lwipd.delete("/v1/connections/%d" % cid).status == 202
    client.do("eof", "EOF")
    lwipd.wait_state(cid, "CLOSED")
    client.do("close", "CLOSED")
    assert assert_same(lwipd, ktrace, cid, client.local_port) == [
        "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]


@pytest.mark.parametrize("origin", ["active", "passive"])
def test_peer_trace_records_the_kernels_states(netns, start_daemon, start_peer, start_kclient,
                                               origin):
    """--peer-trace: the daemon reads the same tracepoint through its own
    instance, and the kernel's transitions agree with the inferred ones."""
    d = start_daemon(netns, "--peer-trace")
    d.ns = netns
    instance = os.path.join(TRACEFS, "instances", "lwipd-%d" % d.proc.pid)
    assert os.path.isdir(instance), d.stderr()
    # Filtered in the kernel to the sockets talking to lwIP's address, 10.9.0.2.
    with open(os.path.join(instance, "events/sock/inet_sock_set_state/filter")) as f:
        assert f.read().strip() == "family == 2 && protocol == 6 && daddr == 0x0200090a"
    if origin == "active":
        cid = open_and_close_first(d, netns, start_peer)
    else:
        r = d.post("/v1/listeners", {"port": LISTEN_PORT, "backlog": 4})
        client = start_kclient(netns)
        assert d.get("/v1/listeners/%d?wait_accepted=1" % r.json()["id"]).status == 200
        cid = [c for c in d.conns() if c["remote"]["port"] == client.local_port][0]["id"]
        client.do("shutdown", "SHUTDOWN")
        d.wait_state(cid, "CLOSE_WAIT")
        assert d.delete("/v1/connections/%d" % cid).status == 202
        client.do("eof", "EOF")
        client.do("close", "CLOSED")
    d.wait_state(cid, "CLOSED")

    def kernel():
        return [t["state"] for t in d.conn(cid)["peer_kernel_history"]]
    wait_for(lambda: kernel() == inferred(d, cid),
             lambda: "kernel %s to equal inferred %s" % (kernel(), inferred(d, cid)), timeout=10)
    obj = d.conn(cid)
    # The kernel's records are shaped as peer_history's, each labelled with its source.
    for t in obj["peer_kernel_history"]:
        assert set(t) == {"state", "from", "at_us", "cause", "peer_state_source"}, t
        assert (t["cause"], t["peer_state_source"]) == ("kernel:inet_sock_set_state", "kernel"), t
    assert all(h["peer_state_source"] == "inferred" for h in obj["peer_history"]), obj
    assert obj["peer_state_source"] == "kernel", obj
    assert obj["peer_state"] == obj["peer_kernel_history"][-1]["state"], obj
    assert kernel()[0] == ("SYN_RCVD" if origin == "active" else "SYN_SENT"), kernel()
    # A CLOSE after FIN_WAIT_2 or CLOSING is the TIME_WAIT it stands for.
    assert states_entered([(t["from"], t["state"]) for t in obj["peer_kernel_history"]]) == \
        kernel(), obj["peer_kernel_history"]
    assert d.terminate() == 0, d.stderr()
    assert not os.path.exists(instance), "the daemon left its trace instance behind"


def test_peer_trace_without_tracefs_stays_inferred(netns, lwipd_bin, start_peer, tmp_path):
    """--peer-trace where tracefs is unavailable (a private mount namespace
    with a tmpfs over /sys/kernel/tracing and /sys/kernel/debug): one
    warning line, the API healthy, the peer's state inferred."""
    hide = ("mount -t tmpfs none /sys/kernel/tracing && "
            "{ ! mountpoint -q /sys/kernel/debug || mount -t tmpfs none /sys/kernel/debug; } && "
            'exec "$0" "$@"')
    d = Daemon("unshare", ["--mount", "--propagation", "private", "sh", "-c", hide, lwipd_bin,
                           "--netns", netns.name, "--tap", "tap0",
                           "--address", "%s/%d" % (LWIP_IP, PREFIX),
                           "--listen", "127.0.0.1:0", "--msl-ms", "1000", "--peer-trace"],
               str(tmp_path / "lwipd.stderr"))
    d.start()
    try:
        d.wait_listening()
        d.wait_healthy()
        warnings = [line for line in d.stderr().splitlines() if "--peer-trace" in line]
        assert len(warnings) == 1 and "stays inferred" in warnings[0], d.stderr()
        assert not os.path.exists(os.path.join(TRACEFS, "instances", "lwipd-%d" % d.proc.pid))
        d.ns = netns
        cid = open_and_close_first(d, netns, start_peer)
        obj = d.conn(cid)
        assert obj["peer_state_source"] == "inferred", obj
        assert obj["peer_kernel_history"] == [], obj
        assert [h["state"] for h in obj["peer_history"]] == [
            "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"], obj
        assert d.get("/healthz").status == 200
    finally:
        assert d.terminate() == 0, d.stderr()
        d.close_files()


def test_parse_a_trace_line():
    line = ("  python3-1234  [001] ..s2.  99.123456: inet_sock_set_state: family=AF_INET "
            "protocol=IPPROTO_TCP sport=7000 dport=52607 saddr=10.9.0.1 daddr=10.9.0.2 "
            "saddrv6=::ffff:10.9.0.1 daddrv6=::ffff:10.9.0.2 oldstate=TCP_LISTEN "
            "newstate=TCP_SYN_RECV")
    assert parse(line) == (7000, 52607, "10.9.0.1", "10.9.0.2", "LISTEN", "SYN_RCVD")
    assert states_entered([("FIN_WAIT_2", "CLOSED"), ("CLOSING", "CLOSED"),
                           ("LAST_ACK", "CLOSED")]) == ["TIME_WAIT", "TIME_WAIT", "CLOSED"]
