"""Limits a user sets and paged lists (issue 12): a daemon started with
--max-connections or --max-listeners (flag or config key) answers one more
with a 503 naming the limit, its value and the flag; GET /v1/connections,
/v1/listeners and /v1/faults page with ?limit=&after= and a Link header to
the next page, which a client follows to see everything exactly once, also
with ?state= and after the connection a page ended on is gone."""

import re

from helpers import PEER_PORT, wait_for
from kit import problem

LINK = re.compile(r'^<(/v1/[a-z]+\?[^>]*)>; rel="next"$')


def follow(daemon, path, key):
    """Every page from path on, following Link: (items, pages, the paths asked)."""
    items, paths = [], []
    while path is not None:
        r = daemon.get(path)
        assert r.status == 200, (path, r)
        paths.append(path)
        items += r.json()[key]
        link = r.headers.get("Link")
        if link is None:
            path = None
        else:
            m = LINK.match(link)
            assert m, link
            path = m.group(1)
        assert len(paths) < 100, paths
    return items, paths


def limit_problem(r, limit, value):
    body = problem(r, 503)
    assert body["limit"] == limit and body["value"] == value, body
    assert "--" + limit in body["detail"] and str(value) in body["detail"], body
    return body


def test_the_connection_limit_names_its_flag(netns, start_daemon, start_peer):
    d = start_daemon(netns, "--max-connections", "3")
    start_peer(netns, PEER_PORT, "hold")
    ids = [d.open_conn()["id"] for _ in range(3)]
    body = limit_problem(d.post("/v1/connections", {"remote_ip": "10.9.0.1",
                                                    "remote_port": PEER_PORT}),
                         "max-connections", 3)
    assert body["detail"] == ("connection limit reached: 3 live connections; "
                              "raise it with --max-connections"), body
    # A closed connection no longer counts.
    assert d.delete("/v1/connections/%d?mode=abort" % ids[0]).status in (200, 202)
    d.wait_state(ids[0], "CLOSED")
    d.open_conn()


def test_the_listener_limit_names_its_flag(netns, start_daemon):
    d = start_daemon(netns, "--max-listeners", "2")
    d.listen(9000)
    d.listen(9001)
    limit_problem(d.post("/v1/listeners", {"port": 9002}), "max-listeners", 2)


def test_limits_are_config_keys(netns, start_daemon, start_peer, tmp_path):
    start_peer(netns, PEER_PORT, "hold")
    path = tmp_path / "lwipd.conf"
    path.write_text("# limits\nmax_listeners = 1\nmax-connections = 2\n")
    d = start_daemon(netns, "--config", str(path))
    d.listen(9000)
    limit_problem(d.post("/v1/listeners", {"port": 9001}), "max-listeners", 1)
    d.open_conn()
    d.open_conn()
    limit_problem(d.post("/v1/connections", {"remote_ip": "10.9.0.1", "remote_port": PEER_PORT}),
                  "max-connections", 2)


def test_pages_follow_link_to_every_connection_once(netns, start_daemon, start_peer):
    d = start_daemon(netns, "--retain-closed", "0")
    start_peer(netns, PEER_PORT, "hold")
    ids = [d.open_conn()["id"] for _ in range(25)]
    for cid in ids:
        d.wait_state(cid, "ESTABLISHED")

    conns, paths = follow(d, "/v1/connections?limit=10", "connections")
    assert [c["id"] for c in conns] == ids
    assert len(paths) == 3, paths
    assert paths[1] == "/v1/connections?limit=10&after=%d" % ids[9], paths
    # No Link when everything fits.
    r = d.get("/v1/connections?limit=25")
    assert r.status == 200 and "Link" not in r.headers, r.headers
    assert [c["id"] for c in r.json()["connections"]] == ids
    # The default page holds them all.
    assert [c["id"] for c in d.conns()] == ids

    # The filter stays in the links; closed ones are left out.
    for cid in ids[::5]:
        assert d.delete("/v1/connections/%d?mode=abort" % cid).status in (200, 202)
    established = [cid for cid in ids if cid not in ids[::5]]
    conns, paths = follow(d, "/v1/connections?state=ESTABLISHED&limit=7", "connections")
    assert [c["id"] for c in conns] == established
    assert all(p.startswith("/v1/connections?state=ESTABLISHED&limit=7") for p in paths), paths
    assert {c["state"] for c in conns} == {"ESTABLISHED"}

    # A page resumes after a connection that is gone (aborted, not retained).
    r = d.get("/v1/connections?limit=10")
    last = r.json()["connections"][-1]["id"]
    next_path = LINK.match(r.headers["Link"]).group(1)
    assert d.delete("/v1/connections/%d?mode=abort" % last).status in (200, 202)
    wait_for(lambda: d.get("/v1/connections/%d" % last).status == 404, "the aborted record to go")
    rest, _ = follow(d, next_path, "connections")
    assert [c["id"] for c in rest] == [cid for cid in established if cid > last]


def test_listeners_and_faults_page(lwipd):
    lids = [lwipd.listen(9000 + i)["id"] for i in range(5)]
    listeners, paths = follow(lwipd, "/v1/listeners?limit=2", "listeners")
    assert [x["id"] for x in listeners] == lids and len(paths) == 3, paths
    for _ in range(3):
        assert lwipd.post("/v1/faults", {"dir": "in", "action": "drop", "count": 1}).status == 201
    faults, paths = follow(lwipd, "/v1/faults?limit=2", "faults")
    assert [f["id"] for f in faults] == [1, 2, 3] and len(paths) == 2, paths
    assert lwipd.get("/v1/faults?after=3").json()["faults"] == []


def test_bad_limit_and_after_name_the_parameter(lwipd):
    for path in ("/v1/connections?limit=0", "/v1/connections?limit=10001",
                 "/v1/listeners?limit=x", "/v1/faults?limit=", "/v1/connections?state=LISTEN&limit=-1"):
        problem(lwipd.get(path), 422, "limit")
    for path in ("/v1/connections?after=x", "/v1/listeners?after=-1", "/v1/faults?after=1.5"):
        problem(lwipd.get(path), 422, "after")
    problem(lwipd.get("/v1/connections?limit=1&limit=2"), 422, "limit")
