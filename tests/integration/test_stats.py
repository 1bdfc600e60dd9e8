"""GET /v1/stats: its shape, the RFC 4022 counters against the transitions
map, the wire and the kernel's nstat, and in_errs for a segment with a bad
checksum (crafted with scapy)."""

from crafted import RAW_IP
from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, wait_for
from wire import describe, tcp_segments
from kit import (IFACE_KEYS, TCP_KEYS, Snapshot, established_active, flagset, lwip_end,
                 pattern)


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


STATES = {"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
          "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"}


def check_shape(s):
    assert set(s) == {"tcp", "transitions", "interface", "faults", "capture", "memory"}, s
    assert set(s["capture"]) == {"readers", "readers_dropped"}, s["capture"]
    assert set(s["memory"]) == {"limit", "used", "send_queued", "recv_buffers", "timelines",
                                "sends_refused", "recv_deferred", "timeline_refused"}, s["memory"]
    assert s["memory"]["limit"] == 256 << 20, s["memory"]
    assert s["memory"]["used"] <= s["memory"]["limit"], s["memory"]
    assert set(s["tcp"]) == TCP_KEYS, s["tcp"]
    assert set(s["interface"]) == IFACE_KEYS, s["interface"]
    for v in list(s["tcp"].values()) + list(s["interface"].values()):
        assert is_count(v), s
    for k, v in s["transitions"].items():
        a, _, b = k.partition("->")
        assert a in STATES and b in STATES and a != b, k
        assert is_count(v) and v > 0, s["transitions"]   # only non-zero pairs


def test_fresh_daemon_stats(lwipd):
    r = lwipd.get("/v1/stats")
    assert r.status == 200 and r.content_type == "application/json", r
    s = r.json()
    check_shape(s)
    assert s["transitions"] == {}, s
    for k in TCP_KEYS:
        assert s["tcp"][k] == 0, s["tcp"]


def test_a_whole_connection_in_the_counters(lwipd, start_peer, start_capture):
    """One connection through open, data and close: the transitions are
    its history's edges, segment counts match the wire and the kernel,
    interface counters moved, and each connection's counters add up."""
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "echo")
    cap = start_capture(ns)
    snap = Snapshot(lwipd, ns)
    obj = established_active(lwipd, peer)
    lwipd.send(obj["id"], {"size": 50000})
    got = bytearray()

    def echoed():
        got.extend(lwipd.read_data(obj["id"])[0])
        return len(got) >= 50000
    wait_for(echoed, lambda: "50000 bytes echoed, got %d" % len(got), timeout=60)
    assert bytes(got) == pattern(50000)
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    peer.wait_event("CLOSED", lwip_end(obj))
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    lport = obj["local"]["port"]
    pkts = cap.stop_when(
        lambda segs: sum(1 for s in segs if s.dport == lport) >= obj["counters"]["segs_in"],
        "every segment lwIP received to be captured")
    every = tcp_segments(pkts, lport, PEER_PORT)
    delta = snap.delta()
    check_shape(delta.after.ours)
    delta.check_edges(obj)
    out = sum(1 for s in every if s.src == LWIP_IP)
    inn = sum(1 for s in every if s.src == KERNEL_IP)
    c = obj["counters"]
    assert delta.tcp["in_segs"] == c["segs_in"] == inn, (delta, c, describe(every))
    assert delta.tcp["out_segs"] + delta.tcp["retrans_segs"] == c["segs_out"] == out, (delta, c)
    assert delta.tcp["retrans_segs"] == c["retransmits"], (delta, c)
    # Payload bytes as on the wire.
    assert c["bytes_in"] == sum(s.payload for s in every if s.src == KERNEL_IP), (c, describe(every))
    assert c["bytes_out"] == sum(s.payload for s in every if s.src == LWIP_IP), (c, describe(every))
    assert delta.kernel["TcpInSegs"] == out, delta
    assert delta.tcp["active_opens"] == 1 == delta.kernel["TcpPassiveOpens"], delta
    assert delta.tcp["curr_estab"] == 0 == delta.kernel["TcpCurrEstab"], delta
    assert delta.tcp["in_errs"] == 0 and delta.tcp["out_rsts"] == 0, delta
    assert delta.iface["tx_frames"] >= out and delta.iface["rx_frames"] >= inn, delta.iface
    assert delta.iface["tx_bytes"] > 50000 and delta.iface["rx_bytes"] > 50000, delta.iface


