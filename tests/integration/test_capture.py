"""Captures for Wireshark: GET /v1/connections/{id}/capture, a pcapng file
of the connection's frames read back with tshark, byte for byte the same
headers as tcpdump's capture of the wire, each packet commented with the
stack's view; the frames' payload cut at --snaplen; and GET /v1/capture,
every frame live, read by tshark from a pipe, its reader limit and the
dropping of a reader that falls behind."""

import json
import re
import subprocess
import time

from helpers import PEER_PORT, wait_for
from kit import established_active, full_lifecycle, lwip_end, problem
from timeline_check import get_timeline, segments


def tshark(path, partial=False):
    """Each frame of a capture: its raw bytes, lengths, comment, time and
    interface description. partial: a live stream cut anywhere (tshark
    then says so and exits 2)."""
    p = subprocess.run(["tshark", "-r", str(path), "-x", "-T", "json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    assert p.returncode in ((0, 2) if partial else (0,)), p.stderr.decode(errors="replace")
    out = []
    for pkt in json.loads(p.stdout or b"[]"):
        layers = pkt["_source"]["layers"]
        frame = layers["frame"]
        comment = frame.get("frame.comment")
        if comment is None:
            comment = layers.get("pkt_comment", {}).get("frame.comment")
        out.append({
            "raw": bytes.fromhex(layers["frame_raw"][0]),
            "len": int(frame["frame.len"]),
            "cap_len": int(frame["frame.cap_len"]),
            "time": float(frame["frame.time_epoch"]),
            "comment": comment,
            "iface": frame.get("frame.interface_id_tree", {}).get("frame.interface_description"),
            "ip": layers.get("ip", {}),
            "tcp": layers.get("tcp", {}),
        })
    return out


def headers_len(frame):
    return 14 + int(frame["ip"]["ip.hdr_len"]) + int(frame["tcp"]["tcp.hdr_len"])


def of_conn(frames, lport):
    return [f for f in frames if f["tcp"] and
            {int(f["tcp"]["tcp.srcport"]), int(f["tcp"]["tcp.dstport"])} == {lport, PEER_PORT}]


def comment_of(e):
    text = "lwIP %s -> %s, peer %s -> %s, step %s" % (
        e["state_before"], e["state_after"], e["peer_state_before"], e["peer_state_after"],
        e.get("step") or "none")
    if e.get("fault"):
        text += ", fault %s rule %d" % (e["fault"]["action"], e["fault"]["rule"])
    return text


def test_capture_matches_the_wire_and_tells_the_states(netns, start_daemon, start_peer,
                                                      start_capture, tmp_path):
    d = start_daemon(netns, "--snaplen", "3")
    cap = start_capture(netns)
    started = time.time()
    cid = full_lifecycle(d, netns, start_peer, data="hello, wireshark")
    tl = get_timeline(d, cid)
    tsegs = segments(tl)
    lport = tl["connection"]["local"]["port"]

    r = d.get("/v1/connections/%d/capture" % cid)
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "application/x-pcapng", r.headers
    assert r.headers["Content-Disposition"] == \
        'attachment; filename="lwipd-conn-%d.pcapng"' % cid, r.headers
    ours = tmp_path / "conn.pcapng"
    ours.write_bytes(r.body)

    cap.stop_when(lambda s: len([p for p in s]) >= len(tsegs), "the connection's segments")
    wire = of_conn(tshark(cap.path), lport)
    mine = tshark(ours)
    assert len(mine) == len(tsegs) == len(wire), (len(mine), len(tsegs), len(wire))
    for i, (m, w, e) in enumerate(zip(mine, wire, tsegs)):
        n = headers_len(w)
        assert m["raw"][:n] == w["raw"][:n], "frame %d headers differ:\n%s\n%s" % (
            i, m["raw"][:n].hex(), w["raw"][:n].hex())
        assert m["len"] == w["len"], (i, m["len"], w["len"])
        # Every header, then at most --snaplen (3) bytes of payload.
        assert m["cap_len"] == min(w["len"], n + 3), (i, m["cap_len"], n)
        assert m["raw"] == w["raw"][:m["cap_len"]], i
        assert m["comment"] == comment_of(e), (i, m["comment"], e)
        assert started - 5 < m["time"] < time.time() + 5, (m["time"], started)
    assert mine[0]["comment"].startswith("lwIP CLOSED -> SYN_SENT, peer "), mine[0]
    assert "step teardown-4" in mine[-1]["comment"], mine[-1]
    # The interface names lwIP's address and both ends; the section, the application.
    assert {m["iface"] for m in mine} == {
        "lwipd 10.9.0.2/24 on tap0, connection %d: 10.9.0.2:%d <-> 10.9.0.1:%d" % (
            cid, lport, PEER_PORT)}, mine[0]["iface"]
    p = subprocess.run(["capinfos", str(ours)], stdout=subprocess.PIPE, text=True, timeout=60)
    assert re.search(r"Capture application: +lwipd \S+", p.stdout), p.stdout


def test_capture_of_a_dropped_segment_says_so(lwipd, start_peer, tmp_path):
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    r = lwipd.post("/v1/faults", {"dir": "out", "match": {"step": "handshake-3"},
                                  "action": "drop"})
    assert r.status == 201, r
    rule = r.json()["id"]
    obj = lwipd.open_conn()
    lwipd.wait_state(obj["id"], "ESTABLISHED")
    r = lwipd.get("/v1/connections/%d/capture" % obj["id"])
    assert r.status == 200, r
    path = tmp_path / "c.pcapng"
    path.write_bytes(r.body)
    comments = [f["comment"] for f in tshark(path)]
    assert any(c.endswith("step handshake-3, fault drop rule %d" % rule) for c in comments), \
        comments
    del peer


def test_capture_of_unknown_connection_is_404(lwipd):
    r = lwipd.get("/v1/connections/424242/capture")
    assert r.status == 404, r


def test_live_capture_read_by_tshark_from_a_pipe(lwipd, start_peer, tmp_path):
    """GET /v1/capture streamed into tshark's stdin, as curl -sN ... |
    wireshark -k -i - would: the whole connection's frames, and ARP's."""
    url = "http://127.0.0.1:%d/v1/capture" % lwipd.port
    out = tmp_path / "live.txt"
    with open(out, "wb") as sink:
        curl = subprocess.Popen(["curl", "-sN", url], stdout=subprocess.PIPE)
        shark = subprocess.Popen(["tshark", "-l", "-i", "-", "-T", "fields", "-e", "frame.len",
                                  "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags.str",
                                  "-e", "arp.opcode"],
                                 stdin=curl.stdout, stdout=sink, stderr=subprocess.DEVNULL)
        curl.stdout.close()
        try:
            wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 1,
                     "the capture reader to start")
            cid = full_lifecycle(lwipd, lwipd.ns, start_peer, data="live")
            lport = lwipd.conn(cid)["local"]["port"]
            tl = get_timeline(lwipd, cid)

            def seen():
                rows = [l.split("\t") for l in out.read_text().splitlines()]
                return [r for r in rows if len(r) >= 3 and r[1] and
                        {int(r[1]), int(r[2])} == {lport, PEER_PORT}]
            wait_for(lambda: len(seen()) >= len(segments(tl)),
                     lambda: "tshark to show %d frames: %s" % (len(segments(tl)),
                                                             out.read_text()))
            assert len(seen()) == len(segments(tl)), out.read_text()
            assert any(len(l.split("\t")) >= 5 and l.split("\t")[4]
                       for l in out.read_text().splitlines()), "no ARP frame: " + out.read_text()
        finally:
            curl.terminate()
            curl.wait(timeout=10)
            shark.wait(timeout=30)
    wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 0,
             "the capture reader to end")


