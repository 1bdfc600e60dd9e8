"""Hostile frames on the TAP: the daemon survives them, tracks every segment
lwIP handles, and counts what it dropped.

lwIP 2.1.3 reassembles IPv4 fragments inside ip4_input, behind the daemon's
frame parser, so lwipd drops fragments before lwIP and counts them in
rx_fragments; frames whose headers do not parse go to rx_malformed, and
protocols other than IPv4 and ARP to rx_other. The segments are crafted with
scapy by crafted.RawPeer (10.9.0.3), which the kernel ignores. After every
test the daemon must still run, stop cleanly, and have tracked every PCB
lwIP held.
"""

import re
import time

import pytest

from crafted import RAW_IP
from helpers import wait_for

LISTEN_PORT = 9000
Y = 3000000000          # RawPeer's initial sequence number
M = 2 ** 32


@pytest.fixture(autouse=True)
def every_pcb_tracked(request, netns, start_daemon):
    """After each test, the daemons it started still run, stop on SIGTERM,
    and every PCB lwIP held at the end was one lwipd tracked (lwipd walks
    lwIP's lists when it stops and logs what it found there)."""
    yield
    for d in getattr(request.node, "_lwipd_daemons", []):
        if d.proc is None or d.expected_exit:
            continue
        assert d.proc.poll() is None, d.stderr()
        assert d.terminate() == 0, d.stderr()
        assert re.search(r"ended the \d+ connections lwIP held, 0 of them untracked", d.stderr()), \
            d.stderr()


def counters(d):
    return d.interface()["counters"]


def synacks_to(rp, sport):
    return rp.count(lambda s: s.dport == sport and s.has("SA"))


def settle():
    """lwIP answers a SYN within a millisecond here; a quarter of a second
    without an answer means none is coming."""
    time.sleep(0.25)


def test_a_fragmented_syn_makes_no_connection(lwipd, start_rawpeer):
    rp = start_rawpeer(lwipd)
    for i in range(10):
        lwipd.listen(LISTEN_PORT + i)
    before = counters(lwipd)

    # The 24-byte TCP header (MSS option included) split over three fragments.
    rp.send(40000, LISTEN_PORT + 3, "S", seq=Y, mss=1460, fragsize=8)
    settle()
    assert synacks_to(rp, 40000) == 0, rp.describe()
    after = counters(lwipd)
    assert after["rx_fragments"] - before["rx_fragments"] == 3, after
    # An ACK for the handshake that never was: lwIP answers it with a RST.
    rp.send(40000, LISTEN_PORT + 3, "A", seq=Y + 1, ack=12345)
    rp.wait_segment(lambda s: s.dport == 40000 and s.has("R"), "a RST for the stray ACK")
    assert lwipd.get("/healthz").status == 200
    assert lwipd.conns() == []

    # The same SYN whole is answered, and its connection is tracked.
    rp.send(40001, LISTEN_PORT + 3, "S", seq=Y, mss=1460)
    rp.wait_segment(lambda s: s.dport == 40001 and s.has("SA"), "the SYN+ACK")
    assert [(c["remote"]["port"], c["state"]) for c in lwipd.conns()] == [(40001, "SYN_RCVD")]


def test_a_flood_of_fragmented_syns_gets_no_answer(lwipd, start_rawpeer):
    rp = start_rawpeer(lwipd)
    lid = lwipd.listen(LISTEN_PORT, backlog=16)["id"]
    before = counters(lwipd)
    for sport in range(41000, 41200):
        rp.send(sport, LISTEN_PORT, "S", seq=Y, mss=1460, fragsize=16)
    wait_for(lambda: counters(lwipd)["rx_fragments"] - before["rx_fragments"] == 400,
             "400 fragments counted")
    settle()
    assert rp.count(lambda s: s.has("SA")) == 0
    assert lwipd.conns() == []
    assert lwipd.listener(lid)["accepted"] == 0


