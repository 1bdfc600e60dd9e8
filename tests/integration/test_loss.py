"""Handshakes under packet loss, made by the daemon's own fault rules.

Two rules drop that share of the segments lwIP sends (dir "out") and of the
ones the wire brings it (dir "in"), each direction independently, with
fixed seeds so that a run's losses repeat:

    POST /v1/faults {"dir":"out","action":"drop","count":0,"probability":P,"seed":1}
    POST /v1/faults {"dir":"in", "action":"drop","count":0,"probability":P,"seed":2}

The retransmissions lwIP makes are counted both per connection
(counters.retransmits) and in /v1/stats tcp.retrans_segs; with nothing else
going on the sum of the former equals the latter's delta. Whether a 1% loss
hits any of ~600 segments is left to chance, so the 200-handshake test does
not require a retransmission; a dedicated test at 30% loss makes one
practically certain (each of its 50 first SYNs is dropped with probability
0.3: no retransmission at all has probability 0.7**50, about 2e-8).
"""

import pytest

from helpers import PEER_PORT, wait_for
from kit import Snapshot


def add_loss(d, percent):
    for direction, seed in (("out", 1), ("in", 2)):
        rule = {"dir": direction, "action": "drop", "count": 0, "probability": percent / 100,
                "seed": seed}
        r = d.post("/v1/faults", rule)
        assert r.status == 201, r
        assert r.json()["probability"] == percent / 100, r.json()


def open_many(d, n):
    ids = []
    for _ in range(n):
        ids.append(d.open_conn(remote_port=PEER_PORT)["id"])
    return ids


def settled(d, ids, states):
    conns = {c["id"]: c for c in d.conns()}
    return all(conns[i]["state"] in states for i in ids) and conns


@pytest.mark.slow
def test_200_handshakes_at_1_percent_loss(lwipd, start_peer):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold", backlog=1024)
    add_loss(lwipd, 1)
    snap = Snapshot(lwipd, ns)
    ids = open_many(lwipd, 200)
    last = {}

    def all_established():
        last["conns"] = {c["id"]: c["state"] for c in lwipd.conns()}
        return all(last["conns"].get(i) == "ESTABLISHED" for i in ids)
    wait_for(all_established, lambda: "all 200 ESTABLISHED; not yet: %s" % {
        i: s for i, s in last.get("conns", {}).items() if s != "ESTABLISHED"}, timeout=180)
    conns = [c for c in lwipd.conns() if c["id"] in ids]
    for c in conns:
        assert [h["state"] for h in c["history"]] == ["SYN_SENT", "ESTABLISHED"], c
    delta = snap.delta()
    assert delta.tcp["active_opens"] == 200, delta
    assert delta.tcp["attempt_fails"] == 0, delta
    assert delta.trans == {"CLOSED->SYN_SENT": 200, "SYN_SENT->ESTABLISHED": 200}, delta
    assert delta.tcp["retrans_segs"] == sum(c["counters"]["retransmits"] for c in conns), delta
    assert delta.tcp["curr_estab"] == 200, delta
    # The kernel accepts each once (its ACK may need a SYN+ACK retransmission).
    wait_for(lambda: sum(1 for e in peer.events() if e[0] == "ACCEPT") == 200,
             "the kernel peer to accept 200 connections", timeout=180)
    assert snap.delta().kernel["TcpPassiveOpens"] == 200


@pytest.mark.slow
def test_retransmits_counted_at_30_percent_loss(lwipd, start_peer):
    ns = lwipd.ns
    start_peer(ns, PEER_PORT, "hold", backlog=1024)
    add_loss(lwipd, 30)
    snap = Snapshot(lwipd, ns)
    ids = open_many(lwipd, 50)
    # A connection whose seven SYNs are all lost gives up (CLOSED); either
    # way, once ESTABLISHED or CLOSED lwIP retransmits nothing more.
    conns = wait_for(lambda: settled(lwipd, ids, ("ESTABLISHED", "CLOSED")),
                     "all 50 to be ESTABLISHED or CLOSED", timeout=180)
    conns = [conns[i] for i in ids]
    total = sum(c["counters"]["retransmits"] for c in conns)
    delta = snap.delta()
    assert delta.tcp["retrans_segs"] == total, (delta, total)
    assert total > 0, delta
    closed = [c for c in conns if c["state"] == "CLOSED"]
    for c in closed:
        assert c["history"][-1]["cause"] == "timer:syn-retries", c
    assert delta.tcp["attempt_fails"] == len(closed), delta
    assert delta.tcp["active_opens"] == 50, delta
