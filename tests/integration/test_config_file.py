"""--config FILE and --check: a good file runs the daemon, flags override
the file wherever they stand, a bad file is one line on stderr naming
FILE:LINE and the key with exit status 2, and --check validates without
opening a TAP device or a socket."""

import os
import socket

import pytest

import helpers
from helpers import Daemon, LWIP_IP, PREFIX, run_lwipd


def write(tmp_path, text, name="lwipd.conf"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def start(request, lwipd_bin, tmp_path, args):
    """A daemon started with args and stopped (SIGTERM, exit 0) at the end of the test."""
    d = Daemon(lwipd_bin, args, str(tmp_path / "lwipd.stderr"))
    request.node._lwipd_daemons = [d]

    def stop():
        if d.proc.poll() is None:
            assert d.terminate() == 0, d.stderr()
        d.close_files()
    request.addfinalizer(stop)
    d.start()
    d.wait_listening()
    d.wait_healthy()
    return d


def test_good_file_runs_the_daemon(request, lwipd_bin, netns, tmp_path):
    conf = write(tmp_path, "\n".join([
        "# lwipd test configuration",
        "; both comment styles",
        "",
        "   tap = tap0   ",
        "address\t=\t%s/%d" % (LWIP_IP, PREFIX),
        "netns = %s" % netns.name,
        "listen = 127.0.0.1:0",
        "msl_ms = 1000",
        "retain-closed = 7",
        "mac = 02:00:00:00:00:42\r",
        "log_level = info",
    ]) + "\n")
    d = start(request, lwipd_bin, tmp_path, ["--config", conf])
    iface = d.get("/v1/interface").json()
    assert iface["name"] == "tap0", iface
    assert iface["address"] == LWIP_IP, iface
    assert iface["mac"] == "02:00:00:00:00:42", iface


def test_fault_lines_make_rules_at_start(request, lwipd_bin, netns, tmp_path):
    conf = write(tmp_path, "\n".join([
        "tap = tap0",
        "address = %s/%d" % (LWIP_IP, PREFIX),
        "netns = %s" % netns.name,
        "listen = 127.0.0.1:0",
        'fault = {"dir":"out","action":"drop","count":0,"probability":0.01,"seed":5}',
        'fault = {"dir":"in","match":{"flags":"SYN","state":"LISTEN"},"action":"delay","delay_ms":300}',
    ]) + "\n")
    d = start(request, lwipd_bin, tmp_path, ["--config", conf])
    rules = d.get("/v1/faults").json()["faults"]
    assert [(f["id"], f["dir"], f["action"], f["count"], f["state"]) for f in rules] == [
        (1, "out", "drop", 0, "active"), (2, "in", "delay", 1, "active")], rules
    assert rules[0]["probability"] == 0.01 and rules[0]["seed"] == 5, rules[0]
    assert rules[1]["match"] == {"flags": "SYN", "state": "LISTEN"}, rules[1]
    assert rules[1]["delay_ms"] == 300, rules[1]


@pytest.mark.parametrize("flags_first", [True, False], ids=["flags-before", "flags-after"])
def test_flags_override_the_file(request, lwipd_bin, netns, tmp_path, flags_first):
    conf = write(tmp_path, "tap = tap0\naddress = 10.9.0.77/24\nmac = 02:00:00:00:00:01\n"
                 "netns = %s\nlisten = 127.0.0.1:0\n" % netns.name)
    flags = ["--address", "%s/%d" % (LWIP_IP, PREFIX), "--mac", "02:00:00:00:00:02"]
    args = flags + ["--config", conf] if flags_first else ["--config", conf] + flags
    d = start(request, lwipd_bin, tmp_path, args)
    iface = d.get("/v1/interface").json()
    assert iface["address"] == LWIP_IP, iface
    assert iface["mac"] == "02:00:00:00:00:02", iface


# (file text, the line the error is on, a word the message must hold)
BAD = [
    ("address = 10.9.0.2/24\nbogus = 1\n", 2, "bogus"),
    ("tap = tap0\n\n# c\naddress = 10.9.0.2/33\n", 4, "address"),
    ("tap = tap0\nmsl-ms = 0\n", 2, "msl-ms"),
    ("msl_ms = 60000\n", 1, "msl_ms"),
    ("retain_closed = -1\n", 1, "retain_closed"),
    ("log_level = loud\n", 1, "log_level"),
    ("listen = 127.0.0.1:99999\n", 1, "listen"),
    ("mac = 01:00:00:00:00:01\n", 1, "mac"),
    ("gateway = gw\n", 1, "gateway"),
    ("tap = a name\n", 1, "tap"),
    ("netns = a/b\n", 1, "netns"),
    ("address 10.9.0.2/24\n", 1, "key = value"),
    ("= 10.9.0.2/24\n", 1, "key = value"),
    ("[lwipd]\naddress = 10.9.0.2/24\n", 1, "key = value"),
    ("address = \"10.9.0.2/24\"\n", 1, "address"),
    ("address = 10.9.0.2/24 # inline\n", 1, "address"),
    ("config = /etc/passwd\n", 1, "config"),
    ("check = 1\n", 1, "check"),
    ("tap = tap0\naddress = 10.9.0.2/24\nlisten = 127.0.0.1:0\n" + "x" * 1025 + "\n", 4, "longer"),
    ("tap = tap0\naddress = 10.9.0.2/24\x00\n", 2, "NUL"),
    ("# ok\n" + "k" * 40 + " = 1\n", 2, "unknown"),
]


@pytest.mark.parametrize("text,line,word", BAD, ids=range(len(BAD)))
def test_bad_file_names_file_line_and_key(lwipd_bin, tmp_path, text, line, word):
    conf = write(tmp_path, text)
    # A full set of flags, so that only the file can be wrong; any TAP stays unopened.
    cp = run_lwipd(lwipd_bin, ["--tap", "lwcfg0", "--address", "10.9.0.2/24", "--config", conf])
    assert cp.returncode == 2, cp
    lines = cp.stderr.splitlines()
    assert len(lines) == 1, cp.stderr
    prefix = "lwipd: %s:%d: " % (conf, line)
    assert lines[0].startswith(prefix), "%r does not start with %r" % (lines[0], prefix)
    assert word in lines[0], lines[0]
    assert cp.stdout == "", cp.stdout
    assert helpers.run(["ip", "link", "show", "lwcfg0"], check=False).returncode != 0


def test_file_that_cannot_be_read(lwipd_bin, tmp_path):
    missing = str(tmp_path / "missing.conf")
    for path in (missing, str(tmp_path)):
        cp = run_lwipd(lwipd_bin, ["--check", "--config", path])
        assert cp.returncode == 2, cp
        assert cp.stderr.startswith("lwipd: %s: " % path), cp.stderr
        assert len(cp.stderr.splitlines()) == 1, cp.stderr


def test_a_file_that_is_not_regular_is_refused_at_once(lwipd_bin, tmp_path):
    fifo = str(tmp_path / "fifo.conf")
    os.mkfifo(fifo)             # opening it for reading would wait for a writer
    for path in (fifo, "/dev/zero"):
        cp = run_lwipd(lwipd_bin, ["--check", "--config", path], timeout=5)
        assert cp.returncode == 2, cp
        assert cp.stderr == "lwipd: %s: not a regular file\n" % path, cp.stderr


def test_size_limit(lwipd_bin, tmp_path):
    ok = "tap = tap0\naddress = 10.9.0.2/24\n"
    padding = "#" * 1000 + "\n"
    fits = ok + padding * ((65536 - len(ok)) // len(padding))
    fits += "#" * (65536 - len(fits) - 1) + "\n"
    assert len(fits) == 65536
    cp = run_lwipd(lwipd_bin, ["--check", "--config", write(tmp_path, fits, "fits.conf")])
    assert cp.returncode == 0, cp
    big = write(tmp_path, fits + "\n", "big.conf")
    cp = run_lwipd(lwipd_bin, ["--check", "--config", big])
    assert cp.returncode == 2, cp
    assert cp.stderr.startswith("lwipd: %s: " % big) and "65536" in cp.stderr, cp.stderr


def test_last_line_without_newline_and_repeated_keys(lwipd_bin, tmp_path):
    conf = write(tmp_path, "tap = tap0\naddress = 10.9.0.99/33\naddress = 10.9.0.2/24")
    cp = run_lwipd(lwipd_bin, ["--check", "--config", conf])
    # The first bad line ends the parse, even if a later one would fix it.
    assert cp.returncode == 2 and ":2: " in cp.stderr, cp
    conf = write(tmp_path, "tap = tap0\naddress = 10.9.0.9/24\naddress = 10.9.0.2/24")
    assert run_lwipd(lwipd_bin, ["--check", "--config", conf]).returncode == 0


def test_check_validates_the_full_set(lwipd_bin, tmp_path):
    conf = write(tmp_path, "tap = tap0\n")
    cp = run_lwipd(lwipd_bin, ["--check", "--config", conf])
    assert cp.returncode == 2 and "--address" in cp.stderr, cp
    cp = run_lwipd(lwipd_bin, ["--check", "--config", conf, "--address", "10.9.0.2/24"])
    assert cp.returncode == 0, cp
    cp = run_lwipd(lwipd_bin, ["--check", "--config", conf, "--address", "10.9.0.2/24",
                               "--gateway", "10.9.1.1"])
    assert cp.returncode == 2 and "--gateway" in cp.stderr, cp
    cp = run_lwipd(lwipd_bin, ["--check", "--tap", "tap0", "--address", "10.9.0.2/24"])
    assert cp.returncode == 0, cp


def test_check_changes_nothing(lwipd_bin, make_netns, tmp_path):
    """--check with a namespace, a TAP name and an API port that a real run
    would use: no TAP appears, the port stays free, the file is unchanged."""
    ns = make_netns(tap=None)
    port = helpers.free_port()
    text = ("tap = lwchk0\naddress = 10.9.0.2/24\nnetns = %s\nlisten = 127.0.0.1:%d\n"
            % (ns.name, port))
    conf = write(tmp_path, text)
    before = os.stat(conf)
    cp = run_lwipd(lwipd_bin, ["--check", "--config", conf])
    assert cp.returncode == 0, cp
    assert cp.stdout == "" and cp.stderr == "", cp
    assert ns.link("lwchk0") is None
    assert helpers.run(["ip", "link", "show", "lwchk0"], check=False).returncode != 0
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    after = os.stat(conf)
    assert (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size)
    with open(conf) as f:
        assert f.read() == text
