"""The command line: --help/--version, flag validation (exit 2, one line on
stderr naming the flag), runtime failures (exit 1), TAP creation, and a
clean stop on SIGTERM/SIGINT that resets live connections."""

import re
import signal

import pytest

import helpers
from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, run_lwipd, wait_for
from wire import describe, tcp_segments


def test_help(lwipd_bin):
    cp = run_lwipd(lwipd_bin, ["--help"])
    assert cp.returncode == 0, cp
    for flag in ("--tap", "--address", "--gateway", "--mac", "--netns", "--listen",
                 "--msl-ms", "--retain-closed", "--log-level", "--config", "--check",
                 "--help", "--version"):
        assert flag in cp.stdout, "--help does not mention %s:\n%s" % (flag, cp.stdout)


def test_version(lwipd_bin):
    cp = run_lwipd(lwipd_bin, ["--version"])
    assert cp.returncode == 0, cp
    assert re.search(r"\b\d+\.\d+\.\d+\b", cp.stdout), cp.stdout
    assert "lwipd" in cp.stdout, cp.stdout


BASE = {"--tap": "tap0", "--address": "10.9.0.2/24", "--listen": "127.0.0.1:0"}

# (what to change in BASE, the flag the error must name). A value of None
# removes the flag.
BAD = [
    ({"--bogus": "1"}, "--bogus"),
    ({"--tap": None}, "--tap"),
    ({"--tap": "a-name-that-is-far-too-long-for-linux"}, "--tap"),
    ({"--address": None}, "--address"),
    ({"--address": "10.9.0.256/24"}, "--address"),
    ({"--address": "10.9.0.2/33"}, "--address"),
    ({"--address": "10.9.0.2/abc"}, "--address"),
    ({"--address": "tap0"}, "--address"),
    ({"--mac": "02:11:22:33:44"}, "--mac"),
    ({"--mac": "zz:11:22:33:44:55"}, "--mac"),
    ({"--gateway": "10.9.0.300"}, "--gateway"),
    ({"--gateway": "gw"}, "--gateway"),
    ({"--listen": "127.0.0.1:99999"}, "--listen"),
    ({"--listen": "127.0.0.1:abc"}, "--listen"),
    ({"--listen": ""}, "--listen"),
    ({"--msl-ms": "0"}, "--msl-ms"),
    ({"--msl-ms": "59001"}, "--msl-ms"),
    ({"--msl-ms": "60000"}, "--msl-ms"),
    ({"--msl-ms": "abc"}, "--msl-ms"),
    ({"--msl-ms": "-1"}, "--msl-ms"),
    ({"--log-level": "verbose"}, "--log-level"),
    ({"--retain-closed": "-1"}, "--retain-closed"),
    ({"--retain-closed": "1000001"}, "--retain-closed"),
    ({"--retain-closed": "abc"}, "--retain-closed"),
    ({"--max-fault-rules": "0"}, "--max-fault-rules"),
    ({"--max-fault-rules": "4097"}, "--max-fault-rules"),
    ({"--max-connections": "0"}, "--max-connections"),
    ({"--max-connections": "262145"}, "--max-connections"),
    ({"--max-listeners": "0"}, "--max-listeners"),
    ({"--max-listeners": "65536"}, "--max-listeners"),
    ({"--max-event-streams": "4097"}, "--max-event-streams"),
    ({"--max-capture-readers": "65"}, "--max-capture-readers"),
    ({"--max-send-queue": "65535"}, "--max-send-queue"),
    ({"--max-send-queue": "1073741825"}, "--max-send-queue"),
    ({"--fault-hold-max": "0"}, "--fault-hold-max"),
    ({"--fault-hold-bytes": "65535"}, "--fault-hold-bytes"),
    ({"--fault": "{"}, "--fault"),
    ({"--fault": '{"dir":"in"}'}, "--fault"),
    ({"--fault": '{"dir":"in","action":"drop","match":{"flags":"FIN,X"}}'}, "--fault"),
]


def argv(ns, change):
    opts = dict(BASE)
    opts.update(change)
    args = ["--netns", ns.name]
    for k, v in opts.items():
        if v is not None:
            args += [k, v]
    return args


