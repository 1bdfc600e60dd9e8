"""/healthz and /v1/interface: fields, types, the MAC on the wire, counters."""

import re

from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, wait_for
from wire import describe, tcp_segments

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
COUNTERS = ("rx_frames", "tx_frames", "rx_bytes", "tx_bytes", "rx_dropped", "rx_fragments",
            "rx_malformed", "rx_other")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def test_healthz(lwipd):
    r = lwipd.get("/healthz")
    assert r.status == 200, r
    assert r.content_type == "application/json", r
    assert r.json() == {"status": "ok"}


def test_interface_fields_and_types(lwipd):
    r = lwipd.get("/v1/interface")
    assert r.status == 200, r
    assert r.content_type == "application/json", r
    i = r.json()
    assert set(i) >= {"name", "mac", "address", "prefix", "mtu", "up", "counters"}, i
    assert i["name"] == "tap0"
    assert i["address"] == LWIP_IP
    assert i["prefix"] == 24 and is_int(i["prefix"])
    assert i["mtu"] == 1500 and is_int(i["mtu"])
    assert i["up"] is True
    assert isinstance(i["mac"], str) and MAC_RE.match(i["mac"].lower()), i["mac"]
    mac0 = int(i["mac"].split(":")[0], 16)
    assert not mac0 & 1, "multicast MAC %s" % i["mac"]
    assert set(i["counters"]) >= set(COUNTERS), i["counters"]
    for k in COUNTERS:
        assert is_int(i["counters"][k]) and i["counters"][k] >= 0, (k, i["counters"])


def test_mac_flag_is_reported_and_used_on_the_wire(netns, start_daemon, start_peer, start_capture):
    mac = "02:11:22:33:44:55"
    d = start_daemon(netns, "--mac", mac)
    assert d.interface()["mac"].lower() == mac
    peer = start_peer(netns, PEER_PORT, "hold")
    cap = start_capture(netns)
    obj = d.open_conn()
    obj = d.wait_state(obj["id"], "ESTABLISHED")
    peer.wait_event("ACCEPT", "%s:%d" % (LWIP_IP, obj["local"]["port"]))
    segs = tcp_segments(cap.stop_when(lambda s: len(s) >= 3, "the handshake"),
                        obj["local"]["port"], PEER_PORT)
    ours = [s for s in segs if s.src == LWIP_IP]
    assert ours, describe(segs)
    assert all(s.src_mac.lower() == mac for s in ours), [s.src_mac for s in ours]
    # The kernel learnt that MAC for 10.9.0.2 through ARP.
    neigh = netns.run("ip", "-j", "neigh", "show", LWIP_IP, "dev", "tap0").stdout
    assert mac in neigh.lower(), neigh


def test_default_mac_is_used_on_the_wire(lwipd, start_peer, start_capture):
    mac = lwipd.interface()["mac"].lower()
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    cap = start_capture(lwipd.ns)
    obj = lwipd.open_conn()
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED")
    peer.wait_event("ACCEPT", "%s:%d" % (LWIP_IP, obj["local"]["port"]))
    segs = tcp_segments(cap.stop_when(lambda s: len(s) >= 3, "the handshake"))
    assert all(s.src_mac.lower() == mac for s in segs if s.src == LWIP_IP), describe(segs)


def test_counters_grow_with_traffic(lwipd, start_peer):
    before = lwipd.interface()["counters"]
    peer = start_peer(lwipd.ns, PEER_PORT, "hold")
    obj = lwipd.open_conn()
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED")
    peer.wait_event("ACCEPT", "%s:%d" % (LWIP_IP, obj["local"]["port"]))

    # ARP request + SYN + ACK out, ARP reply + SYN+ACK in, at the least.
    def grown():
        c = lwipd.interface()["counters"]
        ok = (c["tx_frames"] >= before["tx_frames"] + 3 and c["rx_frames"] >= before["rx_frames"] + 2
              and c["tx_bytes"] > before["tx_bytes"] and c["rx_bytes"] > before["rx_bytes"])
        return c if ok else None
    after = wait_for(grown, "the interface counters to count the handshake")
    for k in ("rx_frames", "tx_frames", "rx_bytes", "tx_bytes"):
        assert after[k] > 0, after
    # Frames are at least 42 bytes (ARP) and at most MTU + 14 bytes each.
    assert after["tx_bytes"] >= 42 * after["tx_frames"], after
    assert after["tx_bytes"] <= 1514 * after["tx_frames"], after
    assert after["rx_bytes"] <= 1514 * after["rx_frames"] + 0, after
    assert after["rx_dropped"] >= 0

    # They never go backwards.
    later = lwipd.interface()["counters"]
    for k in ("rx_frames", "tx_frames", "rx_bytes", "tx_bytes", "rx_dropped"):
        assert later[k] >= after[k], (k, after, later)
    assert obj["remote"]["ip"] == KERNEL_IP


def test_a_deleted_tap_stops_the_daemon_with_a_failure(lwipd):
    """systemd's Restart=on-failure restarts lwipd only if it exits non-zero."""
    lwipd.expected_exit = True
    lwipd.ns.run("ip", "link", "del", "tap0")
    rc = lwipd.proc.wait(timeout=10)
    assert rc == 1, lwipd.stderr()
    assert "the TAP device tap0 is gone" in lwipd.stderr(), lwipd.stderr()
