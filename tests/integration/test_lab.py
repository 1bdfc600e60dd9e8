"""The lab page (GET /) in a real browser: headless Chromium, driven by
Selenium through the page's own controls only, against lwipd and the Linux
kernel in a namespace. It opens and closes a connection and watches the
list and the drawn ladder follow; shows the API's error detail; stays
consistent across reloads while connections change; marks a segment a
fault rule dropped; says it is disconnected while the daemon is away and
catches up when it is back. Every test also checks that the browser's console
logged no error, and the lifecycle test saves a screenshot as an
artifact (see artifacts_dir). The page's own headers are checked over plain
HTTP. Later tests share one browser (shared_browser) to keep the run short:
every control of the page, a page on another origin, a refused stream, the
token, and the stream's watchdog."""

import http.server
import json
import os
import re
import shutil
import socket
import threading

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import helpers
from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Headless as root, with nothing reaching out to the network on its own.
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
WEB_DIR = os.path.join(helpers.ROOT, "api", "web")


def artifacts_dir():
    """Where screenshots are copied for CI to keep: artifacts/ beside the
    binary under test (build/artifacts for build/lwipd), or $LWIPD_ARTIFACTS."""
    binary = os.environ.get("LWIPD_BIN") or os.path.join(helpers.ROOT, "build", "lwipd")
    return os.environ.get("LWIPD_ARTIFACTS") or os.path.join(os.path.dirname(binary), "artifacts")


def is_api_answer(entry):
    """A console line Chromium writes for every fetch answered 4xx: the
    API's problem answers that the page shows (the test checks that it
    does). Anything else, a script error above all, is a failure."""
    return (entry.get("source") == "network" and
            re.search(r"/v1/\S* - Failed to load resource: the server responded with a status "
                      r"of 4\d\d", entry.get("message", "")) is not None)


class Lab:
    """The page in a browser, and what the tests ask of it."""

    def __init__(self, driver, daemon):
        self.driver = driver
        self.daemon = daemon
        # A shared browser's lines from earlier tests are not this test's, nor
        # what the page an earlier test left open still fetches from its
        # stopped daemon: that page goes first, then its lines.
        driver.get("about:blank")
        driver.get_log("browser")
        self.console = []

    def open(self, fragment=""):
        self.driver.get(self.daemon.base + "/" + fragment)
        self.wait(lambda: self.find("#link-status").get_attribute("data-state") == "up",
                  "the page to say its event stream is live")

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, predicate, what):
        """Polls predicate; an element replaced while it was read counts as not yet."""
        def attempt():
            try:
                return predicate()
            except StaleElementReferenceException:
                return None
        return wait_for(attempt, what)

    def fill(self, css, text):
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def attributes(self, css, name):
        """name of every element css selects, read in one go: the page may
        redraw between two reads of single elements."""
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]), e => e.getAttribute(arguments[1]))",
            css, name)

    def listed(self):
        """The connection list as the page shows it: {id: state}."""
        pairs = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#connections li[data-id]'),"
            " li => [Number(li.dataset.id), li.dataset.state])")
        return dict(pairs)

    def steps(self):
        return self.attributes("#ladder g.segment", "data-step")

    def lwip_states(self):
        return self.attributes("#ladder .state-label.lwip", "data-state")

    def selected(self):
        m = re.search(r"#/connections/(\d+)$", self.driver.current_url)
        return int(m.group(1)) if m else None

    def open_connection(self, port=PEER_PORT):
        before = self.selected()
        self.fill("#open-form [name=remote_ip]", KERNEL_IP)
        self.fill("#open-form [name=remote_port]", str(port))
        self.find("#open-form button[type=submit]").click()
        return self.wait(lambda: self.selected() if self.selected() != before else None,
                         "the page to show the connection it opened")

    def wait_detail_state(self, state):
        self.wait(lambda: self.find("#conn-title").get_attribute("data-state") == state,
                  lambda: "the connection's view to say %s; it says %s" % (
                      state, self.find("#conn-title").text))

    def screenshot(self, path):
        """The whole page, not only the window: the window grows to the page's height."""
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, min(height + 140, 6000))
        self.driver.save_screenshot(path)
        self.driver.set_window_size(1280, 900)

    def console_errors(self):
        self.console += self.driver.get_log("browser")
        return [e for e in self.console if e.get("level") == "SEVERE" and not is_api_answer(e)]


