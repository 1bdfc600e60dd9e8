"""lwipd@tap0 under a real systemd: Debian bookworm booted in systemd-nspawn.

The root file system is made once with debootstrap (systemd and lwipd's
runtime libraries from Debian) and cached under /var/cache/lwipd-test-rootfs;
each run boots an overlay of it, so the cache stays clean. `cmake --install`
puts the built lwipd into the overlay. The container has a private network
namespace holding the TAP device and its kernel side, and a /dev/net/tun
node of its own with the mode Debian's udev gives it (0666).

Commands reach the container's systemd with `nsenter -t <its PID 1> -a`;
the kernel-side peer and curl run from the host inside the container's
network namespace (`nsenter -n`). Every wait is bounded; the container, its
mounts and directories are removed afterwards, also on failure.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess

import pytest

import helpers
from helpers import KERNEL_IP, LWIP_IP, PEER_PORT, Peer, wait_for

CACHE = "/var/cache/lwipd-test-rootfs"
SUITE = "bookworm"
# The sanitizer runtimes let the ASan+UBSan build of lwipd run in there too.
PACKAGES = ["systemd", "systemd-sysv", "dbus", "liblwip0", "libmicrohttpd12", "libjansson4",
            "libasan8", "libubsan1"]
UNIT = "lwipd@tap0.service"
API = "http://127.0.0.1:8080"
# Booting, debootstrap and the 20 s watchdog are slow on shared machines.
BOOT_DEADLINE = 180.0
SERVICE_DEADLINE = 90.0

pytestmark = pytest.mark.slow


def debian_mirror():
    """The first archive URI for SUITE in apt's sources: deb822 files first,
    then the classic one-line list, then Debian's own mirror."""
    deb822 = "/etc/apt/sources.list.d/debian.sources"
    if os.path.exists(deb822):
        with open(deb822) as f:
            for stanza in f.read().split("\n\n"):
                fields = dict(line.split(":", 1) for line in stanza.splitlines()
                              if ":" in line and not line.startswith("#"))
                suites = fields.get("Suites", "").split()
                if SUITE in suites and "deb" in fields.get("Types", "").split():
                    return fields["URIs"].split()[0]
    if os.path.exists("/etc/apt/sources.list"):
        with open("/etc/apt/sources.list") as f:
            for line in f:
                words = line.split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
    return "http://deb.debian.org/debian"


def cached_rootfs():
    """The cached root file system, made by debootstrap on first use. The
    directory name carries a digest of the package list, so a changed list
    gets a fresh one; a lock keeps concurrent runs from building it twice."""
    digest = hashlib.sha256(" ".join([SUITE] + PACKAGES).encode()).hexdigest()[:12]
    root = os.path.join(CACHE, "%s-%s" % (SUITE, digest))
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(root):
            return root
        partial = root + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        cp = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
                             SUITE, partial, debian_mirror()],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)
        if cp.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise AssertionError("debootstrap failed with %d:\n%s%s"
                                 % (cp.returncode, cp.stdout[-3000:], cp.stderr[-3000:]))
        os.rename(partial, root)
    return root


def on_tmpfs(path):
    return helpers.run(["stat", "-f", "-c", "%T", path]).stdout.strip() == "tmpfs"


