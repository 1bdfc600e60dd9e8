"""Fault injection (POST /v1/faults): the textbook scenarios against the
Linux kernel, each seen through the API, in the timeline, on the wire (a
capture on the TAP) and in the kernel's own view (ss, nstat).

Every frame between the TAP and lwIP passes through the daemon, so a rule
acts exactly where it says: dir "out" between lwIP and the wire, dir "in"
between the wire and lwIP. A segment a rule dropped still appears in its
connection's timeline with "fault": {"rule", "action"}; an inbound one lwIP
never saw has state_before == state_after.
"""

import os

import pytest

from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, wait_for
from wire import tcp_segments
from kit import (Snapshot, established_active, established_passive, kernel_state, lwip_end, pattern,
                 sha256)


def add_fault(d, rule):
    r = d.post("/v1/faults", rule)
    assert r.status == 201, "POST /v1/faults %r -> %r" % (rule, r)
    obj = r.json()
    assert r.headers.get("Location") == "/v1/faults/%d" % obj["id"], r.headers
    return obj


def fault(d, fid):
    r = d.get("/v1/faults/%d" % fid)
    assert r.status == 200, r
    return r.json()


def segments(d, cid):
    events = d.get("/v1/connections/%d/timeline" % cid).json()["events"]
    return [e for e in events if e["kind"] == "segment"]


def read_echo(d, cid, size, timeout=60, interval=0.01):
    """Reads what the echo peer sends back until size bytes came; returns them."""
    got = bytearray()

    def echoed():
        got.extend(d.read_data(cid)[0])
        return len(got) >= size
    wait_for(echoed, lambda: "the echo (%d of %d bytes)" % (len(got), size), timeout=timeout,
             interval=interval)
    return bytes(got)


def flags(e):
    return set(e["flags"].split(",")) if e["flags"] else set()


def faulted(segs, action="drop"):
    return [e for e in segs if e.get("fault") and e["fault"]["action"] == action]


def wire_segments(cap, obj, done, what):
    port = obj["local"]["port"]

    def ok(segs):
        return done([s for s in segs if port in (s.sport, s.dport)])
    return tcp_segments(cap.stop_when(ok, what), port, PEER_PORT)


# ---------------------------------------------------------------------------
# The API


def test_rules_are_listed_counted_and_removed(lwipd):
    a = add_fault(lwipd, {"dir": "out", "match": {"step": "teardown-4"}, "action": "drop"})
    assert a["state"] == "active" and a["matched"] == 0 and a["applied"] == 0, a
    assert a["remaining"] == 1 and a["count"] == 1 and a["skip"] == 0, a
    assert a["probability"] == 1 and isinstance(a["seed"], int), a
    assert a["match"] == {"step": "teardown-4"}, a
    b = add_fault(lwipd, {"dir": "in", "action": "delay", "delay_ms": 300, "count": 0,
                          "probability": 0.5, "seed": 7})
    assert b["remaining"] is None and b["delay_ms"] == 300 and b["seed"] == 7, b
    listed = lwipd.get("/v1/faults").json()["faults"]
    assert [f["id"] for f in listed] == [a["id"], b["id"]]
    assert fault(lwipd, b["id"]) == b
    assert lwipd.delete("/v1/faults/%d" % a["id"]).status == 200
    assert lwipd.get("/v1/faults/%d" % a["id"]).status == 404
    assert lwipd.delete("/v1/faults/%d" % a["id"]).status == 404
    r = lwipd.delete("/v1/faults")
    assert r.status == 200 and r.json() == {"removed": 1}, r
    assert lwipd.get("/v1/faults").json()["faults"] == []


