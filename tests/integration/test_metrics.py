"""GET /metrics: the Prometheus text exposition format 0.0.4, parsed with
python3-prometheus-client's parser; its families, types and labels; and
counters and gauges that follow the traffic and agree with /v1/stats."""

import re

from helpers import LWIP_IP, PEER_PORT, wait_for
from kit import lwip_end
from sse import sample_value, scrape

TCP_COUNTERS = ("active_opens", "passive_opens", "attempt_fails", "estab_resets", "in_segs",
                "out_segs", "retrans_segs", "in_errs", "out_rsts")
INTERFACE_COUNTERS = ("rx_frames", "tx_frames", "rx_bytes", "tx_bytes")
STATES = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
          "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")
LISTEN_PORT = 9000

# family (as the parser names it) -> (type, the labels of its samples)
FAMILIES = dict(
    [("lwipd_tcp_" + n, ("counter", set())) for n in TCP_COUNTERS]
    + [("lwipd_interface_" + n, ("counter", set())) for n in INTERFACE_COUNTERS]
    + [("lwipd_tcp_curr_estab", ("gauge", set())),
       ("lwipd_connections", ("gauge", {"state"})),
       ("lwipd_tcp_transitions", ("counter", {"from", "to"})),
       ("lwipd_http_requests", ("counter", {"route", "method", "status"})),
       ("lwipd_sse_clients", ("gauge", set())),
       ("lwipd_sse_clients_dropped", ("counter", set()))])


def stats(d):
    r = d.get("/v1/stats")
    assert r.status == 200, r
    return r.json()


def quiet_scrape(d):
    """/v1/stats, /metrics and /v1/stats again, until the TCP counters did
    not move in between (nothing in flight); returns (stats, families)."""
    got = {}

    def settled():
        before = stats(d)
        fams = scrape(d)[0]
        after = stats(d)
        if before["tcp"] == after["tcp"] and before["transitions"] == after["transitions"]:
            got["v"] = (before, after, fams)
            return True
        return False
    wait_for(settled, "the TCP counters to settle")
    return got["v"]


def value(fams, family, **labels):
    v = sample_value(fams, family, **labels)
    return 0 if v is None else v


def test_exposition_format(lwipd):
    fams, text, r = scrape(lwipd)
    ctype = r.headers.get("Content-Type") or ""
    assert r.content_type == "text/plain", ctype
    assert re.search(r";\s*version=0\.0\.4\b", ctype), ctype
    assert text.endswith("\n"), text[-200:]

    for name, (typ, labels) in FAMILIES.items():
        assert name in fams, "no family %s in:\n%s" % (name, text)
        f = fams[name]
        assert f.type == typ, (name, f.type)
        assert f.documentation, "%s has no HELP" % name
        for s in f.samples:
            assert set(s.labels) == labels, (name, s)
            assert s.value >= 0, s
    # Counters are exposed with their _total names (and gauges without).
    for name, (typ, labels) in FAMILIES.items():
        exposed = name + "_total" if typ == "counter" else name
        assert re.search(r"^# TYPE %s %s$" % (exposed, typ), text, re.M), (exposed, text)
        assert re.search(r"^# HELP %s \S" % exposed, text, re.M), (exposed, text)
        if not labels:
            assert re.search(r"^%s [0-9]" % exposed, text, re.M), (exposed, text)
    # One sample per name and label set.
    seen = set()
    for f in fams.values():
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in seen, "duplicate sample %s" % (key,)
            seen.add(key)
    for s in fams["lwipd_connections"].samples:
        assert s.labels["state"] in STATES, s
    for s in fams["lwipd_tcp_transitions"].samples:
        assert s.labels["from"] in STATES and s.labels["to"] in STATES, s
    # A fresh daemon: nothing has happened yet.
    assert value(fams, "lwipd_tcp_active_opens") == 0
    assert value(fams, "lwipd_tcp_curr_estab") == 0
    assert value(fams, "lwipd_sse_clients") == 0
    assert value(fams, "lwipd_sse_clients_dropped") == 0
    # HEAD answers like GET, without a body.
    h = lwipd.request("HEAD", "/metrics")
    assert h.status == 200 and h.body == b"", h


