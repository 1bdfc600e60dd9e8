"""The Linux kernel's own TCP states, from its sock:inet_sock_set_state
tracepoint, read through a tracefs instance of the test's own (never the
global trace buffer), for comparing with the states lwipd infers for its
peer.

KernelTrace mounts tracefs at /sys/kernel/tracing if it is not there,
creates instances/lwipd-test-<pid>-<n>, enables the tracepoint filtered to
IPv4 TCP sockets talking to lwIP's address, and removes the instance when stopped. The tracepoint is not
per-namespace: a transition is matched to a connection by its exact
addresses and ports.
"""

import itertools
import os
import re
import socket
import subprocess

from helpers import KERNEL_IP, LWIP_IP

TRACEFS = "/sys/kernel/tracing"
EVENT = "events/sock/inet_sock_set_state"

# The kernel's names, as ours.
STATES = {
    "TCP_ESTABLISHED": "ESTABLISHED", "TCP_SYN_SENT": "SYN_SENT", "TCP_SYN_RECV": "SYN_RCVD",
    "TCP_FIN_WAIT1": "FIN_WAIT_1", "TCP_FIN_WAIT2": "FIN_WAIT_2", "TCP_TIME_WAIT": "TIME_WAIT",
    "TCP_CLOSE": "CLOSED", "TCP_CLOSE_WAIT": "CLOSE_WAIT", "TCP_LAST_ACK": "LAST_ACK",
    "TCP_LISTEN": "LISTEN", "TCP_CLOSING": "CLOSING", "TCP_NEW_SYN_RECV": "NEW_SYN_RECV",
}

LINE = re.compile(r"inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP "
                  r"sport=(\d+) dport=(\d+) saddr=([\d.]+) daddr=([\d.]+) .*"
                  r"oldstate=(TCP_\w+) newstate=(TCP_\w+)")

_numbers = itertools.count(1)


def parse(line):
    """(sport, dport, saddr, daddr, old, new) of a trace line, or None."""
    m = LINE.search(line)
    if m is None:
        return None
    return (int(m.group(1)), int(m.group(2)), m.group(3), m.group(4),
            STATES.get(m.group(5), m.group(5)), STATES.get(m.group(6), m.group(6)))


def states_entered(transitions):
    """The states the kernel entered, with the one rule of README "The
    peer's state": a CLOSE right after FIN_WAIT_2 or CLOSING stands for
    TIME_WAIT (Linux hands the socket to a timewait socket the tracepoint
    does not follow)."""
    out = []
    for old, new in transitions:
        if new == "CLOSED" and old in ("FIN_WAIT_2", "CLOSING"):
            new = "TIME_WAIT"
        out.append(new)
    return out


class KernelTrace:
    def __init__(self):
        self.path = None

    def start(self):
        if not os.path.isdir(os.path.join(TRACEFS, "instances")):
            subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], check=True)
        self.path = os.path.join(TRACEFS, "instances",
                                 "lwipd-test-%d-%d" % (os.getpid(), next(_numbers)))
        os.mkdir(self.path)
        # daddr's four bytes compare as one u32 as they lie in memory (little-endian here).
        daddr = int.from_bytes(socket.inet_aton(LWIP_IP), "little")
        self._write(EVENT + "/filter", "family == 2 && protocol == 6 && daddr == 0x%08x" % daddr)
        self._write(EVENT + "/enable", "1")
        return self

    def _write(self, rel, text):
        with open(os.path.join(self.path, rel), "w") as f:
            f.write(text)

    def lines(self):
        with open(os.path.join(self.path, "trace")) as f:
            return [parse(line) for line in f if parse(line) is not None]

    def transitions(self, lwip_port, kernel_port):
        """The kernel's transitions of its end of the connection between
        lwIP's port and the kernel's. A connecting socket's first line
        (CLOSE -> SYN_SENT) comes before its port is bound: sport 0."""
        out = []
        for sport, dport, saddr, daddr, old, new in self.lines():
            if daddr != LWIP_IP or dport != lwip_port or saddr not in (KERNEL_IP, "0.0.0.0"):
                continue
            if sport == kernel_port or (sport == 0 and new == "SYN_SENT"):
                out.append((old, new))
        return out

    def stop(self):
        if self.path is None:
            return
        try:
            self._write(EVENT + "/enable", "0")
        finally:
            os.rmdir(self.path)
            self.path = None
