"""Batch opens (POST /v1/batches): count connections towards the kernel
peer with at most in_flight handshakes outstanding, each closed as asked.
The wire (a capture) shows count SYNs and the kind of close; the peer's
sockets (ss) show what is left; ?wait_for=done waits; DELETE stops."""

from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, wait_for
from wire import dedupe, tcp_segments
from kit import problem

COUNT = 200
IN_FLIGHT = 16
NO_PEER_PORT = 7999
# Headers only: a batch runs at full speed, and tcpdump's buffer must hold its burst.
CAPTURE_SNAPLEN = 96


def start_batch(d, **fields):
    body = {"remote_ip": KERNEL_IP, "remote_port": PEER_PORT, "count": COUNT,
            "in_flight": IN_FLIGHT}
    body.update(fields)
    r = d.post("/v1/batches", body)
    assert r.status == 202, r
    b = r.json()
    assert r.headers.get("Location") == "/v1/batches/%d" % b["id"], r.headers
    return b


def wait_done(d, bid, timeout_ms=60000):
    r = d.get("/v1/batches/%d?wait_for=done&timeout_ms=%d" % (bid, timeout_ms), timeout=90)
    assert r.status == 200, r
    return r.json()


def from_lwip(segs, flag):
    """lwIP's segments to the peer with that flag, retransmissions left out."""
    return dedupe([s for s in segs if s.src == LWIP_IP and s.dport == PEER_PORT and
                   flag in s.flags])[0]


def peer_conns(ns):
    """The peer's sockets other than its listener."""
    return [s for s in ns.ss() if s["local"] == "%s:%d" % (KERNEL_IP, PEER_PORT)
            and s["state"] != "LISTEN"]


def check_counts(b, closed):
    assert b["state"] == "done", b
    assert (b["started"], b["established"], b["failed"], b["closed"]) == (
        COUNT, COUNT, 0, closed), b
    assert b["failures"] == {}, b
    assert b["elapsed_us"] > 0 and b["rate"] > 0, b
    lat = b["latency_us"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], lat


def test_abort_resets_each_connection_once_established(lwipd, start_peer, start_capture):
    ns = lwipd.ns
    start_peer(ns)
    cap = start_capture(ns, snaplen=CAPTURE_SNAPLEN)
    b = start_batch(lwipd, close="abort")
    assert b["close"] == "abort" and b["count"] == COUNT and b["in_flight"] == IN_FLIGHT, b
    assert b["state"] in ("running", "done") and 0 < b["started"] <= COUNT, b
    done = wait_done(lwipd, b["id"])
    check_counts(done, COUNT)

    # Counted in every counter, as any open is.
    assert lwipd.stats()["tcp"]["active_opens"] >= COUNT
    cap.stop_when(lambda segs: len(from_lwip(segs, "R")) >= COUNT, "%d RSTs" % COUNT)
    segs = tcp_segments(cap.stop())
    # A port freed by a RST may be chosen again, so count segments, not ports.
    assert len(from_lwip(segs, "S")) == COUNT
    assert len(from_lwip(segs, "R")) == COUNT
    assert not from_lwip(segs, "F"), "an abort sends no FIN"
    wait_for(lambda: not peer_conns(ns), "the peer to hold no connection after the RSTs")


def test_graceful_closes_with_fins(lwipd, start_peer, start_capture):
    ns = lwipd.ns
    start_peer(ns, mode="echo")
    cap = start_capture(ns, snaplen=CAPTURE_SNAPLEN)
    b = start_batch(lwipd, close="graceful")
    done = wait_done(lwipd, b["id"])
    check_counts(done, COUNT)
    cap.stop_when(lambda segs: len(from_lwip(segs, "F")) >= COUNT, "%d FINs" % COUNT)
    segs = tcp_segments(cap.stop())
    assert len(from_lwip(segs, "S")) == COUNT
    assert len(from_lwip(segs, "F")) == COUNT
    assert not from_lwip(segs, "R"), "a graceful close sends no RST"


def test_none_leaves_connections_open_and_hold_delays_the_close(lwipd, start_peer):
    start_peer(lwipd.ns)
    b = start_batch(lwipd, count=10, close="none")
    done = wait_done(lwipd, b["id"])
    assert (done["established"], done["closed"]) == (10, 0), done
    assert len(lwipd.conns("?state=ESTABLISHED")) == 10

    b = start_batch(lwipd, count=3, in_flight=3, close="abort", hold_ms=400)
    done = wait_done(lwipd, b["id"])
    assert (done["established"], done["closed"]) == (3, 3), done
    # Each connection was held 400 ms before its RST, so the batch took at least that.
    assert done["elapsed_us"] >= 400000, done