def test_live_capture_matches_the_wire(lwipd, start_peer, start_capture, tmp_path):
    """The live stream's frames of a connection are, in order and byte for
    byte in their headers, the frames tcpdump saw on the TAP."""
    cap = start_capture(lwipd.ns)
    path = tmp_path / "all.pcapng"
    curl = subprocess.Popen(["curl", "-sN", "-o", str(path),
                             "http://127.0.0.1:%d/v1/capture" % lwipd.port])
    try:
        wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 1,
                 "the capture reader to start")
        cid = full_lifecycle(lwipd, lwipd.ns, start_peer, data="live bytes")
        lport = lwipd.conn(cid)["local"]["port"]
        count = len(segments(get_timeline(lwipd, cid)))
        wait_for(lambda: len(of_conn(tshark(path, partial=True), lport)) >= count,
                 lambda: "%d frames in the live stream" % count)
    finally:
        curl.terminate()
        curl.wait(timeout=10)
    live = of_conn(tshark(path, partial=True), lport)
    cap.stop_when(lambda s: len(s) >= count, "the connection's segments")
    wire = of_conn(tshark(cap.path), lport)
    assert len(live) == len(wire) == count, (len(live), len(wire), count)
    for i, (f, w) in enumerate(zip(live, wire)):
        n = headers_len(w)
        assert f["raw"][:n] == w["raw"][:n], "frame %d headers differ:\n%s\n%s" % (
            i, f["raw"][:n].hex(), w["raw"][:n].hex())
        assert f["len"] == w["len"], (i, f["len"], w["len"])


def lwip_part(comment):
    """A comment's lwIP states and step: the peer's states on a segment
    may be rewritten after a live reader got it (README "The peer's state")."""
    return re.sub(r", peer \S+ -> \S+", "", comment or "")


