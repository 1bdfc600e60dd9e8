"""One test per TCP state lwIP reaches and per RFC 9293 transition edge that
a peer can make it take, each checking the API's state and history (state,
cause), the wire where it matters, and the /v1/stats deltas: the
transitions map must hold exactly the edges of the connection's history, the
RFC 4022 counters must agree with those edges, and where a kernel counter
measures the same event (the kernel is the peer, all of the namespace's TCP
goes through tap0) its nstat delta must equal ours:

    our active_opens   == kernel TcpPassiveOpens   (lwIP's SYN accepted)
    our passive_opens  == kernel TcpActiveOpens    (the kernel's connect())
    our estab_resets   == kernel TcpEstabResets    (a RST between two ESTABLISHED ends)
    our out_segs + retrans_segs == kernel TcpInSegs (every segment lwIP sends reaches it)

Segments the kernel will not send are crafted with scapy by crafted.RawPeer
(10.9.0.3, an address the kernel does not own): a FIN crossing lwIP's FIN
(CLOSING), a FIN+ACK that acks lwIP's FIN at once (FIN_WAIT_1 -> TIME_WAIT),
a RST answering lwIP's SYN+ACK, half-open handshakes.

SYN_SENT -> SYN_RCVD (simultaneous open) cannot be produced: lwIP 2.1.3's
tcp_process() ignores a bare SYN in SYN_SENT (it handles only SYN+ACK, or
answers an ACK with a RST), so it never enters SYN_RCVD from SYN_SENT;
test_crossing_syn_is_ignored_by_lwip pins that down.
"""

import socket
import struct

import pytest

from crafted import RAW_IP
from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, assert_times_increase, history_pairs, wait_for
from wire import _rdpcap, dedupe, describe, tcp_segments
from kit import (M, TCB_KEYS, Snapshot, established_active, established_passive, flagset,
                 kernel_state, lwip_end, problem)

RAW_PORT = 7100        # RawPeer's "listening" port, for lwIP's active opens to it
LISTEN_PORT = 9000
Y = 3000000000         # RawPeer's initial sequence number


def raw_active(d, rp, port=RAW_PORT):
    """lwIP opens to RawPeer, which answers with a SYN+ACK: returns the
    ESTABLISHED object and (lport, iss), irs being Y."""
    obj = d.open_conn(remote_ip=RAW_IP, remote_port=port)
    _, syn = rp.wait_segment(lambda s: flagset(s) == "S" and s.dport == port
                             and s.sport == obj["local"]["port"], "its SYN")
    rp.send(port, syn.sport, "SA", seq=Y, ack=syn.seq + 1, mss=1460)
    obj = d.wait_state(obj["id"], "ESTABLISHED")
    rp.wait_segment(lambda s: s.sport == syn.sport and flagset(s) == "A" and s.ack == (Y + 1) % M,
                    "the handshake's ACK")
    return obj, syn.sport, syn.seq


def raw_fin(rp, lport, what="its FIN"):
    return rp.wait_segment(lambda s: s.sport == lport and "F" in s.flags, what)[1]


def wait_capture_rst(cap, lport, remote_ip=KERNEL_IP):
    """Stops the capture once it holds a RST from lwIP's port lport; returns
    the segments of that port pair."""
    rdpcap = _rdpcap()

    def seen():
        try:
            segs = tcp_segments(list(rdpcap(cap.path)), lport, None, remote_ip=remote_ip)
        except Exception:       # a partial last record while tcpdump writes
            return False
        return any("R" in s.flags and s.src == LWIP_IP for s in segs)
    wait_for(seen, "lwIP's RST from port %d" % lport, interval=0.2)
    return tcp_segments(cap.stop(), lport, None, remote_ip=remote_ip)


def wire_counts(segs):
    """(segments lwIP sent, segments lwIP received) in a capture."""
    return (sum(1 for s in segs if s.src == LWIP_IP), sum(1 for s in segs if s.dst == LWIP_IP))


# ---------------------------------------------------------------------------
# Opening


