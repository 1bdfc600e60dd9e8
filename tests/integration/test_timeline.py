"""Per-connection timelines (GET /v1/connections/{id}/timeline) and their
ladder text (?format=text), checked segment by segment against a packet
capture of the same connection: an active and a passive open, each closed
by lwIP first and by the kernel first, with data both ways; and the cap on
a timeline's length (--timeline-max)."""

import pytest

from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, run, wait_for
from wire import describe, tcp_segments
from kit import lwip_end
from timeline_check import (assert_ladder, assert_matches_capture, assert_relative,
                            describe_events, expected_steps, get_timeline, segments,
                            state_events, transitions)

LISTEN_PORT = 9000

HISTORIES = {
    ("active", "lwip"): [
        ("CLOSED", "SYN_SENT", "api:open"),
        ("SYN_SENT", "ESTABLISHED", "rx:SYN,ACK"),
        ("ESTABLISHED", "FIN_WAIT_1", "api:close"),
        ("FIN_WAIT_1", "FIN_WAIT_2", "rx:ACK"),
        ("FIN_WAIT_2", "TIME_WAIT", "rx:FIN,ACK"),
        ("TIME_WAIT", "CLOSED", "timer:2msl"),
    ],
    ("active", "peer"): [
        ("CLOSED", "SYN_SENT", "api:open"),
        ("SYN_SENT", "ESTABLISHED", "rx:SYN,ACK"),
        ("ESTABLISHED", "CLOSE_WAIT", "rx:FIN,ACK"),
        ("CLOSE_WAIT", "LAST_ACK", "api:close"),
        ("LAST_ACK", "CLOSED", "rx:ACK"),
    ],
    ("passive", "lwip"): [
        ("LISTEN", "SYN_RCVD", "rx:SYN"),
        ("SYN_RCVD", "ESTABLISHED", "rx:ACK"),
        ("ESTABLISHED", "FIN_WAIT_1", "api:close"),
        ("FIN_WAIT_1", "FIN_WAIT_2", "rx:ACK"),
        ("FIN_WAIT_2", "TIME_WAIT", "rx:FIN,ACK"),
        ("TIME_WAIT", "CLOSED", "timer:2msl"),
    ],
    ("passive", "peer"): [
        ("LISTEN", "SYN_RCVD", "rx:SYN"),
        ("SYN_RCVD", "ESTABLISHED", "rx:ACK"),
        ("ESTABLISHED", "CLOSE_WAIT", "rx:FIN,ACK"),
        ("CLOSE_WAIT", "LAST_ACK", "api:close"),
        ("LAST_ACK", "CLOSED", "rx:ACK"),
    ],
}

# step -> (direction, state_before, state_after), per kind of open and close.
OPEN_STEPS = {
    "active": {"handshake-1": ("out", "CLOSED", "SYN_SENT"),
               "handshake-2": ("in", "SYN_SENT", "ESTABLISHED"),
               "handshake-3": ("out", "ESTABLISHED", "ESTABLISHED")},
    "passive": {"handshake-1": ("in", "LISTEN", "SYN_RCVD"),
                "handshake-2": ("out", "SYN_RCVD", "SYN_RCVD"),
                "handshake-3": ("in", "SYN_RCVD", "ESTABLISHED")},
}
CLOSE_STEPS = {
    "lwip": {"teardown-1": ("out", "ESTABLISHED", "FIN_WAIT_1"),
             "teardown-2": ("in", "FIN_WAIT_1", "FIN_WAIT_2"),
             "teardown-3": ("in", "FIN_WAIT_2", "TIME_WAIT"),
             "teardown-4": ("out", "TIME_WAIT", "TIME_WAIT")},
    "peer": {"teardown-1": ("in", "ESTABLISHED", "CLOSE_WAIT"),
             "teardown-2": ("out", "CLOSE_WAIT", "CLOSE_WAIT"),
             "teardown-3": ("out", "CLOSE_WAIT", "LAST_ACK"),
             "teardown-4": ("in", "LAST_ACK", "CLOSED")},
}


def of_conn(segs, lport, kport):
    """The segments (from Capture.stop_when) between lwIP's lport and the
    kernel's kport."""
    return [s for s in segs if {(s.sport, s.dport), (s.dport, s.sport)} & {(lport, kport)}]


def all_acked(d, cid):
    tcb = d.conn(cid)["tcb"]
    return tcb["snd_una"] == tcb["snd_nxt"]


