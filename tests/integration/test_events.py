"""The live event stream (GET /v1/events, Server-Sent Events), read by a
real client while connections open and close: every state transition of
every connection once and in order, with increasing ids; connection and
listener events; the ?connection= filter; Last-Event-ID replay; and slow
clients dropped and counted without holding up the stack."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import LWIP_IP, PEER_PORT, wait_for
from kit import lwip_end
from sse import SSEClient, sample_value, scrape, state_chain
from timeline_check import transitions

LISTEN_PORT = 9000
STATE_KEYS = {"id", "from", "to", "cause", "at_us"}
CONN_KEYS = {"id", "action", "origin", "at_us"}
LISTENER_KEYS = {"id", "action", "port", "at_us"}


def open_stream(d, query="", last_event_id=None, clients=None):
    c = SSEClient(d.port, "/v1/events" + query, last_event_id)
    if clients is not None:
        clients.append(c)
    assert c.wait_open() == 200, (c.status, c.headers)
    assert c.content_type == "text/event-stream", c.headers
    return c


def check_events(events):
    """The stream's rules: numbered, strictly increasing ids; known event
    names with the contract's fields."""
    ids = [e.id for e in events]
    assert all(isinstance(i, int) for i in ids), events
    assert all(a < b for a, b in zip(ids, ids[1:])), "ids not increasing: %s" % ids
    for e in events:
        assert e.kind in ("state", "connection", "listener"), e
        assert isinstance(e.data, dict), e
        want = {"state": STATE_KEYS, "connection": CONN_KEYS, "listener": LISTENER_KEYS}[e.kind]
        assert set(e.data) >= want, e
        assert isinstance(e.data["at_us"], int) and e.data["at_us"] >= 0, e
        if e.kind != "state":
            assert e.data["action"] in ("created", "removed"), e


def closed_seen(cids):
    def pred(events):
        done = {e.data["id"] for e in events if e.kind == "state" and e.data["to"] == "CLOSED"}
        return set(cids) <= done
    return pred


def history_transitions(obj):
    return transitions(obj["history"], "CLOSED" if obj["origin"] == "active" else "LISTEN")


def test_every_transition_arrives_once_in_order(lwipd, start_peer, start_kclient):
    d, ns = lwipd, lwipd.ns
    clients = []
    try:
        stream = open_stream(d, clients=clients)
        peer = start_peer(ns, PEER_PORT, "hold")
        r = d.post("/v1/listeners", {"port": LISTEN_PORT, "backlog": 16})
        assert r.status == 201, r
        lid = r.json()["id"]

        # Opens at once: six active, two refused, three passive.
        with ThreadPoolExecutor(8) as pool:
            active = list(pool.map(lambda _: d.open_conn(), range(6)))
            refused = list(pool.map(lambda _: d.open_conn(remote_port=7001), range(2)))
            kclients = list(pool.map(lambda _: start_kclient(ns, LWIP_IP, LISTEN_PORT), range(3)))
        r = d.get("/v1/listeners/%d?wait_accepted=3" % lid)
        assert r.status == 200, r
        for o in active:
            d.wait_state(o["id"], "ESTABLISHED")
        for o in refused:
            d.wait_state(o["id"], "CLOSED")
        by_port = {c["remote"]["port"]: c for c in d.conns() if c["origin"] == "passive"}
        passive = [by_port[k.local_port] for k in kclients]
        for o in passive:
            d.wait_state(o["id"], "ESTABLISHED")

        # Closes, several at a time: lwIP first, the peer first, an abort.
        with ThreadPoolExecutor(8) as pool:
            rs = list(pool.map(lambda o: d.delete("/v1/connections/%d" % o["id"]),
                               active[:3] + passive[:1]))
            rs.append(d.delete("/v1/connections/%d?mode=abort" % passive[1]["id"]))
        assert all(r.status == 202 for r in rs), rs
        for o in active[:3] + passive[:1]:
            d.wait_state(o["id"], "FIN_WAIT_2")
        peer.close_all()
        kclients[0].do("eof", "EOF")
        kclients[0].do("close", "CLOSED")
        kclients[2].do("shutdown", "SHUTDOWN")
        for o in active[3:] + passive[2:]:
            d.wait_state(o["id"], "CLOSE_WAIT")
        with ThreadPoolExecutor(8) as pool:
            rs = list(pool.map(lambda o: d.delete("/v1/connections/%d" % o["id"]),
                               active[3:] + passive[2:]))
        assert all(r.status == 202 for r in rs), rs
        r = d.delete("/v1/listeners/%d" % lid)
        assert r.status == 200, r

        everyone = active + refused + passive
        for o in everyone:
            d.wait_state(o["id"], "CLOSED")
        events = stream.wait(closed_seen([o["id"] for o in everyone]),
                             "every connection's CLOSED on the stream")
        events = stream.wait(lambda ev: any(e.kind == "listener" and e.data["action"] == "removed"
                                            for e in ev), "the listener's removal")
        assert not stream.problems, stream.problems
        check_events(events)

        for o in everyone:
            obj = d.conn(o["id"])
            assert obj["state"] == "CLOSED", obj
            chain = state_chain(events, o["id"])
            assert chain == history_transitions(obj), (o["id"], chain, obj["history"])
            mine = [e for e in events if e.data["id"] == o["id"] and e.kind == "state"]
            times = [e.data["at_us"] for e in mine]
            assert times == sorted(times), mine
            created = [e for e in events if e.kind == "connection" and e.data["id"] == o["id"]]
            assert [(e.data["action"], e.data["origin"]) for e in created] == [
                ("created", obj["origin"])], created
            assert created[0].id < mine[0].id, (created, mine)
        # Nothing about other connections, and none removed (all retained).
        ids = {o["id"] for o in everyone}
        assert {e.data["id"] for e in events if e.kind != "listener"} == ids, events
        listener = [(e.data["id"], e.data["action"], e.data["port"]) for e in events
                    if e.kind == "listener"]
        assert listener == [(lid, "created", LISTEN_PORT), (lid, "removed", LISTEN_PORT)], listener
    finally:
        for c in clients:
            c.close()


