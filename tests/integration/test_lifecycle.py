"""TCP lifecycles between lwIP (10.9.0.2, driven through the API) and the
Linux kernel (10.9.0.1, a peer.py listener), each checked three ways: the
API's state history, the kernel's view (ss) and the wire (tcpdump)."""

import pytest

from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, assert_times_increase, history_pairs, wait_for
from wire import dedupe, describe, tcp_segments
from kit import flagset, lwip_end

LOCAL = "%s:%d" % (KERNEL_IP, PEER_PORT)     # the kernel's end, as ss prints it


def wait_kernel(ns, obj, want, what=None):
    """Waits until the kernel's sockets for obj's 4-tuple are exactly `want`
    (a list of ss state names, [] for none)."""
    peer = lwip_end(obj)
    return wait_for(lambda: sorted(ns.ss_find(LOCAL, peer)) == sorted(want) or None,
                    lambda: "kernel socket %s<->%s to be %s; ss: %s" % (
                        LOCAL, peer, want, ns.ss()))


def established(d, peer, **kw):
    """Opens a connection and waits until lwIP and the kernel agree it is up."""
    obj = d.open_conn(**kw)
    assert obj["origin"] == "active"
    assert obj["local"]["ip"] == LWIP_IP
    assert obj["remote"] == {"ip": kw.get("remote_ip", KERNEL_IP),
                             "port": kw.get("remote_port", PEER_PORT)}
    assert obj["state"] in ("CLOSED", "SYN_SENT", "ESTABLISHED"), obj
    obj = d.wait_state(obj["id"], "ESTABLISHED")
    peer.wait_event("ACCEPT", lwip_end(obj))
    return obj


def test_active_open_and_lwip_closes_first(lwipd, start_peer, start_capture):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    cap = start_capture(ns)

    obj = established(lwipd, peer)
    cid = obj["id"]
    lport = obj["local"]["port"]
    assert 1 <= lport <= 65535
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("ESTABLISHED", "rx:SYN,ACK")]
    wait_kernel(ns, obj, ["ESTAB"])

    r = lwipd.delete("/v1/connections/%d" % cid)
    assert r.status == 202, r
    assert r.json()["id"] == cid
    assert r.json()["state"] in ("FIN_WAIT_1", "FIN_WAIT_2"), r.json()

    # The peer holds its side open after EOF, so lwIP must sit in FIN_WAIT_2.
    obj = lwipd.wait_state(cid, "FIN_WAIT_2")
    peer.wait_event("EOF", lwip_end(obj))
    wait_kernel(ns, obj, ["CLOSE-WAIT"])

    peer.close_all()
    peer.wait_event("CLOSED", lwip_end(obj))
    # TIME_WAIT lasts 2 x --msl-ms (1 s here); it may already be over.
    obj = lwipd.wait_state(cid, "CLOSED")
    assert history_pairs(obj) == [
        ("SYN_SENT", "api:open"),
        ("ESTABLISHED", "rx:SYN,ACK"),
        ("FIN_WAIT_1", "api:close"),
        ("FIN_WAIT_2", "rx:ACK"),
        ("TIME_WAIT", "rx:FIN,ACK"),
        ("CLOSED", "timer:2msl"),
    ], obj["history"]
    assert_times_increase(obj)
    wait_kernel(ns, obj, [])

    pkts = cap.stop_when(lambda segs: len(tcp_segments_of(segs, lport)) >= 7,
                         "the 7 segments of the open and close")
    every = tcp_segments(pkts, lport, PEER_PORT)
    segs, repeats = dedupe(every)
    assert [flagset(s) for s in segs] == ["S", "AS", "A", "AF", "A", "AF", "A"], describe(every)
    syn, synack, ack, fin1, ack1, fin2, ack2 = segs
    ours = (LWIP_IP, KERNEL_IP)
    theirs = (KERNEL_IP, LWIP_IP)
    for s, direction in ((syn, ours), (synack, theirs), (ack, ours), (fin1, ours),
                         (ack1, theirs), (fin2, theirs), (ack2, ours)):
        assert (s.src, s.dst) == direction, describe(segs)
        assert s.payload == 0, describe(segs)
    iss, irs = syn.seq, synack.seq
    m = 2 ** 32
    assert synack.ack == (iss + 1) % m, describe(segs)
    assert (ack.seq, ack.ack) == ((iss + 1) % m, (irs + 1) % m), describe(segs)
    assert (fin1.seq, fin1.ack) == ((iss + 1) % m, (irs + 1) % m), describe(segs)
    assert ack1.ack == (iss + 2) % m, describe(segs)
    assert (fin2.seq, fin2.ack) == ((irs + 1) % m, (iss + 2) % m), describe(segs)
    assert (ack2.seq, ack2.ack) == ((iss + 2) % m, (irs + 2) % m), describe(segs)

    # Every frame counts, retransmissions (normally none) included.
    c = obj["counters"]
    assert c["segs_out"] == sum(1 for s in every if s.src == LWIP_IP), (c, describe(every))
    assert c["segs_in"] == sum(1 for s in every if s.src == KERNEL_IP), (c, describe(every))
    assert c["retransmits"] == sum(1 for s in repeats if s.src == LWIP_IP), (c, describe(every))
    assert c["bytes_in"] == 0 and c["bytes_out"] == 0, c
    assert c["rst_in"] == 0 and c["rst_out"] == 0, c