def wait_received(d, cid, want):
    """Drains GET .../data until `want` bytes arrived in all; returns them."""
    import base64
    got = bytearray()

    def more():
        r = d.get("/v1/connections/%s/data" % cid)
        assert r.status == 200, r
        got.extend(base64.b64decode(r.json()["data_base64"]))
        return len(got) >= len(want)
    wait_for(more, lambda: "lwIP to receive %r; got %r" % (want, bytes(got)))
    assert bytes(got) == want
    return bytes(got)


def send(d, cid, text):
    r = d.post("/v1/connections/%s/send" % cid, {"data": text})
    assert r.status == 202, r
    assert r.json() == {"queued": len(text)}, r


def run_active(d, ns, start_peer, first):
    """lwIP opens to an echoing kernel peer, sends data and gets it back,
    then closes (first == "lwip") or the peer closes first."""
    peer = start_peer(ns, PEER_PORT, "echohold")
    obj = d.open_conn()
    cid = obj["id"]
    obj = d.wait_state(cid, "ESTABLISHED")
    peer.wait_event("ACCEPT", lwip_end(obj))
    send(d, cid, "hello")
    peer.wait_event("DATA", lwip_end(obj))
    wait_received(d, cid, b"hello")
    wait_for(lambda: all_acked(d, cid), "the kernel to acknowledge lwIP's data")
    if first == "lwip":
        r = d.delete("/v1/connections/%s" % cid)
        assert r.status == 202, r
        d.wait_state(cid, "FIN_WAIT_2")
        peer.wait_event("EOF", lwip_end(obj))
        # The peer closes only now, so the close takes four segments.
        peer.close_all()
    else:
        peer.close_all()
        d.wait_state(cid, "CLOSE_WAIT")
        r = d.delete("/v1/connections/%s" % cid)
        assert r.status == 202, r
    return d.wait_state(cid, "CLOSED"), PEER_PORT


def run_passive(d, ns, start_kclient, first):
    """The kernel connects to a listener, sends data and reads lwIP's; then
    lwIP closes first, or the kernel does (SHUT_WR)."""
    r = d.post("/v1/listeners", {"port": LISTEN_PORT, "backlog": 16})
    assert r.status == 201, r
    lid = r.json()["id"]
    client = start_kclient(ns, LWIP_IP, LISTEN_PORT)
    r = d.get("/v1/listeners/%d?wait_accepted=1" % lid)
    assert r.status == 200, r
    mine = [c for c in d.conns() if c["origin"] == "passive"
            and c["remote"] == {"ip": KERNEL_IP, "port": client.local_port}]
    assert len(mine) == 1, d.conns()
    cid = mine[0]["id"]
    assert mine[0]["listener_id"] == lid
    d.wait_state(cid, "ESTABLISHED")
    client.do("send ping", "SENT")
    wait_received(d, cid, b"ping")
    send(d, cid, "pong!")
    client.do("recv 5", "RECV")
    wait_for(lambda: all_acked(d, cid), "the kernel to acknowledge lwIP's data")
    if first == "lwip":
        r = d.delete("/v1/connections/%s" % cid)
        assert r.status == 202, r
        d.wait_state(cid, "FIN_WAIT_2")
        client.do("eof", "EOF")
        client.do("close", "CLOSED")
    else:
        client.do("shutdown", "SHUTDOWN")
        d.wait_state(cid, "CLOSE_WAIT")
        r = d.delete("/v1/connections/%s" % cid)
        assert r.status == 202, r
        client.do("eof", "EOF")
    obj = d.wait_state(cid, "CLOSED")
    if first == "peer":
        client.do("close", "CLOSED")
    return obj, client.local_port


@pytest.mark.parametrize("origin,first", [("active", "lwip"), ("active", "peer"),
                                          ("passive", "lwip"), ("passive", "peer")])
