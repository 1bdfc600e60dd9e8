#!/usr/bin/python3
"""Kernel-side TCP peer for lwipd's integration tests.

Runs inside the test's network namespace (``ip netns exec NS python3
peer.py ...``) and listens on the kernel side of the TAP. One line per event
goes to stdout, flushed at once, so a test can poll the file it writes to:

    LISTENING <ip> <port>
    ACCEPT <ip>:<port>          a connection from lwIP was accepted
    DATA <ip>:<port> <n>        n bytes were read
    EOF <ip>:<port>             lwIP's FIN arrived (read returned 0)
    RESET <ip>:<port>           the connection was reset
    CLOSED <ip>:<port>          this peer closed its side

Modes:
    hold      accept, read and discard, never close on its own; on SIGUSR1
              close every open connection (so the peer closes first, or
              closes only after lwIP's FIN when told to).
    echo      accept, echo what it reads, close right after EOF.
    echohold  accept and echo what it reads like echo, but after EOF hold
              the socket half-closed like hold, until SIGUSR1.
    sink      accept, read everything; at EOF print
              "DIGEST <ip>:<port> <bytes> <sha256 hex>" of all it read on
              that connection (no DATA lines), then close.
    full      listen with a backlog of 0 and fill the accept queue with one
              connection of its own that is never accepted: Linux then
              drops every further SYN silently, so an active open from lwIP
              never gets an answer.

SIGTERM or SIGINT ends the peer.
"""

import argparse
import hashlib
import selectors
import signal
import socket
import sys

close_requested = False
stop_requested = False


def emit(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def on_usr1(_signo, _frame):
    global close_requested
    close_requested = True


def on_stop(_signo, _frame):
    global stop_requested
    stop_requested = True


def name(addr):
    return "%s:%d" % (addr[0], addr[1])


def main():
    global close_requested
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("hold", "echo", "echohold", "full", "sink"), default="hold")
    ap.add_argument("--backlog", type=int, default=1024)
    ap.add_argument("--ip", default="10.9.0.1")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.ip, args.port))
    filler = []
    if args.mode == "full":
        lsock.listen(0)
        # One completed connection sits in the accept queue and is never
        # accepted: the queue is full from then on.
        c = socket.create_connection((args.ip, args.port), timeout=5)
        filler.append(c)
    else:
        lsock.listen(args.backlog)
        lsock.setblocking(False)
    emit("LISTENING", args.ip, args.port)

    sel = selectors.DefaultSelector()
    if args.mode != "full":
        sel.register(lsock, selectors.EVENT_READ, None)
    conns = {}
    digests = {}   # sink mode: sock -> [bytes, sha256]

    def close_conn(sock, event):
        addr = conns.pop(sock)
        try:
            sel.unregister(sock)
        except KeyError:
            pass  # half-closed, no longer watched
        sock.close()
        emit(event, name(addr))

    while not stop_requested:
        if close_requested:
            close_requested = False
            for sock in list(conns):
                close_conn(sock, "CLOSED")
        for key, _ in sel.select(timeout=0.05):
            sock = key.fileobj
            if sock is lsock:
                try:
                    csock, addr = lsock.accept()
                except BlockingIOError:
                    continue
                csock.setblocking(False)
                conns[csock] = addr
                sel.register(csock, selectors.EVENT_READ, None)
                emit("ACCEPT", name(addr))
                if args.mode == "sink":
                    digests[csock] = [0, hashlib.sha256()]
                continue
            addr = conns[sock]
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                close_conn(sock, "RESET")
                continue
            if data and args.mode == "sink":
                digests[sock][0] += len(data)
                digests[sock][1].update(data)
                continue
            if data:
                emit("DATA", name(addr), len(data))
                if args.mode in ("echo", "echohold"):
                    sock.setblocking(True)
                    sock.sendall(data)
                    sock.setblocking(False)
                continue
            emit("EOF", name(addr))
            if args.mode == "sink":
                n, h = digests.pop(sock)
                emit("DIGEST", name(addr), n, h.hexdigest())
            if args.mode in ("echo", "sink"):
                close_conn(sock, "CLOSED")
            else:
                # Keep the socket open (half-closed: the kernel sits in
                # CLOSE_WAIT) but stop watching it until SIGUSR1.
                sel.unregister(sock)
    for c in filler:
        c.close()
    for sock in list(conns):
        sock.close()
    lsock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