def tcp_segments_of(segs, lport):
    return [s for s in segs if lport in (s.sport, s.dport)]


def test_peer_closes_first(lwipd, start_peer, start_capture):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    cap = start_capture(ns)
    obj = established(lwipd, peer)
    cid = obj["id"]

    peer.close_all()
    obj = lwipd.wait_state(cid, "CLOSE_WAIT")
    wait_kernel(ns, obj, ["FIN-WAIT-2"])

    r = lwipd.delete("/v1/connections/%d" % cid)
    assert r.status == 202, r
    assert r.json()["state"] in ("LAST_ACK", "CLOSED"), r.json()
    obj = lwipd.wait_state(cid, "CLOSED")
    assert history_pairs(obj) == [
        ("SYN_SENT", "api:open"),
        ("ESTABLISHED", "rx:SYN,ACK"),
        ("CLOSE_WAIT", "rx:FIN,ACK"),
        ("LAST_ACK", "api:close"),
        ("CLOSED", "rx:ACK"),
    ], obj["history"]
    assert_times_increase(obj)
    # The kernel closed first, so it is the side that waits in TIME_WAIT.
    wait_for(lambda: set(ns.ss_find(LOCAL, lwip_end(obj))) <= {"TIME-WAIT"},
             lambda: "the kernel socket to leave FIN-WAIT-2; ss: %s" % ns.ss())

    lport = obj["local"]["port"]
    pkts = cap.stop_when(lambda segs: len(tcp_segments_of(segs, lport)) >= 7,
                         "the 7 segments of the open and close")
    every = tcp_segments(pkts, lport, PEER_PORT)
    segs, repeats = dedupe(every)
    assert [(s.src, flagset(s)) for s in segs] == [
        (LWIP_IP, "S"), (KERNEL_IP, "AS"), (LWIP_IP, "A"),
        (KERNEL_IP, "AF"), (LWIP_IP, "A"), (LWIP_IP, "AF"), (KERNEL_IP, "A"),
    ], describe(every)
    c = obj["counters"]
    assert c["segs_out"] == sum(1 for s in every if s.src == LWIP_IP), (c, describe(every))
    assert c["segs_in"] == sum(1 for s in every if s.src == KERNEL_IP), (c, describe(every))


