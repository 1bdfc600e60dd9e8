"""Shared pieces of the issue-3 tests (every TCP state, listeners, data,
waits, counters): counter snapshots with the kernel's nstat, the transition
edges a history implies, the send pattern, and ways to get a connection into
a given state with the kernel as the peer."""

import base64
import collections
import hashlib
import json

from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, wait_for

M = 2 ** 32
LOCAL = "%s:%d" % (KERNEL_IP, PEER_PORT)
TCP_KEYS = {"active_opens", "passive_opens", "attempt_fails", "estab_resets", "curr_estab",
            "in_segs", "out_segs", "retrans_segs", "in_errs", "in_rfc_drops", "out_rsts"}
IFACE_KEYS = {"rx_frames", "tx_frames", "rx_bytes", "tx_bytes", "rx_dropped", "rx_fragments",
              "rx_malformed", "rx_other"}
TCB_KEYS = {"iss", "irs", "snd_nxt", "snd_una", "rcv_nxt", "snd_wnd", "rcv_wnd", "mss",
            "rto_ms", "cwnd", "ssthresh", "nrtx"}


def lwip_end(obj):
    return "%s:%d" % (LWIP_IP, obj["local"]["port"])


def flagset(seg):
    return "".join(sorted(seg.flags))


def pattern(n):
    """The bytes of {"size": n}: byte k is k % 251."""
    block = bytes(range(251))
    reps = n // 251 + 1
    return (block * reps)[:n]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def b64(data):
    return base64.b64encode(data).decode()


def digest_event(peer, obj, timeout=180):
    """The sink peer's DIGEST line for obj: (bytes, sha256 hex)."""
    end = lwip_end(obj)
    peer.wait_event("DIGEST", end, timeout=timeout)
    for e in peer.events():
        if e[0] == "DIGEST" and e[1] == end:
            return int(e[2]), e[3]
    raise AssertionError(peer.events())


def problem(r, status, field=None):
    """Asserts r is an RFC 9457 problem with that status (and field)."""
    assert r.status == status, r
    assert r.content_type == "application/problem+json", r
    body = r.json()
    assert body["status"] == status, body
    assert body["type"].startswith("urn:lwipd:problem:"), body
    assert isinstance(body.get("title"), str) and isinstance(body.get("detail"), str), body
    if field is not None:
        assert body.get("field") == field, body
    return body


# --------------------------------------------------------------------------
# Counters


def edges(obj):
    """The state-transition edges a connection's history implies. An active
    connection starts from CLOSED, a passive one from LISTEN (its listener's
    state), as RFC 4022 counts them."""
    prev = "LISTEN" if obj["origin"] == "passive" else "CLOSED"
    out = []
    for h in obj["history"]:
        out.append("%s->%s" % (prev, h["state"]))
        prev = h["state"]
    return out


class Snapshot:
    """GET /v1/stats and the namespace's nstat, now; .delta() later gives
    both sides' differences."""

    def __init__(self, d, ns):
        self.d = d
        self.ns = ns
        self.ours = d.stats()
        self.kernel = ns.nstat()

    def delta(self):
        return Delta(self, Snapshot(self.d, self.ns))


class Delta:
    def __init__(self, a, b):
        self.tcp = {k: b.ours["tcp"][k] - a.ours["tcp"][k] for k in b.ours["tcp"]}
        keys = set(a.ours["transitions"]) | set(b.ours["transitions"])
        self.trans = {k: b.ours["transitions"].get(k, 0) - a.ours["transitions"].get(k, 0)
                      for k in keys}
        self.trans = {k: v for k, v in self.trans.items() if v}
        self.iface = {k: b.ours["interface"][k] - a.ours["interface"][k]
                      for k in b.ours["interface"]}
        self.kernel = {k: b.kernel.get(k, 0) - a.kernel.get(k, 0) for k in b.kernel}
        self.after = b

    def __repr__(self):
        return "ours tcp %s\nours transitions %s\nkernel %s" % (
            json.dumps(self.tcp, sort_keys=True), json.dumps(self.trans, sort_keys=True),
            json.dumps({k: v for k, v in self.kernel.items() if v}, sort_keys=True))

    def check_rfc4022(self):
        """The tcp counters' deltas agree with the transitions' deltas."""
        t = collections.Counter(self.trans)
        assert self.tcp["active_opens"] == t["CLOSED->SYN_SENT"], self
        assert self.tcp["passive_opens"] == t["LISTEN->SYN_RCVD"], self
        assert self.tcp["attempt_fails"] == (t["SYN_SENT->CLOSED"] + t["SYN_RCVD->CLOSED"]
                                             + t["SYN_RCVD->LISTEN"]), self
        assert self.tcp["estab_resets"] == t["ESTABLISHED->CLOSED"] + t["CLOSE_WAIT->CLOSED"], self

    def check_edges(self, *objs):
        """The transitions' deltas are exactly the edges of these
        connections' histories (each connection was created after the
        snapshot and nothing else happened meanwhile)."""
        want = collections.Counter()
        for o in objs:
            want.update(edges(o))
        assert dict(want) == self.trans, "expected transitions %s\n%s" % (dict(want), self)
        self.check_rfc4022()


# --------------------------------------------------------------------------
# Getting there


def established_active(d, peer, **kw):
    """lwIP opens to the kernel's peer.py; returns the ESTABLISHED object."""
    obj = d.open_conn(**kw)
    assert obj["origin"] == "active", obj
    obj = d.wait_state(obj["id"], "ESTABLISHED")
    peer.wait_event("ACCEPT", lwip_end(obj))
    return obj


def find_passive(d, kport, lid=None):
    """The passive connection whose remote end is the kernel's port kport."""
    def found():
        for c in d.conns():
            if c["origin"] == "passive" and c["remote"] == {"ip": KERNEL_IP, "port": kport}:
                return c
        return None
    obj = wait_for(found, "a passive connection from %s:%d" % (KERNEL_IP, kport))
    if lid is not None:
        assert obj["listener_id"] == lid, obj
    return obj


def established_passive(d, ns, port, lid=None):
    """The kernel connects to lwIP's listener on port; returns (kernel
    socket, ESTABLISHED connection object)."""
    s = ns.connect(port)
    obj = find_passive(d, s.getsockname()[1], lid)
    obj = d.wait_state(obj["id"], "ESTABLISHED")
    return s, obj


def kernel_state(ns, obj, remote_port=None):
    """The kernel's ss states for the socket facing obj's local end."""
    local = "%s:%d" % (KERNEL_IP, remote_port or obj["remote"]["port"])
    return ns.ss_find(local, lwip_end(obj))