def test_removed_when_retention_drops_the_connection(netns, start_daemon, start_peer):
    d = start_daemon(netns, "--retain-closed", "0")
    clients = []
    try:
        stream = open_stream(d, clients=clients)
        peer = start_peer(netns, PEER_PORT, "hold")
        refused = d.open_conn(remote_port=7001)
        obj = d.open_conn()
        d.wait_state(obj["id"], "ESTABLISHED")
        peer.wait_event("ACCEPT", lwip_end(obj))
        r = d.delete("/v1/connections/%d" % obj["id"])
        assert r.status == 202, r
        d.wait_state(obj["id"], "FIN_WAIT_2")
        peer.close_all()
        ids = [refused["id"], obj["id"]]

        def removed(ev):
            return {e.data["id"] for e in ev if e.kind == "connection"
                    and e.data["action"] == "removed"} >= set(ids)
        events = stream.wait(removed, "both connections' removal")
        check_events(events)
        for cid in ids:
            assert d.get("/v1/connections/%d" % cid).status == 404
            mine = [e for e in events if e.data["id"] == cid]
            kinds = [(e.kind, e.data.get("action")) for e in mine]
            assert kinds[0] == ("connection", "created"), mine
            assert kinds[-1] == ("connection", "removed"), mine
            assert mine[-1].data["origin"] == "active", mine
            assert [k for k in kinds[1:-1] if k[0] != "state"] == [], mine
            # Removed only after it closed.
            assert mine[-2].kind == "state" and mine[-2].data["to"] == "CLOSED", mine
        assert state_chain(events, refused["id"]) == [
            ("CLOSED", "SYN_SENT", "api:open"), ("SYN_SENT", "CLOSED", "rx:RST,ACK")]
        assert state_chain(events, obj["id"]) == [
            ("CLOSED", "SYN_SENT", "api:open"),
            ("SYN_SENT", "ESTABLISHED", "rx:SYN,ACK"),
            ("ESTABLISHED", "FIN_WAIT_1", "api:close"),
            ("FIN_WAIT_1", "FIN_WAIT_2", "rx:ACK"),
            ("FIN_WAIT_2", "TIME_WAIT", "rx:FIN,ACK"),
            ("TIME_WAIT", "CLOSED", "timer:2msl")]
    finally:
        for c in clients:
            c.close()


