"""Packet captures for lwipd's integration tests: tcpdump in a test's
namespace, and the TCP segments read out of what it wrote (with scapy),
with the checks that compare them.

Every wait here polls a condition with a generous, bounded deadline; nothing
asserts how long something took.
"""

import re
import signal
import subprocess

from helpers import DEADLINE, KERNEL_IP, LWIP_IP, wait_for


class Capture:
    def __init__(self, ns, path, err_path, iface="tap0", bpf="tcp", snaplen=None):
        self.ns = ns
        # A short snapshot fits many more frames in tcpdump's buffer, for bursts.
        self.snaplen = snaplen
        self.path = path
        self.err_path = err_path
        self.iface = iface
        self.bpf = bpf
        self.proc = None
        self.packets = None

    def start(self):
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            self.ns.cmd("tcpdump", "-i", self.iface, "-U", "--immediate-mode", "-B", "8192", "-n", "-Z", "root",
                        *(["-s", str(self.snaplen)] if self.snaplen else []),
                        "-w", self.path, *([self.bpf] if self.bpf else [])),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("tcpdump exited with %d: %s" % (self.proc.returncode, self.stderr()))
            return "listening on" in self.stderr()
        wait_for(listening, "tcpdump to report 'listening on'")
        return self

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """Stops tcpdump (SIGINT) and returns the packets, read with scapy."""
        if self.packets is not None:
            return self.packets
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=DEADLINE)
        try:
            self._err.close()
        except OSError:
            pass
        # A capture that lost frames cannot back a check of the wire.
        dropped = re.search(r"(\d+) packets? dropped by kernel", self.stderr())
        assert dropped is None or dropped.group(1) == "0", "tcpdump lost frames: " + self.stderr()
        self.packets = list(_rdpcap()(self.path))
        return self.packets

    def stop_when(self, predicate, what, timeout=DEADLINE):
        """Waits until the capture file (read as it grows) satisfies
        predicate(segments), then stops tcpdump and returns all packets."""
        rdpcap = _rdpcap()

        def ok():
            try:
                return predicate(tcp_segments(list(rdpcap(self.path))))
            except Exception:  # a partial last record while tcpdump writes
                return False
        wait_for(ok, what, timeout, interval=0.2)
        return self.stop()


def _rdpcap():
    """scapy's rdpcap, with the layers it needs loaded (scapy is slow to
    import, so only tests that read captures pay for it)."""
    import importlib
    for layer in ("scapy.layers.l2", "scapy.layers.inet"):
        importlib.import_module(layer)
    from scapy.utils import rdpcap
    return rdpcap


def set_tcp_fields(seg, ip, tcp):
    """Copies a scapy segment's addresses, ports, numbers, flags and window
    onto seg, in plain values."""
    seg.src = ip.src
    seg.dst = ip.dst
    seg.sport = tcp.sport
    seg.dport = tcp.dport
    seg.seq = tcp.seq
    seg.ack = tcp.ack
    seg.flags = set(str(tcp.flags))  # letters: S A F R P U E C
    seg.window = tcp.window    # as sent: not scaled


class Segment:
    """One TCP segment from a capture, in plain values."""

    def __init__(self, pkt):
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether
        self.src_mac = pkt[Ether].src if Ether in pkt else None
        set_tcp_fields(self, pkt[IP], pkt[TCP])
        self.payload = len(bytes(pkt[TCP].payload))

    def __repr__(self):
        return "%s:%d > %s:%d [%s] seq=%d ack=%d len=%d" % (
            self.src, self.sport, self.dst, self.dport, "".join(sorted(self.flags)),
            self.seq, self.ack, self.payload)


def tcp_segments(packets, local_port=None, remote_port=None,
                 local_ip=LWIP_IP, remote_ip=KERNEL_IP):
    """The TCP segments between lwIP's (local_ip, local_port) and the
    kernel's (remote_ip, remote_port), either direction, in capture order.
    A port of None matches any."""
    from scapy.layers.inet import IP, TCP
    out = []
    for p in packets:
        if IP not in p or TCP not in p:
            continue
        s = Segment(p)
        if s.src == local_ip and s.dst == remote_ip:
            lp, rp = s.sport, s.dport
        elif s.src == remote_ip and s.dst == local_ip:
            lp, rp = s.dport, s.sport
        else:
            continue
        if local_port is not None and lp != local_port:
            continue
        if remote_port is not None and rp != remote_port:
            continue
        out.append(s)
    return out


def dedupe(segments):
    """Splits segments into (firsts, repeats): a repeat carries the same
    source, flags, seq, ack and length as an earlier one, i.e. it is a
    retransmission. Checks of a sequence of segments use firsts, so that a
    retransmission on a slow machine does not change their meaning."""
    seen = set()
    firsts, repeats = [], []
    for s in segments:
        key = (s.src, s.sport, frozenset(s.flags), s.seq, s.ack, s.payload)
        (repeats if key in seen else firsts).append(s)
        seen.add(key)
    return firsts, repeats


def describe(segments):
    return "\n".join(repr(s) for s in segments) or "(no segments)"
