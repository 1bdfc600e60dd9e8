"""A table of raw HTTP requests, hostile or careless, each with the exact
status it must get (issue 9). Every answer is checked byte for byte: one
status line, well-formed headers, a body exactly Content-Length long that is
problem+json for an error, nothing sent twice; and /healthz answers after
each request. Raw sockets, so that the framing is what the table says."""

import json
import re
import socket
import time

from helpers import wait_for

H = b"Host: 127.0.0.1\r\n"
JSON = b"Content-Type: application/json\r\n"


def req(method, target, headers=H, body=b"", version=b"HTTP/1.1"):
    """A request with a Content-Length matching body (when there is one)."""
    if body:
        headers += b"Content-Length: %d\r\n" % len(body)
    return b"%s %s %s\r\n%s\r\n%s" % (method, target, version, headers, body)


def get(target, headers=H):
    return req(b"GET", target, headers)


def post(target, body, headers=H + JSON):
    return req(b"POST", target, headers, body)


def chunked(target, body_bytes, headers=H + JSON):
    return b"POST %s HTTP/1.1\r\n%sTransfer-Encoding: chunked\r\n\r\n%s" % (
        target, headers, body_bytes)


MANY_HEADERS = b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
SIXTY_FIVE_HEADERS = b"".join(b"X-H%d: v\r\n" % i for i in range(64))

