"""Waiting instead of polling: GET /v1/connections/{id}?wait_for=STATE and
GET /v1/listeners/{id}?wait_accepted=N, with timeout_ms.

A wait is started in a thread, then the event is triggered; the answer must
be 200 and arrive. Nothing asserts how long anything took: a wait that must
answer "at once" is given a server timeout far longer than the client's
HTTP timeout, so only an immediate answer passes."""

import threading

import pytest

from helpers import PEER_PORT, wait_for
from kit import established_active, established_passive, lwip_end, problem

PORT = 9000


class Bg:
    """An HTTP request run in a thread: .result() waits (bounded) for it."""

    def __init__(self, fn):
        self.value = None
        self.error = None
        self.t = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.t.start()

    def _run(self, fn):
        try:
            self.value = fn()
        except BaseException as e:
            self.error = e

    def result(self, timeout=90):
        self.t.join(timeout)
        assert not self.t.is_alive(), "the waiting request did not answer"
        if self.error is not None:
            raise self.error
        return self.value


def conn_path(cid, q):
    return "/v1/connections/%d?%s" % (cid, q)


def test_wait_returns_when_the_state_is_reached(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    bg = Bg(lambda: lwipd.wait_api(obj["id"], "CLOSE_WAIT", timeout_ms=60000))
    # Let the request reach the daemon and suspend (no assertion on it).
    wait_for(lambda: bg.t.is_alive(), "the request to start")
    peer.close_all()
    r = bg.result()
    assert r.status == 200, r
    body = r.json()
    assert body["id"] == obj["id"] and body["state"] == "CLOSE_WAIT", body
    assert body["history"][-1]["state"] == "CLOSE_WAIT", body


def test_wait_for_a_state_already_passed(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    for state in ("SYN_SENT", "ESTABLISHED"):
        r = lwipd.wait_api(obj["id"], state, timeout_ms=60000, http_timeout=30)
        assert r.status == 200, (state, r)
        assert r.json()["state"] == "ESTABLISHED", r.json()
    r = lwipd.wait_api(obj["id"], "SYN_SENT", timeout_ms=0, http_timeout=30)
    assert r.status == 200, r


def test_wait_times_out_with_408(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    for ms in (0, 300):
        r = lwipd.wait_api(obj["id"], "CLOSE_WAIT", timeout_ms=ms)
        body = problem(r, 408)
        assert body["state"] == "ESTABLISHED", body
        assert body["connection"]["id"] == obj["id"], body
        assert body["connection"]["state"] == "ESTABLISHED", body


def test_wait_default_timeout_is_5000_ms(lwipd, start_peer):
    """Without timeout_ms the wait gives up (408) by itself: a client that
    waits 40 s gets the 408, so the default is finite (5000 ms)."""
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    r = lwipd.get(conn_path(obj["id"], "wait_for=TIME_WAIT"), timeout=40)
    assert problem(r, 408)["state"] == "ESTABLISHED"


def test_closed_without_passing_answers_at_once(lwipd):
    obj = lwipd.open_conn(remote_port=7001)        # refused: SYN_SENT -> CLOSED
    lwipd.wait_state(obj["id"], "CLOSED")
    for state in ("ESTABLISHED", "TIME_WAIT", "CLOSE_WAIT"):
        r = lwipd.wait_api(obj["id"], state, timeout_ms=60000, http_timeout=30)
        body = problem(r, 408)
        assert body["state"] == "CLOSED", body
        assert body["connection"]["state"] == "CLOSED", body
    r = lwipd.wait_api(obj["id"], "CLOSED", timeout_ms=60000, http_timeout=30)
    assert r.status == 200, r


def test_pending_wait_ends_when_the_connection_closes_elsewhere(lwipd, start_peer):
    """A wait for CLOSE_WAIT on a connection that is then reset answers 408
    as soon as it is CLOSED (it can no longer pass CLOSE_WAIT)."""
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    bg = Bg(lambda: lwipd.wait_api(obj["id"], "CLOSE_WAIT", timeout_ms=60000, http_timeout=40))
    wait_for(lambda: bg.t.is_alive(), "the request to start")
    assert lwipd.delete("/v1/connections/%d?mode=abort" % obj["id"]).status == 202
    body = problem(bg.result(), 408)
    assert body["state"] == "CLOSED", body


def test_twenty_concurrent_waits(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    objs = [established_active(lwipd, peer) for _ in range(10)]
    # Ten connections, two waits each (CLOSE_WAIT, and LAST_ACK after it).
    waits = []
    for o in objs:
        waits.append(("CLOSE_WAIT", o, Bg(lambda o=o: lwipd.wait_api(o["id"], "CLOSE_WAIT", 60000))))
        waits.append(("CLOSED", o, Bg(lambda o=o: lwipd.wait_api(o["id"], "CLOSED", 60000))))
    # The API still answers other requests meanwhile.
    assert lwipd.get("/healthz").status == 200
    assert len(lwipd.conns()) == 10
    peer.close_all()
    for state, o, bg in waits:
        if state == "CLOSE_WAIT":
            r = bg.result()
            assert r.status == 200, (o["id"], r)
            assert r.json()["id"] == o["id"]
    for o in objs:
        assert lwipd.delete("/v1/connections/%d" % o["id"]).status == 202
    for state, o, bg in waits:
        r = bg.result()
        assert r.status == 200, (state, o["id"], r)
        assert r.json()["id"] == o["id"]
    assert all(lwipd.conn(o["id"])["state"] == "CLOSED" for o in objs)


def test_twenty_waits_on_one_connection(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    bgs = [Bg(lambda: lwipd.wait_api(obj["id"], "CLOSE_WAIT", 60000)) for _ in range(20)]
    peer.close_all()
    for bg in bgs:
        r = bg.result()
        assert r.status == 200, r
        assert r.json()["state"] == "CLOSE_WAIT"


def test_listener_wait_accepted(lwipd):
    ns = lwipd.ns
    lst = lwipd.listen(PORT)
    path = "/v1/listeners/%d?wait_accepted=%d&timeout_ms=%d"
    r = lwipd.get(path % (lst["id"], 0, 0))
    assert r.status == 200 and r.json()["accepted"] == 0, r
    body = problem(lwipd.get(path % (lst["id"], 1, 200)), 408)
    bg = Bg(lambda: lwipd.get(path % (lst["id"], 3, 60000), timeout=90))
    wait_for(lambda: bg.t.is_alive(), "the request to start")
    socks = []
    try:
        for _ in range(3):
            socks.append(established_passive(lwipd, ns, PORT, lst["id"])[0])
        r = bg.result()
        assert r.status == 200, r
        assert r.json()["id"] == lst["id"] and r.json()["accepted"] >= 3, r.json()
        r = lwipd.get(path % (lst["id"], 2, 60000), timeout=30)
        assert r.status == 200 and r.json()["accepted"] == 3, r
    finally:
        for s in socks:
            s.close()
    assert body["status"] == 408


@pytest.mark.parametrize("query,field", [
    ("wait_for=NOPE", "wait_for"),
    ("wait_for=", "wait_for"),
    ("wait_for=established", "wait_for"),
    ("wait_for=ESTABLISHED&timeout_ms=-1", "timeout_ms"),
    ("wait_for=ESTABLISHED&timeout_ms=60001", "timeout_ms"),
    ("wait_for=ESTABLISHED&timeout_ms=abc", "timeout_ms"),
    ("wait_for=ESTABLISHED&timeout_ms=1.5", "timeout_ms"),
])
def test_bad_wait_queries(lwipd, start_peer, query, field):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    problem(lwipd.get(conn_path(obj["id"], query)), 422, field)


@pytest.mark.parametrize("query,field", [
    ("wait_accepted=-1", "wait_accepted"),
    ("wait_accepted=abc", "wait_accepted"),
    ("wait_accepted=", "wait_accepted"),
    ("wait_accepted=1&timeout_ms=60001", "timeout_ms"),
    ("wait_accepted=1&timeout_ms=x", "timeout_ms"),
])
def test_bad_listener_wait_queries(lwipd, query, field):
    lst = lwipd.listen(PORT)
    problem(lwipd.get("/v1/listeners/%d?%s" % (lst["id"], query)), 422, field)


def test_wait_on_unknown_ids_is_404(lwipd):
    problem(lwipd.get("/v1/connections/999999?wait_for=ESTABLISHED&timeout_ms=60000", timeout=30), 404)
    problem(lwipd.get("/v1/listeners/999999?wait_accepted=1&timeout_ms=60000", timeout=30), 404)


def test_timeout_ms_60000_is_accepted(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    bg = Bg(lambda: lwipd.wait_api(obj["id"], "FIN_WAIT_2", timeout_ms=60000))
    wait_for(lambda: bg.t.is_alive(), "the request to start")
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    r = bg.result()
    assert r.status == 200, r
    peer.wait_event("EOF", lwip_end(obj))