def test_live_capture_of_one_connection(lwipd, start_peer, tmp_path):
    """?connection=ID streams that connection's frames only, while another
    one talks beside it, each with the comment of its recorded segment, on
    an interface that names both ends."""
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    a = established_active(lwipd, peer)
    b = established_active(lwipd, peer)
    path = tmp_path / "one.pcapng"
    curl = subprocess.Popen(["curl", "-sN", "-o", str(path), "http://127.0.0.1:%d/v1/capture"
                             "?connection=%d" % (lwipd.port, a["id"])])
    try:
        wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 1,
                 "the capture reader to start")
        for obj in (a, b):
            assert lwipd.post("/v1/connections/%d/send" % obj["id"],
                              {"data": "live"}).status == 202
            peer.wait_event("DATA", lwip_end(obj))
        for obj in (a, b):
            assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
            lwipd.wait_state(obj["id"], "FIN_WAIT_2")
            peer.wait_event("EOF", lwip_end(obj))
        peer.close_all()
        for obj in (a, b):
            lwipd.wait_state(obj["id"], "CLOSED")
        wait_for(lambda: any("step teardown-4" in (f["comment"] or "")
                             for f in tshark(path, partial=True)),
                 lambda: "the live stream to carry teardown-4: %s" % tshark(path, partial=True))
    finally:
        curl.terminate()
        curl.wait(timeout=10)
    live = tshark(path, partial=True)
    lport = a["local"]["port"]
    assert len(live) >= 5, live        # the data, its ACK and the teardown, at least
    assert of_conn(live, lport) == live, [(f["tcp"].get("tcp.srcport"),
                                          f["tcp"].get("tcp.dstport")) for f in live]
    assert {f["iface"] for f in live} == {
        "lwipd 10.9.0.2/24 on tap0, connection %d: 10.9.0.2:%d <-> 10.9.0.1:%d" % (
            a["id"], lport, PEER_PORT)}, live[0]["iface"]
    r = lwipd.get("/v1/connections/%d/capture" % a["id"])
    assert r.status == 200, r
    (tmp_path / "a.pcapng").write_bytes(r.body)
    recorded = {f["raw"][:headers_len(f)]: f["comment"] for f in tshark(tmp_path / "a.pcapng")}
    for f in live:
        assert f["comment"], "a live frame of connection %d without its comment" % a["id"]
        assert lwip_part(f["comment"]) == lwip_part(recorded[f["raw"][:headers_len(f)]]), f


def test_live_capture_of_one_connection_and_the_limits(lwipd, start_peer):
    r = lwipd.get("/v1/capture?connection=424242")
    assert r.status == 404, r
    r = lwipd.get("/v1/capture?connection=x")
    problem(r, 422, "connection")
    streams = [subprocess.Popen(["curl", "-sN", "-o", "/dev/null",
                                 "http://127.0.0.1:%d/v1/capture" % lwipd.port])
               for _ in range(8)]
    try:
        wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 8,
                 "eight capture readers")
        problem(lwipd.get("/v1/capture"), 503)
    finally:
        for s in streams:
            s.terminate()
            s.wait(timeout=10)
    # Hung up while no frame comes, the eight free their slots without one.
    wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 0,
             "the readers of gone clients to end")


def test_a_reader_whose_client_hangs_up_ends_with_no_frame(lwipd):
    """A suspended reader is woken only by frames; one whose client hangs
    up while the interface is silent must still end and free its slot
    (--max-capture-readers), found by the gate's sweep. IPv6 is off on the
    kernel's side so that no frame comes."""
    lwipd.ns.run("sysctl", "-qw", "net.ipv6.conf.tap0.disable_ipv6=1")
    curl = subprocess.Popen(["curl", "-sN", "-o", "/dev/null",
                             "http://127.0.0.1:%d/v1/capture" % lwipd.port])
    try:
        wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 1,
                 "the capture reader to start")
        frames = lwipd.interface()["counters"]
    finally:
        curl.kill()
        curl.wait(timeout=10)
    wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 0,
             "the reader of the gone client to end")
    assert lwipd.interface()["counters"]["rx_frames"] == frames["rx_frames"], \
        "a frame came: the test shows nothing"


def test_a_capture_reader_that_falls_behind_is_dropped(netns, start_daemon, start_peer):
    """A client that reads nothing: once the socket's buffers are full its
    queue fills, and it is dropped and counted."""
    import socket
    lwipd = start_daemon(netns, "--snaplen", "1500")
    lwipd.ns = netns
    sock = socket.create_connection(("127.0.0.1", lwipd.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /v1/capture HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 1,
                 "the capture reader to start")
        peer = start_peer(lwipd.ns, PEER_PORT, "sink")
        obj = lwipd.open_conn()
        lwipd.wait_state(obj["id"], "ESTABLISHED")
        r = lwipd.post("/v1/connections/%d/send" % obj["id"], {"size": 32 << 20})
        assert r.status == 202, r
        wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers_dropped"] == 1,
                 "the reader to be dropped", timeout=60)
        metrics = lwipd.get("/metrics").body.decode()
        assert "lwipd_capture_readers_dropped_total 1" in metrics
        del peer
    finally:
        sock.close()
    wait_for(lambda: lwipd.get("/v1/stats").json()["capture"]["readers"] == 0,
             "the dropped reader to end")
