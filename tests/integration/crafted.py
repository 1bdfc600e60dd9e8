"""A hand-driven TCP peer made with python3-scapy, for segments the Linux
kernel will not send (a FIN crossing lwIP's FIN, a RST answering a SYN+ACK,
a SYN left half-open, a segment with a bad checksum).

RawPeer owns an address on the TAP's subnet that the kernel does not have
(10.9.0.3 by default) with a MAC of its own. It sits on the namespace's side
of tap0 with an AF_PACKET socket: it answers lwIP's ARP requests for its
address, collects the TCP segments lwIP sends it, and writes the segments a
test builds into tap0, i.e. to lwIP. The kernel never takes part: frames for
RawPeer's MAC are not for the kernel (it drops them even when tcpdump puts
tap0 in promiscuous mode), and it does not answer ARP for an address it does
not own.
"""

import socket
import threading
import time

from helpers import DEADLINE, LWIP_IP, Timeout
from wire import set_tcp_fields

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

RAW_IP = "10.9.0.3"
RAW_MAC = "02:00:00:00:00:03"


def _scapy():
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import ARP, Ether
    return Ether, ARP, IP, TCP


class RawSegment:
    """One TCP segment lwIP sent to RawPeer."""

    def __init__(self, ip, tcp):
        set_tcp_fields(self, ip, tcp)
        self.payload = bytes(tcp.payload)

    def has(self, letters):
        return set(letters) <= self.flags

    def __repr__(self):
        return "%s:%d > %s:%d [%s] seq=%d ack=%d win=%d len=%d" % (
            self.src, self.sport, self.dst, self.dport, "".join(sorted(self.flags)),
            self.seq, self.ack, self.window, len(self.payload))


class RawPeer:
    def __init__(self, ns, lwip_mac, ip=RAW_IP, mac=RAW_MAC, iface="tap0"):
        self.ns = ns
        self.lwip_mac = lwip_mac
        self.ip = ip
        self.mac = mac
        self.iface = iface
        self.segments = []          # every TCP segment from lwIP, in order
        self.arp_requests = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = None
        self._sock = None
        self._error = None

    # ------------------------------------------------------------------
    def start(self):
        Ether, ARP, IP, TCP = _scapy()   # import before the thread needs it
        self._sock = self.ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.bind((self.iface, 0))
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._run, name="rawpeer", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        if self._thread is not None:
            self._thread.join(timeout=DEADLINE)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _run(self):
        Ether, ARP, IP, TCP = _scapy()
        while not self._stop:
            try:
                frame, addr = self._sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError as e:
                if not self._stop:
                    self._error = e
                return
            if addr[2] == PACKET_OUTGOING:
                continue        # the kernel's frames, and our own
            try:
                pkt = Ether(frame)
            except Exception:
                continue
            if ARP in pkt:
                a = pkt[ARP]
                if a.op == 1 and a.pdst == self.ip:
                    with self._cond:
                        self.arp_requests += 1
                    reply = Ether(src=self.mac, dst=a.hwsrc) / ARP(
                        op=2, hwsrc=self.mac, psrc=self.ip, hwdst=a.hwsrc, pdst=a.psrc)
                    self._sock.send(bytes(reply))
                continue
            if IP in pkt and TCP in pkt and pkt[IP].dst == self.ip:
                seg = RawSegment(pkt[IP], pkt[TCP])
                with self._cond:
                    self.segments.append(seg)
                    self._cond.notify_all()

    # ------------------------------------------------------------------
    def send(self, sport, dport, flags, seq, ack=0, payload=b"", window=64240,
             mss=None, bad_checksum=False, fragsize=None):
        """Writes one TCP segment from RawPeer to lwIP (10.9.0.2); with
        fragsize, as IPv4 fragments of that many bytes of IP payload."""
        Ether, ARP, IP, TCP = _scapy()
        opts = [("MSS", mss)] if mss else []
        tcp = TCP(sport=sport, dport=dport, flags=flags, seq=seq % 2 ** 32,
                  ack=ack % 2 ** 32, window=window, options=opts)
        ip = IP(src=self.ip, dst=LWIP_IP) / tcp / payload
        if bad_checksum:
            good = IP(bytes(ip))[TCP].chksum
            ip[TCP].chksum = good ^ 0x5a5a
        if fragsize is None:
            self.send_frame(bytes(Ether(src=self.mac, dst=self.lwip_mac) / ip))
            return
        from scapy.layers.inet import fragment
        for part in fragment(IP(bytes(ip)), fragsize=fragsize):
            self.send_frame(bytes(Ether(src=self.mac, dst=self.lwip_mac) / part))

    def send_frame(self, frame):
        """Writes one Ethernet frame, as given, to lwIP."""
        self._sock.send(frame)

    def wait_segment(self, predicate, what, start=0, timeout=DEADLINE):
        """The first segment at index >= start matching predicate, and its
        index: (index, segment)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._error is not None:
                    raise AssertionError("RawPeer's socket failed: %s" % self._error)
                for i in range(start, len(self.segments)):
                    if predicate(self.segments[i]):
                        return i, self.segments[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("timed out after %.0f s waiting for lwIP to send RawPeer %s; got:\n%s"
                                  % (timeout, what, self.describe()))
                self._cond.wait(min(left, 0.2))

    def count(self, predicate):
        with self._cond:
            return sum(1 for s in self.segments if predicate(s))

    def describe(self):
        return "\n".join(repr(s) for s in self.segments) or "(no segments)"