def test_active_open_closed_syn_sent_established(lwipd, start_peer, start_capture):
    """CLOSED -> SYN_SENT (api:open) -> ESTABLISHED (rx:SYN,ACK); the TCB
    snapshot matches the wire; active_opens matches the kernel's PassiveOpens."""
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    cap = start_capture(ns)
    snap = Snapshot(lwipd, ns)
    obj = established_active(lwipd, peer)
    wait_for(lambda: kernel_state(ns, obj) == ["ESTAB"], lambda: "kernel ESTAB; ss %s" % ns.ss())
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("ESTABLISHED", "rx:SYN,ACK")], obj
    assert obj["listener_id"] is None, obj
    assert "time_wait_remaining_ms" not in obj, obj
    lport = obj["local"]["port"]
    pkts = cap.stop_when(lambda segs: len([s for s in segs if lport in (s.sport, s.dport)]) >= 3,
                         "the three segments of the handshake")
    every = tcp_segments(pkts, lport, PEER_PORT)
    segs, _ = dedupe(every)
    assert [(s.src, flagset(s)) for s in segs] == [(LWIP_IP, "S"), (KERNEL_IP, "AS"), (LWIP_IP, "A")], \
        describe(every)
    obj = lwipd.conn(obj["id"])
    tcb = obj["tcb"]
    assert set(tcb) == TCB_KEYS, tcb
    assert tcb["iss"] == segs[0].seq, (tcb, describe(segs))
    assert tcb["irs"] == segs[1].seq, (tcb, describe(segs))
    assert tcb["snd_nxt"] == tcb["snd_una"] == (segs[0].seq + 1) % M, tcb
    assert tcb["rcv_nxt"] == (segs[1].seq + 1) % M, tcb
    assert 0 < tcb["mss"] <= 1460 and tcb["rto_ms"] > 0 and tcb["cwnd"] > 0, tcb
    assert tcb["rcv_wnd"] > 0 and tcb["snd_wnd"] > 0, tcb
    assert obj["send_queued"] == 0 and obj["recv_buffered"] == 0, obj

    delta = snap.delta()
    delta.check_edges(obj)
    assert delta.tcp["active_opens"] == 1 == delta.kernel["TcpPassiveOpens"], delta
    assert delta.tcp["passive_opens"] == 0 == delta.kernel["TcpActiveOpens"], delta
    assert delta.tcp["curr_estab"] == 1 == delta.kernel["TcpCurrEstab"], delta
    assert delta.tcp["attempt_fails"] == 0 == delta.kernel["TcpAttemptFails"], delta
    out, inn = wire_counts(every)
    assert delta.tcp["out_segs"] + delta.tcp["retrans_segs"] == out == delta.kernel["TcpInSegs"], \
        (delta, describe(every))
    assert delta.tcp["in_segs"] == inn, (delta, describe(every))
    assert delta.tcp["out_rsts"] == 0 and delta.tcp["in_errs"] == 0, delta


def test_passive_open_listen_syn_rcvd_established(lwipd, start_capture):
    """LISTEN -> SYN_RCVD (rx:SYN) -> ESTABLISHED (rx:ACK) for a kernel
    connect(); passive_opens matches the kernel's ActiveOpens."""
    ns = lwipd.ns
    lst = lwipd.listen(LISTEN_PORT)
    cap = start_capture(ns)
    snap = Snapshot(lwipd, ns)
    sock, obj = established_passive(lwipd, ns, LISTEN_PORT, lst["id"])
    with sock:
        kport = sock.getsockname()[1]
        assert obj["origin"] == "passive" and obj["listener_id"] == lst["id"], obj
        assert obj["local"] == {"ip": LWIP_IP, "port": LISTEN_PORT}, obj
        assert obj["remote"] == {"ip": KERNEL_IP, "port": kport}, obj
        assert history_pairs(obj) == [("SYN_RCVD", "rx:SYN"), ("ESTABLISHED", "rx:ACK")], obj
        assert_times_increase(obj)
        wait_for(lambda: lwipd.listener(lst["id"])["accepted"] == 1, "accepted to be 1")
        pkts = cap.stop_when(lambda segs: len([s for s in segs if kport in (s.sport, s.dport)]) >= 3,
                             "the handshake")
        every = tcp_segments(pkts, LISTEN_PORT, kport)
        segs, _ = dedupe(every)
        assert [(s.src, flagset(s)) for s in segs] == [(KERNEL_IP, "S"), (LWIP_IP, "AS"),
                                                        (KERNEL_IP, "A")], describe(every)
        tcb = lwipd.conn(obj["id"])["tcb"]
        assert tcb["irs"] == segs[0].seq and tcb["iss"] == segs[1].seq, (tcb, describe(segs))
        assert tcb["rcv_nxt"] == (segs[0].seq + 1) % M, tcb
        delta = snap.delta()
        delta.check_edges(obj)
        assert delta.tcp["passive_opens"] == 1 == delta.kernel["TcpActiveOpens"], delta
        assert delta.tcp["active_opens"] == 0 == delta.kernel["TcpPassiveOpens"], delta
        assert delta.tcp["curr_estab"] == 1 == delta.kernel["TcpCurrEstab"], delta
        out, inn = wire_counts(every)
        assert delta.tcp["out_segs"] + delta.tcp["retrans_segs"] == out == delta.kernel["TcpInSegs"], \
            (delta, describe(every))
        assert delta.tcp["in_segs"] == inn, (delta, describe(every))