@pytest.mark.parametrize("change,flag", BAD, ids=["%s=%s" % next(iter(c.items())) for c, _ in BAD])
def test_bad_flag_exits_2_with_one_line(lwipd_bin, netns, change, flag):
    # The namespace is real, so a value wrongly accepted cannot touch the host.
    cp = run_lwipd(lwipd_bin, argv(netns, change))
    lines = [line for line in cp.stderr.splitlines() if line.strip()]
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert len(lines) == 1, "expected one line on stderr, got:\n%s" % cp.stderr
    assert flag in lines[0], lines[0]
    assert cp.stdout == "", cp.stdout


def test_a_bad_fault_rule_names_its_member(lwipd_bin, tmp_path):
    base = ["--tap", "tap0", "--address", "10.9.0.2/24", "--check"]
    cp = run_lwipd(lwipd_bin, base + ["--fault", '{"dir":"out","action":"drop"}', "--fault",
                                      '{"dir":"out","action":"delay","delay_ms":0}'])
    assert (cp.returncode, cp.stderr) == (
        2, "lwipd: --fault: delay_ms must be from 1 to 60000, not 0\n"), cp
    conf = tmp_path / "faults.conf"
    conf.write_text('tap = tap0\naddress = 10.9.0.2/24\n'
                    'fault = {"dir":"in","action":"drop","count":0,"probability":0.01}\n'
                    'fault = {"dir":"in","action":"drop","match":{"state":"OPEN"}}\n')
    cp = run_lwipd(lwipd_bin, ["--config", str(conf), "--check"])
    assert cp.returncode == 2, cp
    assert cp.stderr.startswith("lwipd: %s:4: fault: match.state must be" % conf), cp.stderr
    cp = run_lwipd(lwipd_bin, base + ["--fault", '{"dir":"out","action":"drop","count":0,"probability":0.01}'])
    assert (cp.returncode, cp.stderr) == (0, ""), cp


def test_more_fault_rules_than_the_cap_exit_2(lwipd_bin, tmp_path):
    rule = '{"dir":"in","action":"drop"}'
    line = "lwipd: --fault: 3 rules exceed --max-fault-rules 2\n"
    # Without --check too: refused before the (missing) namespace or the TAP is touched.
    for check in (["--check"], ["--netns", "lwipd-t-no-such-ns"]):
        cp = run_lwipd(lwipd_bin, ["--tap", "tap0", "--address", "10.9.0.2/24",
                                   "--max-fault-rules", "2"] + check + ["--fault", rule] * 3)
        assert (cp.returncode, cp.stderr) == (2, line), cp
    conf = tmp_path / "faults.conf"
    conf.write_text("tap = tap0\naddress = 10.9.0.2/24\nmax-fault-rules = 2\n" +
                    "fault = %s\n" % rule * 3)
    cp = run_lwipd(lwipd_bin, ["--config", str(conf), "--check"])
    assert (cp.returncode, cp.stderr) == (2, line), cp
    cp = run_lwipd(lwipd_bin, ["--config", str(conf), "--check", "--max-fault-rules", "3"])
    assert (cp.returncode, cp.stderr) == (0, ""), cp


def test_missing_value_exits_2(lwipd_bin, netns):
    cp = run_lwipd(lwipd_bin, ["--netns", netns.name, "--address", "10.9.0.2/24", "--tap"])
    lines = [line for line in cp.stderr.splitlines() if line.strip()]
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert len(lines) == 1 and "--tap" in lines[0], cp.stderr


@pytest.mark.parametrize("extra", [
    ["--msl-ms", "1"], ["--msl-ms", "59000"],
    ["--retain-closed", "0"], ["--retain-closed", "1000000"],
    ["--log-level", "debug"], ["--log-level", "warn"], ["--log-level", "error"],
    ["--gateway", "10.9.0.254"],
    ["--max-fault-rules", "1"], ["--max-fault-rules", "4096"],
    ["--max-connections", "1"], ["--max-connections", "262144"],
    ["--max-listeners", "65535"], ["--max-send-queue", "1073741824"],
    ["--fault-hold-max", "65536"], ["--fault-hold-bytes", "268435456"],
])
def test_boundary_values_are_accepted(netns, start_daemon, extra):
    # Below info the "API listening" line is not logged: give a port.
    port = helpers.free_port() if extra[-1] in ("error", "warn") else 0
    d = start_daemon(netns, *extra, msl_ms=None, port=port)
    assert d.get("/healthz").status == 200


