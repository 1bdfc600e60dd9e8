"""A real Server-Sent Events client for GET /v1/events, and a reader of
/metrics, for lwipd's integration tests.

SSEClient opens one HTTP/1.1 request on a plain socket and reads the
stream on a thread of its own (http.client undoes the chunked encoding),
keeping every event it parsed; the test polls what arrived with bounded
waits.
"""

import http.client
import json
import socket
import threading

from helpers import DEADLINE, wait_for


class Event:
    def __init__(self, eid, kind, data):
        self.id = eid          # the `id:` line, as an int (None when absent)
        self.kind = kind       # the `event:` line ("message" when absent)
        self.data = data       # the `data:` lines, parsed as JSON

    def key(self):
        return (self.id, self.kind, json.dumps(self.data, sort_keys=True))

    def __repr__(self):
        return "<%s %s %s>" % (self.id, self.kind, json.dumps(self.data, sort_keys=True))


class SSEClient:
    def __init__(self, port, path="/v1/events", last_event_id=None):
        self.port = port
        self.path = path
        self.events = []
        self.problems = []          # lines that broke the SSE or JSON rules
        self.status = None
        self.headers = None
        self.closed = False         # the server ended the stream
        self.error = None
        self._lock = threading.Lock()
        self._stop = False
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        extra = "Last-Event-ID: %s\r\n" % last_event_id if last_event_id is not None else ""
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                           "Accept: text/event-stream\r\n%s\r\n" % (path, port, extra)).encode())
        self.sock.settimeout(None)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # Reading ---------------------------------------------------------------

    def _run(self):
        try:
            resp = http.client.HTTPResponse(self.sock, method="GET")
            resp.begin()
            self.headers = resp.headers
            self.status = resp.status
            eid, kind, data = None, None, []
            while not self._stop:
                raw = resp.readline()
                if not raw:
                    break
                line = raw.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if data or kind is not None or eid is not None:
                        self._dispatch(eid, kind, data)
                    eid, kind, data = None, None, []
                    continue
                if line.startswith(":"):
                    continue            # a comment (keep-alive)
                field, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if field == "id":
                    eid = value
                elif field == "event":
                    kind = value
                elif field == "data":
                    data.append(value)
                elif field != "retry":
                    self._problem("unknown field: %r" % line)
        except Exception as e:  # noqa: BLE001 - kept for the test to report
            if not self._stop:
                self.error = e
        finally:
            self.closed = True

    def _problem(self, what):
        with self._lock:
            self.problems.append(what)

    def _dispatch(self, eid, kind, data):
        try:
            parsed = json.loads("\n".join(data))
        except ValueError:
            self._problem("data is not JSON: %r" % data)
            parsed = None
        try:
            num = int(eid) if eid is not None else None
        except ValueError:
            self._problem("id is not a number: %r" % eid)
            num = None
        with self._lock:
            self.events.append(Event(num, kind or "message", parsed))

    # For the test -----------------------------------------------------------

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def snapshot(self):
        with self._lock:
            return list(self.events)

    def wait_open(self, timeout=DEADLINE):
        """Waits for the response head; returns the status."""
        wait_for(lambda: self.status is not None or self.closed,
                 "the event stream's response head", timeout)
        assert self.status is not None, "the event stream ended before its head: %r" % self.error
        return self.status

    def wait(self, predicate, what, timeout=DEADLINE):
        """Waits until predicate(events) holds; returns the events."""
        last = {}

        def ok():
            last["ev"] = self.snapshot()
            if predicate(last["ev"]):
                return True
            if self.closed:
                raise AssertionError("the event stream ended (%r) while waiting for %s; "
                                     "events: %s" % (self.error, what, last["ev"][-20:]))
            return False
        wait_for(ok, lambda: "%s; last events: %s" % (what, last.get("ev", [])[-20:]), timeout)
        return last["ev"]

    def close(self):
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(timeout=DEADLINE)


def state_chain(events, cid):
    """(from, to, cause) of each state event of connection cid, in order."""
    return [(e.data["from"], e.data["to"], e.data["cause"]) for e in events
            if e.kind == "state" and e.data["id"] == cid]


# ----------------------------------------------------------------------------
# /metrics


def scrape(d):
    """GET /metrics -> (families by name, the raw text), parsed with
    python3-prometheus-client's parser."""
    from prometheus_client.parser import text_string_to_metric_families
    r = d.get("/metrics")
    assert r.status == 200, r
    text = r.body.decode("utf-8")
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    return fams, text, r


def sample_value(fams, family, sample_name=None, **labels):
    """The value of one sample (labels matched exactly on the given keys),
    or None when there is none."""
    f = fams.get(family)
    if f is None:
        return None
    name = sample_name or (family + "_total" if f.type == "counter" else family)
    for s in f.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None