def test_connection_filter(lwipd, start_peer):
    d, ns = lwipd, lwipd.ns
    clients = []
    try:
        everything = open_stream(d, clients=clients)
        peer = start_peer(ns, PEER_PORT, "hold")
        x = d.open_conn()
        y = d.open_conn()
        for o in (x, y):
            d.wait_state(o["id"], "ESTABLISHED")
            peer.wait_event("ACCEPT", lwip_end(d.conn(o["id"])))
        only_x = open_stream(d, "?connection=%d" % x["id"], clients=clients)
        for o in (x, y):
            r = d.delete("/v1/connections/%d" % o["id"])
            assert r.status == 202, r
            d.wait_state(o["id"], "FIN_WAIT_2")
        peer.close_all()
        for o in (x, y):
            d.wait_state(o["id"], "CLOSED")
        full = everything.wait(closed_seen([x["id"], y["id"]]), "both CLOSED on the full stream")
        got = only_x.wait(closed_seen([x["id"]]), "x's CLOSED on the filtered stream")
        check_events(got)
        assert all(e.data["id"] == x["id"] and e.kind != "listener" for e in got), got
        assert state_chain(got, x["id"]) == [
            ("ESTABLISHED", "FIN_WAIT_1", "api:close"),
            ("FIN_WAIT_1", "FIN_WAIT_2", "rx:ACK"),
            ("FIN_WAIT_2", "TIME_WAIT", "rx:FIN,ACK"),
            ("TIME_WAIT", "CLOSED", "timer:2msl")], got
        # The same events, with the same ids, as on the unfiltered stream.
        first = got[0].id
        same = [e.key() for e in full if e.id >= first and e.kind != "listener"
                and e.data["id"] == x["id"]]
        assert [e.key() for e in got] == same, (got, full)
    finally:
        for c in clients:
            c.close()


def test_last_event_id_replays_what_was_missed(lwipd, start_peer):
    d, ns = lwipd, lwipd.ns
    clients = []
    try:
        reference = open_stream(d, clients=clients)
        early = open_stream(d, clients=clients)
        peer = start_peer(ns, PEER_PORT, "hold")

        def cycle():
            """One connection's whole life; returns its id."""
            o = d.open_conn()
            d.wait_state(o["id"], "ESTABLISHED")
            peer.wait_event("ACCEPT", lwip_end(d.conn(o["id"])))
            r = d.delete("/v1/connections/%d?mode=abort" % o["id"])
            assert r.status == 202, r
            return o["id"]

        a = cycle()
        seen = early.wait(closed_seen([a]), "the first connection's CLOSED")
        last = seen[-1].id
        early.close()
        b = cycle()
        c = cycle()
        ref = reference.wait(closed_seen([a, b, c]), "three connections on the reference stream")
        resumed = open_stream(d, last_event_id=last, clients=clients)
        want = [e.key() for e in ref if e.id > last]
        got = resumed.wait(lambda ev: len(ev) >= len(want), "%d replayed events" % len(want))
        assert [e.key() for e in got] == want, (got, ref)
        assert state_chain(got, b) == history_transitions(d.conn(b))
        assert state_chain(got, a) == []
        # And then it goes on live.
        e = cycle()
        ref = reference.wait(closed_seen([e]), "the fourth connection on the reference stream")
        want = [ev.key() for ev in ref if ev.id > last]
        got = resumed.wait(lambda ev: len(ev) >= len(want), "the live events after the replay")
        assert [ev.key() for ev in got] == want
        check_events(got)
    finally:
        for cl in clients:
            cl.close()


