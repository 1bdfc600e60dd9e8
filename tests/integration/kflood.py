#!/usr/bin/python3
"""Many kernel-side TCP clients held open at once, for tests that need a
thousand live connections quickly.

As a script it runs inside the test's namespace (``ip netns exec NS
/usr/bin/python3 kflood.py IP PORT COUNT``): it connects COUNT sockets, in
bounded batches so that a listener's backlog is never flooded, prints
``CONNECTED <n>`` and then obeys one command per line on stdin:

    resets   -> RESETS <n>    sockets whose connection the other end reset
    close    -> CLOSED        closes every socket; the script ends

KFlood is the test side of it, a KClient with another script behind it.
"""

import errno
import os
import resource
import select
import socket
import subprocess
import sys

from kclient import HERE, KClient

BATCH = 100


def _emit(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def _connect_all(ip, port, count):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    socks = []
    while len(socks) < count:
        batch = []
        for _ in range(min(BATCH, count - len(socks))):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((ip, port))
            batch.append(s)
        pending = list(batch)
        while pending:
            _, writable, _ = select.select([], pending, [], 30)
            if not writable:
                raise OSError("%d connects did not complete in 30 s" % len(pending))
            for s in writable:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, "connect: %s" % errno.errorcode.get(err, err))
                pending.remove(s)
        socks += batch
    return socks


def _count_resets(socks):
    resets = 0
    for s in socks:
        try:
            s.recv(1)
        except ConnectionResetError:
            resets += 1
        except BlockingIOError:
            pass
    return resets


def _main(ip, port, count):
    try:
        socks = _connect_all(ip, int(port), int(count))
    except OSError as e:
        _emit("ERROR", e)
        return 1
    _emit("CONNECTED", len(socks))
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "resets":
            _emit("RESETS", _count_resets(socks))
        elif cmd == "close":
            break
    for s in socks:
        s.close()
    _emit("CLOSED")
    return 0


class KFlood(KClient):
    """The kernel's ends of count connections to lwIP (a listener's port)."""

    def __init__(self, ns, ip, port, count, out_path, timeout=120.0):
        self.out_path = out_path
        self._out = open(out_path, "wb")
        self.proc = subprocess.Popen(
            ns.cmd("/usr/bin/python3", os.path.join(HERE, "kflood.py"), ip, str(port), str(count)),
            stdin=subprocess.PIPE, stdout=self._out, stderr=subprocess.STDOUT)
        self.connected = int(self.wait("CONNECTED", timeout)[1])


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:4]))