def chromium(directory):
    """Headless Chromium with a fresh profile in directory, keeping every
    console line and the network log (for the headers of its requests)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument("--user-data-dir=%s" % (directory / "chromium-profile"))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=str(directory / "chromedriver.log")),
                            options=options)


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shared_browser(tmp_path_factory):
    """One browser for the tests that need no fresh profile: each daemon
    has its own port, so its own origin and storage."""
    driver = chromium(tmp_path_factory.mktemp("shared-browser"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def lab(lwipd, browser):
    return Lab(browser, lwipd)


def test_page_headers_and_no_inline_code(lwipd):
    """GET / and its files carry a strict CSP and revalidate by ETag;
    /v1/ and unknown paths stay the API's; the files need no inline code."""
    page = lwipd.get("/")
    assert page.status == 200, page
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    for path, kind in (("/lab.css", "text/css"), ("/lab.js", "text/javascript"),
                       ("/index.html", "text/html; charset=utf-8")):
        r = lwipd.get(path)
        assert r.status == 200 and r.headers["Content-Type"] == kind, (path, r)
    for r in (page, lwipd.request("HEAD", "/lab.js")):
        assert r.headers["Content-Security-Policy"] == CSP
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["Cache-Control"] == "no-cache"
        assert re.fullmatch(r'"[0-9a-f]{32}"', r.headers["ETag"]), r.headers
    head = lwipd.request("HEAD", "/")
    assert head.status == 200 and head.body == b"" and head.headers["ETag"] == page.headers["ETag"]
    again = lwipd.get("/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status == 304 and again.body == b"", again
    assert lwipd.get("/", headers={"If-None-Match": '"other"'}).status == 200
    wrong = lwipd.post("/", {})
    assert wrong.status == 405 and wrong.headers["Allow"] == "GET, HEAD", wrong
    for path in ("/nope", "/v1/", "/v1/lab.js", "/lab.js/"):
        r = lwipd.get(path)
        assert r.status == 404 and r.content_type == "application/problem+json", (path, r)
    with open(os.path.join(WEB_DIR, "index.html"), encoding="utf-8") as f:
        html = f.read()
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, "a script without src"
    assert re.search(r"\s(on\w+|style)=", html) is None, "an inline handler or style"
    assert "<style" not in html


def test_lifecycle_drawn_live(lab, start_peer, tmp_path):
    lwipd = lab.daemon
    start_peer(lwipd.ns, PEER_PORT, "echo")
    lab.open()
    cid = lab.open_connection()

    lab.wait(lambda: lab.listed().get(cid) == "ESTABLISHED", "ESTABLISHED in the list")
    lab.wait_detail_state("ESTABLISHED")
    lab.wait(lambda: {"handshake-1", "handshake-2", "handshake-3"} <= set(lab.steps()),
             lambda: "handshake-1..3 in the ladder; steps drawn: %s" % lab.steps())
    assert "ESTABLISHED" in lab.lwip_states()
    assert lwipd.conn(cid)["state"] == "ESTABLISHED"

    # Data raises no state event: the ladder must grow anyway.
    lab.find("#send-form button[value=data]").click()
    lab.wait(lambda: "data" in lab.steps(), lambda: "a data segment; steps: %s" % lab.steps())

    lab.find("#btn-close").click()
    lab.wait(lambda: lab.listed().get(cid) == "CLOSED", "CLOSED in the list")
    lab.wait_detail_state("CLOSED")
    # The kernel acknowledges lwIP's FIN alone (teardown-2) or with its own (teardown-2+3).
    lab.wait(lambda: {"teardown-1", "teardown-4"} <= set(lab.steps()) and
             ({"teardown-2", "teardown-3", "teardown-2+3"} & set(lab.steps())),
             lambda: "the teardown in the ladder; steps drawn: %s" % lab.steps())
    states = lab.lwip_states()
    assert states[-2:] == ["TIME_WAIT", "CLOSED"], states
    history = lab.driver.execute_script(
        "return Array.from(document.querySelectorAll('#history tbody tr'), r => r.cells[0].textContent)")
    assert history[-2:] == ["TIME_WAIT", "CLOSED"], history
    # The ladder draws every segment the timeline holds, in order.
    timeline = lwipd.get("/v1/connections/%d/timeline" % cid).json()
    lab.wait(lambda: lab.steps() == [e["step"] or "" for e in timeline["events"]
                                     if e["kind"] == "segment"],
             lambda: "the ladder to match the timeline; drawn %s" % lab.steps())

    shot = str(tmp_path / "lab-lifecycle.png")
    lab.screenshot(shot)
    os.makedirs(artifacts_dir(), exist_ok=True)
    shutil.copy(shot, os.path.join(artifacts_dir(), "lab-lifecycle.png"))
    assert lab.console_errors() == []


def test_shared_address_opens_the_connection(lab, start_peer):
    lwipd = lab.daemon
    start_peer(lwipd.ns, PEER_PORT, "hold")
    cid = lwipd.open_conn()["id"]
    lwipd.wait_state(cid, "ESTABLISHED")
    lab.open("#/connections/%d" % cid)
    lab.wait_detail_state("ESTABLISHED")
    lab.wait(lambda: "handshake-3" in lab.steps(), "the ladder of the shared connection")
    assert lab.console_errors() == []


def test_bad_port_shows_the_api_detail(lab):
    lab.open()
    lab.fill("#open-form [name=remote_ip]", KERNEL_IP)
    lab.fill("#open-form [name=remote_port]", "70000")
    lab.find("#open-form button[type=submit]").click()
    expected = lab.daemon.post("/v1/connections", {"remote_ip": KERNEL_IP, "remote_port": 70000})
    assert expected.status == 422, expected
    detail = expected.json()["detail"]
    result = lab.find("#open-form .result")
    lab.wait(lambda: detail in result.text, lambda: "the detail %r; the page says %r" % (
        detail, result.text))
    assert "remote_port" in result.text
    assert lab.daemon.conns() == []
    assert lab.console_errors() == []


def test_reload_while_connections_change(lab, start_peer):
    lwipd = lab.daemon
    start_peer(lwipd.ns, PEER_PORT, "echo")
    lab.open()
    done = threading.Event()
    failures = []

    def churn():
        try:
            for i in range(6):
                cid = lwipd.open_conn()["id"]
                lwipd.wait_state(cid, "ESTABLISHED")
                if i % 3 == 1:
                    lwipd.delete("/v1/connections/%d" % cid)
                elif i % 3 == 2:
                    lwipd.delete("/v1/connections/%d?mode=abort" % cid)
        except AssertionError as e:
            failures.append(e)
        finally:
            done.set()

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        while not done.wait(0.4):
            lab.driver.refresh()
    finally:
        worker.join()
    assert not failures, failures
    lab.wait(lambda: lab.find("#link-status").get_attribute("data-state") == "up", "a live stream")

    def settled():
        api = {c["id"]: c["state"] for c in lwipd.conns()}
        if any(s not in ("ESTABLISHED", "CLOSED") for s in api.values()):
            return None
        return api
    api = wait_for(settled, "every connection to be ESTABLISHED or CLOSED")
    assert len(api) == 6, api
    lab.wait(lambda: lab.listed() == api,
             lambda: "the page's list %s to be the API's %s" % (lab.listed(), api))

    Select(lab.find("#state-filter")).select_by_value("ESTABLISHED")
    established = {k: v for k, v in api.items() if v == "ESTABLISHED"}
    lab.wait(lambda: lab.listed() == established,
             lambda: "only ESTABLISHED listed; listed %s" % lab.listed())
    assert lab.console_errors() == []


def requested_urls(driver):
    """The URLs the page asked for since the last call (Chromium's network log)."""
    urls = []
    for e in driver.get_log("performance"):
        msg = json.loads(e["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def test_lists_follow_the_link_to_the_next_page(lwipd, start_peer, shared_browser):
    """The page reads a list page by page, following each answer's Link:
    with two entries a page, all five connections and three listeners
    are listed."""
    start_peer(lwipd.ns, PEER_PORT, "hold")
    for _ in range(5):
        lwipd.open_conn()
    for port in (9101, 9102, 9103):
        lwipd.listen(port)
    lab = Lab(shared_browser, lwipd)
    lab.open()
    api = wait_for(lambda: (lambda c: c if all(s == "ESTABLISHED" for s in c.values()) else None)(
        {c["id"]: c["state"] for c in lwipd.conns()}), "five ESTABLISHED connections")
    assert len(api) == 5, api
    requested_urls(shared_browser)
    lab.driver.execute_script("listPageSize = 2; resync(); refreshListeners();")
    lab.wait(lambda: lab.listed() == api,
             lambda: "the page's list %s to be the API's %s" % (lab.listed(), api))
    lab.wait(lambda: len(lab.find_all("#listeners li")) == 3,
             lambda: "three listeners listed: %s" % lab.find("#listeners").text)
    urls = requested_urls(shared_browser)
    follow = [u for u in urls if "/v1/connections?" in u and "after=" in u]
    assert len(follow) >= 2, urls       # pages two and three of five connections
    assert any("/v1/listeners?" in u and "after=" in u for u in urls), urls
    assert lab.console_errors() == []


def test_fault_marks_the_lost_final_ack(lab, start_peer):
    lwipd = lab.daemon
    start_peer(lwipd.ns, PEER_PORT, "echo")
    lab.open()
    Select(lab.find("#fault-preset")).select_by_value("lastack")
    lab.find("#fault-form button[type=submit]").click()
    result = lab.find("#fault-form .result")
    lab.wait(lambda: result.text != "", "the answer to the new fault rule")
    assert result.text.startswith("added rule"), result.text
    rules = lwipd.get("/v1/faults").json()["faults"]
    assert len(rules) == 1 and rules[0]["dir"] == "out", rules
    assert rules[0]["match"] == {"step": "teardown-4"} and rules[0]["action"] == "drop", rules
    lab.wait(lambda: len(lab.find_all("#faults li[data-id]")) == 1, "the rule in the page's list")

    cid = lab.open_connection()
    lab.wait_detail_state("ESTABLISHED")
    lab.find("#btn-close").click()
    lab.wait_detail_state("CLOSED")
    lab.wait(lambda: lab.find_all('#ladder g.segment[data-lost="true"][data-step="teardown-4"]'),
             lambda: "the dropped final ACK marked lost; steps %s" % lab.steps())
    for classes in lab.attributes('#ladder g.segment[data-lost="true"]', "class"):
        assert "lost" in classes.split(), classes
    assert lwipd.conn(cid)["state"] == "CLOSED"
    lab.wait(lambda: "applied 1" in lab.find("#faults li[data-id]").text,
             lambda: "the rule's count in the page: %s" % lab.find("#faults").text)
    assert lab.console_errors() == []


def test_disconnected_while_the_daemon_restarts(netns, start_daemon, start_peer, browser):
    port = helpers.free_port()
    first = start_daemon(netns, port=port)
    start_peer(netns, PEER_PORT, "hold")
    lab = Lab(browser, first)
    lab.open()
    old = first.open_conn()["id"]
    lab.wait(lambda: lab.listed().get(old) == "ESTABLISHED", "the first daemon's connection listed")

    assert first.terminate() == 0
    status = lab.find("#link-status")
    lab.wait(lambda: status.get_attribute("data-state") == "down" and
             "disconnected" in status.text, lambda: "the page to say it is disconnected: %r" % status.text)

    second = start_daemon(netns, port=port)
    lab.daemon = second
    lab.wait(lambda: status.get_attribute("data-state") == "up", "the page to reconnect")
    # Ids start again at 1: the page must show the new daemon's #1, aborted, not the old one's.
    gone = second.open_conn()["id"]
    cid = second.open_conn()["id"]
    second.wait_state(cid, "ESTABLISHED")
    second.delete("/v1/connections/%d?mode=abort" % gone)
    expected = {gone: "CLOSED", cid: "ESTABLISHED"}
    assert {c["id"]: c["state"] for c in second.conns()} == expected
    lab.wait(lambda: lab.listed() == expected,
             lambda: "the page's list %s to be the new daemon's %s" % (lab.listed(), expected))
    # While the daemon was stopping (503) or away, fetches were refused; nothing else may have gone wrong.
    errors = [e for e in lab.console_errors() if "net::ERR_CONNECTION_REFUSED" not in e["message"] and
              "status of 503" not in e["message"]]
    assert errors == []


# --------------------------------------------------------------------------
# Every control, live listeners, batches, projector mode (issue 13 audit)


def click(lab, css):
    lab.find(css).click()


def conn_result(lab):
    return lab.find("#conn-result").text


def test_every_control_drives_the_api(netns, start_daemon, start_peer, shared_browser, tmp_path):
    # A long TIME_WAIT, so that Expire has one to end.
    d = start_daemon(netns, msl_ms=20000)
    start_peer(netns, PEER_PORT, "echo")
    lab = Lab(shared_browser, d)
    lab.driver.set_window_size(1024, 800)
    lab.open()

    iface = d.interface()
    lab.wait(lambda: LWIP_IP in lab.find("#interface").text and iface["mac"] in lab.find("#interface").text,
             lambda: "the interface's address and MAC: %r" % lab.find("#interface").text)
    lab.wait(lambda: len(lab.find_all("#iface-counters tbody tr")) >= 3, "the interface's counters")

    # Listen, three kernel connects counted live, unlisten.
    lab.fill("#listen-form [name=port]", "9000")
    click(lab, "#listen-form button[type=submit]")
    lab.wait(lambda: lab.find_all("#listeners li[data-state=LISTEN]"), "the new listener")
    socks = [netns.connect(9000) for _ in range(3)]
    try:
        lid = d.get("/v1/listeners").json()["listeners"][0]["id"]
        wait_for(lambda: d.get("/v1/listeners/%d" % lid).json()["accepted"] == 3, "3 accepted")
        lab.wait(lambda: "accepted 3" in lab.find("#listeners li[data-id]").text,
                 lambda: "accepted 3 without a reload: %r" % lab.find("#listeners").text)
        click(lab, "#listeners li[data-id] button")
        wait_for(lambda: d.get("/v1/listeners/%d" % lid).json().get("state") != "LISTEN", "the unlisten")
        lab.wait(lambda: "closed" in lab.find("#listen-form .result").text, "the unlisten's answer")
    finally:
        for s in socks:
            s.close()

    # Open without a timeline.
    lab.find("#open-form [name=timeline]").click()
    quiet = lab.open_connection()
    d.wait_state(quiet, "ESTABLISHED")
    events = d.get("/v1/connections/%d/timeline" % quiet).json()["events"]
    assert not [e for e in events if e["kind"] == "segment"], events
    lab.find("#open-form [name=timeline]").click()

    # Send text, read it back with and without peek, bytes, base64.
    cid = lab.open_connection()
    lab.wait_detail_state("ESTABLISHED")
    lab.fill("#send-form [name=data]", "hello")
    click(lab, "#send-form button[value=data]")
    wait_for(lambda: d.conn(cid)["recv_buffered"] == 5, "the echo of 5 bytes")
    click(lab, "#read-peek")
    click(lab, "#btn-read")
    lab.wait(lambda: lab.find("#read-output").text == "hello", "the peeked bytes")
    assert d.conn(cid)["recv_buffered"] == 5
    click(lab, "#read-peek")
    click(lab, "#btn-read")
    lab.wait(lambda: "read 5 bytes" in conn_result(lab), lambda: conn_result(lab))
    assert d.conn(cid)["recv_buffered"] == 0
    click(lab, "#send-form button[value=base64]")
    lab.wait(lambda: "queued 4 bytes" in conn_result(lab), lambda: conn_result(lab))
    click(lab, "#send-form button[value=size]")
    lab.wait(lambda: "queued 1000 bytes" in conn_result(lab), lambda: conn_result(lab))
    lab.wait(lambda: len(lab.find_all("#tcb tbody tr")) >= 5, "the TCB")
    assert "bytes" in lab.find("#conn-counters").text
    for name, suffix in (("capture", "/capture"), ("text", "/timeline?format=text"),
                         ("svg", "/timeline?format=svg"), ("mermaid", "/timeline?format=mermaid")):
        href = lab.find("#link-" + name).get_attribute("href")
        assert href == d.base + "/v1/connections/%d%s" % (cid, suffix), href
    click(lab, "#link-text")

    # Shutdown (write): the echo peer closes after EOF, so TIME_WAIT, then Expire.
    Select(lab.find("#shutdown-how")).select_by_value("write")
    click(lab, "#btn-shutdown")
    lab.wait_detail_state("TIME_WAIT")
    click(lab, "#btn-expire")
    lab.wait_detail_state("CLOSED")
    assert d.conn(cid)["history"][-1]["cause"] == "api:expire", d.conn(cid)["history"]

    # Abort.
    rst = lab.open_connection()
    lab.wait_detail_state("ESTABLISHED")
    click(lab, "#btn-abort")
    lab.wait_detail_state("CLOSED")
    assert d.conn(rst)["counters"]["rst_out"] == 1

    # Fault rules: add two, remove one, remove all.
    for preset in ("lastack", "syn"):
        Select(lab.find("#fault-preset")).select_by_value(preset)
        click(lab, "#fault-form button[type=submit]")
        lab.wait(lambda: "added rule" in lab.find("#fault-form .result").text, "the new rule")
        lab.driver.execute_script("document.querySelector('#fault-form .result').textContent = ''")
    lab.wait(lambda: len(lab.find_all("#faults li[data-id]")) == 2, "two rules listed")
    click(lab, "#faults li[data-id] button")
    lab.wait(lambda: len(lab.find_all("#faults li[data-id]")) == 1, "one rule left")
    assert len(d.get("/v1/faults").json()["faults"]) == 1
    click(lab, "#faults-clear")
    lab.wait(lambda: not lab.find_all("#faults li[data-id]"), "no rules left")
    assert d.get("/v1/faults").json()["faults"] == []

    # A batch of 5 through the form.
    lab.fill("#batch-form [name=count]", "5")
    Select(lab.find("#batch-form [name=close]")).select_by_value("abort")
    click(lab, "#batch-form button[type=submit]")
    lab.wait(lambda: lab.find_all("#batches li[data-state=done][data-established='5']"),
             lambda: "the batch done with 5 established: %r" % lab.find("#batches").text)
    assert "established 5" in lab.find("#batches li[data-id]").text

    # Projector mode: large type and dark, a full lifecycle, no sideways scrolling at 1024 px.
    click(lab, "#toggle-large")
    while lab.find("#toggle-theme").text != "Theme: dark":
        click(lab, "#toggle-theme")
    lab.driver.get(d.base + "/#/connections/%d" % cid)
    lab.wait_detail_state("CLOSED")
    lab.wait(lambda: "teardown-1" in lab.steps(), "the lifecycle's ladder")
    look = lab.driver.execute_script(
        "const r = document.documentElement; return [r.dataset.theme, getComputedStyle(r).fontSize,"
        " r.scrollWidth, r.clientWidth]")
    assert look[0] == "dark" and look[1] == "22px", look
    assert look[2] <= look[3], "sideways scrolling: scrollWidth %d > clientWidth %d" % (look[2], look[3])
    lab.driver.execute_script("document.getElementById('conn-panel').scrollIntoView()")
    lab.driver.save_screenshot(str(tmp_path / "lab-large-dark.png"))
    os.makedirs(artifacts_dir(), exist_ok=True)
    shutil.copy(str(tmp_path / "lab-large-dark.png"), os.path.join(artifacts_dir(), "lab-large-dark.png"))
    lab.driver.set_window_size(1280, 900)
    assert lab.console_errors() == []


# --------------------------------------------------------------------------
# Same origin, refusals, the token, the watchdog


class OtherOrigin(http.server.BaseHTTPRequestHandler):
    """A page on another origin that tries to write to the API."""
    page = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args):
        pass


def test_a_page_on_another_origin_cannot_write(lwipd, shared_browser):
    api = lwipd.base
    OtherOrigin.page = ("""<!DOCTYPE html><title>evil</title><script>
const tries = [
  ["application/x-www-form-urlencoded", '{"port": 9301}', "no-cors"],
  ["text/plain", '{"port": 9302}', "no-cors"],
  ["multipart/form-data; boundary=x", '{"port": 9303}', "no-cors"],
  ["application/json", '{"port": 9304}', "cors"],
];
Promise.allSettled(tries.map(([type, body, mode]) => fetch("%s/v1/listeners",
  {method: "POST", mode, headers: {"Content-Type": type}, body})))
  .then(() => { document.title = "done"; });
</script>""" % api).encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), OtherOrigin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    shared_browser.get_log("performance")
    try:
        shared_browser.get("http://127.0.0.2:%d/" % server.server_address[1])
        wait_for(lambda: shared_browser.title == "done", "the other origin's fetches to settle")
    finally:
        server.shutdown()
        server.server_close()
    shared_browser.get_log("browser")
    assert lwipd.get("/v1/listeners").json()["listeners"] == []
    # They reached the API, and it refused them.
    statuses = []
    for e in shared_browser.get_log("performance"):
        msg = json.loads(e["message"])["message"]
        if msg["method"] == "Network.responseReceived" and \
                msg["params"]["response"]["url"] == api + "/v1/listeners":
            statuses.append(msg["params"]["response"]["status"])
    assert statuses and all(s == 403 for s in statuses), statuses


def test_a_refused_stream_shows_why_and_the_lists_still_fill(netns, start_daemon, start_peer,
                                                            shared_browser):
    d = start_daemon(netns, "--max-event-streams", "1")
    start_peer(netns, PEER_PORT, "hold")
    cid = d.open_conn()["id"]
    holder = socket.create_connection(("127.0.0.1", d.port))
    try:
        holder.sendall(("GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % d.port).encode())
        holder.settimeout(5)
        assert holder.recv(64).startswith(b"HTTP/1.1 200")
        refused = d.get("/v1/events", timeout=5)
        assert refused.status == 503, refused
        detail = refused.json()["detail"]
        lab = Lab(shared_browser, d)
        lab.driver.get(d.base + "/")
        status = lab.find("#link-status")
        lab.wait(lambda: detail in status.text and status.get_attribute("data-state") == "down",
                 lambda: "the refusal's detail %r; the page says %r" % (detail, status.text))
        lab.wait(lambda: cid in lab.listed(), "the list filled although the stream is refused")
    finally:
        holder.close()
    lab.wait(lambda: status.get_attribute("data-state") == "up", "the stream once the slot is free")
    errors = [e for e in lab.console_errors() if "/v1/events - Failed to load resource" not in e["message"]]
    assert errors == []


def test_the_page_asks_for_the_token(netns, start_daemon, start_peer, shared_browser, tmp_path):
    token = "lab-token-0123456789abcdef"
    (tmp_path / "token").write_text(token + "\n")
    d = start_daemon(netns, "--api-token-file", str(tmp_path / "token"))
    start_peer(netns, PEER_PORT, "hold")
    for path in ("/", "/lab.js", "/auth.js", "/stream.js"):
        assert d.get(path).status == 200, path
    assert d.get("/v1/interface").status == 401
    lab = Lab(shared_browser, d)
    lab.driver.get(d.base + "/")
    alert = lab.find("#page-alert")
    lab.wait(lambda: "401" in alert.text and "--api-token-file" in alert.text,
             lambda: "the 401's detail in the alert line: %r" % alert.text)
    assert "401" in lab.find("#link-status").text
    lab.fill("#token-form [name=token]", token)
    click(lab, "#token-form button[type=submit]")
    lab.wait(lambda: lab.find("#link-status").get_attribute("data-state") == "up", "the stream with the token")
    cid = lab.open_connection()
    lab.wait(lambda: lab.listed().get(cid) == "ESTABLISHED", "ESTABLISHED through the token")
    lab.wait(lambda: lab.find("#page-alert").get_attribute("hidden") is not None, "the alert line gone")
    lab.driver.execute_script("sessionStorage.clear()")
    errors = [e for e in lab.console_errors() if "status of 401" not in e["message"]]
    assert errors == []


def test_a_silent_stream_is_dropped_and_resumed_with_last_event_id(lwipd, start_peer, shared_browser):
    start_peer(lwipd.ns, PEER_PORT, "hold")
    lab = Lab(shared_browser, lwipd)
    lab.open()
    first = lwipd.open_conn()["id"]
    lab.wait(lambda: first in lab.listed(), "the first connection listed")
    shared_browser.get_log("performance")
    # The daemon's heartbeat comes every 15 s; a shorter watch makes the test quick.
    lab.driver.execute_script("stream.silenceMs = 1500")
    second = lwipd.open_conn()["id"]
    lab.wait(lambda: second in lab.listed(), "the second connection listed")
    status = lab.find("#link-status")
    lab.wait(lambda: "nothing heard" in status.text, lambda: "the watchdog to fire: %r" % status.text)
    lab.driver.execute_script("stream.silenceMs = 35000")
    lab.wait(lambda: status.get_attribute("data-state") == "up", "the stream resumed")
    last = lab.driver.execute_script("return lab.lastEventId")
    sent = []
    for e in shared_browser.get_log("performance"):
        msg = json.loads(e["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent" and msg["params"]["request"]["url"].endswith("/v1/events"):
            headers = {k.lower(): v for k, v in msg["params"]["request"]["headers"].items()}
            sent.append(headers.get("last-event-id"))
    assert sent and sent[-1] is not None and int(sent[-1]) >= 2 and int(sent[-1]) <= last, (sent, last)
    assert lab.console_errors() == []