def test_refused(lwipd, start_capture):
    cap = start_capture(lwipd.ns)
    obj = lwipd.open_conn(remote_port=7001)   # nobody listens there
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("CLOSED", "rx:RST,ACK")], obj
    assert_times_increase(obj)
    assert obj["counters"]["rst_in"] == 1, obj["counters"]
    assert obj["counters"]["rst_out"] == 0, obj["counters"]
    lport = obj["local"]["port"]
    pkts = cap.stop_when(lambda segs: any("R" in s.flags for s in segs), "the kernel's RST")
    segs, _ = dedupe(tcp_segments(pkts, lport, 7001))
    assert [(s.src, flagset(s)) for s in segs] == [(LWIP_IP, "S"), (KERNEL_IP, "AR")], describe(segs)
    assert segs[1].ack == (segs[0].seq + 1) % 2 ** 32, describe(segs)


def test_abort_sends_rst(lwipd, start_peer, start_capture):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    cap = start_capture(ns)
    obj = established(lwipd, peer)
    cid = obj["id"]
    wait_kernel(ns, obj, ["ESTAB"])

    r = lwipd.delete("/v1/connections/%d?mode=abort" % cid)
    assert r.status == 202, r
    obj = r.json()
    assert obj["state"] == "CLOSED", obj
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("ESTABLISHED", "rx:SYN,ACK"),
                                  ("CLOSED", "api:abort")], obj["history"]
    assert_times_increase(obj)
    assert obj["counters"]["rst_out"] == 1, obj["counters"]
    assert lwipd.conn(cid)["state"] == "CLOSED"

    wait_kernel(ns, obj, [])
    peer.wait_event("RESET", lwip_end(obj))
    lport = obj["local"]["port"]
    pkts = cap.stop_when(lambda segs: any("R" in s.flags and s.src == LWIP_IP for s in segs),
                         "lwIP's RST")
    segs = tcp_segments(pkts, lport, PEER_PORT)
    rsts = [s for s in segs if "R" in s.flags]
    assert len(rsts) == 1 and rsts[0].src == LWIP_IP, describe(segs)
    # The RST carries the next sequence number the kernel expects.
    synack = [s for s in segs if flagset(s) == "AS"][0]
    assert rsts[0].seq == synack.ack, describe(segs)
    assert segs[-1] is rsts[0], describe(segs)

    # Repeating the abort on a closed connection changes nothing.
    r = lwipd.delete("/v1/connections/%d?mode=abort" % cid)
    assert r.status == 200, r
    assert history_pairs(r.json()) == history_pairs(obj)


@pytest.mark.slow
def test_never_answered_gives_up_after_syn_retries(lwipd, start_peer, start_capture):
    # A listener whose accept queue is full: Linux drops every SYN to it
    # silently (no SYN+ACK, no RST), so lwIP retransmits until it gives up.
    ns = lwipd.ns
    start_peer(ns, 7999, "full")
    cap = start_capture(ns)
    obj = lwipd.open_conn(remote_port=7999)
    cid = obj["id"]
    obj = lwipd.wait_state(cid, "SYN_SENT")
    obj = wait_for(lambda: (lambda o: o if o["counters"]["retransmits"] >= 2 else None)(
        lwipd.conn(cid)), "at least 2 SYN retransmissions", timeout=60)
    assert obj["state"] == "SYN_SENT", obj
    # lwIP 2.1.3 sends the SYN 7 times, 3 s apart (it does not back off in
    # SYN_SENT), then gives up; the brief expected 85-100 s. Either way the
    # wait is bounded well past that.
    obj = lwipd.wait_state(cid, "CLOSED", timeout=240)
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("CLOSED", "timer:syn-retries")], obj
    assert_times_increase(obj)
    c = obj["counters"]
    assert c["segs_in"] == 0 and c["rst_in"] == 0, c
    lport = obj["local"]["port"]
    segs = tcp_segments(cap.stop(), lport, 7999)
    assert segs and all(s.src == LWIP_IP and flagset(s) == "S" for s in segs), describe(segs)
    assert len({s.seq for s in segs}) == 1, describe(segs)   # the same SYN, again and again
    assert c["retransmits"] == len(segs) - 1, (c, describe(segs))
    assert c["segs_out"] == len(segs), (c, describe(segs))


