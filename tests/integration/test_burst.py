"""Bursts that lwIP 2.1.3 loses on its own (see ../shared/lwip-notes.md):
SYNs sent while the peer's MAC is unresolved (lwIP's ARP queue keeps only
ARP_QUEUE_LEN = 10 packets), and a burst of inbound frames (the tcpip
mailbox drops when full). lwipd holds SYNs until ARP answers and feeds
frames to lwIP under the core lock, so nothing is lost and nothing needs
a retransmission."""

from helpers import LWIP_IP, PEER_PORT
from wire import tcp_segments

def set_arp_ignore(ns, value):
    # In a container /proc/sys may be mounted read-only; `ip netns exec` runs
    # in a mount namespace of its own, so making it writable there is local.
    ns.run("sh", "-c", "if mountpoint -q /proc/sys; then mount -o remount,bind,rw /proc/sys; fi; "
           "sysctl -qw net.ipv4.conf.tap0.arp_ignore=%d" % value)


BURST = 40   # four times lwIP's ARP queue: without the hold, 30 SYNs would be dropped


def test_syns_wait_for_arp_and_their_answers_are_not_dropped(lwipd, start_peer, start_capture):
    ns = lwipd.ns
    start_peer(ns)
    cap = start_capture(ns)
    # The kernel side stops answering ARP (arp_ignore 8: never reply), so
    # lwIP's next hop stays unresolved. Flipping the link's NOARP flag instead
    # would also upset the capture.
    set_arp_ignore(ns, 8)
    objs = [lwipd.open_conn() for _ in range(BURST)]
    assert all(o["state"] == "SYN_SENT" for o in objs), objs
    assert all(o["counters"]["segs_out"] == 0 for o in lwipd.conns()), "a SYN left before ARP"
    set_arp_ignore(ns, 0)

    for o in objs:
        lwipd.wait_state(o["id"], "ESTABLISHED")
    conns = lwipd.conns()
    assert len(conns) == BURST
    assert [c["counters"]["retransmits"] for c in conns] == [0] * BURST, conns
    assert all(c["counters"]["segs_out"] == 2 and c["counters"]["segs_in"] == 1 for c in conns), conns
    assert lwipd.interface()["counters"]["rx_dropped"] == 0

    def syns(segs):
        return [s for s in segs if s.src == LWIP_IP and s.dport == PEER_PORT and "S" in s.flags]
    # tcpdump may still be writing what it saw: read until all SYNs are in the file.
    cap.stop_when(lambda segs: len(syns(segs)) >= BURST, "%d SYNs in the capture" % BURST)
    syns = syns(tcp_segments(cap.stop()))
    assert len(syns) == BURST, "each SYN goes out exactly once: %d SYNs" % len(syns)
    assert len({s.sport for s in syns}) == BURST
