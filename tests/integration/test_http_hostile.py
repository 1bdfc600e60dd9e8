"""Hostile and careless HTTP clients (issue 9): HEAD changes nothing, one
spelling per path, waits that end with their subject, and the limits that
keep /healthz answering. The table of raw requests is in test_http_table.py."""

import base64
import threading
import time

from helpers import wait_for
from kit import established_passive, problem

PORT = 9000


def background(fn):
    """Runs fn in a thread; returns (thread, box) where box[0] is its result."""
    box = [None, None]

    def run():
        try:
            box[0] = fn()
        except BaseException as e:    # noqa: BLE001 - reported by the caller
            box[1] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_head_and_peek_do_not_drain(lwipd):
    lwipd.listen(PORT)
    ksock, obj = established_passive(lwipd, lwipd.ns, PORT)
    path = "/v1/connections/%d/data" % obj["id"]
    with ksock:
        ksock.sendall(b"keep me")
        wait_for(lambda: lwipd.conn(obj["id"])["recv_buffered"] == 7, "7 bytes buffered")
        r = lwipd.request("HEAD", path)
        assert r.status == 200 and r.body == b"", r
        assert r.content_type == "application/json", r
        assert lwipd.conn(obj["id"])["recv_buffered"] == 7
        for _ in range(2):
            r = lwipd.get(path + "?peek=true")
            assert r.status == 200, r
            assert base64.b64decode(r.json()["data_base64"]) == b"keep me", r
        assert lwipd.conn(obj["id"])["recv_buffered"] == 7
        problem(lwipd.get(path + "?peek=yes"), 422, "peek")
        r = lwipd.get(path + "?peek=false")
        assert base64.b64decode(r.json()["data_base64"]) == b"keep me", r
        assert lwipd.conn(obj["id"])["recv_buffered"] == 0


def test_head_on_every_get_route_changes_nothing(lwipd):
    lst = lwipd.listen(PORT)
    before = lwipd.stats()
    for path in ("/healthz", "/v1/interface", "/v1/stats", "/v1/connections", "/metrics",
                 "/v1/listeners", "/v1/listeners/%d" % lst["id"]):
        r = lwipd.request("HEAD", path)
        assert r.status == 200 and r.body == b"", (path, r)
    # A stream has no headers-only form.
    r = lwipd.request("HEAD", "/v1/events")
    assert r.status == 405 and r.body == b"", r
    assert "HEAD" not in r.headers.get("Allow", ""), r.headers
    assert lwipd.stats()["tcp"]["active_opens"] == before["tcp"]["active_opens"]
    assert lwipd.listener(lst["id"])["accepted"] == 0


def test_one_spelling_per_path(lwipd):
    lwipd.listen(PORT)
    ksock, obj = established_passive(lwipd, lwipd.ns, PORT)
    with ksock:
        cid = obj["id"]
        assert lwipd.get("/v1/connections/%d" % cid).status == 200
        problem(lwipd.get("/v1/connections/0%d" % cid), 404)
        problem(lwipd.post("/v1/connections/%d%%2Fsend" % cid, {"data": "x"}), 404)
        problem(lwipd.post("/v1/connections/%d%%2fsend" % cid, {"data": "x"}), 404)
        assert lwipd.conn(cid)["counters"]["bytes_out"] == 0


def test_wait_accepted_answers_408_when_the_listener_goes(lwipd):
    lst = lwipd.listen(PORT)
    path = "/v1/listeners/%d?wait_accepted=5&timeout_ms=60000" % lst["id"]
    t, box = background(lambda: lwipd.get(path, timeout=60))
    time.sleep(1.0)     # the wait has begun; nothing else tells
    assert lwipd.delete("/v1/listeners/%d" % lst["id"]).status == 200
    t.join(30)
    assert not t.is_alive(), "the wait did not answer"
    assert box[1] is None, box[1]
    body = problem(box[0], 408)
    assert "stopped listening" in body["detail"], body
