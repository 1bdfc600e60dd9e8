"""Captures for Wireshark: GET /v1/connections/{id}/capture, a pcapng file
of the connection's frames read back with tshark, byte for byte the same
headers as tcpdump's capture of the wire, each packet commented with the
stack's view; and the frames' payload cut at --snaplen."""

import json
import subprocess
import time

from helpers import KERNEL_IP, LWIP_IP, PEER_PORT
from kit import full_lifecycle
from timeline_check import get_timeline, segments


def tshark(path):
    """Each frame of a capture: its raw bytes, lengths, comment and time."""
    p = subprocess.run(["tshark", "-r", str(path), "-x", "-T", "json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
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
