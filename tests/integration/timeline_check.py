"""Checks of a connection's timeline (GET /v1/connections/{id}/timeline)
against a packet capture of the same connection, and of its ladder text
(?format=text). Shared by test_timeline.py."""

import re

from helpers import LWIP_IP
from wire import describe

M32 = 2 ** 32

# Scapy's flag letters, in the order the API writes flag names.
FLAG_ORDER = (("S", "SYN"), ("F", "FIN"), ("R", "RST"), ("P", "PSH"), ("A", "ACK"),
              ("U", "URG"), ("E", "ECE"), ("C", "CWR"))

SEGMENT_KEYS = {"kind", "at_us", "dir", "flags", "seq", "ack", "rel_seq", "rel_ack", "len",
                "wnd", "state_before", "state_after", "step"}
STATE_KEYS = {"kind", "at_us", "from", "to", "cause"}
STEPS = {"handshake-1", "handshake-2", "handshake-3", "teardown-1", "teardown-2",
         "teardown-3", "teardown-4", "data", "ack", "rst", "retransmit", None}
STATES = {"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
          "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"}


def wire_flags(seg):
    """A captured segment's flags as the API writes them: "SYN,ACK"."""
    return ",".join(name for letter, name in FLAG_ORDER if letter in seg.flags)


def get_timeline(d, cid, query=""):
    r = d.get("/v1/connections/%s/timeline%s" % (cid, query))
    assert r.status == 200, "GET /v1/connections/%s/timeline%s -> %r" % (cid, query, r)
    assert r.content_type == "application/json", r
    tl = r.json()
    assert set(tl) >= {"connection", "events", "dropped"}, tl
    assert tl["connection"]["id"] == int(cid), tl["connection"]
    assert isinstance(tl["dropped"], int) and tl["dropped"] >= 0, tl["dropped"]
    check_shapes(tl)
    return tl


def is_uint(v, bits=32):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** bits


def check_shapes(tl):
    """Every event has the contract's fields and types, in time order."""
    last = -1
    for e in tl["events"]:
        assert e.get("kind") in ("segment", "state"), e
        assert is_uint(e["at_us"], 64), e
        assert e["at_us"] >= last, "events not in time order: %s" % tl["events"]
        last = e["at_us"]
        if e["kind"] == "segment":
            assert set(e) >= SEGMENT_KEYS, e
            assert e["dir"] in ("out", "in"), e
            names = e["flags"].split(",") if e["flags"] else []
            order = [n for _, n in FLAG_ORDER]
            assert all(n in order for n in names), e
            assert names == sorted(names, key=order.index), "flags out of order: %s" % e
            for k in ("seq", "ack", "len", "wnd"):
                assert is_uint(e[k]), e
            assert e["wnd"] < 65536, e
            for k in ("rel_seq", "rel_ack"):
                assert e[k] is None or is_uint(e[k]), e
            assert e["state_before"] in STATES and e["state_after"] in STATES, e
            assert e["step"] in STEPS, e
        else:
            assert set(e) >= STATE_KEYS, e
            assert e["from"] in STATES and e["to"] in STATES and e["from"] != e["to"], e
            assert isinstance(e["cause"], str) and e["cause"], e


def segments(tl):
    return [e for e in tl["events"] if e["kind"] == "segment"]


def state_events(tl):
    return [e for e in tl["events"] if e["kind"] == "state"]


def describe_events(events):
    out = []
    for e in events:
        if e["kind"] == "segment":
            out.append("%s %-3s %-12s seq=%d ack=%d rel=%s/%s len=%d wnd=%d %s->%s %s" % (
                e["at_us"], e["dir"], e["flags"], e["seq"], e["ack"], e["rel_seq"], e["rel_ack"],
                e["len"], e["wnd"], e["state_before"], e["state_after"], e["step"]))
        else:
            out.append("%s state %s->%s (%s)" % (e["at_us"], e["from"], e["to"], e["cause"]))
    return "\n".join(out) or "(no events)"


def transitions(history, initial):
    """(from, to, cause) of each state change in a connection's history."""
    out = []
    prev = initial
    for h in history:
        out.append((prev, h["state"], h["cause"]))
        prev = h["state"]
    return out


def assert_matches_capture(tl_segs, cap_segs):
    """The timeline's segments are the captured ones: same count, same
    order, and per segment the same direction, flags, seq, ack, length and
    window."""
    why = "timeline:\n%s\ncapture:\n%s" % (describe_events(tl_segs), describe(cap_segs))
    assert len(tl_segs) == len(cap_segs), "%d segments in the timeline, %d on the wire\n%s" % (
        len(tl_segs), len(cap_segs), why)
    for i, (e, s) in enumerate(zip(tl_segs, cap_segs)):
        want = {"dir": "out" if s.src == LWIP_IP else "in", "flags": wire_flags(s),
                "seq": s.seq, "ack": s.ack, "len": s.payload, "wnd": s.window}
        got = {k: e[k] for k in want}
        assert got == want, "segment %d differs from the wire: %s != %s\n%s" % (i, got, want, why)