def test_refused_opens_are_counted_by_cause(lwipd):
    b = start_batch(lwipd, remote_port=NO_PEER_PORT, count=20, in_flight=4, close="abort")
    done = wait_done(lwipd, b["id"])
    assert (done["started"], done["established"], done["failed"]) == (20, 0, 20), done
    assert done["failures"] == {"refused": 20}, done
    assert done["latency_us"]["max"] == 0, done


def test_delete_stops_and_wait_answers(lwipd, start_peer):
    # A full accept queue: Linux drops every SYN, so handshakes stay outstanding.
    start_peer(lwipd.ns, mode="full")
    b = start_batch(lwipd, count=100, in_flight=4, close="abort")
    r = lwipd.get("/v1/batches/%d?wait_for=done&timeout_ms=200" % b["id"])
    assert r.status == 408, r
    assert r.json()["batch"]["state"] == "running", r.json()
    r = lwipd.delete("/v1/batches/%d" % b["id"])
    assert r.status == 200 and r.json()["state"] == "stopped", r
    started = r.json()["started"]
    assert started == 4, r.json()
    # A stopped batch is not running: its wait answers at once.
    stopped = wait_done(lwipd, b["id"])
    assert stopped["state"] == "stopped" and stopped["started"] == started, stopped
    listed = lwipd.get("/v1/batches").json()["batches"]
    assert [x["id"] for x in listed] == [b["id"]] and listed[0]["state"] == "stopped", listed
    assert lwipd.delete("/v1/batches/999").status == 404


def test_bad_fields_are_422_naming_the_field(lwipd):
    base = {"remote_ip": KERNEL_IP, "remote_port": PEER_PORT, "count": 1}
    for change, field in [
            ({"count": 0}, "count"), ({"count": 1000001}, "count"),
            ({"in_flight": 0}, "in_flight"), ({"in_flight": 4097}, "in_flight"),
            ({"close": "later"}, "close"), ({"hold_ms": 600001}, "hold_ms"),
            ({"timelines": "yes"}, "timelines"), ({"remote_ip": "127.0.0.1"}, "remote_ip"),
            ({"extra": 1}, "extra")]:
        body = dict(base, **change)
        problem(lwipd.post("/v1/batches", body), 422, field)
    problem(lwipd.post("/v1/batches", {"remote_ip": KERNEL_IP, "count": 1}), 422, "remote_port")
    problem(lwipd.get("/v1/batches/1?wait_for=ESTABLISHED"), 422, "wait_for")
    problem(lwipd.get("/v1/batches/1?timeout_ms=5"), 422, "timeout_ms")
    assert lwipd.get("/v1/batches/1").status == 404


def events_of(d, cid):
    r = d.get("/v1/connections/%d/timeline" % cid)
    assert r.status == 200, r
    return r.json()["events"]


def test_timelines_off_unless_asked(lwipd, start_peer):
    start_peer(lwipd.ns)
    for timelines in (False, True):
        b = start_batch(lwipd, count=2, in_flight=2, close="none", timelines=timelines)
        assert b["timelines"] is timelines, b
        wait_done(lwipd, b["id"])
    conns = lwipd.conns("?state=ESTABLISHED")
    assert len(conns) == 4
    assert [bool(events_of(lwipd, c["id"])) for c in conns] == [False, False, True, True]
    # The same switch on a single open.
    r = lwipd.post("/v1/connections", {"remote_ip": KERNEL_IP, "remote_port": PEER_PORT,
                                       "timeline": False})
    assert r.status == 201, r
    cid = r.json()["id"]
    lwipd.wait_state(cid, "ESTABLISHED")
    assert events_of(lwipd, cid) == []
    problem(lwipd.post("/v1/connections", {"remote_ip": KERNEL_IP, "remote_port": PEER_PORT,
                                           "timeline": 0}), 422, "timeline")


def test_running_batches_are_capped_by_max_batches(netns, start_daemon, start_peer):
    d = start_daemon(netns, "--max-batches", "1")
    # A full accept queue keeps the first batch running.
    start_peer(netns, mode="full")
    first = start_batch(d, count=100, in_flight=2, close="abort")
    p = problem(d.post("/v1/batches", {"remote_ip": KERNEL_IP, "remote_port": PEER_PORT,
                                       "count": 1}), 503)
    assert (p["limit"], p["value"]) == ("max-batches", 1), p
    assert "--max-batches" in p["detail"], p
    assert d.delete("/v1/batches/%d" % first["id"]).status == 200
    start_batch(d, count=1, in_flight=1, close="abort")
