"""Listeners and passive opens: POST/GET/DELETE /v1/listeners, connections
a kernel connect() creates, the backlog of handshakes in progress, SYNs to a
port nobody listens on, ports already in use."""

import errno
import socket

import pytest

from crafted import RAW_IP
from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, history_pairs, wait_for
from wire import describe, tcp_segments
from kit import M, Snapshot, established_active, established_passive, flagset, problem

PORT = 9000
LISTENER_KEYS = {"id", "port", "backlog", "state", "accepted"}


def test_create_get_list_delete(lwipd):
    r = lwipd.post("/v1/listeners", {"port": PORT, "backlog": 4})
    assert r.status == 201, r
    a = r.json()
    assert set(a) == LISTENER_KEYS, a
    assert r.headers.get("Location") == "/v1/listeners/%d" % a["id"], r.headers
    assert (a["port"], a["backlog"], a["state"], a["accepted"]) == (PORT, 4, "LISTEN", 0), a
    assert isinstance(a["id"], int) and not isinstance(a["id"], bool)

    b = lwipd.listen(PORT + 1)                 # backlog defaults to 16
    assert b["backlog"] == 16 and b["state"] == "LISTEN", b
    assert b["id"] != a["id"]
    assert lwipd.listen(PORT + 2, 1)["backlog"] == 1
    assert lwipd.listen(PORT + 3, 1024)["backlog"] == 1024

    r = lwipd.get("/v1/listeners")
    assert r.status == 200 and r.content_type == "application/json", r
    listed = r.json()["listeners"]
    assert [x["port"] for x in listed] == [PORT, PORT + 1, PORT + 2, PORT + 3], listed
    assert listed[0] == a and listed[1] == b, listed
    assert lwipd.listener(a["id"]) == a

    r = lwipd.delete("/v1/listeners/%d" % a["id"])
    assert r.status == 200, r
    gone = r.json()
    assert gone["id"] == a["id"] and gone["state"] == "CLOSED" and gone["port"] == PORT, gone
    problem(lwipd.get("/v1/listeners/%d" % a["id"]), 404)
    problem(lwipd.delete("/v1/listeners/%d" % a["id"]), 404)
    assert a["id"] not in [x["id"] for x in lwipd.get("/v1/listeners").json()["listeners"]]
    problem(lwipd.get("/v1/listeners/424242"), 404)
    # The port is free again.
    assert lwipd.listen(PORT)["port"] == PORT


@pytest.mark.parametrize("body,field", [
    ({}, "port"),
    ({"port": 0}, "port"),
    ({"port": 65536}, "port"),
    ({"port": -1}, "port"),
    ({"port": "9000"}, "port"),
    ({"port": 9000, "backlog": 0}, "backlog"),
    ({"port": 9000, "backlog": 1025}, "backlog"),
    ({"port": 9000, "backlog": "16"}, "backlog"),
    ({"port": 9000, "backlog": 1.5}, "backlog"),
])
def test_bad_listener_bodies(lwipd, body, field):
    problem(lwipd.post("/v1/listeners", body), 422, field)
    assert lwipd.get("/v1/listeners").json()["listeners"] == []


def test_port_in_use(lwipd, start_peer):
    a = lwipd.listen(PORT)
    problem(lwipd.post("/v1/listeners", {"port": PORT}), 409, "port")
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    conn = established_active(lwipd, peer, local_port=40001)
    problem(lwipd.post("/v1/listeners", {"port": 40001}), 409, "port")
    assert [x["id"] for x in lwipd.get("/v1/listeners").json()["listeners"]] == [a["id"]]
    assert lwipd.conn(conn["id"])["state"] == "ESTABLISHED"