def test_overlapping_fragments_are_dropped(lwipd, start_rawpeer):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    before = counters(lwipd)
    whole = bytes(IP(src=RAW_IP, dst="10.9.0.2", id=77) /
                  TCP(sport=42000, dport=LISTEN_PORT, flags="S", seq=Y))
    tcp = whole[20:]
    first = IP(src=RAW_IP, dst="10.9.0.2", id=77, proto=6, flags="MF", frag=0) / tcp[:16]
    overlap = IP(src=RAW_IP, dst="10.9.0.2", id=77, proto=6, frag=1) / tcp[8:]
    for part in (first, overlap):
        rp.send_frame(bytes(Ether(src=rp.mac, dst=rp.lwip_mac) / part))
    wait_for(lambda: counters(lwipd)["rx_fragments"] - before["rx_fragments"] == 2,
             "both fragments counted")
    settle()
    assert synacks_to(rp, 42000) == 0
    assert lwipd.conns() == []


def test_a_fragmented_fin_does_not_move_a_connection(lwipd, start_rawpeer):
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    rp.send(43000, LISTEN_PORT, "S", seq=Y, mss=1460)
    _, synack = rp.wait_segment(lambda s: s.dport == 43000 and s.has("SA"), "the SYN+ACK")
    rp.send(43000, LISTEN_PORT, "A", seq=Y + 1, ack=synack.seq + 1)
    wait_for(lambda: [c["state"] for c in lwipd.conns()] == ["ESTABLISHED"], "ESTABLISHED")
    cid = lwipd.conns()[0]["id"]

    rp.send(43000, LISTEN_PORT, "FA", seq=Y + 1, ack=synack.seq + 1, payload=b"z" * 40,
            fragsize=16)
    settle()
    assert lwipd.conn(cid)["state"] == "ESTABLISHED"
    assert lwipd.conn(cid)["tcb"]["rcv_nxt"] == (Y + 1) % M     # lwIP's own view
    assert rp.count(lambda s: s.dport == 43000 and s.ack == (Y + 42) % M) == 0
    assert lwipd.conn(cid)["counters"]["bytes_in"] == 0

    # Whole, the same FIN moves it, and lwIP acknowledges data and FIN.
    rp.send(43000, LISTEN_PORT, "FA", seq=Y + 1, ack=synack.seq + 1, payload=b"z" * 40)
    lwipd.wait_state(cid, "CLOSE_WAIT")
    rp.wait_segment(lambda s: s.dport == 43000 and s.ack == (Y + 42) % M, "the ACK of the FIN")


def test_frames_lwipd_does_not_serve_are_counted(lwipd, start_rawpeer):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    before = counters(lwipd)
    eth = Ether(src=rp.mac, dst=rp.lwip_mac)
    syn = IP(src=RAW_IP, dst="10.9.0.2") / TCP(sport=44000, dport=LISTEN_PORT, flags="S", seq=Y)

    rp.send_frame(bytes(eth / IPv6(src="fe80::3", dst="fe80::2") /
                        TCP(sport=44000, dport=LISTEN_PORT, flags="S")))
    rp.send_frame(bytes(eth / syn)[:14 + 30])             # cut inside the TCP header
    raw = bytearray(bytes(eth / syn))
    raw[14 + 20 + 12] = 0x40                               # a TCP header of 16 bytes
    rp.send_frame(bytes(raw))
    raw = bytearray(bytes(eth / syn))
    raw[14] = 0x44                                         # an IPv4 header of 16 bytes
    rp.send_frame(bytes(raw))
    wait_for(lambda: counters(lwipd)["rx_malformed"] - before["rx_malformed"] == 3,
             "three malformed frames counted")
    after = counters(lwipd)
    assert after["rx_other"] > before["rx_other"], after
    settle()
    assert rp.count(lambda s: s.dport == 44000) == 0
    assert lwipd.conns() == []
    assert lwipd.get("/healthz").status == 200


def established_from_rawpeer(d, rp, sport):
    """RawPeer connects to lwIP's listener: returns (connection id, lwIP's ISN)."""
    rp.send(sport, LISTEN_PORT, "S", seq=Y, mss=1460)
    _, synack = rp.wait_segment(lambda s: s.dport == sport and s.has("SA"), "the SYN+ACK")
    rp.send(sport, LISTEN_PORT, "A", seq=Y + 1, ack=synack.seq + 1)
    conn = wait_for(lambda: next((c for c in d.conns() if c["remote"]["port"] == sport and
                                  c["state"] == "ESTABLISHED"), None), "ESTABLISHED")
    return conn["id"], synack.seq