def test_arp_unresolved(lwipd, start_capture):
    cap = start_capture(lwipd.ns, bpf="")
    obj = lwipd.open_conn(remote_ip="10.9.0.99", remote_port=PEER_PORT)
    cid = obj["id"]
    assert obj["remote"] == {"ip": "10.9.0.99", "port": PEER_PORT}

    def given_up():
        o = lwipd.conn(cid)
        return o if o["state"] == "CLOSED" and o["history"] else None
    obj = wait_for(given_up, "the connection to 10.9.0.99 to end (CLOSED with a history)")
    # Like a kernel socket whose SYN waits for neighbour resolution, it was in
    # SYN_SENT from the open on; its SYN never left, so nothing was sent.
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("CLOSED", "arp:unresolved")], obj["history"]
    assert obj["counters"]["segs_out"] == 0, obj["counters"]
    # It never leaves CLOSED: nothing more happens to it.
    assert lwipd.conn(cid)["history"] == obj["history"]
    pkts = cap.stop()
    from scapy.layers.l2 import ARP
    asked = [p for p in pkts if ARP in p and p[ARP].op == 1 and p[ARP].pdst == "10.9.0.99"]
    assert asked, "no ARP request for 10.9.0.99 on the wire"
    assert all(p[ARP].psrc == LWIP_IP for p in asked)
    assert not tcp_segments(pkts, remote_ip="10.9.0.99"), "a TCP segment left without ARP"


def test_explicit_local_port(lwipd, start_peer, start_capture):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    cap = start_capture(ns)
    obj = established(lwipd, peer, local_port=40001)
    assert obj["local"] == {"ip": LWIP_IP, "port": 40001}
    wait_kernel(ns, obj, ["ESTAB"])
    assert ns.ss_find(LOCAL, "%s:40001" % LWIP_IP) == ["ESTAB"]
    pkts = cap.stop_when(lambda segs: len(segs) >= 3, "the handshake")
    segs = tcp_segments(pkts, remote_port=PEER_PORT)
    assert segs[0].src == LWIP_IP and flagset(segs[0]) == "S", describe(segs)
    assert segs[0].sport == 40001, describe(segs)
    assert all(40001 in (s.sport, s.dport) for s in segs), describe(segs)


def test_two_connections_get_distinct_local_ports(lwipd, start_peer):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    a = established(lwipd, peer)
    b = established(lwipd, peer)
    assert a["id"] != b["id"]
    assert a["local"]["port"] != b["local"]["port"]
    wait_kernel(ns, a, ["ESTAB"])
    wait_kernel(ns, b, ["ESTAB"])
    listed = {c["id"]: c for c in lwipd.conns("?state=ESTABLISHED")}
    assert set(listed) == {a["id"], b["id"]}


def test_closed_connections_stay_listed(lwipd, start_peer):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    refused = lwipd.open_conn(remote_port=7001)
    refused = lwipd.wait_state(refused["id"], "CLOSED")
    aborted = established(lwipd, peer)
    r = lwipd.delete("/v1/connections/%d?mode=abort" % aborted["id"])
    assert r.status == 202, r
    live = established(lwipd, peer)

    everything = lwipd.conns()
    ids = [c["id"] for c in everything]
    assert set(ids) == {refused["id"], aborted["id"], live["id"]}
    for c in everything:
        assert set(c) >= {"id", "origin", "local", "remote", "state", "history", "counters"}, c

    closed = lwipd.conns("?state=CLOSED")
    assert {c["id"] for c in closed} == {refused["id"], aborted["id"]}
    assert all(c["state"] == "CLOSED" for c in closed)
    est = lwipd.conns("?state=ESTABLISHED")
    assert [c["id"] for c in est] == [live["id"]]
    assert lwipd.conns("?state=TIME_WAIT") == []
    # Each closed one is still there on its own.
    assert lwipd.conn(refused["id"])["history"][-1]["cause"] == "rx:RST,ACK"
    assert lwipd.conn(aborted["id"])["history"][-1]["cause"] == "api:abort"