# (name, raw request, status); 200 rows are the controls the rules must not break.
TABLE = [
    # methods
    ("put-collection", req(b"PUT", b"/v1/connections", H + JSON, b"{}"), 405),
    ("patch-interface", req(b"PATCH", b"/v1/interface", H + JSON, b"{}"), 405),
    ("delete-healthz", req(b"DELETE", b"/healthz"), 405),
    ("options", req(b"OPTIONS", b"/v1/connections"), 405),
    ("trace", req(b"TRACE", b"/healthz"), 405),
    ("unknown-method", req(b"BREW", b"/healthz"), 405),
    ("lowercase-method", req(b"get", b"/healthz"), 405),
    ("method-too-long", req(b"ABCDEFGHIJKLMNOPQ", b"/healthz"), 501),
    ("method-bad-byte", req(b"GE@T", b"/healthz"), 400),
    ("head-on-stream", req(b"HEAD", b"/v1/events"), 405),
    ("post-healthz", req(b"POST", b"/healthz", H + b"Content-Length: 0\r\n"), 405),
    ("delete-collection", req(b"DELETE", b"/v1/connections"), 405),
    ("post-data", post(b"/v1/connections/1/data", b"{}"), 405),
    ("get-send", get(b"/v1/connections/1/send"), 405),
    # paths
    ("root", get(b"/"), 200),          # the lab page
    ("unknown", get(b"/v1/nope"), 404),
    ("leading-zero", get(b"/v1/connections/01"), 404),
    ("double-zero", get(b"/v1/connections/00"), 404),
    ("letters-id", get(b"/v1/connections/abc"), 404),
    ("negative-id", get(b"/v1/connections/-1"), 404),
    ("twenty-digit-id", get(b"/v1/connections/99999999999999999999"), 404),
    ("trailing-slash", get(b"/v1/connections/1/"), 404),
    ("empty-id", get(b"/v1/connections/"), 404),
    ("double-slash", get(b"//healthz"), 404),
    ("healthz-slash", get(b"/healthz/"), 404),
    ("extra-segment", get(b"/v1/connections/1/data/extra"), 404),
    ("encoded-slash", post(b"/v1/connections/47%2Fsend", b'{"data":"x"}'), 404),
    ("encoded-slash-lower", post(b"/v1/connections/47%2fsend", b'{"data":"x"}'), 404),
    ("no-such-connection", get(b"/v1/connections/999"), 404),
    ("uppercase-path", get(b"/HEALTHZ"), 404),
    ("dot-dot", get(b"/v1/../healthz"), 404),
    ("relative-target", get(b"healthz"), 400),
    ("asterisk-target", get(b"*"), 400),
    ("absolute-form", get(b"http://127.0.0.1/healthz"), 400),
    # encodings
    ("escaped-letter", get(b"/heal%74hz"), 200),
    ("escaped-id", get(b"/v1/connections/%31"), 404),
    ("escaped-nul-path", get(b"/healthz%00"), 404),
    ("escaped-nul-query", get(b"/v1/connections?state=%00"), 422),
    ("bad-escape", get(b"/healthz%zz"), 400),
    ("cut-escape", get(b"/healthz%"), 400),
    ("cut-escape-query", get(b"/v1/connections?state=CLOSED%2"), 400),
    ("escaped-slash-after-id", get(b"/v1/connections/1%2f"), 404),
    ("fragment", get(b"/healthz#x"), 400),
    # raw bytes
    ("nul-in-target", get(b"/healthz\x00x"), 400),
    ("nul-in-abort", req(b"DELETE", b"/v1/connections/1?mode=abort\x00x"), 400),
    ("tab-in-target", get(b"/heal\tthz"), 400),
    ("del-in-target", get(b"/healthz\x7f"), 400),
    ("utf8-in-target", get("/v1/é".encode()), 400),
    ("obs-text-header", get(b"/healthz", H + b"X-Foo: \xff\xfe\r\n"), 200),
    ("nul-in-header", get(b"/healthz", H + b"X-Foo: a\x00b\r\n"), 400),
    ("bare-cr-in-header", get(b"/healthz", H + b"X-Foo: a\rb\r\n"), 400),
    ("bare-lf-request-line", b"GET /healthz HTTP/1.1\n" + H + b"\r\n", 400),
    ("bare-lf-header", b"GET /healthz HTTP/1.1\r\nHost: x\n\r\n", 400),
    ("no-colon", get(b"/healthz", H + b"Foo\r\n"), 400),
    ("space-before-colon", get(b"/healthz", b"Host : x\r\n"), 400),
    ("obs-fold", get(b"/healthz", H + b"X-Foo: a\r\n b\r\n"), 400),
    ("empty-header-name", get(b"/healthz", H + b": x\r\n"), 400),
    ("bad-header-name", get(b"/healthz", H + b"X(y): z\r\n"), 400),
    # framing
    ("two-lengths", b"POST /v1/connections HTTP/1.1\r\n" + H + JSON +
     b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ", 400),
    ("length-minus-one", post(b"/v1/connections", b"", H + b"Content-Length: -1\r\n"), 400),
    ("length-huge", post(b"/v1/connections", b"",
                         H + b"Content-Length: 100000000000000000000\r\n"), 413),
    ("length-letters", post(b"/v1/connections", b"", H + b"Content-Length: 12abc\r\n"), 400),
    ("length-list", post(b"/v1/connections", b"", H + b"Content-Length: 1,1\r\n"), 400),
    ("length-empty", post(b"/v1/connections", b"", H + b"Content-Length:\r\n"), 400),
    ("length-and-chunked", chunked(b"/v1/connections", b"2\r\n{}\r\n0\r\n\r\n",
                                   H + b"Content-Length: 2\r\n"), 400),
    ("coding-gzip", b"POST /v1/connections HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: gzip\r\n\r\n", 501),
    ("bad-chunk-size", chunked(b"/v1/connections", b"zz\r\n{}\r\n0\r\n\r\n"), 400),
    ("chunk-without-crlf", chunked(b"/v1/connections", b"2\r\n{}XX0\r\n\r\n"), 400),
    ("chunk-size-nine-digits", chunked(b"/v1/connections", b"000000002\r\n{}\r\n0\r\n\r\n"), 400),
    ("two-codings", chunked(b"/v1/connections", b"0\r\n\r\n",
                            H + b"Transfer-Encoding: chunked\r\n"), 400),
    ("chunked-http10", b"POST /v1/connections HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400),
    ("chunked-expect", chunked(b"/v1/connections", b"",
                               H + b"Expect: 100-continue\r\n"), 417),
    ("expect-other", get(b"/healthz", H + b"Expect: tea\r\n"), 417),
    ("chunked-valid-json", chunked(b"/v1/listeners", b'c\r\n{"port":"x"}\r\n0\r\n\r\n'), 422),
    ("chunked-too-large", chunked(b"/v1/listeners", b"10001\r\n"), 413),
    # versions
    ("http11-without-host", get(b"/healthz", b""), 400),
    ("http10-without-host", req(b"GET", b"/healthz", b"", version=b"HTTP/1.0"), 200),
    ("two-hosts", get(b"/healthz", H + H), 400),
    ("http2-version", req(b"GET", b"/healthz", version=b"HTTP/2.0"), 505),
    ("http09", b"GET /healthz\r\n\r\n", 400),
    ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("http12", req(b"GET", b"/healthz", version=b"HTTP/1.2"), 505),
    ("lowercase-version", req(b"GET", b"/healthz", version=b"http/1.1"), 400),
    ("two-spaces", b"GET /healthz  HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400),
    ("garbage-line", b"hello world\r\n\r\n", 400),
    ("many-empty-lines", b"\r\n" * 5 + get(b"/healthz"), 400),
    ("two-empty-lines", b"\r\n" * 2 + get(b"/healthz"), 200),
    # sizes
    ("url-100k", get(b"/healthz?" + b"a" * 100000), 414),
    ("header-100k", get(b"/healthz", H + b"X-Big: " + b"a" * 100000 + b"\r\n"), 431),
    ("headers-2000", get(b"/healthz", H + MANY_HEADERS), 431),
    ("headers-65", get(b"/healthz", H + SIXTY_FIVE_HEADERS), 431),
    ("body-65537", post(b"/v1/connections", b" " * 65537), 413),
    # types, ranges, duplicates, huge numbers, unicode
    ("array-body", post(b"/v1/connections", b"[]"), 422),
    ("string-ip", post(b"/v1/connections", b'{"remote_ip": 1, "remote_port": 7000}'), 422),
    ("truncated-json", post(b"/v1/connections", b"{"), 400),
    ("text-plain", post(b"/v1/connections", b"x", H + b"Content-Type: text/plain\r\n"), 415),
    ("huge-port", post(b"/v1/connections",
                       b'{"remote_ip": "10.9.0.1", "remote_port": 99999999999999999999999}'), 400),
    ("float-port", post(b"/v1/connections", b'{"remote_ip": "10.9.0.1", "remote_port": 1e3}'),
     422),
    ("fullwidth-digits", post(b"/v1/connections",
                              '{"remote_ip": "１０.9.0.1", "remote_port": 7000}'.encode()), 422),
    ("lone-surrogate", post(b"/v1/connections",
                            b'{"remote_ip": "\\ud800", "remote_port": 7000}'), 400),
    ("duplicate-member", post(b"/v1/connections",
                              b'{"remote_ip": "10.9.0.1", "remote_ip": "10.9.0.1", '
                              b'"remote_port": 7000}'), 400),
    ("duplicate-query", get(b"/v1/connections?state=CLOSED&state=CLOSED"), 422),
    ("timeout-too-long", get(b"/v1/connections/999?wait_for=CLOSED&timeout_ms=60001"), 422),
    ("timeout-huge", get(b"/v1/connections/999?wait_for=CLOSED&timeout_ms=99999999999999999999"),
     422),
    ("accepted-too-many", get(b"/v1/listeners/1?wait_accepted=9007199254740993"), 422),
    ("listen-port-0", post(b"/v1/listeners", b'{"port": 0}'), 422),
    ("listen-port-65536", post(b"/v1/listeners", b'{"port": 65536}'), 422),
    ("peek-bad", get(b"/v1/connections/1/data?peek=1"), 422),
    ("unknown-query", get(b"/healthz?x=1"), 422),
    ("invalid-utf8-body", post(b"/v1/connections", b'{"remote_ip": "\xff", "remote_port": 7000}'),
     400),
    # same origin (issue 13): what a page on another origin, or a rebound DNS name, can send
    ("origin-other", post(b"/v1/listeners", b'{"port": 9300}',
                          H + JSON + b"Origin: http://evil.example\r\n"), 403),
    ("origin-other-port", get(b"/v1/interface", H + b"Origin: http://127.0.0.1:1\r\n"), 403),
    ("origin-null", get(b"/v1/interface", H + b"Origin: null\r\n"), 403),
    ("origin-https", get(b"/v1/interface", H + b"Origin: https://127.0.0.1\r\n"), 403),
    ("origin-same", get(b"/v1/interface", H + b"Origin: http://127.0.0.1\r\n"), 200),
    ("origin-same-case", get(b"/v1/interface", H + b"Origin: HTTP://127.0.0.1\r\n"), 200),
    ("fetch-cross-site", get(b"/v1/interface", H + b"Sec-Fetch-Site: cross-site\r\n"), 403),
    ("fetch-same-site", post(b"/v1/listeners", b'{"port": 9300}',
                             H + JSON + b"Sec-Fetch-Site: same-site\r\n"), 403),
    ("fetch-same-origin", get(b"/v1/interface", H + b"Sec-Fetch-Site: same-origin\r\n"), 200),
    ("fetch-none", get(b"/v1/interface", H + b"Sec-Fetch-Site: none\r\n"), 200),
    ("page-linked-from-elsewhere", get(b"/", H + b"Sec-Fetch-Site: cross-site\r\n"), 200),
    ("host-rebound-name", get(b"/v1/interface", b"Host: evil.example:8080\r\n"), 403),
    ("host-rebound-page", get(b"/", b"Host: rebind.example\r\n"), 403),
    ("host-rebound-healthz", get(b"/healthz", b"Host: x\r\n"), 403),
    ("host-bad-port", get(b"/healthz", b"Host: 127.0.0.1:80a\r\n"), 403),
    ("host-localhost", get(b"/v1/interface", b"Host: LocalHost:8080\r\n"), 200),
    ("host-ipv6", get(b"/healthz", b"Host: [::1]:8080\r\n"), 200),
    ("form-from-other-origin", post(b"/v1/listeners", b'{"port": 9300}',
                                    H + b"Content-Type: application/x-www-form-urlencoded\r\n"
                                    b"Origin: http://evil.example\r\n"), 403),
    ("multipart-json-body", post(b"/v1/listeners", b'{"port": 9300}',
                                 H + b"Content-Type: multipart/form-data; boundary=x\r\n"), 415),
]


def read_one(sock, head_only=False, timeout=4.0):
    """Reads one answer, framed by its Content-Length, and whatever follows
    it until the server closes or keeps quiet for a moment."""
    got = b""
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    while time.monotonic() < deadline:
        if b"\r\n\r\n" in got:
            head, body = got.split(b"\r\n\r\n", 1)
            m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
            if m and len(body) >= (0 if head_only else int(m.group(1))):
                # Anything more (a second answer) shows within a moment.
                sock.settimeout(0.2)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            if sock.gettimeout() == 0.2:
                break
            raise AssertionError("no whole answer within %.0f s; got %r" % (timeout, got[:200]))
        if not chunk:
            break
        got += chunk
    return got


def exchange(port, data, timeout=4.0, first=None):
    """Sends data, after first and its answer on the same connection when
    first is given, and reads data's answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if first is not None:
            sock.sendall(first)
            check_answer(read_one(sock, timeout=timeout), 200)
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_one(sock, data.startswith(b"HEAD "), timeout)
    finally:
        sock.close()


STATUS_LINE = re.compile(rb"^HTTP/1\.1 (\d{3}) [^\r\n]*$")


def parse(raw, head_only=False):
    """Checks one well-formed answer; returns (status, headers, body)."""
    assert b"\r\n\r\n" in raw, "no end of head in %r" % raw[:300]
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    m = STATUS_LINE.match(lines[0])
    assert m, "bad status line %r" % lines[0]
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        assert sep and name and name.strip() == name, "bad header line %r" % line
        key = name.decode().lower()
        assert key not in headers or key == "set-cookie", "header %s twice in %r" % (key, head)
        headers[key] = value.strip().decode("latin-1")
    length = int(headers["content-length"])
    if head_only:
        assert body == b"", body[:100]
    else:
        assert len(body) == length, "body of %d bytes, Content-Length %d: %r" % (
            len(body), length, raw[:400])
    assert not re.search(rb"(^|\n)HTTP/1\.[01] \d{3} ", body), "a second answer: %r" % raw[:400]
    return int(m.group(1)), headers, body


def check_answer(raw, status, head_only=False):
    got, headers, body = parse(raw, head_only)
    assert got == status, "status %d, expected %d: %r" % (got, status, raw[:400])
    ctype = headers.get("content-type", "").split(";")[0].strip()
    if status >= 400:
        assert ctype == "application/problem+json", headers
        if not head_only:
            p = json.loads(body)
            assert p["status"] == status and p["type"].startswith("urn:lwipd:problem:"), p
            assert isinstance(p["title"], str) and isinstance(p["detail"], str), p
    else:
        assert ctype in ("application/json", "text/plain", "text/html"), headers  # html: the lab page


def test_table_has_at_least_80_rows():
    assert len(TABLE) >= 80, len(TABLE)
    assert len({name for name, _, _ in TABLE}) == len(TABLE)


def run_table(lwipd, first):
    failures = []
    for name, data, status in TABLE:
        try:
            check_answer(exchange(lwipd.port, data, first=first), status,
                         data.startswith(b"HEAD "))
        except (AssertionError, ValueError, KeyError, OSError) as e:
            failures.append("%s: %s" % (name, e))
        r = lwipd.get("/healthz", timeout=5)
        assert r.status == 200, "after %s: %r" % (name, r)
    assert lwipd.proc.poll() is None
    assert lwipd.conns() == []
    assert not failures, "\n".join(failures)


def test_every_row_gets_its_exact_status(lwipd):
    run_table(lwipd, None)


def test_every_row_gets_its_exact_status_as_a_second_request(lwipd):
    """Connections stay open between requests, and each request on them
    passes the same checks as the first."""
    run_table(lwipd, get(b"/healthz"))


def test_head_answers_have_no_body(lwipd):
    for target, status in ((b"/healthz", 200), (b"/nope", 404), (b"/v1/connections/01", 404)):
        raw = exchange(lwipd.port, req(b"HEAD", target))
        check_answer(raw, status, head_only=True)


def test_garbage_is_answered_at_once(lwipd):
    """A garbage request line gets its 400 without waiting for more bytes."""
    sock = socket.create_connection(("127.0.0.1", lwipd.port), timeout=3)
    with sock:
        sock.sendall(b"\x00\x01garbage")     # no line end: the first byte is enough
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) == 0:
            chunk = sock.recv(4096)
            assert chunk, raw
            raw += chunk
    check_answer(raw, 400)


def test_pipelined_requests_pass_the_gate_too(lwipd):
    """A bad request sent right behind a good one, before its answer, gets
    its own 400 after the good one's 200, and the connection closes."""
    sock = socket.create_connection(("127.0.0.1", lwipd.port), timeout=4)
    with sock:
        sock.sendall(get(b"/healthz") + get(b"/healthz\x00x") + get(b"/healthz"))
        raw = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    first, second = raw.split(b"HTTP/1.1 ", 2)[1:]
    check_answer(b"HTTP/1.1 " + first, 200)
    check_answer(b"HTTP/1.1 " + second, 400)


def test_keep_alive_serves_many_requests_on_one_connection(lwipd):
    """Ten requests on one TCP connection: each answered, none closing it."""
    sock = socket.create_connection(("127.0.0.1", lwipd.port), timeout=4)
    with sock:
        local = sock.getsockname()
        for _ in range(10):
            sock.sendall(get(b"/v1/interface"))
            raw = read_one(sock)
            check_answer(raw, 200)
            assert b"connection: close" not in raw.lower(), raw[:300]
        assert sock.getsockname() == local
        # Still open: the server has neither closed nor reset it.
        sock.setblocking(False)
        try:
            assert sock.recv(1) != b"", "the server closed the connection"
        except BlockingIOError:
            pass


def test_daemon_still_healthy_after_the_table(lwipd):
    for _, data, _ in TABLE:
        try:
            exchange(lwipd.port, data, timeout=4)
        except (AssertionError, OSError):
            pass
    wait_for(lambda: lwipd.get("/healthz").status == 200, "/healthz after the table")
