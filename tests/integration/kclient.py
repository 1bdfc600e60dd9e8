#!/usr/bin/python3
"""A kernel-side TCP client driven step by step, for passive opens.

As a script it runs inside the test's namespace (``ip netns exec NS python3
kclient.py IP PORT``), connects, and then obeys one command per line on
stdin, answering with one line per event on stdout (flushed at once):

    CONNECTED <local port>       the connection is up
    send <text>      -> SENT <n>
    recv <n>         -> RECV <total>      once n bytes in all were read
    shutdown         -> SHUTDOWN          our FIN is queued (SHUT_WR)
    eof              -> EOF <total>       lwIP's FIN arrived (read gave 0)
    close            -> CLOSED
    ERROR <text>                          something failed; the script ends

KClient is the test side of it: it starts the script and waits (bounded)
for each answer.
"""

import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.realpath(__file__))


def _emit(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def _main(ip, port):
    sock = socket.create_connection((ip, int(port)), timeout=30)
    _emit("CONNECTED", sock.getsockname()[1])
    received = 0
    for line in sys.stdin:
        cmd, _, arg = line.rstrip("\n").partition(" ")
        try:
            if cmd == "send":
                sock.sendall(arg.encode())
                _emit("SENT", len(arg.encode()))
            elif cmd == "recv":
                while received < int(arg):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise OSError("EOF after %d bytes" % received)
                    received += len(chunk)
                _emit("RECV", received)
            elif cmd == "shutdown":
                sock.shutdown(socket.SHUT_WR)
                _emit("SHUTDOWN")
            elif cmd == "eof":
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += len(chunk)
                _emit("EOF", received)
            elif cmd == "close":
                sock.close()
                _emit("CLOSED")
            else:
                raise ValueError("unknown command %r" % cmd)
        except Exception as e:  # reported to the test, which fails on it
            _emit("ERROR", repr(e))
            return 1
    return 0


class KClient:
    """The kernel's end of one connection to lwIP (a listener's port)."""

    def __init__(self, ns, ip, port, out_path):
        self.out_path = out_path
        self._out = open(out_path, "wb")
        self.proc = subprocess.Popen(
            ns.cmd("/usr/bin/python3", os.path.join(HERE, "kclient.py"), ip, str(port)),
            stdin=subprocess.PIPE, stdout=self._out, stderr=subprocess.STDOUT)
        self.local_port = int(self.wait("CONNECTED")[1])

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def lines(self):
        return [line.split() for line in self.output().splitlines() if line.strip()]

    def wait(self, word, timeout=20.0):
        """Waits for the next line starting with word (after those already
        returned), failing at once on ERROR or an exit."""
        from helpers import wait_for
        seen = getattr(self, "_seen", 0)

        def got():
            lines = self.lines()
            for i in range(seen, len(lines)):
                if lines[i][0] == "ERROR":
                    raise AssertionError("kclient failed: %s" % self.output())
                if lines[i][0] == word:
                    self._seen = i + 1
                    return lines[i]
            if self.proc.poll() is not None:
                raise AssertionError("kclient exited with %d: %s" % (self.proc.returncode,
                                                                     self.output()))
            return None
        return wait_for(got, lambda: "kclient line %s; output: %s" % (word, self.output()), timeout)

    def do(self, command, answer, timeout=20.0):
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()
        return self.wait(answer, timeout)

    def stop(self):
        from helpers import kill_process
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        kill_process(self.proc)
        self._out.close()


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
