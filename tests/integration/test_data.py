"""Data: POST .../send (text, base64, generated pattern) with backpressure,
GET .../data with its bounded receive buffer and closed window, half-closes
(POST .../shutdown) and what they allow."""

import base64
import hashlib
import socket
import threading

import pytest

from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, history_pairs, wait_for
from wire import tcp_segments
from kit import (b64, digest_event, established_active, established_passive, lwip_end, pattern,
                 problem, sha256)

PORT = 9000
TEN_MB = 10 * 1024 * 1024


def recv_exactly(sock, n, timeout=60):
    sock.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        assert chunk, "EOF after %d of %d bytes" % (len(buf), n)
        buf += chunk
    return bytes(buf)


def drain(d, cid, total, timeout=180):
    """Reads GET .../data until total bytes came; returns them."""
    got = bytearray()

    def more():
        data, truncated = d.read_data(cid)
        assert not truncated
        got.extend(data)
        assert len(got) <= total, len(got)
        return len(got) == total
    wait_for(more, lambda: "%d of %d bytes through GET .../data" % (len(got), total),
             timeout=timeout, interval=0.005)
    return bytes(got)


def test_ten_megabytes_reach_a_sink_intact(lwipd, start_peer):
    peer = start_peer(lwipd.ns, PEER_PORT, "sink")
    obj = established_active(lwipd, peer)
    r = lwipd.send(obj["id"], {"size": TEN_MB})
    assert r == {"queued": TEN_MB}, r
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    n, digest = digest_event(peer, obj)
    assert n == TEN_MB
    assert digest == sha256(pattern(TEN_MB))
    obj = lwipd.wait_state(obj["id"], "CLOSED", timeout=60)
    # bytes_out counts payload on the wire, retransmissions included.
    assert obj["counters"]["bytes_out"] >= TEN_MB, obj["counters"]
    assert obj["send_queued"] == 0, obj


def test_ten_megabytes_echoed_back_intact(lwipd, start_peer):
    """Every byte reaches an echoing peer and comes back: the receive buffer
    (64 KiB) is drained again and again while the window throttles the echo."""
    peer = start_peer(lwipd.ns, PEER_PORT, "echo")
    obj = established_active(lwipd, peer)
    cid = obj["id"]
    sent = threading.Thread(target=lambda: lwipd.send(cid, {"size": TEN_MB}))
    sent.start()
    try:
        back = drain(lwipd, cid, TEN_MB, timeout=300)
    finally:
        sent.join(timeout=120)
    assert hashlib.sha256(back).hexdigest() == sha256(pattern(TEN_MB))
    obj = lwipd.conn(cid)
    assert obj["counters"]["bytes_in"] >= TEN_MB and obj["counters"]["bytes_out"] >= TEN_MB, obj
    assert obj["recv_buffered"] == 0, obj


def test_send_forms_concatenate(lwipd, start_peer):
    """text, base64 and size sends go out in order; the pattern restarts at
    byte 0 (value 0) with each size send."""
    peer = start_peer(lwipd.ns, PEER_PORT, "sink")
    obj = established_active(lwipd, peer)
    raw = bytes(range(256)) * 3
    parts = [("data", "héllo wörld\n".encode()), ("size", 1000), ("data_base64", raw),
             ("size", 300)]
    want = b""
    for kind, value in parts:
        if kind == "data":
            r = lwipd.send(obj["id"], {"data": value.decode()})
            part = value
        elif kind == "data_base64":
            r = lwipd.send(obj["id"], {"data_base64": b64(value)})
            part = value
        else:
            r = lwipd.send(obj["id"], {"size": value})
            part = pattern(value)
        assert r == {"queued": len(part)}, (kind, r)
        want += part
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    n, digest = digest_event(peer, obj)
    assert (n, digest) == (len(want), sha256(want))


@pytest.mark.parametrize("body,queued", [
    ({"data": "abc"}, 3),
    ({"data": "é"}, 2),
    ({"data_base64": base64.b64encode(b"\x00\xff\x10").decode()}, 3),
    ({"size": 1}, 1),
    ({"size": 100000}, 100000),
])
def test_send_answers_queued(lwipd, start_peer, body, queued):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    r = lwipd.post("/v1/connections/%d/send" % obj["id"], body)
    assert r.status == 202, r
    assert r.json() == {"queued": queued}, r.json()
    wait_for(lambda: lwipd.conn(obj["id"])["counters"]["bytes_out"] >= queued, "the bytes to go out")
    assert lwipd.conn(obj["id"])["send_queued"] == 0