def test_timeline_matches_the_wire(origin, first, lwipd, start_peer, start_kclient,
                                   start_capture):
    ns = lwipd.ns
    cap = start_capture(ns)
    if origin == "active":
        obj, kport = run_active(lwipd, ns, start_peer, first)
    else:
        obj, kport = run_passive(lwipd, ns, start_kclient, first)
    cid = obj["id"]
    lport = obj["local"]["port"]

    tl = get_timeline(lwipd, cid)
    why = describe_events(tl["events"])
    assert tl["dropped"] == 0, why
    assert tl["connection"]["state"] == "CLOSED", tl["connection"]
    assert tl["connection"]["history"] == obj["history"], tl["connection"]
    tsegs = segments(tl)

    # The wire: every segment of this connection, in and out.
    pkts = cap.stop_when(lambda s: len(of_conn(s, lport, kport)) >= len(tsegs),
                         "the %d segments of the timeline in the capture" % len(tsegs))
    wire = tcp_segments(pkts, lport, kport)
    assert_matches_capture(tsegs, wire)
    c = obj["counters"]
    assert c["segs_out"] + c["segs_in"] == len(wire), (c, describe(wire))

    # Sequence numbers relative to each side's SYN.
    syn_out = [s for s in wire if s.src == LWIP_IP and "S" in s.flags]
    syn_in = [s for s in wire if s.src == KERNEL_IP and "S" in s.flags]
    assert syn_out and syn_in, describe(wire)
    iss, irs = syn_out[0].seq, syn_in[0].seq
    assert (obj["tcb"]["iss"], obj["tcb"]["irs"]) == (iss, irs), obj["tcb"]
    assert_relative(tsegs, iss, irs)

    # Steps: as worked out from the wire; each handshake and teardown step
    # exactly once, on the segments this open and close produce.
    steps = [e["step"] for e in tsegs]
    assert steps == expected_steps(wire), "steps %s, expected %s\n%s" % (
        steps, expected_steps(wire), why)
    roles = dict(OPEN_STEPS[origin], **CLOSE_STEPS[first])
    for step, (direction, before, after) in roles.items():
        having = [e for e in tsegs if e["step"] == step]
        assert len(having) == 1, "%s on %d segments\n%s" % (step, len(having), why)
        e = having[0]
        assert (e["dir"], e["state_before"], e["state_after"]) == (direction, before, after), \
            "%s: %s\n%s" % (step, describe_events([e]), why)
    names = [e["step"] for e in tsegs if e["step"] in roles]
    assert names == sorted(names), "handshake and teardown out of order\n" + why
    payload = [e for e in tsegs if e["len"] > 0]
    assert payload and all(e["step"] in ("data", "retransmit") for e in payload), why
    assert {e["dir"] for e in payload if e["step"] == "data"} == {"in", "out"}, why
    for e in tsegs:
        if e["step"] not in roles:
            assert e["step"] in ("data", "ack", "retransmit"), why
            assert e["state_before"] == e["state_after"] == "ESTABLISHED", why
    # lwIP's state chains from one segment to the next.
    for a, b in zip(tsegs, tsegs[1:]):
        assert b["state_before"] == a["state_after"], "state chain broken at\n%s\n%s\n\n%s" % (
            describe_events([a]), describe_events([b]), why)

    # State events: every transition of the connection's history, in order.
    initial = "CLOSED" if origin == "active" else "LISTEN"
    got = [(e["from"], e["to"], e["cause"]) for e in state_events(tl)]
    assert got == transitions(obj["history"], initial), why
    assert got == HISTORIES[(origin, first)], why

    # The ladder.
    r = lwipd.get("/v1/connections/%s/timeline?format=text" % cid)
    assert r.status == 200, r
    assert r.content_type == "text/plain", r
    assert_ladder(r.body.decode("utf-8"), tl)


def test_timeline_of_a_refused_open_has_the_rst(lwipd, start_capture):
    cap = start_capture(lwipd.ns)
    obj = lwipd.open_conn(remote_port=7001)        # nobody listens there
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    tl = get_timeline(lwipd, obj["id"])
    tsegs = segments(tl)
    lport = obj["local"]["port"]
    pkts = cap.stop_when(lambda s: len(of_conn(s, lport, 7001)) >= len(tsegs),
                         "the refused open's segments")
    wire = tcp_segments(pkts, lport, 7001)
    assert_matches_capture(tsegs, wire)
    assert [e["step"] for e in tsegs] == expected_steps(wire)
    assert [e["step"] for e in tsegs][-1] == "rst", describe_events(tsegs)
    assert (tsegs[-1]["state_before"], tsegs[-1]["state_after"]) == ("SYN_SENT", "CLOSED")
    assert [(e["from"], e["to"], e["cause"]) for e in state_events(tl)] == [
        ("CLOSED", "SYN_SENT", "api:open"), ("SYN_SENT", "CLOSED", "rx:RST,ACK")]
    r = lwipd.get("/v1/connections/%s/timeline?format=text" % obj["id"])
    assert r.status == 200 and r.content_type == "text/plain", r
    assert_ladder(r.body.decode("utf-8"), tl)


def test_timeline_of_unknown_connection_is_404(lwipd):
    for q in ("", "?format=text"):
        r = lwipd.get("/v1/connections/424242/timeline" + q)
        assert r.status == 404, r
        assert r.content_type == "application/problem+json", r