def test_syn_sent_closed_by_rst(lwipd, start_capture):
    """SYN_SENT -> CLOSED (rx:RST,ACK): the kernel refuses; an attempt fail
    for us, a RST out for the kernel."""
    ns = lwipd.ns
    cap = start_capture(ns)
    snap = Snapshot(lwipd, ns)
    obj = lwipd.open_conn(remote_port=7001)
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("CLOSED", "rx:RST,ACK")], obj
    lport = obj["local"]["port"]
    pkts = cap.stop_when(lambda segs: any("R" in s.flags for s in segs), "the kernel's RST")
    every = tcp_segments(pkts, lport, 7001)
    delta = snap.delta()
    delta.check_edges(obj)
    assert delta.tcp["attempt_fails"] == 1 == delta.kernel["TcpOutRsts"], delta
    assert delta.kernel["TcpAttemptFails"] == 0 and delta.kernel["TcpPassiveOpens"] == 0, delta
    assert delta.tcp["active_opens"] == 1 and delta.tcp["curr_estab"] == 0, delta
    out, inn = wire_counts(every)
    assert delta.tcp["out_segs"] + delta.tcp["retrans_segs"] == out == delta.kernel["TcpInSegs"], \
        (delta, describe(every))
    assert delta.tcp["in_segs"] == inn == 1, (delta, describe(every))


@pytest.mark.slow
def test_syn_sent_closed_by_syn_retries(lwipd, start_peer, start_capture):
    """SYN_SENT -> CLOSED (timer:syn-retries) when nothing answers: every
    retransmitted SYN is counted in retrans_segs, the first in out_segs."""
    ns = lwipd.ns
    start_peer(ns, 7999, "full")        # Linux drops every SYN to it silently
    cap = start_capture(ns)
    snap = Snapshot(lwipd, ns)
    obj = lwipd.open_conn(remote_port=7999)
    obj = lwipd.wait_state(obj["id"], "CLOSED", timeout=120)
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("CLOSED", "timer:syn-retries")], obj
    delta = snap.delta()
    segs = tcp_segments(cap.stop(), obj["local"]["port"], 7999)
    assert segs and all(flagset(s) == "S" and s.src == LWIP_IP for s in segs), describe(segs)
    delta.check_edges(obj)
    assert delta.tcp["attempt_fails"] == 1, delta
    assert delta.tcp["out_segs"] == 1, delta
    assert delta.tcp["retrans_segs"] == len(segs) - 1 == obj["counters"]["retransmits"], \
        (delta, obj["counters"], describe(segs))
    assert obj["tcb"]["iss"] == segs[0].seq, obj["tcb"]
    assert delta.kernel["TcpInSegs"] == len(segs), delta


def test_syn_sent_closed_by_close(lwipd, start_peer, start_capture):
    """SYN_SENT -> CLOSED (api:close): a graceful DELETE before the answer."""
    ns = lwipd.ns
    start_peer(ns, 7999, "full")
    cap = start_capture(ns)
    snap = Snapshot(lwipd, ns)
    obj = lwipd.open_conn(remote_port=7999)
    lport = obj["local"]["port"]
    cap.stop_when(lambda segs: any(s.sport == lport and "S" in s.flags for s in segs), "lwIP's SYN")
    r = lwipd.delete("/v1/connections/%d" % obj["id"])
    assert r.status == 202, r
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("CLOSED", "api:close")], obj
    delta = snap.delta()
    delta.check_edges(obj)
    assert delta.tcp["attempt_fails"] == 1 and delta.tcp["active_opens"] == 1, delta


