"""Sending to a peer that announces a small MSS.

lwIP bounds its send queue in segments (TCP_SND_QUEUELEN, 180 with this
build), and refuses a whole tcp_write() that would need more. With a peer
MSS of 64, one 64 KiB write needs about a thousand: lwipd must write what
fits and go on as ACKs free the queue, or a send never starts and a later
DELETE never sends its FIN.

The kernel will not announce an MSS below 88 (TCP_MAXSEG refuses it), so
nf_tables in the test's namespace rewrites the MSS option of the kernel's
SYN+ACK on its way to lwIP; the kernel itself takes any segment size.
"""

import pytest

from helpers import PEER_PORT, wait_for
from kit import b64, digest_event, established_active, pattern, sha256


def announce_mss(ns, tmp_path, mss):
    rules = tmp_path / "mss.nft"
    rules.write_text(
        "table ip lwipd_mss {\n"
        "  chain out { type filter hook output priority 0; policy accept;\n"
        "    oifname \"tap0\" tcp flags & (syn|ack) == (syn|ack) tcp option maxseg size set %d\n"
        "  }\n"
        "}\n" % mss)
    ns.run("nft", "-f", str(rules))


@pytest.mark.parametrize("mss,size,form", [(64, 65535, "size"), (100, 20000, "base64"),
                                           (100, 65535, "size"), (536, 40000, "base64"),
                                           (1460, 65535, "size")])
def test_a_send_completes_and_the_close_sends_its_fin(lwipd, start_peer, tmp_path, mss, size,
                                                      form):
    announce_mss(lwipd.ns, tmp_path, mss)
    peer = start_peer(lwipd.ns, PEER_PORT, "sink")
    obj = established_active(lwipd, peer)
    assert lwipd.conn(obj["id"])["tcb"]["mss"] == mss

    body = {"size": size} if form == "size" else {"data_base64": b64(pattern(size))}
    assert lwipd.send(obj["id"], body) == {"queued": size}
    assert lwipd.delete("/v1/connections/%d" % obj["id"]).status == 202
    n, digest = digest_event(peer, obj, timeout=30)
    assert (n, digest) == (size, sha256(pattern(size)))
    wait_for(lambda: lwipd.conn(obj["id"])["state"] in ("TIME_WAIT", "CLOSED"),
             "the close to complete", timeout=60)
    assert lwipd.conn(obj["id"])["send_queued"] == 0

    # The wire has too many segments at MSS 64 for tcpdump to keep up; the
    # sink's digest is the wire's proof, the timeline shows the segment sizes.
    events = lwipd.get("/v1/connections/%d/timeline" % obj["id"]).json()["events"]
    ours = [e for e in events if e["kind"] == "segment" and e["dir"] == "out"]
    assert max(e["len"] for e in ours) <= mss, ours
    assert any("FIN" in e["flags"].split(",") for e in ours), ours