def test_timeline_cap_keeps_the_head_and_the_most_recent(netns, start_daemon, start_peer,
                                                         start_capture):
    d = start_daemon(netns, "--timeline-max", "128")
    peer = start_peer(netns, PEER_PORT, "hold")
    cap = start_capture(netns)
    obj = d.open_conn()
    cid = obj["id"]
    obj = d.wait_state(cid, "ESTABLISHED")
    peer.wait_event("ACCEPT", lwip_end(obj))
    # One small send at a time, each acknowledged before the next: over 200
    # segments, spread out enough for tcpdump to keep every one of them
    # (a bulk transfer makes it drop frames on a busy machine).
    for i in range(100):
        send(d, cid, "m%03d" % i)
        wait_for(lambda: all_acked(d, cid), "the kernel to acknowledge send %d" % i)
    peer.wait_event("DATA", lwip_end(obj))
    r = d.delete("/v1/connections/%s" % cid)
    assert r.status == 202, r
    d.wait_state(cid, "FIN_WAIT_2")
    peer.close_all()
    obj = d.wait_state(cid, "CLOSED")

    c = obj["counters"]
    total_segs = c["segs_in"] + c["segs_out"]
    lport = obj["local"]["port"]
    pkts = cap.stop_when(lambda s: len(of_conn(s, lport, PEER_PORT)) >= total_segs,
                         "all %d segments in the capture" % total_segs, timeout=60)
    wire = tcp_segments(pkts, lport, PEER_PORT)
    assert len(wire) == total_segs, (c, len(wire))
    total = total_segs + len(obj["history"])
    assert total > 128 + 64, total

    tl = get_timeline(d, cid)
    events = tl["events"]
    why = "dropped %d\n%s" % (tl["dropped"], describe_events(events))
    assert len(events) == 128, why
    assert tl["dropped"] == total - 128, why
    head, tail = events[:64], events[64:]
    head_segs = [e for e in head if e["kind"] == "segment"]
    tail_segs = [e for e in tail if e["kind"] == "segment"]
    # The first 64 events: the opening, as on the wire from its first segment.
    assert_matches_capture(head_segs, wire[:len(head_segs)])
    assert [(e["from"], e["to"]) for e in head if e["kind"] == "state"] == [
        ("CLOSED", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED")], why
    assert head_segs[0]["step"] == "handshake-1", why
    # The rest: the most recent events, up to the last segment and CLOSED.
    assert_matches_capture(tail_segs, wire[len(wire) - len(tail_segs):])
    assert [(e["from"], e["to"]) for e in tail if e["kind"] == "state"] == [
        ("ESTABLISHED", "FIN_WAIT_1"), ("FIN_WAIT_1", "FIN_WAIT_2"),
        ("FIN_WAIT_2", "TIME_WAIT"), ("TIME_WAIT", "CLOSED")], why
    assert tail[-1]["kind"] == "state" and tail[-1]["to"] == "CLOSED", why
    assert [e["step"] for e in tail_segs][-4:] == [
        "teardown-1", "teardown-2", "teardown-3", "teardown-4"], why
    assert len(head_segs) + len(tail_segs) + tl["dropped"] == total_segs, why

    # The ladder of a capped timeline still fits 80 columns.
    r = d.get("/v1/connections/%s/timeline?format=text" % cid)
    assert r.status == 200 and r.content_type == "text/plain", r
    assert_ladder(r.body.decode("utf-8"), tl)


def test_timelines_go_with_their_connection(netns, start_daemon):
    d = start_daemon(netns, "--retain-closed", "1")
    a = d.open_conn(remote_port=7001)
    d.wait_state(a["id"], "CLOSED")
    assert len(segments(get_timeline(d, a["id"]))) == 2     # SYN, RST+ACK
    b = d.open_conn(remote_port=7001)
    d.wait_state(b["id"], "CLOSED")
    wait_for(lambda: d.get("/v1/connections/%s" % a["id"]).status == 404,
             "the first closed connection to be dropped")
    r = d.get("/v1/connections/%s/timeline" % a["id"])
    assert r.status == 404, r
    assert len(segments(get_timeline(d, b["id"]))) == 2


@pytest.mark.parametrize("value", ["127", "0", "abc", "-1"])
def test_timeline_max_is_validated(lwipd_bin, netns, value):
    cp = run([lwipd_bin, "--netns", netns.name, "--tap", "tap0", "--address", "10.9.0.2/24",
              "--listen", "127.0.0.1:0", "--timeline-max", value], check=False, timeout=20)
    assert cp.returncode == 2, cp
    assert "--timeline-max" in cp.stderr, cp
    assert len(cp.stderr.strip().splitlines()) == 1, cp