def test_syn_rcvd_closed_by_peer_rst(lwipd, start_rawpeer):
    """SYN_RCVD -> CLOSED (rx:RST): a crafted RST answers lwIP's SYN+ACK."""
    rp = start_rawpeer(lwipd)
    lst = lwipd.listen(LISTEN_PORT)
    snap = Snapshot(lwipd, lwipd.ns)
    rp.send(40000, LISTEN_PORT, "S", seq=Y, mss=1460)
    _, synack = rp.wait_segment(lambda s: s.dport == 40000 and flagset(s) == "AS", "a SYN+ACK")
    assert synack.ack == (Y + 1) % M, synack
    conn = [c for c in lwipd.conns() if c["remote"] == {"ip": RAW_IP, "port": 40000}]
    assert len(conn) == 1 and conn[0]["state"] == "SYN_RCVD", conn
    obj = conn[0]
    assert obj["origin"] == "passive" and obj["listener_id"] == lst["id"], obj
    assert obj["tcb"]["iss"] == synack.seq and obj["tcb"]["irs"] == Y, obj["tcb"]
    rp.send(40000, LISTEN_PORT, "R", seq=Y + 1)
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj) == [("SYN_RCVD", "rx:SYN"), ("CLOSED", "rx:RST")], obj
    assert obj["counters"]["rst_in"] == 1, obj["counters"]
    assert lwipd.listener(lst["id"])["accepted"] == 0
    assert lwipd.listener(lst["id"])["state"] == "LISTEN"
    delta = snap.delta()
    delta.check_edges(obj)
    assert delta.tcp["passive_opens"] == 1 and delta.tcp["attempt_fails"] == 1, delta
    assert delta.tcp["in_segs"] == 2 and delta.tcp["out_rsts"] == 0, delta


def test_crossing_syn_is_ignored_by_lwip(lwipd, start_rawpeer):
    """A bare SYN crossing lwIP's SYN (simultaneous open) would be SYN_SENT ->
    SYN_RCVD in RFC 9293; lwIP 2.1.3 does not implement it and ignores the
    SYN. The connection must stay sane: still SYN_SENT, then ESTABLISHED
    once the SYN+ACK comes, with no SYN_RCVD in its history."""
    rp = start_rawpeer(lwipd)
    obj = lwipd.open_conn(remote_ip=RAW_IP, remote_port=RAW_PORT)
    _, syn = rp.wait_segment(lambda s: flagset(s) == "S", "its SYN")
    rp.send(RAW_PORT, syn.sport, "S", seq=Y, mss=1460)
    rp.send(RAW_PORT, syn.sport, "SA", seq=Y, ack=syn.seq + 1, mss=1460)
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED")
    assert history_pairs(obj) == [("SYN_SENT", "api:open"), ("ESTABLISHED", "rx:SYN,ACK")], obj


# ---------------------------------------------------------------------------
# Closing


def test_lwip_closes_first_fin_wait_1_fin_wait_2_time_wait(lwipd, start_peer):
    """ESTABLISHED -> FIN_WAIT_1 (api:close) -> FIN_WAIT_2 (rx:ACK) ->
    TIME_WAIT (rx:FIN,ACK) -> CLOSED (timer:2msl); over the whole life no
    reset and no attempt fail on either side."""
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    snap = Snapshot(lwipd, ns)
    obj = established_active(lwipd, peer)
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    lwipd.wait_state(obj["id"], "FIN_WAIT_2")
    peer.wait_event("EOF", lwip_end(obj))
    peer.close_all()
    r = lwipd.wait_api(obj["id"], "TIME_WAIT", timeout_ms=20000)
    assert r.status == 200, r
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj) == [
        ("SYN_SENT", "api:open"), ("ESTABLISHED", "rx:SYN,ACK"), ("FIN_WAIT_1", "api:close"),
        ("FIN_WAIT_2", "rx:ACK"), ("TIME_WAIT", "rx:FIN,ACK"), ("CLOSED", "timer:2msl")], obj
    wait_for(lambda: kernel_state(ns, obj) == [], lambda: "kernel socket gone; ss %s" % ns.ss())
    delta = snap.delta()
    delta.check_edges(obj)
    assert delta.tcp["active_opens"] == 1 == delta.kernel["TcpPassiveOpens"], delta
    assert delta.tcp["estab_resets"] == 0 == delta.kernel["TcpEstabResets"], delta
    assert delta.tcp["curr_estab"] == 0 == delta.kernel["TcpCurrEstab"], delta
    assert delta.tcp["out_rsts"] == 0 == delta.kernel["TcpOutRsts"], delta
    assert delta.tcp["out_segs"] + delta.tcp["retrans_segs"] == delta.kernel["TcpInSegs"], delta