def test_counters_follow_traffic_and_agree_with_stats(lwipd, start_peer, start_kclient):
    d, ns = lwipd, lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    _, _, m0 = quiet_scrape(d)

    active = [d.open_conn() for _ in range(3)]
    for o in active:
        d.wait_state(o["id"], "ESTABLISHED")
        peer.wait_event("ACCEPT", lwip_end(d.conn(o["id"])))
    r = d.post("/v1/listeners", {"port": LISTEN_PORT, "backlog": 4})
    assert r.status == 201, r
    client = start_kclient(ns, LWIP_IP, LISTEN_PORT)
    r = d.get("/v1/listeners/%d?wait_accepted=1" % r.json()["id"])
    assert r.status == 200, r
    passive = [c for c in d.conns() if c["origin"] == "passive"]
    assert len(passive) == 1
    d.wait_state(passive[0]["id"], "ESTABLISHED")
    client.do("send hello", "SENT")

    s_before, s_after, m1 = quiet_scrape(d)

    def delta(family, **labels):
        return value(m1, family, **labels) - value(m0, family, **labels)
    assert delta("lwipd_tcp_active_opens") == 3
    assert delta("lwipd_tcp_passive_opens") == 1
    assert value(m1, "lwipd_tcp_curr_estab") == 4
    assert value(m1, "lwipd_connections", state="ESTABLISHED") == 4
    assert delta("lwipd_tcp_transitions", **{"from": "CLOSED", "to": "SYN_SENT"}) == 3
    assert delta("lwipd_tcp_transitions", **{"from": "SYN_SENT", "to": "ESTABLISHED"}) == 3
    assert delta("lwipd_tcp_transitions", **{"from": "LISTEN", "to": "SYN_RCVD"}) == 1
    assert delta("lwipd_tcp_transitions", **{"from": "SYN_RCVD", "to": "ESTABLISHED"}) == 1
    assert delta("lwipd_tcp_in_segs") >= 3 + 3    # SYN+ACKs, the passive SYN, ACK, data
    assert delta("lwipd_tcp_out_segs") >= 3 + 3
    assert_agrees(s_before, s_after, m1, d)

    # An abort resets an established connection; a refused open fails.
    r = d.delete("/v1/connections/%d?mode=abort" % active[0]["id"])
    assert r.status == 202, r
    refused = d.open_conn(remote_port=7001)
    d.wait_state(refused["id"], "CLOSED")
    s_before, s_after, m2 = quiet_scrape(d)
    assert value(m2, "lwipd_tcp_estab_resets") - value(m1, "lwipd_tcp_estab_resets") == 1
    assert value(m2, "lwipd_tcp_out_rsts") - value(m1, "lwipd_tcp_out_rsts") == 1
    assert value(m2, "lwipd_tcp_attempt_fails") - value(m1, "lwipd_tcp_attempt_fails") == 1
    assert value(m2, "lwipd_tcp_active_opens") - value(m1, "lwipd_tcp_active_opens") == 1
    assert value(m2, "lwipd_tcp_curr_estab") == 3
    assert value(m2, "lwipd_connections", state="ESTABLISHED") == 3
    assert value(m2, "lwipd_connections", state="CLOSED") == 2
    assert_agrees(s_before, s_after, m2, d)


def assert_agrees(s_before, s_after, fams, d):
    """/metrics says what /v1/stats and /v1/connections say."""
    for k in TCP_COUNTERS:
        assert value(fams, "lwipd_tcp_" + k) == s_after["tcp"][k], k
    assert value(fams, "lwipd_tcp_curr_estab") == s_after["tcp"]["curr_estab"]
    transitions = {}
    for s in fams["lwipd_tcp_transitions"].samples:
        if s.value:
            transitions["%s->%s" % (s.labels["from"], s.labels["to"])] = s.value
    assert transitions == {k: v for k, v in s_after["transitions"].items() if v}, (
        transitions, s_after["transitions"])
    for k in INTERFACE_COUNTERS:
        v = value(fams, "lwipd_interface_" + k)
        assert s_before["interface"][k] <= v <= s_after["interface"][k], (k, v, s_before, s_after)
    conns = d.conns()
    for state in STATES:
        want = sum(1 for c in conns if c["state"] == state)
        assert value(fams, "lwipd_connections", state=state) == want, (state, conns)


def test_http_requests_by_route_method_and_status(lwipd):
    d = lwipd
    m0 = scrape(d)[0]
    r = d.get("/v1/connections/999999")
    assert r.status == 404, r
    r = d.get("/no/such/route")
    assert r.status == 404, r
    d.open_conn(remote_port=7001)                # 201
    r = d.request("PUT", "/v1/connections")
    assert r.status == 405, r
    m1 = scrape(d)[0]

    def by(fams, **labels):
        return {tuple(sorted(s.labels.items())): s.value
                for s in fams["lwipd_http_requests"].samples
                if all(s.labels.get(k) == v for k, v in labels.items())}

    def delta(**labels):
        before, after = by(m0, **labels), by(m1, **labels)
        return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}

    created = delta(method="POST", status="201")
    assert len(created) == 1 and list(created.values()) == [1], created
    route = dict(list(created)[0])["route"]
    assert "connections" in route, route
    not_found = delta(method="GET", status="404")
    assert sum(not_found.values()) == 2, not_found
    # A method the API does not know may be counted under a catch-all label.
    refused = delta(status="405")
    assert sum(refused.values()) == 1, (refused, by(m1))
    assert dict(list(refused)[0])["method"] in ("PUT", "other"), refused
    assert dict(list(refused)[0])["route"] == route, refused
    for s in m1["lwipd_http_requests"].samples:
        assert re.fullmatch(r"[1-5][0-9][0-9]", s.labels["status"]), s
        assert s.labels["route"], s
        # Routes, not paths: ids do not become label values.
        assert not re.search(r"/[0-9]+(/|$)", s.labels["route"]), s
        assert "/no/such/route" not in s.labels["route"], s
    # The scrapes themselves are counted.
    assert sum(by(m1, method="GET", status="200").values()) >= 1