def test_repeated_delete_answers_200(lwipd, start_peer):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    obj = established(lwipd, peer)
    cid = obj["id"]
    path = "/v1/connections/%d" % cid
    r = lwipd.delete(path)
    assert r.status == 202, r
    obj = lwipd.wait_state(cid, "FIN_WAIT_2")
    # Closing already: a second graceful close does nothing.
    r = lwipd.delete(path)
    assert r.status == 200, r
    assert r.json()["id"] == cid
    assert r.json()["state"] == "FIN_WAIT_2", r.json()
    assert history_pairs(r.json()) == history_pairs(obj)

    peer.close_all()
    obj = lwipd.wait_state(cid, "CLOSED")
    for p in (path, path + "?mode=graceful", path + "?mode=abort"):
        r = lwipd.delete(p)
        assert r.status == 200, (p, r)
        assert r.json()["state"] == "CLOSED"
        assert history_pairs(r.json()) == history_pairs(obj)
    assert lwipd.conn(cid)["history"] == obj["history"]


def test_peer_that_closes_at_once_after_eof(lwipd, start_peer):
    # An echo peer closes as soon as it reads EOF, so Linux may send its FIN
    # with the ACK of ours: FIN_WAIT_2 is then skipped. Either path is right.
    peer = start_peer(lwipd.ns, PEER_PORT, "echo")
    obj = established(lwipd, peer)
    r = lwipd.delete("/v1/connections/%d" % obj["id"])
    assert r.status == 202, r
    peer.wait_event("CLOSED", lwip_end(obj))
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    head = [("SYN_SENT", "api:open"), ("ESTABLISHED", "rx:SYN,ACK"), ("FIN_WAIT_1", "api:close")]
    tail = [("TIME_WAIT", "rx:FIN,ACK"), ("CLOSED", "timer:2msl")]
    assert history_pairs(obj) in (head + tail, head + [("FIN_WAIT_2", "rx:ACK")] + tail), \
        obj["history"]
    assert_times_increase(obj)
    wait_kernel(lwipd.ns, obj, [])


def test_retain_closed_drops_the_oldest(netns, start_daemon):
    d = start_daemon(netns, "--retain-closed", "2")
    ids = []
    for _ in range(3):
        obj = d.open_conn(remote_port=7001)    # refused: CLOSED at once
        d.wait_state(obj["id"], "CLOSED")
        ids.append(obj["id"])
    wait_for(lambda: d.get("/v1/connections/%d" % ids[0]).status == 404,
             "the oldest closed connection to be dropped")
    r = d.get("/v1/connections/%d" % ids[0])
    assert r.content_type == "application/problem+json", r
    assert d.conn(ids[1])["state"] == "CLOSED"
    assert d.conn(ids[2])["state"] == "CLOSED"
    assert [c["id"] for c in d.conns("?state=CLOSED")] == ids[1:]


def test_retain_closed_zero_keeps_none(netns, start_daemon, start_peer):
    d = start_daemon(netns, "--retain-closed", "0")
    peer = start_peer(netns, PEER_PORT, "hold")
    live = established(d, peer)
    obj = d.open_conn(remote_port=7001)
    wait_for(lambda: d.get("/v1/connections/%d" % obj["id"]).status == 404,
             "the refused connection to be forgotten")
    assert [c["id"] for c in d.conns()] == [live["id"]]


# lwipd binds and connects without lwIP's own checks of the port and the
# 4-tuple (its hash of connections answers them), so a PCB registered in the
# wrong list, or left out of one, shows here: its SYN+ACK would meet a RST,
# the stop would find PCBs no connection owns, or a port would stay taken.