def test_peer_closes_first_close_wait_last_ack(lwipd):
    """ESTABLISHED -> CLOSE_WAIT (rx:FIN,ACK) -> LAST_ACK (api:close) ->
    CLOSED (rx:ACK), on a passive connection the kernel closes first."""
    ns = lwipd.ns
    lst = lwipd.listen(LISTEN_PORT)
    snap = Snapshot(lwipd, ns)
    sock, obj = established_passive(lwipd, ns, LISTEN_PORT, lst["id"])
    sock.close()
    obj = lwipd.wait_state(obj["id"], "CLOSE_WAIT")
    assert lwipd.stats()["tcp"]["curr_estab"] == snap.ours["tcp"]["curr_estab"] + 1
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj) == [("SYN_RCVD", "rx:SYN"), ("ESTABLISHED", "rx:ACK"),
                                  ("CLOSE_WAIT", "rx:FIN,ACK"), ("LAST_ACK", "api:close"),
                                  ("CLOSED", "rx:ACK")], obj
    assert_times_increase(obj)
    delta = snap.delta()
    delta.check_edges(obj)
    assert delta.tcp["passive_opens"] == 1 == delta.kernel["TcpActiveOpens"], delta
    assert delta.tcp["estab_resets"] == 0 == delta.kernel["TcpEstabResets"], delta
    assert delta.tcp["curr_estab"] == 0 == delta.kernel["TcpCurrEstab"], delta
    assert delta.tcp["out_segs"] + delta.tcp["retrans_segs"] == delta.kernel["TcpInSegs"], delta


def test_simultaneous_close_closing(lwipd, start_rawpeer, start_capture):
    """FIN_WAIT_1 -> CLOSING (rx:FIN,ACK whose ACK does not cover lwIP's FIN)
    -> TIME_WAIT (rx:ACK) -> CLOSED (timer:2msl): RawPeer's FIN crosses ours."""
    rp = start_rawpeer(lwipd)
    snap = Snapshot(lwipd, lwipd.ns)
    obj, lport, iss = raw_active(lwipd, rp)
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    fin = raw_fin(rp, lport)
    assert (fin.seq, fin.ack) == ((iss + 1) % M, (Y + 1) % M), rp.describe()
    rp.send(RAW_PORT, lport, "FA", seq=Y + 1, ack=iss + 1)      # acks up to, not including, lwIP's FIN
    obj = lwipd.wait_state(obj["id"], "CLOSING")
    assert history_pairs(obj)[-2:] == [("FIN_WAIT_1", "api:close"), ("CLOSING", "rx:FIN,ACK")], obj
    rp.wait_segment(lambda s: s.sport == lport and s.ack == (Y + 2) % M and "A" in s.flags,
                    "the ACK of RawPeer's FIN")
    rp.send(RAW_PORT, lport, "A", seq=Y + 2, ack=iss + 2)
    r = lwipd.wait_api(obj["id"], "TIME_WAIT", timeout_ms=20000)
    assert r.status == 200, r
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj) == [
        ("SYN_SENT", "api:open"), ("ESTABLISHED", "rx:SYN,ACK"), ("FIN_WAIT_1", "api:close"),
        ("CLOSING", "rx:FIN,ACK"), ("TIME_WAIT", "rx:ACK"), ("CLOSED", "timer:2msl")], obj
    assert_times_increase(obj)
    delta = snap.delta()
    delta.check_edges(obj)
    assert delta.tcp["estab_resets"] == 0 and delta.tcp["curr_estab"] == 0, delta


def test_fin_wait_1_straight_to_time_wait(lwipd, start_rawpeer):
    """FIN_WAIT_1 -> TIME_WAIT (rx:FIN,ACK): the peer's FIN acks lwIP's FIN."""
    rp = start_rawpeer(lwipd)
    snap = Snapshot(lwipd, lwipd.ns)
    obj, lport, iss = raw_active(lwipd, rp)
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    raw_fin(rp, lport)
    rp.send(RAW_PORT, lport, "FA", seq=Y + 1, ack=iss + 2)
    r = lwipd.wait_api(obj["id"], "TIME_WAIT", timeout_ms=20000)
    assert r.status == 200, r
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj) == [
        ("SYN_SENT", "api:open"), ("ESTABLISHED", "rx:SYN,ACK"), ("FIN_WAIT_1", "api:close"),
        ("TIME_WAIT", "rx:FIN,ACK"), ("CLOSED", "timer:2msl")], obj
    snap.delta().check_edges(obj)