def test_slow_client_is_dropped_and_counted(netns, start_daemon, start_peer):
    d = start_daemon(netns, "--retain-closed", "0")
    peer = start_peer(netns, PEER_PORT, "hold")
    clients = []
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        fams, _, _ = scrape(d)
        assert sample_value(fams, "lwipd_sse_clients_dropped") == 0
        reader = open_stream(d, clients=clients)
        # A client that asks for the stream and never reads, with a tiny
        # receive buffer so that the server's writes back up at once, and a
        # small MSS: Linux sizes the server's send buffer from the MSS
        # (64 KiB on loopback would let it take megabytes of events first).
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        slow.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        slow.connect(("127.0.0.1", d.port))
        slow.sendall(("GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % d.port).encode())
        wait_for(lambda: sample_value(scrape(d)[0], "lwipd_sse_clients") == 2,
                 "lwipd_sse_clients to count both clients")

        # Thousands of events: each refused open is created, SYN_SENT,
        # CLOSED and removed. The loop is bounded.
        opened = []
        dropped = 0
        for _ in range(200):
            for _ in range(50):
                opened.append(d.open_conn(remote_port=7001)["id"])
            dropped = sample_value(scrape(d)[0], "lwipd_sse_clients_dropped")
            if dropped:
                break
        assert dropped == 1, "slow client not dropped after %d opens" % len(opened)

        # The stack kept working: more opens complete, requests answer.
        o = d.open_conn()
        d.wait_state(o["id"], "ESTABLISHED")
        peer.wait_event("ACCEPT", lwip_end(d.conn(o["id"])))
        assert d.get("/healthz").status == 200
        wait_for(lambda: sample_value(scrape(d)[0], "lwipd_sse_clients") == 1,
                 "lwipd_sse_clients to drop to the one reader")

        # The server ended the slow client's stream: reading now reaches EOF,
        # after the final chunk of a well-formed chunked body (issue 9).
        slow.settimeout(5)
        deadline = time.monotonic() + 30
        got = bytearray()

        def drained():
            while time.monotonic() < deadline:
                try:
                    chunk = slow.recv(65536)
                except socket.timeout:
                    return False
                if chunk == b"":
                    return True
                got.extend(chunk)
            return False
        wait_for(drained, "the dropped client's stream to end", timeout=60)
        assert got.endswith(b"\r\n0\r\n\r\n"), bytes(got[-200:])

        # The client that reads got everything, in order, exactly once.
        for cid in opened:
            wait_for(lambda: d.get("/v1/connections/%d" % cid).status == 404,
                     "connection %d to be forgotten" % cid)
        events = reader.wait(lambda ev: any(e.kind == "connection" and e.data["action"] ==
                                            "removed" and e.data["id"] == opened[-1] for e in ev),
                             "the last refused connection's removal", timeout=60)
        assert not reader.closed, reader.error
        check_events(events)
        ids = [e.id for e in events]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "gaps in the reader's ids"
        per = {}
        for e in events:
            per.setdefault(e.data["id"], []).append(
                (e.kind, e.data.get("action"), e.data.get("from"), e.data.get("to")))
        for cid in opened:
            assert per[cid] == [("connection", "created", None, None),
                                ("state", None, "CLOSED", "SYN_SENT"),
                                ("state", None, "SYN_SENT", "CLOSED"),
                                ("connection", "removed", None, None)], (cid, per[cid])
        fams, _, _ = scrape(d)
        assert sample_value(fams, "lwipd_sse_clients_dropped") == 1
    finally:
        slow.close()
        for c in clients:
            c.close()


def test_stream_survives_clients_coming_and_going(lwipd, start_peer):
    """Clients that connect and hang up at once leave nothing behind, once
    events flow again; the one that stays gets them."""
    d = lwipd
    clients = []
    try:
        for _ in range(20):
            c = open_stream(d)
            c.close()
        keep = open_stream(d, clients=clients)
        start_peer(d.ns, PEER_PORT, "hold")
        o = d.open_conn()
        d.wait_state(o["id"], "ESTABLISHED")
        keep.wait(lambda ev: ("CLOSED", "SYN_SENT", "api:open") in state_chain(ev, o["id"]),
                  "the new connection's first transition")
        wait_for(lambda: sample_value(scrape(d)[0], "lwipd_sse_clients") == 1,
                 "lwipd_sse_clients to count the one that stayed")
        # A client that hangs up is gone, not dropped for being slow.
        assert sample_value(scrape(d)[0], "lwipd_sse_clients_dropped") == 0
    finally:
        for c in clients:
            c.close()


def test_idle_stream_notices_a_client_that_left(lwipd):
    """With no events at all, the engine's 15 s heartbeat makes the stream
    write a comment, which shows the hung-up client is gone."""
    d = lwipd
    c = open_stream(d)
    wait_for(lambda: sample_value(scrape(d)[0], "lwipd_sse_clients") == 1, "the stream to be counted")
    c.close()
    # Nothing happens on the stack meanwhile: only the heartbeat can tell.
    wait_for(lambda: sample_value(scrape(d)[0], "lwipd_sse_clients") == 0,
             "the gone client to be noticed without any event", timeout=60)
    assert sample_value(scrape(d)[0], "lwipd_sse_clients_dropped") == 0


def test_streams_end_with_their_final_chunk_at_sigterm(netns, start_daemon):
    """SIGTERM ends every event stream cleanly: each client reads the final
    chunk of its chunked body, then the end of the connection. The gate
    passes on what libmicrohttpd wrote last even when the stop's wake-up
    comes before the event of those bytes. Three daemons, four streams each."""
    for _ in range(3):
        d = start_daemon(netns)
        streams = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            s.sendall(("GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % d.port).encode())
            streams.append(s)
        wait_for(lambda: sample_value(scrape(d)[0], "lwipd_sse_clients") == 4,
                 "four event stream clients")
        assert d.terminate() == 0, d.stderr()
        for s in streams:
            got = bytearray()
            with s:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got.extend(chunk)
            assert got.startswith(b"HTTP/1.1 200"), bytes(got[:200])
            assert got.endswith(b"\r\n0\r\n\r\n"), bytes(got[-200:])