def test_a_four_tuple_is_taken_in_time_wait_and_free_after(netns, start_daemon, start_peer,
                                                             start_capture):
    d = start_daemon(netns, msl_ms=2000)
    echo = start_peer(netns, PEER_PORT, "echo")
    other = start_peer(netns, 7001, "hold")
    cap = start_capture(netns)
    first = established(d, echo, local_port=40003)
    d.delete("/v1/connections/%d" % first["id"])
    d.wait_state(first["id"], "TIME_WAIT")

    # In TIME_WAIT the 4-tuple is taken; the port still serves another remote endpoint.
    r = d.post("/v1/connections", {"remote_ip": KERNEL_IP, "remote_port": PEER_PORT,
                                   "local_port": 40003})
    assert r.status == 409 and r.json()["field"] == "local_port", r
    assert d.conn(first["id"])["state"] == "TIME_WAIT", "TIME_WAIT (2 x 2 s) ended too soon"
    beside = established(d, other, remote_port=7001, local_port=40003)

    d.wait_state(first["id"], "CLOSED")
    again = established(d, echo, local_port=40003)
    wait_kernel(netns, again, ["ESTAB"])
    pkts = cap.stop_when(lambda segs: sum(1 for s in segs if s.sport == 40003 and
                                          flagset(s) == "S") >= 3, "the three SYNs")
    segs = tcp_segments(pkts, 40003, PEER_PORT)
    assert not any("R" in s.flags for s in segs), describe(segs)
    assert [flagset(s) for s in tcp_segments(pkts, 40003, 7001)][:3] == ["S", "AS", "A"]
    assert {c["id"]: c["state"] for c in d.conns("?state=ESTABLISHED")} == {
        beside["id"]: "ESTABLISHED", again["id"]: "ESTABLISHED"}


def test_many_opens_to_one_remote_port_are_all_lwips_and_all_reset_on_stop(lwipd, start_peer):
    ns = lwipd.ns
    start_peer(ns, PEER_PORT, "hold")
    count = 200
    ids = [lwipd.open_conn()["id"] for _ in range(count)]
    for cid in ids:
        lwipd.wait_state(cid, "ESTABLISHED")
    conns = lwipd.conns("?state=ESTABLISHED")
    assert len({c["local"]["port"] for c in conns}) == count
    wait_for(lambda: sum(1 for s in ns.ss() if s["state"] == "ESTAB" and
                         s["local"] == LOCAL) == count, lambda: "%d ESTAB in ss" % count)

    assert lwipd.terminate() == 0, lwipd.stderr()
    assert "ended the %d connections lwIP held, 0 of them untracked" % count in lwipd.stderr(), \
        lwipd.stderr()
    wait_for(lambda: not any(s["peer"].startswith(LWIP_IP + ":") for s in ns.ss()),
             lambda: "every kernel socket reset; ss: %s" % ns.ss())


def test_time_waits_end_in_any_order_and_lwip_keeps_the_rest(netns, start_daemon, start_peer):
    # lwipd moves a TIME_WAIT PCB to the head of lwIP's list before freeing it;
    # a wrong move would lose PCBs from the list or keep freed ones in it.
    d = start_daemon(netns, msl_ms=10000)
    echo = start_peer(netns, PEER_PORT, "echo")
    conns = [established(d, echo) for _ in range(30)]
    for c in conns:
        d.delete("/v1/connections/%d" % c["id"])
    for c in conns:
        d.wait_state(c["id"], "TIME_WAIT")
    # The oldest, one in the middle, the newest, then two neighbours.
    ended = [conns[0], conns[14], conns[29], conns[7], conns[8]]
    for c in ended:
        r = d.delete("/v1/connections/%d?mode=abort" % c["id"])
        assert r.status == 202, r
        assert d.conn(c["id"])["state"] == "CLOSED"
    left = [c for c in conns if c not in ended]
    assert {c["id"] for c in d.conns("?state=TIME_WAIT")} == {c["id"] for c in left}

    assert d.terminate() == 0, d.stderr()
    assert "ended the %d connections lwIP held, 0 of them untracked" % len(left) in d.stderr(), \
        d.stderr()