def test_fin_wait_2_times_out(lwipd, start_peer):
    """FIN_WAIT_2 -> CLOSED (timer:fin-wait-2) after a full close whose peer
    never sends its FIN (20 s)."""
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    snap = Snapshot(lwipd, lwipd.ns)
    obj = established_active(lwipd, peer)
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    lwipd.wait_state(obj["id"], "FIN_WAIT_2")
    obj = lwipd.wait_state(obj["id"], "CLOSED", timeout=90)
    assert history_pairs(obj)[-2:] == [("FIN_WAIT_2", "rx:ACK"), ("CLOSED", "timer:fin-wait-2")], obj
    snap.delta().check_edges(obj)


# ---------------------------------------------------------------------------
# TIME_WAIT


def test_time_wait_remaining_and_expire(netns, start_daemon, start_peer):
    """time_wait_remaining_ms is there only in TIME_WAIT, at most 2 x MSL, and
    goes down; expire ends it: TIME_WAIT -> CLOSED (api:expire). expire in any
    other state is 409."""
    d = start_daemon(netns, msl_ms=20000)
    d.ns = netns
    peer = start_peer(netns, PEER_PORT, "hold")
    obj = established_active(d, peer)
    assert "time_wait_remaining_ms" not in obj, obj
    problem(d.post("/v1/connections/%d/expire" % obj["id"]), 409)
    assert d.delete("/v1/connections/%d" % obj["id"]).status == 202
    obj = d.wait_state(obj["id"], "FIN_WAIT_2")
    assert "time_wait_remaining_ms" not in obj, obj
    problem(d.post("/v1/connections/%d/expire" % obj["id"]), 409)
    snap = Snapshot(d, netns)
    peer.close_all()
    first = d.wait_state(obj["id"], "TIME_WAIT")
    rem1 = first["time_wait_remaining_ms"]
    assert isinstance(rem1, int) and 0 <= rem1 <= 40000, first

    def lower():
        o = d.conn(obj["id"])
        assert o["state"] == "TIME_WAIT", o
        return o if o["time_wait_remaining_ms"] < rem1 else None
    second = wait_for(lower, "time_wait_remaining_ms to go down from %d" % rem1)
    assert 0 <= second["time_wait_remaining_ms"] < rem1

    r = d.post("/v1/connections/%d/expire" % obj["id"])
    assert r.status == 200, r
    obj = r.json()
    assert obj["state"] == "CLOSED", obj
    assert "time_wait_remaining_ms" not in obj, obj
    assert history_pairs(obj)[-2:] == [("TIME_WAIT", "rx:FIN,ACK"), ("CLOSED", "api:expire")], obj
    assert d.conn(obj["id"])["history"] == obj["history"]
    problem(d.post("/v1/connections/%d/expire" % obj["id"]), 409)
    problem(d.post("/v1/connections/999999/expire"), 404)
    delta = snap.delta()
    assert delta.trans == {"FIN_WAIT_2->TIME_WAIT": 1, "TIME_WAIT->CLOSED": 1}, delta
    delta.check_rfc4022()


def test_abort_in_time_wait_sends_nothing(netns, start_daemon, start_peer, start_capture):
    """DELETE ?mode=abort on TIME_WAIT removes it at once and sends no RST."""
    d = start_daemon(netns, msl_ms=20000)
    peer = start_peer(netns, PEER_PORT, "hold")
    cap = start_capture(netns)
    obj = established_active(d, peer)
    assert d.delete("/v1/connections/%d" % obj["id"]).status == 202
    d.wait_state(obj["id"], "FIN_WAIT_2")
    peer.close_all()
    d.wait_state(obj["id"], "TIME_WAIT")
    snap = Snapshot(d, netns)
    r = d.delete("/v1/connections/%d?mode=abort" % obj["id"])
    assert r.status == 202, r
    after = r.json()
    assert after["state"] == "CLOSED", after
    assert history_pairs(after)[-2:] == [("TIME_WAIT", "rx:FIN,ACK"), ("CLOSED", "api:abort")], after
    assert after["counters"]["rst_out"] == 0, after["counters"]
    # A later segment from lwIP marks the end of what it sent: frames leave
    # the TAP in order, so a RST from the abort would come before this SYN.
    marker = d.open_conn(remote_port=7001)
    pkts = cap.stop_when(lambda segs: any(s.sport == marker["local"]["port"] for s in segs),
                         "the marker connection's SYN")
    segs = tcp_segments(pkts, obj["local"]["port"], PEER_PORT)
    assert not [s for s in segs if "R" in s.flags], describe(segs)
    delta = snap.delta()
    assert delta.tcp["out_rsts"] == 0, delta
    assert delta.trans.get("TIME_WAIT->CLOSED") == 1, delta


