"""Hostile and careless HTTP clients (issue 9): HEAD changes nothing, one
spelling per path, waits that end with their subject, and the limits that
keep /healthz answering. The table of raw requests is in test_http_table.py."""

import base64
import json
import socket
import threading
import time

from helpers import http_raw, wait_for
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


# --------------------------------------------------------------------------
# Limits: per client, in total, timeouts, a reserve for /healthz and /metrics


def raw_connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_answer(sock, timeout=10):
    """Reads until the server closes; returns (status, body bytes)."""
    sock.settimeout(timeout)
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), got[:200]
    return int(head[9:12]), head, body


def half_requests(port, n):
    """n connections that send half a request head and stop."""
    socks = []
    for _ in range(n):
        s = raw_connect(port)
        s.sendall(b"GET /v1/interface HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        socks.append(s)
    return socks


def test_half_sent_heads_do_not_lock_out_healthz(netns, start_daemon):
    d = start_daemon(netns, "--http-max-clients", "16", "--http-max-per-client", "16")
    socks = half_requests(d.port, 40)
    try:
        for _ in range(3):
            assert d.get("/healthz", timeout=5).status == 200
            assert d.get("/metrics", timeout=5).status == 200
        # The oldest half-sent heads were answered 503 to make room.
        status, head, body = read_answer(socks[0])
        assert status == 503 and b"application/problem+json" in head, head
        assert json.loads(body)["status"] == 503
    finally:
        for s in socks:
            s.close()


def test_half_sent_head_times_out_with_408(netns, start_daemon):
    d = start_daemon(netns, "--http-timeout-s", "20")
    (s,) = half_requests(d.port, 1)
    with s:
        t0 = time.monotonic()
        status, head, body = read_answer(s, timeout=40)
        assert status == 408 and b"application/problem+json" in head, head
        assert 15 < time.monotonic() - t0 < 35
    assert d.get("/healthz").status == 200


def test_long_polls_are_capped_and_healthz_answers(netns, start_daemon):
    d = start_daemon(netns, "--http-max-clients", "16", "--http-max-per-client", "16",
                     "--max-waiters", "8")
    lst = d.listen(PORT)
    path = "/v1/listeners/%d?wait_accepted=1000&timeout_ms=60000" % lst["id"]
    polls = [background(lambda: d.get(path, timeout=90)) for _ in range(8)]
    time.sleep(1.0)     # the eight waits have begun; nothing else tells
    # A ninth wait is refused at once with 503, as is a ninth stream.
    problem(d.get(path, timeout=10), 503)
    problem(d.get("/v1/events", timeout=10), 503)
    for _ in range(20):
        assert d.get("/healthz", timeout=5).status == 200
        assert d.get("/v1/interface", timeout=5).status == 200
    # SIGTERM answers every pending wait.
    d.terminate()
    for t, box in polls:
        t.join(20)
        assert not t.is_alive(), "a long-poll was not answered at SIGTERM"
        assert box[1] is None, box[1]
        assert box[0].status == 503, box[0]


def test_per_client_limit_is_503_but_healthz_answers(netns, start_daemon):
    d = start_daemon(netns, "--http-max-clients", "64", "--http-max-per-client", "4",
                     "--max-waiters", "32")
    lst = d.listen(PORT)
    path = "/v1/listeners/%d?wait_accepted=1000&timeout_ms=60000" % lst["id"]
    polls = [background(lambda: d.get(path, timeout=90)) for _ in range(4)]
    time.sleep(1.0)
    body = problem(d.get("/v1/interface", timeout=10), 503)
    assert "one address" in body["detail"], body
    assert d.get("/healthz", timeout=5).status == 200
    assert d.get("/metrics", timeout=5).status == 200
    d.terminate()
    for t, box in polls:
        t.join(20)
        assert box[0] is not None and box[0].status == 503, box


def test_many_idle_connections_then_sigterm(netns, start_daemon):
    """500 long-polls: those within the caps wait, the rest get 503 at once,
    and SIGTERM answers every one that waits."""
    d = start_daemon(netns)
    lst = d.listen(PORT)
    path = "/v1/listeners/%d?wait_accepted=1000&timeout_ms=60000" % lst["id"]
    polls = [background(lambda: d.get(path, timeout=120)) for _ in range(500)]
    wait_for(lambda: sum(1 for t, box in polls if not t.is_alive()) >= 500 - 192,
             "the polls over the caps to be refused", timeout=60)
    assert d.get("/healthz", timeout=5).status == 200
    d.terminate(timeout=20)
    statuses = {}
    for t, box in polls:
        t.join(30)
        assert not t.is_alive(), "a long-poll was not answered"
        status = box[0].status if box[0] is not None else repr(box[1])
        statuses[status] = statuses.get(status, 0) + 1
    assert set(statuses) <= {503}, statuses


# --------------------------------------------------------------------------
# Event stream slots (issue 9, defect 9)


def test_stream_slots_free_when_clients_go(lwipd):
    d = lwipd
    socks = []
    try:
        for _ in range(64):
            s = raw_connect(d.port)
            s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            socks.append(s)
        wait_for(lambda: metric(d, "lwipd_sse_clients") == 64, "64 stream clients")
        problem(d.get("/v1/events", timeout=5), 503)
    finally:
        for s in socks:
            s.close()
    # No event happens: only noticing the closed sockets frees the slots.
    wait_for(lambda: metric(d, "lwipd_sse_clients") == 0, "the slots to be freed", timeout=3)
    s = raw_connect(d.port)
    with s:
        s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.settimeout(5)
        assert s.recv(64).startswith(b"HTTP/1.1 200"), "a new stream client was refused"


# --------------------------------------------------------------------------
# Safe by default: a bearer token


def test_an_answer_before_the_body_is_not_lost(netns, start_daemon, tmp_path):
    """libmicrohttpd answers 401 when the head arrives, before the body,
    and closes its end. The gate, still passing the body on, must read that
    answer before it gives up on the closed end: once it lost it, and the
    client saw the connection close with no answer. Fifty times, with
    bodies of several sizes."""
    f = tmp_path / "token"
    f.write_text("s3cret-token-0123456789\n")
    d = start_daemon(netns, "--api-token-file", str(f))
    body = '{"remote_ip": "10.9.0.1", "remote_port": 7000, "pad": "%s"}'
    for i in range(50):
        r = http_raw(d.port, "POST", "/v1/connections", body % ("x" * (i * 997 % 60000)))
        assert r.status == 401, (i, r)
    assert d.get("/healthz").status == 200


def test_token_is_required_when_given(netns, start_daemon, tmp_path):
    token = "s3cret-token-0123456789"
    f = tmp_path / "token"
    f.write_text(token + "\n")
    d = start_daemon(netns, "--api-token-file", str(f))
    assert d.get("/healthz").status == 200     # open, for probes
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": "Basic " + token}, {"Authorization": "Bearer " + token[:-1]}):
        r = d.get("/v1/interface", headers=headers)
        problem(r, 401)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
    r = d.post("/v1/connections", {"remote_ip": "10.9.0.1", "remote_port": 7000})
    problem(r, 401)
    assert d.get("/v1/interface", headers={"Authorization": "Bearer " + token}).status == 200
    assert d.get("/v1/connections",
                 headers={"Authorization": "bearer " + token}).json()["connections"] == []


def test_bad_token_files_are_refused(netns, start_daemon, tmp_path):
    short = tmp_path / "short"
    short.write_text("too-short\n")
    for path in (str(short), str(tmp_path), str(tmp_path / "missing")):
        d = start_daemon(netns, "--api-token-file", path, healthy=False)
        assert d.proc.wait(timeout=20) == 1
        d.expected_exit = True
        assert "--api-token-file" in d.stderr()


def test_check_refuses_a_public_listen_without_a_token(lwipd_bin, tmp_path):
    from helpers import run
    base = [lwipd_bin, "--check", "--tap", "tap0", "--address", "10.9.0.2/24"]
    cp = run(base + ["--listen", "0.0.0.0:8080"], check=False)
    assert cp.returncode == 2 and "--listen" in cp.stderr, cp
    cp = run(base + ["--listen", "[::]:8080"], check=False)
    assert cp.returncode == 2 and "--listen" in cp.stderr, cp
    f = tmp_path / "token"
    f.write_text("0123456789abcdef\n")
    assert run(base + ["--listen", "0.0.0.0:8080", "--api-token-file", str(f)]).returncode == 0
    assert run(base + ["--listen", "127.0.0.2:8080"]).returncode == 0
    assert run(base + ["--listen", "[::1]:8080"]).returncode == 0
    cp = run(base + ["--max-waiters", "256"], check=False)
    assert cp.returncode == 2 and "--max-waiters" in cp.stderr, cp


def metric(d, name):
    from sse import sample_value, scrape
    return sample_value(scrape(d)[0], name)