@pytest.mark.parametrize("body", [
    {},
    {"data": "a", "size": 1},
    {"data": "a", "data_base64": "YQ=="},
    {"data_base64": "not base64!"},
    {"size": -1},
    {"size": "10"},
    {"size": 1.5},
    {"data": 5},
])
def test_bad_send_bodies(lwipd, start_peer, body):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = established_active(lwipd, peer)
    body_ = problem(lwipd.post("/v1/connections/%d/send" % obj["id"], body), 422)
    assert "field" in body_, body_
    assert lwipd.conn(obj["id"])["counters"]["bytes_out"] == 0


def test_send_is_409_when_the_connection_cannot_send(lwipd, start_peer, start_rawpeer):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    # After shutdown write.
    a = established_active(lwipd, peer)
    lwipd.shutdown(a["id"], "write")
    problem(lwipd.post("/v1/connections/%d/send" % a["id"], {"data": "x"}), 409)
    # After DELETE (FIN_WAIT_*).
    b = established_active(lwipd, peer)
    assert lwipd.delete("/v1/connections/%d" % b["id"]).status == 202
    problem(lwipd.post("/v1/connections/%d/send" % b["id"], {"data": "x"}), 409)
    # LAST_ACK.
    c = established_active(lwipd, peer)
    peer.close_all()
    lwipd.wait_state(c["id"], "CLOSE_WAIT")
    assert lwipd.delete("/v1/connections/%d" % c["id"]).status == 202
    problem(lwipd.post("/v1/connections/%d/send" % c["id"], {"data": "x"}), 409)
    # CLOSED.
    d = lwipd.open_conn(remote_port=7001)
    lwipd.wait_state(d["id"], "CLOSED")
    problem(lwipd.post("/v1/connections/%d/send" % d["id"], {"data": "x"}), 409)
    problem(lwipd.post("/v1/connections/999999/send", {"data": "x"}), 404)


def test_large_send_waits_for_a_slow_reader(lwipd):
    """A send larger than lwIP's send buffer is accepted and waits
    (send_queued) while the kernel does not read; reading then gets every
    byte in order."""
    ns = lwipd.ns
    lst = ns.socket()
    lst.bind((KERNEL_IP, PEER_PORT))
    lst.listen(4)
    with lst:
        obj = lwipd.open_conn()
        lst.settimeout(20)
        ksock, _ = lst.accept()
    with ksock:
        ksock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        obj = lwipd.wait_state(obj["id"], "ESTABLISHED")
        n = 4 * 1024 * 1024
        r = lwipd.send(obj["id"], {"size": n})
        assert r == {"queued": n}, r
        waiting = wait_for(lambda: (lambda o: o if o["send_queued"] > 0 else None)(lwipd.conn(obj["id"])),
                           "bytes waiting in send_queued")
        assert waiting["send_queued"] <= n, waiting
        got = recv_exactly(ksock, n, timeout=120)
        assert got == pattern(n)
        obj = wait_for(lambda: (lambda o: o if o["send_queued"] == 0 else None)(lwipd.conn(obj["id"])),
                       "send_queued to drain")
        assert obj["counters"]["bytes_out"] >= n, obj