# ---------------------------------------------------------------------------
# Resets


def setup_syn_sent(d, env):
    env.start_peer(d.ns, 7999, "full")
    obj = d.open_conn(remote_port=7999)
    wait_for(lambda: d.conn(obj["id"])["counters"]["segs_out"] >= 1, "the SYN to leave")
    return d.conn(obj["id"]), KERNEL_IP


def setup_syn_rcvd(d, env):
    rp = env.rawpeer()
    d.listen(LISTEN_PORT)
    rp.send(40001, LISTEN_PORT, "S", seq=Y, mss=1460)
    rp.wait_segment(lambda s: s.dport == 40001 and flagset(s) == "AS", "a SYN+ACK")
    obj = [c for c in d.conns() if c["remote"]["port"] == 40001][0]
    return d.wait_state(obj["id"], "SYN_RCVD"), RAW_IP


def setup_established(d, env):
    peer = env.start_peer(d.ns, PEER_PORT, "hold")
    return established_active(d, peer), KERNEL_IP


def setup_fin_wait_1(d, env):
    rp = env.rawpeer()
    obj, lport, _ = raw_active(d, rp)
    assert d.delete("/v1/connections/%d" % obj["id"]).status == 202
    raw_fin(rp, lport)           # and never acked
    return d.wait_state(obj["id"], "FIN_WAIT_1"), RAW_IP


def setup_fin_wait_2(d, env):
    peer = env.start_peer(d.ns, PEER_PORT, "hold")
    obj = established_active(d, peer)
    assert d.delete("/v1/connections/%d" % obj["id"]).status == 202
    return d.wait_state(obj["id"], "FIN_WAIT_2"), KERNEL_IP


def setup_close_wait(d, env):
    peer = env.start_peer(d.ns, PEER_PORT, "hold")
    obj = established_active(d, peer)
    peer.close_all()
    return d.wait_state(obj["id"], "CLOSE_WAIT"), KERNEL_IP


def setup_last_ack(d, env):
    rp = env.rawpeer()
    obj, lport, iss = raw_active(d, rp)
    rp.send(RAW_PORT, lport, "FA", seq=Y + 1, ack=iss + 1)
    d.wait_state(obj["id"], "CLOSE_WAIT")
    assert d.delete("/v1/connections/%d" % obj["id"]).status == 202
    raw_fin(rp, lport)           # and never acked
    return d.wait_state(obj["id"], "LAST_ACK"), RAW_IP


def setup_closing(d, env):
    rp = env.rawpeer()
    obj, lport, iss = raw_active(d, rp)
    assert d.delete("/v1/connections/%d" % obj["id"]).status == 202
    raw_fin(rp, lport)
    rp.send(RAW_PORT, lport, "FA", seq=Y + 1, ack=iss + 1)
    return d.wait_state(obj["id"], "CLOSING"), RAW_IP


ABORT_SETUPS = {
    "SYN_SENT": setup_syn_sent, "SYN_RCVD": setup_syn_rcvd, "ESTABLISHED": setup_established,
    "FIN_WAIT_1": setup_fin_wait_1, "FIN_WAIT_2": setup_fin_wait_2,
    "CLOSE_WAIT": setup_close_wait, "LAST_ACK": setup_last_ack, "CLOSING": setup_closing,
}


class Env:
    def __init__(self, start_peer, start_rawpeer, d):
        self.start_peer = start_peer
        self._start_rawpeer = start_rawpeer
        self.d = d

    def rawpeer(self):
        return self._start_rawpeer(self.d)