def test_bad_checksum_counts_in_errs(lwipd, start_rawpeer):
    """A SYN with a bad TCP checksum to a closed port is counted in in_segs
    and in_errs and otherwise ignored (no RST); the same SYN with a good
    checksum right after it gets the one RST."""
    rp = start_rawpeer(lwipd)
    snap = Snapshot(lwipd, lwipd.ns)
    rp.send(43000, 9999, "S", seq=777, mss=1460, bad_checksum=True)
    rp.send(43001, 9999, "S", seq=888, mss=1460)
    _, rst = rp.wait_segment(lambda s: "R" in s.flags, "a RST")
    assert rst.dport == 43001 and rst.ack == 889, rp.describe()
    assert rp.count(lambda s: s.dport == 43000) == 0, rp.describe()
    delta = snap.delta()
    assert delta.tcp["in_errs"] == 1, delta
    assert delta.tcp["in_segs"] == 2, delta
    assert delta.tcp["out_rsts"] == 1 and delta.tcp["out_segs"] == 1, delta
    assert delta.trans == {}, delta
    assert lwipd.conns() == []


def test_bad_checksum_on_a_connection_is_dropped(lwipd, start_rawpeer):
    """A data segment with a bad checksum on an established connection is
    not taken: in_errs counts it, no byte reaches the receive buffer."""
    rp = start_rawpeer(lwipd)
    lwipd.listen(9000)
    rp.send(43100, 9000, "S", seq=1000, mss=1460)
    _, synack = rp.wait_segment(lambda s: s.dport == 43100 and flagset(s) == "AS", "SYN+ACK")
    rp.send(43100, 9000, "A", seq=1001, ack=synack.seq + 1)
    obj = [c for c in lwipd.conns() if c["remote"] == {"ip": RAW_IP, "port": 43100}][0]
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED")
    snap = Snapshot(lwipd, lwipd.ns)
    rp.send(43100, 9000, "PA", seq=1001, ack=synack.seq + 1, payload=b"corrupt", bad_checksum=True)
    rp.send(43100, 9000, "PA", seq=1001, ack=synack.seq + 1, payload=b"good")
    rp.wait_segment(lambda s: s.dport == 43100 and s.ack == 1005, "the ACK of 'good'")
    assert lwipd.read_data(obj["id"]) == (b"good", False)
    delta = snap.delta()
    assert delta.tcp["in_errs"] == 1 and delta.tcp["in_segs"] == 2, delta
    assert lwipd.conn(obj["id"])["tcb"]["rcv_nxt"] == 1005


def test_curr_estab_counts_established_and_close_wait(lwipd, start_peer):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    base = lwipd.stats()["tcp"]["curr_estab"]
    a = established_active(lwipd, peer)
    b = established_active(lwipd, peer)
    assert lwipd.stats()["tcp"]["curr_estab"] == base + 2
    peer.close_all()
    lwipd.wait_state(a["id"], "CLOSE_WAIT")
    lwipd.wait_state(b["id"], "CLOSE_WAIT")
    assert lwipd.stats()["tcp"]["curr_estab"] == base + 2
    assert lwipd.delete("/v1/connections/%d" % a["id"]).status == 202
    lwipd.wait_state(a["id"], "CLOSED")
    assert lwipd.stats()["tcp"]["curr_estab"] == base + 1
    assert lwipd.delete("/v1/connections/%d?mode=abort" % b["id"]).status == 202
    s = lwipd.stats()
    assert s["tcp"]["curr_estab"] == base, s
    assert s["transitions"].get("CLOSE_WAIT->CLOSED") == 1, s
    assert s["transitions"].get("CLOSE_WAIT->LAST_ACK") == 1, s
    assert s["tcp"]["estab_resets"] == 1, s