@pytest.mark.parametrize("body,field", [
    ({"action": "drop"}, "dir"),
    ({"dir": "up", "action": "drop"}, "dir"),
    ({"dir": "in"}, "action"),
    ({"dir": "in", "action": "delay"}, "delay_ms"),
    ({"dir": "in", "action": "delay", "delay_ms": 60001}, "delay_ms"),
    ({"dir": "in", "action": "drop", "probability": 2}, "probability"),
    ({"dir": "in", "action": "drop", "match": {"flags": "SYN,BOGUS"}}, "match.flags"),
    ({"dir": "in", "action": "drop", "match": {"step": "teardown-9"}}, "match.step"),
    ({"dir": "in", "action": "drop", "match": {"state": "OPEN"}}, "match.state"),
    ({"dir": "in", "action": "drop", "match": {"nope": 1}}, "match.nope"),
])
def test_bad_rules_are_422_naming_the_field(lwipd, body, field):
    r = lwipd.post("/v1/faults", body)
    assert r.status == 422, r
    assert r.content_type == "application/problem+json", r
    assert r.json()["field"] == field, r.json()
    assert lwipd.get("/v1/faults").json()["faults"] == []


def test_the_rule_cap_is_a_clear_problem(netns, start_daemon):
    d = start_daemon(netns, "--max-fault-rules", "2")
    for _ in range(2):
        add_fault(d, {"dir": "in", "action": "drop"})
    r = d.post("/v1/faults", {"dir": "in", "action": "drop"})
    assert r.status == 503, r
    assert "--max-fault-rules" in r.json()["detail"], r.json()


def test_rules_given_at_start(netns, start_daemon):
    d = start_daemon(netns, "--fault", '{"dir":"out","action":"drop","count":0,"probability":0.01}',
                     "--fault", '{"dir":"in","action":"corrupt","match":{"flags":"RST"}}')
    rules = d.get("/v1/faults").json()["faults"]
    assert [(f["id"], f["dir"], f["action"], f["count"]) for f in rules] == [
        (1, "out", "drop", 0), (2, "in", "corrupt", 1)], rules


def test_faults_are_counted_and_streamed(lwipd, start_peer):
    from sse import SSEClient, sample_value, scrape
    start_peer(lwipd.ns, PEER_PORT, "hold")
    events = SSEClient(lwipd.port)
    events.wait_open()
    try:
        rule = add_fault(lwipd, {"dir": "out", "match": {"step": "handshake-1"},
                                 "action": "drop"})
        dup = add_fault(lwipd, {"dir": "out", "match": {"step": "handshake-3"},
                                "action": "duplicate"})
        obj = lwipd.open_conn()
        lwipd.wait_state(obj["id"], "ESTABLISHED", timeout=15)
        got = events.wait(lambda ev: sum(1 for e in ev if e.kind == "fault") >= 4,
                          "fired and spent events of both rules")
    finally:
        events.close()
    faults = [e.data for e in got if e.kind == "fault"]
    assert {(f["rule"], f["event"], f["action"], f["dir"], f["connection"]) for f in faults} == {
        (rule["id"], "fired", "drop", "out", obj["id"]),
        (rule["id"], "spent", "drop", "out", obj["id"]),
        (dup["id"], "fired", "duplicate", "out", obj["id"]),
        (dup["id"], "spent", "duplicate", "out", obj["id"])}, faults
    stats = lwipd.stats()["faults"]
    assert stats["rules"] == 2 and stats["held"] == 0, stats
    assert stats["applied"] == {"drop": 1, "delay": 0, "duplicate": 1, "reorder": 0,
                                "corrupt": 0}, stats
    fams, _, _ = scrape(lwipd)
    assert sample_value(fams, "lwipd_faults_applied", action="drop") == 1
    assert sample_value(fams, "lwipd_faults_applied", action="duplicate") == 1
    copies = [e for e in segments(lwipd, obj["id"]) if e.get("fault") and e["fault"].get("copy")]
    assert len(copies) == 1 and copies[0]["step"] == "handshake-3", copies