@pytest.mark.parametrize("state", sorted(ABORT_SETUPS))
def test_abort_sends_rst_from(state, lwipd, start_peer, start_rawpeer, start_capture):
    """STATE -> CLOSED (api:abort) with one RST on the wire, counted in
    out_rsts; a reset of ESTABLISHED or CLOSE_WAIT is an estab_reset, of
    SYN_SENT or SYN_RCVD an attempt fail."""
    ns = lwipd.ns
    cap = start_capture(ns)
    obj, remote_ip = ABORT_SETUPS[state](lwipd, Env(start_peer, start_rawpeer, lwipd))
    assert obj["state"] == state, obj
    before = history_pairs(obj)
    snap = Snapshot(lwipd, ns)
    r = lwipd.delete("/v1/connections/%d?mode=abort" % obj["id"])
    assert r.status == 202, r
    after = r.json()
    assert after["state"] == "CLOSED", after
    assert history_pairs(after) == before + [("CLOSED", "api:abort")], after
    assert after["counters"]["rst_out"] == 1, after["counters"]
    lport = obj["local"]["port"]
    segs = wait_capture_rst(cap, lport, remote_ip)
    rsts = [s for s in segs if "R" in s.flags]
    assert len(rsts) == 1 and rsts[0].src == LWIP_IP, describe(segs)
    assert rsts[0].dport == obj["remote"]["port"], describe(segs)
    tcb = after["tcb"]
    assert rsts[0].seq == tcb["snd_nxt"], (tcb, describe(segs))
    delta = snap.delta()
    assert delta.trans == {"%s->CLOSED" % state: 1}, delta
    delta.check_rfc4022()
    assert delta.tcp["out_rsts"] == 1, delta
    assert delta.tcp["estab_resets"] == (1 if state in ("ESTABLISHED", "CLOSE_WAIT") else 0), delta
    assert delta.tcp["attempt_fails"] == (1 if state in ("SYN_SENT", "SYN_RCVD") else 0), delta
    if state == "ESTABLISHED":
        # Both ends leave ESTABLISHED for CLOSED: a reset on each side.
        wait_for(lambda: snap.delta().kernel["TcpEstabResets"] >= 1, "the kernel to count the reset")
        delta = snap.delta()
        assert delta.tcp["estab_resets"] == 1 == delta.kernel["TcpEstabResets"], delta
        assert delta.tcp["curr_estab"] == -1 == delta.kernel["TcpCurrEstab"], delta


def test_peer_rst_in_established(lwipd):
    """ESTABLISHED -> CLOSED (rx:RST...): the kernel resets (SO_LINGER 0);
    one estab_reset on each side."""
    ns = lwipd.ns
    lwipd.listen(LISTEN_PORT)
    sock, obj = established_passive(lwipd, ns, LISTEN_PORT)
    snap = Snapshot(lwipd, ns)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    last = history_pairs(obj)[-1]
    assert last[0] == "CLOSED" and last[1] in ("rx:RST", "rx:RST,ACK"), obj
    assert history_pairs(obj)[:-1] == [("SYN_RCVD", "rx:SYN"), ("ESTABLISHED", "rx:ACK")], obj
    assert obj["counters"]["rst_in"] == 1, obj
    delta = snap.delta()
    assert delta.trans == {"ESTABLISHED->CLOSED": 1}, delta
    delta.check_rfc4022()
    assert delta.tcp["estab_resets"] == 1 == delta.kernel["TcpEstabResets"], delta
    assert delta.tcp["curr_estab"] == -1 == delta.kernel["TcpCurrEstab"], delta
    assert delta.kernel["TcpOutRsts"] == 1 and delta.tcp["in_segs"] == 1, delta


def test_peer_rst_in_close_wait(lwipd):
    """CLOSE_WAIT -> CLOSED (rx:RST): the kernel closed, lwIP sends data to
    its closed socket, the kernel answers with a RST: an estab_reset."""
    ns = lwipd.ns
    lwipd.listen(LISTEN_PORT)
    sock, obj = established_passive(lwipd, ns, LISTEN_PORT)
    sock.close()
    obj = lwipd.wait_state(obj["id"], "CLOSE_WAIT")
    snap = Snapshot(lwipd, ns)
    assert lwipd.send(obj["id"], {"data": "after your FIN"})["queued"] == 14
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    last = history_pairs(obj)[-1]
    assert last[0] == "CLOSED" and last[1] in ("rx:RST", "rx:RST,ACK"), obj
    assert history_pairs(obj)[-2] == ("CLOSE_WAIT", "rx:FIN,ACK"), obj
    delta = snap.delta()
    assert delta.trans == {"CLOSE_WAIT->CLOSED": 1}, delta
    delta.check_rfc4022()
    assert delta.tcp["estab_resets"] == 1 and delta.tcp["curr_estab"] == -1, delta
    assert delta.kernel["TcpOutRsts"] >= 1, delta