def timeline_segments(d, cid):
    return [e for e in d.get("/v1/connections/%d/timeline" % cid).json()["events"]
            if e["kind"] == "segment"]


def test_segments_rfc_9293_rejects_never_reach_lwip(lwipd, start_rawpeer):
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    cid, isn = established_from_rawpeer(lwipd, rp, 45000)
    before = lwipd.stats()["tcp"]["in_rfc_drops"]

    # A FIN without ACK: lwIP 2.1.3 would move to CLOSE_WAIT.
    rp.send(45000, LISTEN_PORT, "F", seq=Y + 1)
    # A SYN+FIN to the listener: lwIP 2.1.3 would make a SYN_RCVD connection of it.
    rp.send(45001, LISTEN_PORT, "SF", seq=Y)
    wait_for(lambda: lwipd.stats()["tcp"]["in_rfc_drops"] == before + 2, "two RFC drops")
    settle()
    assert lwipd.conn(cid)["state"] == "ESTABLISHED"
    assert rp.count(lambda s: s.dport == 45001) == 0
    assert [c["remote"]["port"] for c in lwipd.conns()] == [45000]
    fin = [e for e in timeline_segments(lwipd, cid) if e["flags"] == "FIN"]
    assert fin and fin[0]["dropped"] == "rfc9293:no-ack", fin
    assert fin[0]["state_before"] == fin[0]["state_after"] == "ESTABLISHED", fin


def test_lwip_raw_shows_what_lwip_does(netns, start_daemon, start_rawpeer):
    d = start_daemon(netns, "--lwip-raw")
    d.ns = netns
    rp = start_rawpeer(d)
    d.listen(LISTEN_PORT)
    cid, _ = established_from_rawpeer(d, rp, 45100)
    rp.send(45100, LISTEN_PORT, "F", seq=Y + 1)
    d.wait_state(cid, "CLOSE_WAIT")
    assert d.stats()["tcp"]["in_rfc_drops"] == 0


def test_counters_count_what_lwip_accepted(lwipd, start_rawpeer):
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    cid, isn = established_from_rawpeer(lwipd, rp, 45200)
    # Ten bytes with a bad checksum, then RSTs out of the window: lwIP takes none of them.
    rp.send(45200, LISTEN_PORT, "PA", seq=Y + 1, ack=isn + 1, payload=b"0123456789",
            bad_checksum=True)
    for off in (100000, 200000, 300000):
        rp.send(45200, LISTEN_PORT, "R", seq=Y + 1 + off)
    settle()
    c = lwipd.conn(cid)
    assert c["state"] == "ESTABLISHED", c
    assert c["counters"]["bytes_in"] == 0, c["counters"]
    assert (c["counters"]["rst_in"], c["counters"]["rst_in_ignored"]) == (0, 3), c["counters"]
    # The same ten bytes whole, then a RST in the window: both count.
    rp.send(45200, LISTEN_PORT, "PA", seq=Y + 1, ack=isn + 1, payload=b"0123456789")
    rp.wait_segment(lambda s: s.dport == 45200 and s.ack == (Y + 11) % M, "the ACK of the data")
    rp.send(45200, LISTEN_PORT, "R", seq=Y + 11)
    c = lwipd.wait_state(cid, "CLOSED")
    assert c["counters"]["bytes_in"] == 10, c["counters"]
    assert (c["counters"]["rst_in"], c["counters"]["rst_in_ignored"]) == (1, 3), c["counters"]


def test_a_udp_lite_coverage_beyond_the_datagram_is_dropped(lwipd, start_rawpeer):
    """lwIP 2.1.3 trusts UDP-Lite's checksum coverage: one longer than the
    datagram failed an assertion in its inet_chksum.c and aborted the daemon
    (found by tests/fuzz/fuzz_frames.c). lwipd serves no UDP-Lite and drops
    it before lwIP, counted in rx_other."""
    from scapy.all import IP, Ether, Raw
    rp = start_rawpeer(lwipd)
    before = counters(lwipd)
    # UDP-Lite (protocol 136): ports 5000 -> 5001, coverage 0xffff, checksum 0.
    header = b"\x13\x88\x13\x89\xff\xff\x00\x00"
    udplite = IP(src=RAW_IP, dst="10.9.0.2", proto=136) / Raw(header + b"x" * 32)
    rp.send_frame(bytes(Ether(src=rp.mac, dst=rp.lwip_mac) / udplite))
    wait_for(lambda: counters(lwipd)["rx_other"] > before["rx_other"], "the UDP-Lite datagram counted")
    settle()
    assert lwipd.proc.poll() is None, lwipd.stderr()
    assert lwipd.get("/healthz").status == 200


