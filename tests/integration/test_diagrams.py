"""A timeline's diagrams: ?format=svg, a standalone SVG that parses as XML
and that a real browser (Debian's chromium, headless) renders, and
?format=mermaid, a Mermaid sequenceDiagram with one arrow per segment; and
?format= refusing any other rendering."""

import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

import pytest

from kit import full_lifecycle, problem
from timeline_check import get_timeline, segments

CHROMIUM = "/usr/bin/chromium"
SVG_NS = "{http://www.w3.org/2000/svg}"


def test_svg_parses_and_a_browser_renders_it(lwipd, start_peer, tmp_path):
    cid = full_lifecycle(lwipd, lwipd.ns, start_peer)
    r = lwipd.get("/v1/connections/%d/timeline?format=svg" % cid)
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "image/svg+xml; charset=utf-8", r.headers
    root = ET.fromstring(r.body)
    assert root.tag == SVG_NS + "svg", root.tag
    steps = [g.get("data-step") for g in root.iter(SVG_NS + "g") if g.get("class") == "segment"]
    for step in ("handshake-1", "handshake-2", "handshake-3", "teardown-1", "teardown-2",
                 "teardown-3", "teardown-4"):
        assert step in steps, steps
    assert len(steps) == len(segments(get_timeline(lwipd, cid))), steps

    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no chromium at %s" % CHROMIUM)
    svg = tmp_path / "ladder.svg"
    svg.write_bytes(r.body)
    png = tmp_path / "ladder.png"
    profile = tempfile.mkdtemp(prefix="lwipd-chromium-")
    try:
        p = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run",
             "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + profile, "--screenshot=" + str(png),
             "--window-size=900,1400", "file://" + str(svg)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, out


def test_mermaid_has_participants_and_one_arrow_per_segment(lwipd, start_peer):
    cid = full_lifecycle(lwipd, lwipd.ns, start_peer)
    r = lwipd.get("/v1/connections/%d/timeline?format=mermaid" % cid)
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8", r.headers
    lines = r.body.decode("utf-8").splitlines()
    assert lines[0] == "sequenceDiagram", lines[:3]
    conn = get_timeline(lwipd, cid)["connection"]
    assert lines[1].strip() == "participant lwIP as lwIP %s:%d" % (
        conn["local"]["ip"], conn["local"]["port"]), lines[:3]
    assert lines[2].strip() == "participant peer as peer %s:%d" % (
        conn["remote"]["ip"], conn["remote"]["port"]), lines[:3]
    arrows = [l for l in lines if re.match(r"\s*(lwIP|peer)-(>>|x)(peer|lwIP):", l)]
    segs = segments(get_timeline(lwipd, cid))
    assert len(arrows) == len(segs), "\n".join(lines)
    for line, seg in zip(arrows, segs):
        want = "lwIP-" if seg["dir"] == "out" else "peer-"
        assert line.strip().startswith(want), (line, seg)


@pytest.mark.parametrize("fmt", ["png", "SVG", "", "dot"])
def test_other_formats_are_422_naming_format(lwipd, start_peer, fmt):
    obj = lwipd.open_conn(remote_port=7001)
    r = lwipd.get("/v1/connections/%d/timeline?format=%s" % (obj["id"], fmt))
    problem(r, 422, "format")