def assert_matches_capture_by_direction(tl_segs, cap_segs, end="head"):
    """Like assert_matches_capture, for bulk transfers whose segments cross
    on the wire: lwIP records a peer's segment when it reads it, which can
    be after it wrote segments of its own that the capture (on the kernel's
    side of the TAP) shows after that peer segment. Each direction's
    segments must still match the wire in order. With end="head" the
    timeline's segments are compared with the first ones captured in each
    direction, with end="tail" with the last ones."""
    for direction, src in (("out", LWIP_IP), ("in", None)):
        mine = [e for e in tl_segs if e["dir"] == direction]
        wire = [s for s in cap_segs if (s.src == LWIP_IP) == (src is not None)]
        part = wire[:len(mine)] if end == "head" else wire[len(wire) - len(mine):]
        assert_matches_capture(mine, part)


def assert_relative(tl_segs, iss, irs):
    """rel_seq/rel_ack are seq/ack relative to the sender's and the
    receiver's initial sequence numbers; rel_ack is null without ACK."""
    for e in tl_segs:
        mine, theirs = (iss, irs) if e["dir"] == "out" else (irs, iss)
        assert e["rel_seq"] == (e["seq"] - mine) % M32, (e, iss, irs)
        if "ACK" in e["flags"].split(","):
            assert e["rel_ack"] == (e["ack"] - theirs) % M32, (e, iss, irs)
        else:
            assert e["rel_ack"] is None, e


def _after(a, b):
    return a != b and (a - b) % M32 < 2 ** 31


def expected_steps(segs):
    """The step each captured segment should carry, worked out from the
    wire alone (see the issue's definitions)."""
    steps = []
    sent_end = {}
    hs = {}
    fin1 = fin2 = None
    td = set()
    for s in segs:
        out = s.src == LWIP_IP
        f = s.flags
        occupies = s.payload + ("S" in f) + ("F" in f)
        end = (s.seq + occupies) % M32
        step = None
        if "R" in f:
            step = "rst"
        elif occupies and out in sent_end and not _after(end, sent_end[out]):
            step = "retransmit"
        elif "S" in f and "A" not in f and 1 not in hs:
            step, hs[1] = "handshake-1", s
        elif "S" in f and "A" in f and 2 not in hs:
            step, hs[2] = "handshake-2", s
        elif (2 in hs and 3 not in hs and (s.src == hs[1].src) and "A" in f and not occupies
              and s.ack == (hs[2].seq + 1) % M32):
            step, hs[3] = "handshake-3", s
        elif "F" in f and fin1 is None:
            step, fin1 = "teardown-1", (out, end)
        elif fin1 is not None and out != fin1[0] and "F" in f and fin2 is None:
            step, fin2 = "teardown-3", (out, end)
            # A three-segment close: this FIN also acknowledges the first.
            if "A" in f and 2 not in td and not _after(fin1[1], s.ack):
                step = "teardown-2+3"
                td.add(2)
        elif (fin1 is not None and out != fin1[0] and fin2 is None and "A" in f and not occupies
              and s.ack == fin1[1] and 2 not in td):
            step = "teardown-2"
            td.add(2)
        elif (fin2 is not None and out == fin1[0] and "A" in f and not occupies
              and s.ack == fin2[1] and 4 not in td):
            step = "teardown-4"
            td.add(4)
        elif s.payload:
            step = "data"
        elif "A" in f:
            step = "ack"
        if occupies:
            if out not in sent_end or _after(end, sent_end[out]):
                sent_end[out] = end
        steps.append(step)
    return steps


# ----------------------------------------------------------------------------
# The ladder

RIGHT = re.compile(r"-{2,}>")
LEFT = re.compile(r"<-{2,}")


def state_in(state, line):
    return state in line or state.replace("_", "-") in line


def assert_ladder(text, tl):
    """?format=text: at most 80 columns; one arrow row per segment, in order,
    pointing right for lwIP's segments and left for the peer's, carrying
    the flags, the relative seq/ack and lwIP's state; handshake and teardown
    steps labelled."""
    lines = text.split("\n")
    for n, line in enumerate(lines):
        assert "\t" not in line, "tab in ladder line %d: %r" % (n + 1, line)
        assert len(line) <= 80, "ladder line %d is %d columns:\n%s\n\n%s" % (
            n + 1, len(line), line, text)
    rows = [line for line in lines if RIGHT.search(line) or LEFT.search(line)]
    segs = segments(tl)
    assert len(rows) == len(segs), "%d arrow rows for %d segments:\n%s\n%s" % (
        len(rows), len(segs), text, describe_events(segs))
    for row, e in zip(rows, segs):
        why = "row %r for segment %s\n%s" % (row, describe_events([e]), text)
        if e["dir"] == "out":
            assert RIGHT.search(row) and not LEFT.search(row), why
        else:
            assert LEFT.search(row) and not RIGHT.search(row), why
        for name in e["flags"].split(","):
            assert re.search(r"\b%s\b" % name, row), why
        # Whole numbers, not the parts of a time such as "0.412".
        numbers = re.findall(r"(?<![\d.])\d+(?![\d.])", row)
        if e["rel_seq"] is not None:
            assert str(e["rel_seq"]) in numbers, why
        if e["rel_ack"] is not None:
            assert str(e["rel_ack"]) in numbers, why
        assert state_in(e["state_after"], row) or state_in(e["state_before"], row), why
        if e["step"] and e["step"].startswith(("handshake", "teardown")):
            assert e["step"] in row, why
    return rows