def test_a_fin_half_the_sequence_space_away_is_dropped(lwipd, start_rawpeer):
    """lwIP 2.1.3 aborts on "insane offset!" in tcp_receive() when a FIN's
    sequence number is exactly 2^31 from rcv_nxt (found by
    tests/fuzz/fuzz_frames.c). lwipd drops it before lwIP, as RFC 9293's
    window check would, and counts it with the RFC drops."""
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    cid, isn = established_from_rawpeer(lwipd, rp, 45300)
    before = lwipd.stats()["tcp"]["in_rfc_drops"]
    rp.send(45300, LISTEN_PORT, "FA", seq=(Y + 1 + 2 ** 31) % M, ack=isn + 1)
    wait_for(lambda: lwipd.stats()["tcp"]["in_rfc_drops"] == before + 1, "the FIN counted as dropped")
    assert lwipd.proc.poll() is None, lwipd.stderr()
    assert lwipd.conn(cid)["state"] == "ESTABLISHED"
    fin = [e for e in timeline_segments(lwipd, cid) if "F" in e["flags"]]
    assert fin and fin[0]["dropped"] == "rfc9293:half-space", fin
    assert fin[0]["state_before"] == fin[0]["state_after"] == "ESTABLISHED", fin
    # The connection goes on: its real FIN is taken.
    rp.send(45300, LISTEN_PORT, "FA", seq=Y + 1, ack=isn + 1)
    lwipd.wait_state(cid, "CLOSE_WAIT")


@pytest.mark.parametrize("mss,window", [(1, 64240), (12, 64240), (100, 64240), (1460, 1),
                                        (1460, 24), (8, 16)])