def test_passive_opens_are_counted(lwipd):
    ns = lwipd.ns
    lst = lwipd.listen(PORT)
    snap = Snapshot(lwipd, ns)
    socks, objs = [], []
    try:
        for _ in range(3):
            s, o = established_passive(lwipd, ns, PORT, lst["id"])
            socks.append(s)
            objs.append(o)
        for s, o in zip(socks, objs):
            assert o["origin"] == "passive" and o["listener_id"] == lst["id"], o
            assert o["remote"] == {"ip": KERNEL_IP, "port": s.getsockname()[1]}, o
            assert o["local"] == {"ip": LWIP_IP, "port": PORT}, o
            assert history_pairs(o) == [("SYN_RCVD", "rx:SYN"), ("ESTABLISHED", "rx:ACK")], o
        wait_for(lambda: lwipd.listener(lst["id"])["accepted"] == 3, "accepted to reach 3")
        assert lwipd.listener(lst["id"])["state"] == "LISTEN"
        delta = snap.delta()
        delta.check_edges(*[lwipd.conn(o["id"]) for o in objs])
        assert delta.tcp["passive_opens"] == 3 == delta.kernel["TcpActiveOpens"], delta
        assert delta.tcp["curr_estab"] == 3 == delta.kernel["TcpCurrEstab"], delta
    finally:
        for s in socks:
            s.close()


def test_syn_without_listener_gets_rst(lwipd, start_capture):
    ns = lwipd.ns
    lwipd.listen(PORT)
    cap = start_capture(ns)
    snap = Snapshot(lwipd, ns)
    with pytest.raises(ConnectionRefusedError):
        ns.connect(PORT + 1).close()
    pkts = cap.stop_when(lambda segs: any("R" in s.flags for s in segs), "lwIP's RST")
    segs = tcp_segments(pkts, PORT + 1, None)
    assert [(s.src, flagset(s)) for s in segs] == [(KERNEL_IP, "S"), (LWIP_IP, "AR")], describe(segs)
    assert segs[1].ack == (segs[0].seq + 1) % M, describe(segs)
    delta = snap.delta()
    assert delta.tcp["out_rsts"] == 1 == delta.kernel["TcpAttemptFails"], delta
    assert delta.tcp["in_segs"] == 1 and delta.tcp["passive_opens"] == 0, delta
    assert delta.trans == {}, delta
    assert lwipd.conns() == []


def test_delete_listener_keeps_accepted_connections(lwipd):
    ns = lwipd.ns
    lst = lwipd.listen(PORT)
    s1, o1 = established_passive(lwipd, ns, PORT, lst["id"])
    s2, o2 = established_passive(lwipd, ns, PORT, lst["id"])
    with s1, s2:
        r = lwipd.delete("/v1/listeners/%d" % lst["id"])
        assert r.status == 200, r
        assert r.json()["state"] == "CLOSED" and r.json()["accepted"] == 2, r.json()
        for o in (o1, o2):
            o = lwipd.conn(o["id"])
            assert o["state"] == "ESTABLISHED" and o["listener_id"] == lst["id"], o
        # They still carry data both ways.
        s1.sendall(b"still here")
        wait_for(lambda: lwipd.read_data(o1["id"])[0] == b"still here", "10 bytes in")
        assert lwipd.send(o2["id"], {"data": "me too"})["queued"] == 6
        s2.settimeout(20)
        got = b""
        while len(got) < 6:
            chunk = s2.recv(16)
            assert chunk, got
            got += chunk
        assert got == b"me too"
        with pytest.raises(ConnectionRefusedError):
            ns.connect(PORT).close()