def test_full_receive_buffer_closes_the_window(netns, start_daemon, start_capture):
    """With --recv-buffer 4096 and nobody reading, lwIP takes 4096 bytes and
    then advertises a zero window (tcb.rcv_wnd 0, win=0 on the wire); the
    kernel holds the rest. Reading drains the buffer, the window opens, and
    every byte arrives intact and in order."""
    d = start_daemon(netns, "--recv-buffer", "4096")
    lst = d.listen(PORT)
    cap = start_capture(netns)
    ksock, obj = established_passive(d, netns, PORT, lst["id"])
    wnd0 = obj["tcb"]["rcv_wnd"]
    n = 300000
    data = hashlib.sha256(b"seed").digest() * (n // 32 + 1)
    data = data[:n]
    errors = []

    def writer():
        try:
            ksock.settimeout(120)
            ksock.sendall(data)
        except Exception as e:   # reported by the main thread
            errors.append(e)
    t = threading.Thread(target=writer)
    t.start()
    try:
        pkts = cap.stop_when(
            lambda segs: any(s.src == LWIP_IP and s.sport == PORT and s.window == 0 for s in segs),
            "a zero window from lwIP", timeout=60)
        assert any(s.window == 0 for s in tcp_segments(pkts, PORT, None) if s.src == LWIP_IP)
        full = d.conn(obj["id"])
        # The buffer holds exactly what it could take; the window lwIP keeps
        # is what is left of its initial one after the bytes held outside
        # the buffer (they are not acknowledged to the application).
        assert full["recv_buffered"] == 4096, full
        assert full["tcb"]["rcv_wnd"] < wnd0 - 4096, (wnd0, full)
        # The kernel holds the rest: lwIP took far less than was written.
        assert (full["tcb"]["rcv_nxt"] - full["tcb"]["irs"] - 1) % 2 ** 32 < n - 4096, full
        got = drain(d, obj["id"], n, timeout=180)
    finally:
        t.join(timeout=120)
        ksock.close()
    assert not errors, errors
    assert got == data
    assert d.conn(obj["id"])["counters"]["bytes_in"] >= n


def test_data_endpoint_drains(lwipd):
    ns = lwipd.ns
    lwipd.listen(PORT)
    ksock, obj = established_passive(lwipd, ns, PORT)
    with ksock:
        assert lwipd.read_data(obj["id"]) == (b"", False)
        ksock.sendall(b"first ")
        ksock.sendall(b"second")
        wait_for(lambda: lwipd.conn(obj["id"])["recv_buffered"] == 12, "12 bytes buffered")
        r = lwipd.get("/v1/connections/%d/data" % obj["id"])
        assert r.status == 200, r
        body = r.json()
        assert set(body) == {"data_base64", "bytes", "truncated"}, body
        assert body == {"data_base64": b64(b"first second"), "bytes": 12, "truncated": False}, body
        assert lwipd.read_data(obj["id"]) == (b"", False)
        assert lwipd.conn(obj["id"])["recv_buffered"] == 0
        assert lwipd.conn(obj["id"])["counters"]["bytes_in"] >= 12   # on the wire: duplicates count
    problem(lwipd.get("/v1/connections/999999/data"), 404)


def test_shutdown_write_half_close(lwipd, start_capture):
    """shutdown write: FIN after the queued data, FIN_WAIT_1 (api:shutdown)
    -> FIN_WAIT_2; lwIP still receives, and a half-close without a close does
    not time out in FIN_WAIT_2."""
    ns = lwipd.ns
    lwipd.listen(PORT)
    ksock, obj = established_passive(lwipd, ns, PORT)
    with ksock:
        lwipd.send(obj["id"], {"size": 200000})
        r = lwipd.post("/v1/connections/%d/shutdown" % obj["id"], {"how": "write"})
        assert r.status == 202, r
        assert r.json()["id"] == obj["id"]
        assert r.json()["state"] in ("ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2"), r.json()
        got = recv_exactly(ksock, 200000)
        assert got == pattern(200000)
        ksock.settimeout(20)
        assert ksock.recv(10) == b""            # the FIN came after the data
        obj = lwipd.wait_state(obj["id"], "FIN_WAIT_2")
        assert history_pairs(obj)[2:] == [("FIN_WAIT_1", "api:shutdown"), ("FIN_WAIT_2", "rx:ACK")], obj
        problem(lwipd.post("/v1/connections/%d/shutdown" % obj["id"], {"how": "write"}), 409)
        problem(lwipd.post("/v1/connections/%d/shutdown" % obj["id"], {"how": "both"}), 409)
        ksock.sendall(b"half-closed but listening")
        wait_for(lambda: lwipd.conn(obj["id"])["recv_buffered"] == 25, "25 bytes in")
        assert lwipd.read_data(obj["id"]) == (b"half-closed but listening", False)
        # Past the 20 s FIN_WAIT_2 timeout of a full close, it is still there.
        r = lwipd.wait_api(obj["id"], "CLOSED", timeout_ms=25000)
        assert r.status == 408, r
        assert r.json()["state"] == "FIN_WAIT_2", r.json()
        ksock.close()
    obj = lwipd.wait_state(obj["id"], "CLOSED")
    assert history_pairs(obj)[-3:] == [("FIN_WAIT_2", "rx:ACK"), ("TIME_WAIT", "rx:FIN,ACK"),
                                       ("CLOSED", "timer:2msl")], obj


def test_shutdown_read_discards_and_says_truncated(lwipd):
    ns = lwipd.ns
    lwipd.listen(PORT)
    ksock, obj = established_passive(lwipd, ns, PORT)
    with ksock:
        ksock.sendall(b"kept")
        wait_for(lambda: lwipd.conn(obj["id"])["recv_buffered"] == 4, "4 bytes buffered")
        r = lwipd.post("/v1/connections/%d/shutdown" % obj["id"], {"how": "read"})
        assert r.status == 202, r
        assert r.json()["state"] == "ESTABLISHED", r.json()
        problem(lwipd.post("/v1/connections/%d/shutdown" % obj["id"], {"how": "read"}), 409)
        # More than the receive buffer holds: discarded, yet never stuck.
        ksock.settimeout(60)
        ksock.sendall(b"x" * 200000)
        wait_for(lambda: lwipd.conn(obj["id"])["tcb"]["rcv_nxt"] == (obj["tcb"]["irs"] + 1 + 200004) % 2 ** 32,
                 lambda: "all bytes received; %s" % lwipd.conn(obj["id"]))
        data, truncated = lwipd.read_data(obj["id"])
        assert truncated is True
        assert data in (b"", b"kept"), data
        # The write side still works.
        assert lwipd.send(obj["id"], {"data": "still"})["queued"] == 5
        assert recv_exactly(ksock, 5) == b"still"
        obj = lwipd.conn(obj["id"])
        assert obj["state"] == "ESTABLISHED", obj
        r = lwipd.shutdown(obj["id"], "write")
        lwipd.wait_state(obj["id"], "FIN_WAIT_2")


def test_shutdown_both(lwipd):
    ns = lwipd.ns
    lwipd.listen(PORT)
    ksock, obj = established_passive(lwipd, ns, PORT)
    with ksock:
        lwipd.shutdown(obj["id"], "both")
        ksock.settimeout(20)
        assert ksock.recv(10) == b""
        obj = lwipd.wait_state(obj["id"], "FIN_WAIT_2")
        assert ("FIN_WAIT_1", "api:shutdown") in history_pairs(obj), obj
        for how in ("read", "write", "both"):
            problem(lwipd.post("/v1/connections/%d/shutdown" % obj["id"], {"how": how}), 409)
        ksock.sendall(b"ignored")
        wait_for(lambda: lwipd.conn(obj["id"])["tcb"]["rcv_nxt"] == (obj["tcb"]["irs"] + 8) % 2 ** 32,
                 "7 bytes in")
        assert lwipd.read_data(obj["id"]) == (b"", True)


def test_shutdown_refused_where_there_is_no_such_side(lwipd, start_peer):
    # SYN_SENT: nobody answers.
    start_peer(lwipd.ns, 7999, "full")
    s = lwipd.open_conn(remote_port=7999)
    lwipd.wait_state(s["id"], "SYN_SENT")
    for how in ("read", "write", "both"):
        problem(lwipd.post("/v1/connections/%d/shutdown" % s["id"], {"how": how}), 409)
    # CLOSED.
    c = lwipd.open_conn(remote_port=7001)
    lwipd.wait_state(c["id"], "CLOSED")
    for how in ("read", "write", "both"):
        problem(lwipd.post("/v1/connections/%d/shutdown" % c["id"], {"how": how}), 409)
    # After DELETE (the FIN is out): no write side left.
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    e = established_active(lwipd, peer)
    assert lwipd.delete("/v1/connections/%d" % e["id"]).status == 202
    lwipd.wait_state(e["id"], "FIN_WAIT_2")
    problem(lwipd.post("/v1/connections/%d/shutdown" % e["id"], {"how": "write"}), 409)
    problem(lwipd.post("/v1/connections/999999/shutdown", {"how": "write"}), 404)


@pytest.mark.parametrize("body", [{}, {"how": "sideways"}, {"how": 1}, {"how": "WRITE"}])
def test_bad_shutdown_bodies(lwipd, start_peer, body):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    e = established_active(lwipd, peer)
    problem(lwipd.post("/v1/connections/%d/shutdown" % e["id"], body), 422, "how")
    assert lwipd.conn(e["id"])["state"] == "ESTABLISHED"