def test_a_small_mss_or_window_after_data_was_queued(lwipd, start_rawpeer, mss, window):
    """Data sent in SYN_SENT waits in the engine until the handshake is
    done. Written into lwIP at once, it was cut for lwIP's initial MSS of
    536: a SYN+ACK announcing a smaller MSS, or a window whose half is
    smaller, made the next write abort the daemon in lwIP 2.1.3's
    tcp_write() ("mss_local is too small", found by
    tests/fuzz/fuzz_frames.c), and an MSS under 134 left a congestion
    window smaller than the queued segment, which lwIP never sent."""
    rp = start_rawpeer(lwipd)
    port = 46000 + mss + window % 1000
    obj = lwipd.open_conn(remote_ip=RAW_IP, remote_port=port)
    cid = obj["id"]
    _, syn = rp.wait_segment(lambda s: s.has("S") and s.dport == port, "its SYN")
    lwipd.send(cid, {"size": 600})
    rp.send(port, syn.sport, "SA", seq=Y, ack=syn.seq + 1, mss=mss, window=window)
    lwipd.wait_state(cid, "ESTABLISHED")
    lwipd.send(cid, {"size": 600})
    lwipd.send(cid, {"size": 600})
    assert lwipd.proc.poll() is None, lwipd.stderr()
    # RawPeer acknowledges whatever arrives, opening its window wide: all
    # 1,800 bytes reach it.
    isn = syn.seq + 1

    def acked_all():
        data = [s for s in rp.segments if s.sport == syn.sport and s.payload]
        if data:
            top = max((s.seq - isn) % M + len(s.payload) for s in data)
            rp.send(port, syn.sport, "A", seq=Y + 1, ack=isn + top, window=64240)
            return top == 1800
        return False
    wait_for(acked_all, lambda: "all 1,800 bytes sent: %r %r" % (
        lwipd.conn(cid), [s for s in rp.segments if s.sport == syn.sport][-6:]), interval=0.02, timeout=20)
    assert lwipd.conn(cid)["counters"]["bytes_out"] >= 1800
    sizes = [len(s.payload) for s in rp.segments if s.sport == syn.sport and s.payload]
    # lwIP cuts at half the largest window when that is smaller, and not 0.
    assert max(sizes) <= (mss if window // 2 == 0 else min(mss, window // 2)), sizes
    assert lwipd.get("/healthz").status == 200


def test_a_syn_without_mss_gets_rfc_9293s_default(lwipd, start_rawpeer):
    """A SYN with no options: lwIP answers, and sends at most 536 bytes a
    segment, RFC 9293's default send MSS."""
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    rp.send(45400, LISTEN_PORT, "S", seq=Y)
    _, synack = rp.wait_segment(lambda s: s.dport == 45400 and s.has("SA"), "the SYN+ACK")
    rp.send(45400, LISTEN_PORT, "A", seq=Y + 1, ack=synack.seq + 1)
    conn = wait_for(lambda: next((c for c in lwipd.conns() if c["remote"]["port"] == 45400 and
                                  c["state"] == "ESTABLISHED"), None), "ESTABLISHED")
    assert conn["tcb"]["mss"] == 536, conn["tcb"]
    lwipd.send(conn["id"], {"size": 2000})
    rp.wait_segment(lambda s: s.dport == 45400 and s.payload, "data")
    sizes = [len(s.payload) for s in rp.segments if s.dport == 45400 and s.payload]
    assert max(sizes) <= 536, sizes


def test_a_zero_window_holds_data_until_it_opens(lwipd, start_rawpeer):
    """The peer announces a zero window: lwIP sends no data, only window
    probes, and sends it all once the window opens."""
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    rp.send(45500, LISTEN_PORT, "S", seq=Y, mss=1460, window=0)
    _, synack = rp.wait_segment(lambda s: s.dport == 45500 and s.has("SA"), "the SYN+ACK")
    isn = synack.seq + 1
    rp.send(45500, LISTEN_PORT, "A", seq=Y + 1, ack=isn, window=0)
    conn = wait_for(lambda: next((c for c in lwipd.conns() if c["remote"]["port"] == 45500 and
                                  c["state"] == "ESTABLISHED"), None), "ESTABLISHED")
    lwipd.send(conn["id"], {"size": 3000})
    settle()
    # At most a one-byte window probe may carry data while the window is shut.
    assert all(len(s.payload) <= 1 for s in rp.segments if s.dport == 45500), rp.describe()
    assert lwipd.conn(conn["id"])["counters"]["bytes_out"] <= 1

    def acked_all():
        data = [s for s in rp.segments if s.dport == 45500 and s.payload]
        top = max([(s.seq - isn) % M + len(s.payload) for s in data] + [0])
        rp.send(45500, LISTEN_PORT, "A", seq=Y + 1, ack=isn + top, window=64240)
        return top == 3000
    wait_for(acked_all, "all 3,000 bytes once the window opened", interval=0.05, timeout=30)


@pytest.mark.parametrize("flags", ["", "FPU", "FSRPAUEC", "SR", "SA", "A", "R", "F", "P", "U"])
def test_odd_flag_combinations(lwipd, start_rawpeer, flags):
    """Segments with flag combinations scanners use (none, Xmas, all), to a
    listener and to an established connection: no crash, no connection
    lwipd does not track, and the established one goes on or is reset as
    RFC 9293 says."""
    rp = start_rawpeer(lwipd)
    lwipd.listen(LISTEN_PORT)
    cid, isn = established_from_rawpeer(lwipd, rp, 45600)
    before = lwipd.conns()
    rp.send(45601, LISTEN_PORT, flags, seq=Y, ack=isn + 1)
    rp.send(45600, LISTEN_PORT, flags, seq=Y + 1, ack=isn + 1)
    settle()
    assert lwipd.proc.poll() is None, lwipd.stderr()
    assert lwipd.get("/healthz").status == 200
    # No segment with these flags opens a connection at the listener.
    assert [c["remote"]["port"] for c in lwipd.conns()] == [c["remote"]["port"] for c in before]
    state = lwipd.conn(cid)["state"]
    assert state in ("ESTABLISHED", "CLOSE_WAIT", "CLOSED"), state