def test_missing_netns_exits_1(lwipd_bin):
    name = "lwipd-t-missing-%d" % id(object())
    assert name not in helpers.run(["ip", "netns", "list"]).stdout
    cp = run_lwipd(lwipd_bin, ["--netns", name, "--tap", "tap0", "--address", "10.9.0.2/24",
                               "--listen", "127.0.0.1:0"])
    assert cp.returncode == 1, (cp.returncode, cp.stderr)
    assert cp.stderr.strip(), "no message on stderr"
    assert name in cp.stderr, cp.stderr
    assert name not in helpers.run(["ip", "netns", "list"]).stdout


def test_creates_missing_tap(make_netns, start_daemon, start_peer):
    ns = make_netns(tap=None)
    assert ns.link("lwtap1") is None
    d = start_daemon(ns, tap="lwtap1")
    link = wait_for(lambda: ns.link("lwtap1"), "lwipd to create lwtap1")
    wait_for(lambda: "UP" in (ns.link("lwtap1") or {}).get("flags", []),
             lambda: "lwtap1 to be up: %s" % ns.link("lwtap1"))
    assert link.get("link_type") == "ether", link
    # The daemon never assigns kernel-side addresses.
    assert ns.ipv4_addrs("lwtap1") == []
    assert d.interface()["name"] == "lwtap1"

    helpers.run(["ip", "-n", ns.name, "addr", "add", "%s/24" % KERNEL_IP, "dev", "lwtap1"])
    peer = start_peer(ns, PEER_PORT, "hold")
    obj = d.open_conn()
    obj = d.wait_state(obj["id"], "ESTABLISHED")
    peer.wait_event("ACCEPT", "%s:%d" % (LWIP_IP, obj["local"]["port"]))


def test_brings_an_existing_tap_up(make_netns, start_daemon, start_peer):
    ns = make_netns(up=False)
    assert "UP" not in ns.link("tap0")["flags"]
    d = start_daemon(ns)
    wait_for(lambda: "UP" in ns.link("tap0")["flags"],
             lambda: "lwipd to bring tap0 up: %s" % ns.link("tap0"))
    assert d.interface()["up"] is True
    # It added no address of its own on the kernel side.
    assert ns.ipv4_addrs("tap0") == [KERNEL_IP]
    peer = start_peer(ns, PEER_PORT, "hold")
    obj = d.wait_state(d.open_conn()["id"], "ESTABLISHED")
    peer.wait_event("ACCEPT", "%s:%d" % (LWIP_IP, obj["local"]["port"]))


def test_sigterm_resets_live_connections_and_exits_0(lwipd, start_peer, start_capture):
    ns = lwipd.ns
    peer = start_peer(ns, PEER_PORT, "hold")
    cap = start_capture(ns)
    obj = lwipd.open_conn()
    obj = lwipd.wait_state(obj["id"], "ESTABLISHED")
    lport = obj["local"]["port"]
    lwip_end = "%s:%d" % (LWIP_IP, lport)
    peer.wait_event("ACCEPT", lwip_end)
    kernel_end = "%s:%d" % (KERNEL_IP, PEER_PORT)
    wait_for(lambda: ns.ss_find(kernel_end, lwip_end) == ["ESTAB"], "ESTAB in ss")

    # A liveness check with a generous bound, not a timing test.
    assert lwipd.terminate(signal.SIGTERM, timeout=10) == 0, lwipd.stderr()

    wait_for(lambda: ns.ss_find(kernel_end, lwip_end) == [],
             lambda: "the kernel socket to go; ss: %s" % ns.ss())
    peer.wait_event("RESET", lwip_end)
    segs = tcp_segments(cap.stop_when(
        lambda s: any("R" in x.flags for x in s), "the RST"), lport, PEER_PORT)
    rsts = [s for s in segs if "R" in s.flags]
    assert len(rsts) == 1 and rsts[0].src == LWIP_IP, describe(segs)
    err = lwipd.stderr()
    assert not any(m in err for m in helpers.SANITIZER_MARKS), err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_idle_daemon_with_0(lwipd, sig):
    assert lwipd.terminate(sig, timeout=10) == 0, lwipd.stderr()
    with pytest.raises(OSError):
        lwipd.get("/healthz", timeout=2)


def test_log_lines_carry_a_level(lwipd):
    lines = [line for line in lwipd.stderr().splitlines() if line.strip()]
    assert lines
    levels = re.compile(r"\b(error|warn|warning|info|debug)\b", re.IGNORECASE)
    for line in lines:
        assert levels.search(line), "log line without a level word: %r" % line