class Container:
    def __init__(self, tmp_path, lwipd_bin):
        self.tmp = tmp_path
        self.build = os.path.dirname(lwipd_bin)
        self.root = str(tmp_path / "root")
        self.log_path = str(tmp_path / "nspawn.log")
        self.proc = None
        self.pid1 = None
        self.mounts = []        # ours to unmount, innermost last
        self.made_dirs = []     # ours to remove, innermost last

    # Setting up ----------------------------------------------------------

    def prepare(self, conf):
        upper, work = self.tmp / "upper", self.tmp / "work"
        for d in (upper, work, self.tmp / "root"):
            d.mkdir()
        helpers.run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=%s,upperdir=%s,workdir=%s"
                     % (cached_rootfs(), upper, work), self.root])
        self.mounts.append(self.root)
        cp = subprocess.run(["cmake", "--install", self.build], env=dict(os.environ, DESTDIR=self.root),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        assert cp.returncode == 0, cp
        with open(os.path.join(self.root, "etc/lwipd/tap0.conf"), "w") as f:
            f.write(conf)
        if "libasan" in helpers.run(["ldd", os.path.join(self.build, "lwipd")]).stdout:
            # LeakSanitizer stops the process with ptrace at exit, which the
            # unit's system call filter forbids; every other ASan test keeps it.
            dropin = os.path.join(self.root, "etc/systemd/system/lwipd@.service.d")
            os.makedirs(dropin)
            with open(os.path.join(dropin, "sanitizer.conf"), "w") as f:
                f.write("[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n")
        # The container's own tun node, as udev would make it on Debian:
        # binding the host's would share the host node's mode.
        devdir = self.tmp / "dev"
        devdir.mkdir()
        if os.statvfs(str(devdir)).f_flag & os.ST_NODEV:
            # A device node on a nodev file system (a container's /tmp) cannot be opened.
            helpers.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=64k", "tmpfs", str(devdir)])
            self.mounts.insert(0, str(devdir))
        self.tun = str(devdir / "tun")
        helpers.run(["mknod", "-m", "0666", self.tun, "c", "10", "200"])
        # nspawn leaves its per-machine directories here and will only
        # remove them from a tmpfs.
        nspawn_run = "/run/systemd/nspawn"
        if not on_tmpfs(nspawn_run if os.path.isdir(nspawn_run) else "/run"):
            for d in ("/run/systemd", nspawn_run):
                if not os.path.isdir(d):
                    os.mkdir(d)
                    self.made_dirs.append(d)
            helpers.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", nspawn_run])
            self.mounts.insert(0, nspawn_run)

    def boot(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "-D", self.root, "--boot", "--register=no", "--keep-unit",
             "--private-network", "--console=passive", "--bind=%s:/dev/net/tun" % self.tun],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.pid1 = wait_for(self._find_pid1, lambda: "the container's PID 1; log:\n" + self.log(),
                             BOOT_DEADLINE)
        # Until the manager is up, systemctl answers nothing; then "starting".
        last = []

        def booted():
            cp = self.sh("systemctl", "is-system-running", check=False)
            last[:] = [cp.stdout.strip(), cp.stderr.strip()]
            return last[0] in ("running", "degraded")
        wait_for(booted, lambda: "is-system-running to say running; last %s; failed units:\n%s" % (
            last, self.sh("systemctl", "--failed", "--no-pager", check=False).stdout),
            BOOT_DEADLINE, interval=0.5)

    def _find_pid1(self):
        if self.proc.poll() is not None:
            raise AssertionError("systemd-nspawn exited with %d:\n%s" % (self.proc.returncode, self.log()))
        try:
            children = open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read().split()
            for pid in children:
                if open("/proc/%s/comm" % pid).read().strip() == "systemd":
                    return int(pid)
        except OSError:
            pass
        return None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-5000:]
        except OSError:
            return ""

    # Reaching in ---------------------------------------------------------

    def sh(self, *argv, check=True, timeout=60):
        """Runs argv in every namespace of the container: its own programs."""
        return helpers.run(["nsenter", "-t", str(self.pid1), "-a"] + list(argv), check=check,
                           timeout=timeout)

    def cmd(self, *argv):
        """argv for a host program in the container's network namespace (as Peer wants)."""
        return ["nsenter", "-t", str(self.pid1), "-n"] + list(argv)

    def net(self, *argv):
        return helpers.run(self.cmd(*argv))

    def show(self, *props):
        out = self.sh("systemctl", "show", UNIT, "--no-pager", *["-p" + p for p in props]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_show(self, what, **want):
        last = {}

        def ok():
            last.update(self.show(*want))
            return all(last.get(k) == v for k, v in want.items())
        wait_for(ok, lambda: "%s: %s; last %s\njournal:\n%s" % (what, want, last, self.journal()),
                 SERVICE_DEADLINE, interval=0.2)
        return last

    def journal(self):
        return self.sh("journalctl", "-u", UNIT, "--no-pager", "-o", "short-precise",
                       check=False).stdout[-6000:]

    def api(self, method, path, body=None):
        """(status, JSON body) of one request from inside the container's network namespace."""
        argv = ["curl", "-sS", "--max-time", "20", "-X", method, "-w", "\n%{http_code}"]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        out = self.net(*(argv + [API + path])).stdout
        text, _, status = out.rpartition("\n")
        return int(status), (json.loads(text) if text else None)

    # Tearing down --------------------------------------------------------

    def destroy(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)  # nspawn: an orderly shutdown
                try:
                    self.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    if self.pid1 is not None:
                        try:
                            os.kill(self.pid1, signal.SIGKILL)  # ends the whole PID namespace
                        except ProcessLookupError:
                            pass
                    helpers.kill_process(self.proc, signal.SIGKILL)
            self._log.close()
        for mount in reversed(self.mounts):
            if helpers.run(["umount", mount], check=False).returncode != 0:
                helpers.run(["umount", "-l", mount], check=False)
        for d in reversed(self.made_dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass


@pytest.fixture
def container(request, tmp_path, lwipd_bin):
    if shutil.which("systemd-nspawn") is None or shutil.which("debootstrap") is None:
        pytest.fail("needs systemd-nspawn (systemd-container) and debootstrap", pytrace=False)
    c = Container(tmp_path, lwipd_bin)
    request.addfinalizer(c.destroy)
    return c


@pytest.fixture
def peer_in(request, tmp_path):
    peers = []

    def start(c, mode):
        p = Peer(c, PEER_PORT, mode, str(tmp_path / "peer.out"))
        peers.append(p)
        request.node._lwipd_peers = peers
        return p.start()
    request.addfinalizer(lambda: [p.stop() for p in peers if p.proc is not None])
    return start


def main_pid(c):
    return int(c.show("MainPID")["MainPID"])


def test_lwipd_as_a_systemd_service(container, peer_in):
    c = container
    c.prepare("address = %s/24\nlisten = 127.0.0.1:8080\nmsl_ms = 1000\n" % LWIP_IP)
    c.boot()
    c.net("ip", "tuntap", "add", "dev", "tap0", "mode", "tap")
    c.net("ip", "addr", "add", "%s/24" % KERNEL_IP, "dev", "tap0")
    c.net("ip", "link", "set", "tap0", "up")

    # Type=notify: "start" returns once READY=1 came, so the API answers now.
    c.sh("systemctl", "enable", "--now", UNIT, timeout=SERVICE_DEADLINE)
    s = c.show("ActiveState", "SubState", "StatusText", "NRestarts", "WatchdogUSec", "User")
    assert (s["ActiveState"], s["SubState"]) == ("active", "running"), (s, c.journal())
    assert s["StatusText"] == "tap0 %s/24: 0 live connections" % LWIP_IP, s
    status, health = c.api("GET", "/healthz")
    assert (status, health) == (200, {"status": "ok"})

    # Unprivileged, with CAP_NET_ADMIN alone.
    proc_status = c.sh("cat", "/proc/%d/status" % main_pid(c)).stdout
    uid = re.search(r"^Uid:\s+(\d+)", proc_status, re.M).group(1)
    cap_eff = re.search(r"^CapEff:\s+([0-9a-f]+)", proc_status, re.M).group(1)
    assert uid != "0", proc_status
    assert int(cap_eff, 16) == 1 << 12, "CapEff %s is not CAP_NET_ADMIN alone" % cap_eff

    # stderr is the journal: priorities, not "lwipd: info:" prefixes.
    entries = [json.loads(line) for line in c.sh("journalctl", "-u", UNIT, "-o", "json",
                                                 "--no-pager").stdout.splitlines()]
    own = [e for e in entries if e.get("SYSLOG_IDENTIFIER") == "lwipd"]
    assert any(e["MESSAGE"].startswith("API listening on 127.0.0.1:8080") and e["PRIORITY"] == "6"
               for e in own), own
    assert not any(str(e.get("MESSAGE", "")).startswith("lwipd:") for e in own), own
    # The configuration is a clean EnvironmentFile= too.
    assert "Ignoring invalid environment" not in c.sh("journalctl", "--no-pager").stdout

    # A connection to the container's kernel side, opened and closed.
    peer = peer_in(c, "echo")
    status, conn = c.api("POST", "/v1/connections", {"remote_ip": KERNEL_IP, "remote_port": PEER_PORT})
    assert status == 201, conn
    path = "/v1/connections/%d" % conn["id"]
    wait_for(lambda: c.api("GET", path)[1]["state"] == "ESTABLISHED", "ESTABLISHED",
             SERVICE_DEADLINE)
    c.wait_show("STATUS with one live connection",
                StatusText="tap0 %s/24: 1 live connection" % LWIP_IP)
    status, _ = c.api("DELETE", path)
    assert status == 202
    wait_for(lambda: c.api("GET", path)[1]["state"] == "CLOSED", "CLOSED", SERVICE_DEADLINE)
    states = [h["state"] for h in c.api("GET", path)[1]["history"]]
    assert states[:3] == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT_1"] and states[-2:] == [
        "TIME_WAIT", "CLOSED"], states
    peer.wait_event("EOF", "%s:%d" % (LWIP_IP, conn["local"]["port"]))
    c.wait_show("STATUS back to none", StatusText="tap0 %s/24: 0 live connections" % LWIP_IP)

    # SIGTERM from "systemctl stop" is a clean stop.
    c.sh("systemctl", "stop", UNIT, timeout=SERVICE_DEADLINE)
    s = c.show("ActiveState", "Result", "ExecMainStatus")
    assert (s["ActiveState"], s["Result"], s["ExecMainStatus"]) == ("inactive", "success", "0"), (
        s, c.journal())

    # A crash: Restart=on-failure brings it back.
    c.sh("systemctl", "start", UNIT, timeout=SERVICE_DEADLINE)
    pid, restarts = main_pid(c), int(c.show("NRestarts")["NRestarts"])
    c.sh("systemctl", "kill", "--signal=SIGABRT", UNIT)
    c.wait_show("a restart after SIGABRT", ActiveState="active", SubState="running",
                NRestarts=str(restarts + 1))
    assert main_pid(c) not in (0, pid)
    assert c.api("GET", "/healthz")[0] == 200

    # A frozen daemon sends no WATCHDOG=1: systemd kills it and starts it again.
    pid = main_pid(c)
    c.sh("systemctl", "kill", "--signal=SIGSTOP", UNIT)
    c.wait_show("a restart after the watchdog fired", ActiveState="active", SubState="running",
                NRestarts=str(restarts + 2))
    assert main_pid(c) not in (0, pid)
    assert "Watchdog timeout" in c.journal(), c.journal()
    assert c.api("GET", "/healthz")[0] == 200

    c.sh("systemctl", "stop", UNIT, timeout=SERVICE_DEADLINE)
    s = c.show("ActiveState", "Result")
    assert (s["ActiveState"], s["Result"]) == ("inactive", "success"), (s, c.journal())