def test_backlog_bounds_handshakes_in_progress(lwipd, start_rawpeer):
    """A listener with backlog 2 holds two half-open handshakes; a third SYN
    is dropped silently (no SYN+ACK, no RST). Once one completes, a repeated
    SYN gets its SYN+ACK."""
    rp = start_rawpeer(lwipd)
    lst = lwipd.listen(PORT, 2)
    snap = Snapshot(lwipd, lwipd.ns)
    for i, sport in enumerate((41001, 41002, 41003)):
        rp.send(sport, PORT, "S", seq=1000000 * (i + 1), mss=1460)
    # A SYN to a closed port is a marker: lwIP handles segments in order, so
    # once its RST is out, the three SYNs before it have been dealt with.
    rp.send(41009, PORT + 9, "S", seq=5, mss=1460)
    rp.wait_segment(lambda s: s.dport == 41009 and "R" in s.flags, "the marker's RST")
    for sport in (41001, 41002):
        rp.wait_segment(lambda s, p=sport: s.dport == p and flagset(s) == "AS", "SYN+ACK to %d" % sport)
    assert rp.count(lambda s: s.dport == 41003) == 0, rp.describe()
    half = sorted(c["remote"]["port"] for c in lwipd.conns("?state=SYN_RCVD"))
    assert half == [41001, 41002], lwipd.conns()
    assert all(c["remote"]["port"] != 41003 for c in lwipd.conns())
    delta = snap.delta()
    assert delta.tcp["passive_opens"] == 2 and delta.tcp["out_rsts"] == 1, delta
    assert delta.tcp["in_segs"] == 4, delta

    # Complete 41001: one slot frees up.
    _, synack = rp.wait_segment(lambda s: s.dport == 41001 and flagset(s) == "AS", "SYN+ACK")
    rp.send(41001, PORT, "A", seq=1000001, ack=synack.seq + 1)
    done = [c for c in lwipd.conns() if c["remote"]["port"] == 41001][0]
    done = lwipd.wait_state(done["id"], "ESTABLISHED")
    assert history_pairs(done) == [("SYN_RCVD", "rx:SYN"), ("ESTABLISHED", "rx:ACK")], done
    wait_for(lambda: lwipd.listener(lst["id"])["accepted"] == 1, "accepted 1")
    rp.send(41003, PORT, "S", seq=3000000, mss=1460)
    rp.wait_segment(lambda s: s.dport == 41003 and flagset(s) == "AS", "SYN+ACK to 41003")
    assert {c["remote"]["port"] for c in lwipd.conns("?state=SYN_RCVD")} == {41002, 41003}


def test_kernel_retries_past_a_small_backlog(lwipd):
    """Many kernel connect()s at once to a backlog-1 listener all complete:
    SYNs beyond the backlog are dropped and the kernel retransmits them."""
    ns = lwipd.ns
    lst = lwipd.listen(PORT, 1)
    socks = []
    try:
        for _ in range(8):
            s = ns.socket()
            s.setblocking(False)
            err = s.connect_ex((LWIP_IP, PORT))
            assert err in (0, errno.EINPROGRESS), err
            socks.append(s)
        r = lwipd.get("/v1/listeners/%d?wait_accepted=8&timeout_ms=60000" % lst["id"], timeout=90)
        assert r.status == 200, r
        assert r.json()["accepted"] == 8, r.json()
        for s in socks:
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        passive = [c for c in lwipd.conns() if c["origin"] == "passive"]
        assert len(passive) == 8 and all(c["state"] == "ESTABLISHED" for c in passive), passive
    finally:
        for s in socks:
            s.close()


def test_rawpeer_handshake_to_listener(lwipd, start_rawpeer):
    """A crafted three-way handshake: the TCB's iss/irs are the wire's."""
    rp = start_rawpeer(lwipd)
    lst = lwipd.listen(PORT)
    rp.send(42000, PORT, "S", seq=123456789, mss=1400)
    _, synack = rp.wait_segment(lambda s: s.dport == 42000 and flagset(s) == "AS", "SYN+ACK")
    assert synack.ack == 123456790
    rp.send(42000, PORT, "A", seq=123456790, ack=synack.seq + 1)
    obj = [c for c in lwipd.conns() if c["remote"] == {"ip": RAW_IP, "port": 42000}][0]
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED")
    assert obj["tcb"]["iss"] == synack.seq and obj["tcb"]["irs"] == 123456789, obj["tcb"]
    assert obj["tcb"]["mss"] <= 1400, obj["tcb"]
    assert lwipd.listener(lst["id"])["accepted"] == 1