def test_a_delayed_syn_ack_reaches_lwip_later(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    add_fault(lwipd, {"dir": "in", "match": {"flags": "SYN,ACK"}, "action": "delay",
                      "delay_ms": 300})
    obj = lwipd.open_conn()
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED", timeout=15)
    peer.wait_event("ACCEPT", lwip_end(obj))
    segs = segments(lwipd, obj["id"])
    synack = next(e for e in segs if e["dir"] == "in" and flags(e) == {"SYN", "ACK"})
    assert synack["fault"] == {"rule": 1, "action": "delay", "delay_ms": 300}, synack
    assert synack["state_before"] == "SYN_SENT" and synack["state_after"] == "ESTABLISHED"
    syn = next(e for e in segs if e["dir"] == "out" and flags(e) == {"SYN"})
    assert synack["at_us"] - syn["at_us"] >= 300000, (syn, synack)


def test_corrupted_data_is_refused_by_lwip_and_resent(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "echo")
    obj = established_active(lwipd, peer)
    before = lwipd.stats()["tcp"]["in_errs"]
    add_fault(lwipd, {"dir": "in", "match": {"connection": obj["id"], "data": True},
                      "action": "corrupt"})
    lwipd.send(obj["id"], {"data": "hello"})
    # The kernel resends what lwIP refused.
    assert read_echo(lwipd, obj["id"], 5, timeout=20) == b"hello"
    assert lwipd.stats()["tcp"]["in_errs"] == before + 1
    segs = [e for e in segments(lwipd, obj["id"]) if e["dir"] == "in" and e["len"]]
    assert segs[0]["fault"]["action"] == "corrupt", segs
    assert segs[1]["step"] == "retransmit" and segs[1]["fault"] is None, segs
    # lwIP accepted the five bytes once: the corrupted copy counts for nothing.
    assert lwipd.conn(obj["id"])["counters"]["bytes_in"] == 5


# ---------------------------------------------------------------------------
# The textbook scenarios


def test_lost_syn_is_retransmitted(lwipd, start_peer, start_capture):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    cap = start_capture(lwipd.ns)
    rule = add_fault(lwipd, {"dir": "out", "match": {"step": "handshake-1"}, "action": "drop"})
    obj = lwipd.open_conn()
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED", timeout=15)
    peer.wait_event("ACCEPT", lwip_end(obj))

    segs = segments(lwipd, obj["id"])
    lost = faulted(segs)
    assert len(lost) == 1 and lost[0]["step"] == "handshake-1", segs
    assert lost[0]["fault"] == {"rule": rule["id"], "action": "drop"}, lost
    assert any(e["step"] == "retransmit" and flags(e) == {"SYN"} for e in segs), segs
    assert obj["counters"]["retransmits"] >= 1, obj
    assert fault(lwipd, rule["id"])["state"] == "spent"
    # The wire carried one SYN: the retransmission.
    wire_segs = wire_segments(cap, obj, lambda s: any(x.flags == {"S", "A"} for x in s),
                              "the SYN+ACK")
    assert sum(1 for s in wire_segs if s.flags == {"S"}) == 1, wire_segs
    assert kernel_state(lwipd.ns, obj) == ["ESTAB"]


def test_lost_syn_ack_is_retransmitted_by_one_side(lwipd, start_peer, start_capture):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    cap = start_capture(lwipd.ns)
    snap = Snapshot(lwipd, lwipd.ns)
    rule = add_fault(lwipd, {"dir": "in", "match": {"flags": "SYN,ACK"}, "action": "drop"})
    obj = lwipd.open_conn()
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED", timeout=15)
    peer.wait_event("ACCEPT", lwip_end(obj))

    segs = segments(lwipd, obj["id"])
    lost = faulted(segs)
    assert len(lost) == 1 and lost[0]["dir"] == "in" and flags(lost[0]) == {"SYN", "ACK"}, segs
    # lwIP never saw it.
    assert lost[0]["state_before"] == lost[0]["state_after"] == "SYN_SENT", lost
    wire_segs = wire_segments(cap, obj, lambda s: any(x.flags == {"A"} and x.src == LWIP_IP
                                                      for x in s), "the handshake's ACK")
    synacks = sum(1 for s in wire_segs if s.flags == {"S", "A"})
    syns = sum(1 for s in wire_segs if s.flags == {"S"})
    delta = snap.delta()
    # Each retransmission is counted where it happened.
    assert synacks == 1 + delta.kernel["TcpRetransSegs"], (wire_segs, delta)
    assert syns == 1 + delta.tcp["retrans_segs"], (wire_segs, delta)
    assert synacks + syns >= 3, wire_segs
    assert fault(lwipd, rule["id"])["applied"] == 1


def test_lost_third_ack_leaves_the_kernel_half_open(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    # Every bare ACK towards the peer is lost, so that the ACKs answering the
    # kernel's SYN+ACK retransmissions do not complete its handshake either.
    rule = add_fault(lwipd, {"dir": "out", "action": "drop", "count": 0,
                             "match": {"exact_flags": "ACK", "data": False,
                                       "remote_port": PEER_PORT}})
    obj = lwipd.open_conn()
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED")
    wait_for(lambda: kernel_state(lwipd.ns, obj) == ["SYN-RECV"], "the kernel in SYN-RECV")
    segs = segments(lwipd, obj["id"])
    assert faulted(segs)[0]["step"] == "handshake-3", segs

    # Data from lwIP carries the ACK the kernel was waiting for.
    lwipd.send(obj["id"], {"data": "hello"})
    wait_for(lambda: kernel_state(lwipd.ns, obj) == ["ESTAB"], "the kernel in ESTAB")
    peer.wait_event("DATA", lwip_end(obj))
    assert fault(lwipd, rule["id"])["applied"] >= 1


def close_to_time_wait(d, peer, rule_body):
    """lwIP closes first against the echo peer, with a rule in place;
    returns (connection, rule) once lwIP is in TIME_WAIT."""
    rule = add_fault(d, rule_body)
    obj = established_active(d, peer)
    assert d.delete("/v1/connections/%d" % obj["id"]).status == 202
    return d.wait_state(obj["id"], "TIME_WAIT"), rule


def test_lost_final_ack_is_why_time_wait_lasts(netns, start_daemon, start_peer, start_capture):
    d = start_daemon(netns, msl_ms=5000)    # 10 s of TIME_WAIT: the kernel retransmits within it
    peer = start_peer(netns, PEER_PORT, "echo")
    cap = start_capture(netns)
    obj, rule = close_to_time_wait(d, peer, {"dir": "out", "match": {"step": "teardown-4"},
                                              "action": "drop"})
    # The kernel, in LAST-ACK, waits for the ACK that was lost...
    assert kernel_state(netns, obj) in (["LAST-ACK"], []), kernel_state(netns, obj)
    # ...retransmits its FIN, and lwIP in TIME_WAIT answers it again.
    wait_for(lambda: kernel_state(netns, obj) == [], "the kernel's socket to close", timeout=15)
    segs = segments(d, obj["id"])
    lost = faulted(segs)
    assert len(lost) == 1 and lost[0]["step"] == "teardown-4", segs
    after = segs[segs.index(lost[0]) + 1:]
    fin = next(e for e in after if e["dir"] == "in" and "FIN" in flags(e))
    assert fin["state_before"] == "TIME_WAIT", fin
    ack = next(e for e in after[after.index(fin) + 1:] if e["dir"] == "out")
    assert ack["state_before"] == "TIME_WAIT" and flags(ack) == {"ACK"}, ack
    assert d.conn(obj["id"])["state"] == "TIME_WAIT"
    wire_segs = wire_segments(cap, obj, lambda s: sum(1 for x in s if "F" in x.flags
                                                      and x.src == KERNEL_IP) >= 2,
                              "the kernel's second FIN")
    assert sum(1 for s in wire_segs if "F" in s.flags and s.src == KERNEL_IP) >= 2, wire_segs
    text = d.get("/v1/connections/%d/timeline?format=text" % obj["id"]).body.decode()
    assert "--x" in text and "dropped by fault rule %d" % rule["id"] in text, text


def test_expired_time_wait_meets_the_retransmitted_fin_with_a_rst(lwipd, start_peer,
                                                                  start_capture):
    peer = start_peer(lwipd.ns, PEER_PORT, "echo")
    cap = start_capture(lwipd.ns)
    obj, _ = close_to_time_wait(lwipd, peer, {"dir": "out", "match": {"step": "teardown-4"},
                                              "action": "drop"})
    # Hold back the kernel's retransmitted FINs until TIME_WAIT is gone.
    hold = add_fault(lwipd, {"dir": "in", "action": "drop", "count": 0,
                             "match": {"connection": obj["id"], "flags": "FIN"}})
    r = lwipd.post("/v1/connections/%d/expire" % obj["id"], {})
    assert r.status == 200, r
    lwipd.wait_state(obj["id"], "CLOSED")
    assert lwipd.delete("/v1/faults/%d" % hold["id"]).status == 200
    wire_segs = wire_segments(cap, obj, lambda s: any("R" in x.flags for x in s), "the RST")
    fin_index = max(i for i, s in enumerate(wire_segs) if "F" in s.flags and s.src == KERNEL_IP)
    assert any("R" in s.flags and s.src == LWIP_IP for s in wire_segs[fin_index:]), wire_segs
    wait_for(lambda: kernel_state(lwipd.ns, obj) == [], "the kernel's socket to close")


def test_lost_fin_is_retransmitted(lwipd, start_peer, start_capture):
    peer = start_peer(lwipd.ns, PEER_PORT, "echo")
    cap = start_capture(lwipd.ns)
    obj, rule = close_to_time_wait(lwipd, peer, {"dir": "out", "match": {"flags": "FIN"},
                                                 "action": "drop"})
    segs = segments(lwipd, obj["id"])
    lost = faulted(segs)
    assert len(lost) == 1 and lost[0]["step"] == "teardown-1", segs
    assert any(e["step"] == "retransmit" and "FIN" in flags(e) for e in segs), segs
    assert lwipd.conn(obj["id"])["counters"]["retransmits"] >= 1
    wire_segs = wire_segments(cap, obj, lambda s: sum(1 for x in s if "F" in x.flags) >= 2,
                              "both FINs")
    assert sum(1 for s in wire_segs if "F" in s.flags and s.src == LWIP_IP) == 1, wire_segs


def out_of_order(events):
    """Whether a later segment of one direction starts below what an earlier one reached.
    Pure ACKs count too: a reorder hold ends when the next segment of its direction passes,
    and that may be a pure ACK (the kernel acknowledging our data between its echoes), which
    then carries a sequence number beyond the held data's."""
    highest = None
    for e in events:
        if e["rel_seq"] is None:
            continue
        if highest is not None and e["rel_seq"] < highest:
            return True
        end = e["rel_seq"] + e["len"]
        highest = end if highest is None else max(highest, end)
    return False


def test_delayed_and_reordered_data_arrives_intact(netns, start_daemon, start_peer):
    # A timeline long enough to keep every segment of the transfer.
    lwipd = start_daemon(netns, "--timeline-max", "65536")
    peer = start_peer(netns, PEER_PORT, "echo")
    obj = established_active(lwipd, peer)
    add_fault(lwipd, {"dir": "out", "match": {"connection": obj["id"], "data": True},
                      "action": "reorder", "skip": 3, "count": 4})
    add_fault(lwipd, {"dir": "out", "match": {"connection": obj["id"], "data": True},
                      "action": "delay", "delay_ms": 40, "skip": 10, "count": 4})
    add_fault(lwipd, {"dir": "in", "match": {"connection": obj["id"], "data": True},
                      "action": "reorder", "skip": 5, "count": 4})
    size = 200000
    lwipd.send(obj["id"], {"size": size})
    assert read_echo(lwipd, obj["id"], size) == pattern(size)
    segs = segments(lwipd, obj["id"])
    assert len(faulted(segs, "reorder")) == 8 and len(faulted(segs, "delay")) == 4, segs
    assert out_of_order([e for e in segs if e["dir"] == "in"]), "no out-of-order arrival in"
    assert out_of_order([e for e in segs if e["dir"] == "out"]), "no out-of-order departure out"


def test_a_listeners_lost_syn_is_in_the_connection_its_retransmission_makes(lwipd):
    """A listener's SYN finds lwIP in LISTEN, before any connection: a rule
    matches it there, and the SYN it dropped opens the timeline of the
    connection the kernel's retransmission makes."""
    port = 7100
    assert lwipd.post("/v1/listeners", {"port": port}).status == 201
    rule = add_fault(lwipd, {"dir": "in", "match": {"flags": "SYN", "state": "LISTEN"},
                             "action": "drop"})
    s, obj = established_passive(lwipd, lwipd.ns, port)
    s.close()
    syns = [e for e in segments(lwipd, obj["id"]) if "SYN" in flags(e)]
    lost, again = syns[0], syns[1]
    assert lost["dir"] == "in" and lost["step"] == "handshake-1", syns
    assert lost["fault"] == {"rule": rule["id"], "action": "drop"}, lost
    assert lost["state_before"] == lost["state_after"] == "LISTEN", lost
    assert again["dir"] == "in" and again["step"] == "retransmit" and not again.get("fault"), syns
    assert again["seq"] == lost["seq"] and again["at_us"] > lost["at_us"], syns
    assert segments(lwipd, obj["id"])[0] == lost
    rule = fault(lwipd, rule["id"])
    assert (rule["matched"], rule["applied"], rule["state"]) == (1, 1, "spent"), rule
    text = lwipd.get("/v1/connections/%d/timeline?format=text" % obj["id"]).body.decode()
    assert "x-- <SEQ=0><CTL=SYN>" in text and "(dropped by fault rule %d)" % rule["id"] in text, text


def test_a_listeners_delayed_syn_makes_its_connection_late(lwipd):
    port = 7101
    assert lwipd.post("/v1/listeners", {"port": port}).status == 201
    rule = add_fault(lwipd, {"dir": "in", "match": {"flags": "SYN", "state": "LISTEN"},
                             "action": "delay", "delay_ms": 300})
    s, obj = established_passive(lwipd, lwipd.ns, port)
    s.close()
    first = segments(lwipd, obj["id"])[0]
    assert first["step"] == "handshake-1" and first["state_before"] == "LISTEN", first
    assert first["fault"] == {"rule": rule["id"], "action": "delay", "delay_ms": 300}, first
    rule = fault(lwipd, rule["id"])
    assert (rule["matched"], rule["applied"], rule["state"]) == (1, 1, "spent"), rule


def test_a_full_hold_applies_nothing_and_says_so(netns, start_daemon, start_peer):
    """With room for one held segment, a delay rule acts only on the segments
    it could hold: the rest count as matches and overflows, not as applied."""
    from sse import SSEClient
    lwipd = start_daemon(netns, "--timeline-max", "65536", "--fault-hold-max", "1")
    peer = start_peer(netns, PEER_PORT, "echo")
    obj = established_active(lwipd, peer)
    events = SSEClient(lwipd.port)
    events.wait_open()
    try:
        rule = add_fault(lwipd, {"dir": "out", "match": {"connection": obj["id"], "data": True},
                                 "action": "delay", "delay_ms": 200, "count": 0})
        size = 100000
        lwipd.send(obj["id"], {"size": size})
        got = read_echo(lwipd, obj["id"], size)
        got_events = events.wait(
            lambda ev: any(e.kind == "fault" and e.data["event"] == "overflow" for e in ev),
            "an overflow event")
    finally:
        events.close()
    assert got == pattern(size)
    wait_for(lambda: lwipd.stats()["faults"]["held"] == 0, "the last held segment's release")
    rule = fault(lwipd, rule["id"])
    delayed = faulted(segments(lwipd, obj["id"]), "delay")
    stats = lwipd.stats()["faults"]
    assert rule["applied"] == len(delayed) > 0, (rule, len(delayed))
    assert stats["applied"]["delay"] == rule["applied"], stats
    assert rule["state"] == "active" and rule["matched"] > rule["applied"], rule
    assert stats["hold_overflows"] == rule["matched"] - rule["applied"], (stats, rule)
    overflow = [e.data for e in got_events if e.kind == "fault" and e.data["event"] == "overflow"]
    assert overflow[0]["rule"] == rule["id"] and overflow[0]["action"] == "delay", overflow
    assert overflow[0]["connection"] == obj["id"] and overflow[0]["dir"] == "out", overflow
    assert "--fault-hold-max" in lwipd.stderr(), lwipd.stderr()


def lossy_echo(d, peer, seed, size):
    """An echo of size bytes under 20% loss of data segments both ways;
    returns (connection, its segments)."""
    obj = established_active(d, peer)
    for direction, s in (("out", seed), ("in", seed + 1)):
        add_fault(d, {"dir": direction, "action": "drop", "count": 0, "probability": 0.2,
                      "seed": s, "match": {"connection": obj["id"], "data": True}})
    d.send(obj["id"], {"size": size})
    # 10 minutes, and more for a larger echo by hand: a megabyte gets 37 minutes.
    got = read_echo(d, obj["id"], size, timeout=max(600, size * 2220 // (1 << 20)), interval=0.02)
    assert sha256(got) == sha256(pattern(size))
    return d.conn(obj["id"]), segments(d, obj["id"])


def drops_before_first_retransmit(segs):
    """Which of lwIP's outbound data segments were dropped, by position,
    up to the first retransmission: the part of a run a seed fixes."""
    out = []
    for e in segs:
        if e["dir"] != "out" or not e["len"]:
            continue
        if e["step"] == "retransmit":
            break
        out.append(bool(e.get("fault")))
    return out


# The scenario is a 1 MiB echo. lwIP 2.1.3 recovers from such loss
# slowly (no SACK, a 1.5 s retransmission timeout from its 500 ms timer that
# doubles when a retransmission is lost too, and a congestion window of one
# segment after each timeout, too small for fast retransmit): a lossy
# megabyte took from under 4 to over 20 minutes here, and 256 KiB from 2 to
# over 9 minutes, so CI echoes 64 KiB. LWIPD_LOSS_BYTES=1048576 runs the full
# size by hand (see README, "Breaking things on purpose").
LOSS_BYTES = int(os.environ.get("LWIPD_LOSS_BYTES", 1 << 16))


@pytest.mark.very_slow
def test_random_loss_is_repeatable_and_recovered(make_netns, start_daemon, start_peer):
    patterns = []
    for size in (LOSS_BYTES, 1 << 15):
        ns = make_netns()
        d = start_daemon(ns, "--timeline-max", "65536")
        obj, segs = lossy_echo(d, start_peer(ns, PEER_PORT, "echo"), 42, size)
        dropped_out = [e for e in faulted(segs) if e["dir"] == "out"]
        retransmits = [e for e in segs if e["dir"] == "out" and e["step"] == "retransmit"]
        assert dropped_out, "a 20% loss dropped nothing"
        assert obj["counters"]["retransmits"] >= len(dropped_out), obj
        assert len(retransmits) == obj["counters"]["retransmits"], (len(retransmits), obj)
        patterns.append(drops_before_first_retransmit(segs))
    # The second, shorter run meets the same first drops: the seed repeats them.
    assert patterns[0] and patterns[0] == patterns[1], patterns
