#!/usr/bin/python3
"""bench/run.py: lwipd's benchmark (issue 12), side by side with the Linux
kernel and with lwIP alone, in one run.

It makes its own namespaces: one holds the TAP, lwipd (its API on that
namespace's loopback) and a kernel peer (ksink); two more, joined by a veth
pair, hold the kernel client (kclient) and a kernel peer for the
kernel-vs-kernel figures. lwIP alone runs in-process (lwipbench). All
traffic stays in those namespaces; every process and namespace is removed
on exit, also on failure or Ctrl-C.

    bash tests/bench/run.sh [--smoke] [--out FILE.json] [--build-dir DIR]

Figures (the issue's targets): P1 handshake + RST with few connections
open; P2 the same with H held open (lwipd vs lwIP in-process vs the
kernel); P3 API latency and GET rate; P4 daemon RSS per held connection;
P5 graceful churn with a short MSL; the SIGTERM exit time with the most
connections open. Prints a table, writes JSON and a PNG plot. A benchmark,
not a test: it never judges its figures.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

LWIP_IP = "10.9.0.2"
TAP_PEER_IP = "10.9.0.1"
VETH_SERVER_IP = "10.10.0.1"
VETH_CLIENT_IP = "10.10.0.2"
API = "127.0.0.1:18080"
PEER_PORTS = list(range(7000, 7008))   # several remote endpoints: lwIP's ports are 16K per endpoint
KCLIENT_HOLD_MAX = 15000   # per holder process: open-files hard limits can be as low as 20,000
# A batch's handshakes in flight: lwIP walks its active PCBs for each segment, so beyond a few
# dozen outstanding handshakes its own cost grows and the rate falls (measured: 16 about 1x the
# kernel, 256 about 0.2x); the kernel client keeps 256 in flight, where it is fastest.
BATCH_IN_FLIGHT = 16

# Sizes: (full, smoke). Every loop below is bounded by a count and seconds.
SIZES = {
    "p1_kernel": (100000, 2000),
    "p1_lwipd": (20000, 300),
    "p3_latency": (2000, 100),
    "p3_seconds": (10, 2),
    "held_levels": ([0, 1000, 10000, 15000, 50000], [0, 100, 500]),
    "held_measure": (3000, 100),
    "lwipbench_count": (5000, 200),
    "p5_seconds": (60, 3),
    "step_seconds": (60, 10),
    "lwipbench_hold_seconds": (400, 10),
}


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Bench:
    def __init__(self, args):
        self.args = args
        self.smoke = args.smoke
        self.bin = os.path.abspath(args.build_dir)
        self.out = os.path.abspath(args.out)
        self.workdir = os.path.dirname(self.out)
        tag = "lwipd-b-%d" % os.getpid()
        self.ns_lwip, self.ns_ks, self.ns_kc = tag + "-l", tag + "-ks", tag + "-kc"
        self.namespaces = []
        self.procs = []
        self.results = {"smoke": self.smoke, "machine": machine(), "notes": []}

    def size(self, key):
        return SIZES[key][1 if self.smoke else 0]

    # ---- processes and namespaces (all removed in cleanup)

    def sh(self, *argv, check=True, timeout=120):
        cp = subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and cp.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), cp.returncode,
                                                       cp.stderr.strip()))
        return cp

    def in_ns(self, ns, *argv):
        return ["ip", "netns", "exec", ns] + list(argv)

    def spawn(self, ns, argv, name):
        err = open(os.path.join(self.workdir, name + ".stderr"), "w")
        p = subprocess.Popen(self.in_ns(ns, *argv), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=err, text=True)
        p.bench_name, p.bench_err = name, err
        self.procs.append(p)
        return p

    def tool(self, ns, argv, timeout):
        """Runs one bench program to completion and returns its JSON line."""
        cp = subprocess.run(self.in_ns(ns, *argv), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout)
        lines = [l for l in cp.stdout.splitlines() if l.startswith("{")]
        if cp.returncode != 0 or not lines:
            raise RuntimeError("%s exited %d" % (" ".join(argv), cp.returncode))
        return [json.loads(l) for l in lines]

    def add_ns(self, name):
        self.sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.sh("ip", "-n", name, "link", "set", "lo", "up")
        # The kernel peers hold many connections in their accept queues.
        self.sh(*self.in_ns(name, "sysctl", "-q", "-w", "net.core.somaxconn=65535",
                            "net.ipv4.tcp_max_syn_backlog=65535",
                            "net.ipv4.ip_local_port_range=1024 65535",
                            "net.ipv4.tcp_tw_reuse=1"))

    def setup(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.add_ns(self.ns_lwip)
        self.sh("ip", "-n", self.ns_lwip, "tuntap", "add", "dev", "tap0", "mode", "tap")
        self.sh("ip", "-n", self.ns_lwip, "addr", "add", TAP_PEER_IP + "/24", "dev", "tap0")
        self.sh("ip", "-n", self.ns_lwip, "link", "set", "tap0", "up")
        self.add_ns(self.ns_ks)
        self.add_ns(self.ns_kc)
        self.sh("ip", "-n", self.ns_ks, "link", "add", "vb0", "type", "veth", "peer", "name",
                "vb1", "netns", self.ns_kc)
        self.sh("ip", "-n", self.ns_ks, "addr", "add", VETH_SERVER_IP + "/24", "dev", "vb0")
        self.sh("ip", "-n", self.ns_kc, "addr", "add", VETH_CLIENT_IP + "/24", "dev", "vb1")
        self.sh("ip", "-n", self.ns_ks, "link", "set", "vb0", "up")
        self.sh("ip", "-n", self.ns_kc, "link", "set", "vb1", "up")
        self.start_sink(self.ns_lwip, TAP_PEER_IP, "ksink-tap")
        self.start_sink(self.ns_ks, VETH_SERVER_IP, "ksink-veth")

    def start_sink(self, ns, ip, name):
        """One ksink per port: each holds only what its open-files limit allows."""
        sinks = []
        for port in PEER_PORTS:
            p = self.spawn(ns, [os.path.join(self.bin, "ksink"), "--listen",
                                "%s:%d" % (ip, port)], "%s-%d" % (name, port))
            sinks.append(p)
        for p in sinks:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("%s did not start" % p.bench_name)
        return sinks

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        """Stops one process we started, by its pid; returns its exit status."""
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=timeout)
        p.bench_err.close()
        return p.returncode

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                self.stop(p)
        for ns in reversed(self.namespaces):
            # Anything still inside is ours (nothing else runs in these namespaces).
            left = self.sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in left:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            self.sh("ip", "netns", "del", ns, check=False)
        self.namespaces = []

    # ---- lwipd

    def start_lwipd(self, name, msl_ms):
        help_text = self.sh(os.path.join(self.bin, "lwipd"), "--help", check=False)
        help_text = help_text.stdout + help_text.stderr
        argv = [os.path.join(self.bin, "lwipd"), "--tap", "tap0", "--address", LWIP_IP + "/24",
                "--listen", API, "--msl-ms", str(msl_ms), "--log-level", "warn"]
        # Raise the limits where lwipd has flags for them (issue 12); today they are compiled in.
        if "--max-connections" in help_text:
            argv += ["--max-connections", "60000"]
        self.limits_flag = "--max-connections" in help_text
        p = self.spawn(self.ns_lwip, argv, name)
        deadline = time.monotonic() + 10
        while self.api("GET", "/healthz", check=False)[0] != 200:
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("lwipd did not come up (see %s.stderr)" % name)
            time.sleep(0.05)
        return p

    def api(self, method, path, body=None, check=True):
        """One request through curl inside the namespace: (status, parsed body or None)."""
        argv = ["curl", "-s", "-m", "70", "-o", "-", "-w", "\n%{http_code}", "-X", method]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        cp = self.sh(*self.in_ns(self.ns_lwip, *(argv + ["http://%s%s" % (API, path)])),
                     check=False, timeout=80)
        text, _, code = cp.stdout.rpartition("\n")
        status = int(code) if code.isdigit() else 0
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        if check and not 200 <= status < 300:
            raise RuntimeError("%s %s: %d %s" % (method, path, status, text[:200]))
        return status, data

    def httpload(self, *extra, seconds=None, progress=False):
        seconds = seconds if seconds is not None else self.size("step_seconds")
        argv = [os.path.join(self.bin, "httpload"), "--api", API, "--seconds", str(seconds)]
        if progress:
            argv.append("--progress")
        return self.tool(self.ns_lwip, argv + list(extra), timeout=seconds + 60)[0]

    def targets(self, ip):
        return ",".join("%s:%d" % (ip, port) for port in PEER_PORTS)

    def open_rate(self, count, clients=32):
        """Handshake + RST through lwipd: a batch if lwipd has them, else API opens."""
        if self.batches:
            return self.batch_rate(count)
        r = self.httpload("--mode", "open", "--clients", str(clients), "--count", str(count),
                          "--target", self.targets(TAP_PEER_IP), "--wait", "--close", "abort",
                          "--stop-after-errors", "100")
        r["via"] = "POST+GET wait+DELETE abort, %d keep-alive clients" % clients
        return r

    def batch_rate(self, count):
        _, b = self.api("POST", "/v1/batches", {
            "remote_ip": TAP_PEER_IP, "remote_port": PEER_PORTS[0], "count": count,
            "in_flight": BATCH_IN_FLIGHT, "close": "abort", "hold_ms": 0})
        _, done = self.api("GET", "/v1/batches/%s?wait_for=done&timeout_ms=60000" % b["id"])
        done["via"] = "POST /v1/batches, %d in flight" % BATCH_IN_FLIGHT
        done.setdefault("ok", done.get("established", 0))
        done.setdefault("errors", done.get("failed", 0))
        if "rate" not in done and done.get("elapsed_us"):
            done["rate"] = done["ok"] * 1e6 / done["elapsed_us"]
        return done

    def hold(self, count, timelines):
        """Opens count connections left open: batches (one remote port each, as lwIP has 16K
        ports per remote endpoint) when lwipd has them, else API opens from 32 clients."""
        if not self.batches:
            r = self.httpload("--mode", "open", "--clients", "32", "--count", str(count),
                              "--target", self.targets(TAP_PEER_IP), "--wait",
                              "--close", "none", "--stop-after-errors", "50",
                              progress=True, seconds=max(self.size("step_seconds"), 120))
            return r
        total = {"ok": 0, "errors": 0, "status": {}}
        per_port = -(-count // len(PEER_PORTS))
        for port in PEER_PORTS:
            n = min(per_port, count - total["ok"] - total["errors"])
            if n <= 0:
                break
            _, b = self.api("POST", "/v1/batches", {
                "remote_ip": TAP_PEER_IP, "remote_port": port, "count": n,
                "in_flight": BATCH_IN_FLIGHT, "close": "none", "timelines": timelines})
            _, done = self.api("GET", "/v1/batches/%s?wait_for=done&timeout_ms=60000" % b["id"])
            total["ok"] += done["established"]
            total["errors"] += done["failed"]
            for cause, k in done["failures"].items():
                total["status"][cause] = total["status"].get(cause, 0) + k
            log("P2: port %d: %d held, %d failed" % (port, done["established"], done["failed"]))
        return total

    def churn_batch(self, seconds):
        """Graceful open + close through one batch for `seconds`, then DELETE stops it."""
        _, b = self.api("POST", "/v1/batches", {
            "remote_ip": TAP_PEER_IP, "remote_port": PEER_PORTS[0], "count": 1000000,
            "in_flight": BATCH_IN_FLIGHT, "close": "graceful", "hold_ms": 0})
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            _, now = self.api("GET", "/v1/batches/%s" % b["id"])
            log("P5: %d established, %d closed, %.0f/s" % (now["established"], now["closed"],
                                                           now["rate"]))
        self.api("DELETE", "/v1/batches/%s" % b["id"])
        _, done = self.api("GET", "/v1/batches/%s?wait_for=done&timeout_ms=60000" % b["id"])
        done["via"] = "POST /v1/batches, graceful, %d in flight" % BATCH_IN_FLIGHT
        done["ok"], done["errors"] = done["closed"], done["failed"]
        done["rate"] = done["closed"] * 1e6 / max(1, done["elapsed_us"])
        return done

    def rss_kib(self, p):
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # ---- the figures

    def kernel(self, count, hold=0, close="rst", seconds=None):
        """kclient's figure, with `hold` connections held by other kclients meanwhile."""
        seconds = seconds if seconds is not None else self.size("step_seconds")
        holders, held = [], 0
        try:
            for i in range(0, hold, KCLIENT_HOLD_MAX):
                p = self.spawn(self.ns_kc, [
                    os.path.join(self.bin, "kclient"), "--target", self.targets(VETH_SERVER_IP),
                    "--count", "0", "--hold", str(min(KCLIENT_HOLD_MAX, hold - i)),
                    "--seconds", str(seconds), "--stay"], "kclient-holder-%d" % i)
                holders.append(p)
                line = p.stdout.readline()
                held += json.loads(line)["held"] if line.startswith("{") else 0
            argv = [os.path.join(self.bin, "kclient"), "--target", self.targets(VETH_SERVER_IP),
                    "--count", str(count), "--in-flight", "256", "--close", close,
                    "--seconds", str(seconds)]
            r = self.tool(self.ns_kc, argv, timeout=seconds * 2 + 60)[0]
        finally:
            for p in holders:
                self.stop(p)
        r["held"] = held
        return r

    def p1(self):
        log("P1: kernel client -> kernel peer over veth, handshake + RST, 256 in flight")
        k = self.kernel(self.size("p1_kernel"))
        log("P1: kernel %.0f/s; now lwipd (%s)" % (k["rate"], "batch" if self.batches else
                                                  "API opens, 32 clients"))
        lw = self.open_rate(self.size("p1_lwipd"))
        self.results["p1"] = {"kernel": k, "lwipd": lw, "ratio": ratio(lw["rate"], k["rate"])}
        log("P1: lwipd %.0f/s = %.2fx the kernel" % (lw["rate"], self.results["p1"]["ratio"]))

    def p3(self):
        n, secs = self.size("p3_latency"), self.size("p3_seconds")
        log("P3: POST + GET ?wait_for=ESTABLISHED with one client, %d opens" % n)
        lat = self.httpload("--mode", "open", "--clients", "1", "--count", str(n),
                            "--target", self.targets(TAP_PEER_IP), "--wait", "--close", "abort")
        held = self.httpload("--mode", "open", "--clients", "1", "--count", "1",
                             "--target", self.targets(TAP_PEER_IP), "--wait", "--close", "none")
        path = "/v1/connections/%d" % held["last_id"]
        log("P3: GET %s with 32 keep-alive clients for %d s" % (path, secs))
        get = self.httpload("--mode", "get", "--clients", "32", "--path", path, seconds=secs)
        log("P3: GET rate %.0f/s; again while opens run at full rate" % get["rate"])
        box = {}
        if self.batches:
            opens = lambda: self.batch_rate(self.size("p1_lwipd"))
        else:
            opens = lambda: self.httpload("--mode", "open", "--clients", "32",
                                          "--target", self.targets(TAP_PEER_IP), "--wait",
                                          "--close", "abort", seconds=secs + 1)
        opener = threading.Thread(target=lambda: box.update(opens=opens()))
        opener.start()
        time.sleep(0.5)
        busy = self.httpload("--mode", "get", "--clients", "32", "--path", path, seconds=secs)
        opener.join()
        self.results["p3"] = {"open_latency_1_client": lat, "get_32_clients": get,
                              "get_32_clients_during_opens": busy,
                              "opens_meanwhile": box.get("opens"),
                              "during": "a batch" if self.batches else
                                        "API opens (32 clients); no batch API yet"}
        self.held_api = 1

    def p2_p4(self, d):
        levels = self.size("held_levels")
        measure = self.size("held_measure")
        rows = []
        held = self.held_api
        base = self.rss_kib(d)
        for level in levels:
            want = level - held
            if want > 0:
                log("P2: holding %d connections through lwipd (have %d)" % (level, held))
                r = self.hold(want, timelines=False)
                held += r["ok"]
                if r["errors"]:
                    self.results["notes"].append(
                        "holding %d: %d opens failed, statuses %s" % (level, r["errors"],
                                                                      r["status"]))
            rss = self.rss_kib(d)
            log("P2: %d held (RSS %d KiB); handshake + RST x %d" % (held, rss, measure))
            m = self.open_rate(measure)
            rows.append({"target_held": level, "held": max(held, 0), "rss_kib": rss,
                         "rate": m["rate"], "ok": m["ok"], "errors": m.get("errors", 0),
                         "status": m.get("status", {}), "limited": held < level})
            log("P2: lwipd %.0f/s with %d held" % (m["rate"], held))
        self.results["p2_lwipd"] = rows
        self.held_api = held
        # P4 from the largest level held in full.
        full = [r for r in rows if not r["limited"] and r["held"] > 0]
        if full:
            top = full[-1]
            per = (top["rss_kib"] - base) * 1024.0 / max(top["held"] - 1, 1)
            self.results["p4"] = {"held": top["held"], "rss_kib_before": base,
                                  "rss_kib_after": top["rss_kib"], "bytes_per_conn": per,
                                  "timelines": "off" if self.batches else "on"}
            if self.batches:
                # The same with timelines on: a handshake's events and frame snapshots.
                extra = min(1000, max(levels))
                before = self.rss_kib(d)
                r = self.hold(extra, timelines=True)
                self.held_api += r["ok"]
                self.results["p4"]["timelines_on_bytes_per_conn"] = (
                    (self.rss_kib(d) - before) * 1024.0 / max(r["ok"], 1))

    def lwip_alone(self):
        levels = self.size("held_levels")
        log("P2: lwIP in-process (lwipbench) at %s held" % levels)
        argv = [os.path.join(self.bin, "lwipbench"), "--held", ",".join(map(str, levels)),
                "--count", str(self.size("lwipbench_count")), "--in-flight", "128",
                "--seconds", str(self.size("step_seconds")),
                "--hold-seconds", str(self.size("lwipbench_hold_seconds"))]
        rows = self.tool(self.ns_lwip, argv, timeout=len(levels) * (
            self.size("step_seconds") + self.size("lwipbench_hold_seconds")) + 60)
        self.results["p2_lwip_inprocess"] = rows
        for r in rows:
            log("P2: lwIP alone %.0f/s with %d held" % (r["rate"], r["held"]))
        log("P2: kernel with the same counts held")
        self.results["p2_kernel"] = [
            dict(self.kernel(self.size("held_measure") * 10, hold=h), target_held=h)
            for h in levels]

    def sigterm(self, d):
        live = self.api("GET", "/v1/stats")[1]["tcp"].get("curr_estab", 0)
        log("SIGTERM with %d established" % live)
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        # Every one reset: the kernel peer should hold no established connection after a moment.
        left = -1
        for _ in range(50):
            out = self.sh(*self.in_ns(self.ns_lwip, "ss", "-Htn", "state", "established"),
                          check=False).stdout
            left = len([l for l in out.splitlines() if l.strip()])
            if left == 0:
                break
            time.sleep(0.1)
        self.results["sigterm"] = {"established": live, "exit_s": took, "exit_status": rc,
                                   "kernel_established_after": left}
        log("SIGTERM: exit %s after %.2f s; kernel side still established: %d" % (rc, took, left))
        self.stop(d)

    def p5(self):
        secs = self.size("p5_seconds")
        d = self.start_lwipd("lwipd-p5", msl_ms=50)
        self.api("POST", "/v1/connections", {"remote_ip": TAP_PEER_IP,
                                             "remote_port": PEER_PORTS[0]})   # ARP warm
        time.sleep(0.2)
        before = self.rss_kib(d)
        samples = []
        stop = threading.Event()

        def sample():
            while not stop.wait(1.0):
                samples.append(self.rss_kib(d))
        t = threading.Thread(target=sample)
        t.start()
        log("P5: graceful open + close churn through lwipd for %d s, --msl-ms 50" % secs)
        try:
            r = self.churn_batch(secs) if self.batches else self.httpload(
                "--mode", "open", "--clients", "32", "--target", self.targets(TAP_PEER_IP),
                "--wait", "--close", "graceful", seconds=secs, progress=True)
        finally:
            stop.set()
            t.join()
        time.sleep(0.5)   # TIME_WAITs of 100 ms end
        after = self.rss_kib(d)
        log("P5: kernel graceful churn for %d s" % secs)
        k = self.kernel(10 ** 9, close="graceful", seconds=secs)
        self.results["p5"] = {"lwipd": r, "kernel": k, "rss_kib_before": before,
                              "rss_kib_after": after, "rss_kib_samples": samples,
                              "seconds": secs, "msl_ms": 50}
        log("P5: lwipd %.0f/s (RSS %d -> %d KiB), kernel %.0f/s" % (r["rate"], before, after,
                                                                  k["rate"]))
        self.stop(d)

    def run(self):
        self.setup()
        d = self.start_lwipd("lwipd", msl_ms=1000)
        # The batch API (issue 12) may not exist yet: an unknown path is 404, a known one
        # answers GET with 200 or 405.
        self.batches = self.api("GET", "/v1/batches", check=False)[0] not in (0, 404)
        self.results["lwipd"] = {"batch_api": self.batches, "limit_flags": self.limits_flag}
        # One open resolves ARP, so no measurement pays for it.
        self.httpload("--mode", "open", "--clients", "1", "--count", "1", "--target",
                      self.targets(TAP_PEER_IP), "--wait", "--close", "abort")
        self.p1()
        self.p3()
        self.p2_p4(d)
        self.lwip_alone()
        self.sigterm(d)
        self.p5()


# ---- reporting


def ratio(a, b):
    return a / b if b else 0.0


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def table(res):
    rows = []
    p1 = res.get("p1")
    if p1:
        rows.append(("P1 handshake+RST/s, few open", "%.0f" % p1["lwipd"]["rate"],
                     "kernel %.0f" % p1["kernel"]["rate"], "%.2fx" % p1["ratio"],
                     ">= 1.0x (floor 0.5x)"))
    alone = {r["held"]: r for r in res.get("p2_lwip_inprocess", [])}
    kern = {r["target_held"]: r for r in res.get("p2_kernel", [])}
    for r in res.get("p2_lwipd", []):
        if r["target_held"] == 0:
            continue
        a = alone.get(r["target_held"])
        k = kern.get(r["target_held"])
        ref = "lwIP %.0f" % a["rate"] if a else "-"
        if k:
            ref += ", kernel %s" % ("%.0f" % k["rate"] if k["ok"] else
                                    "n/a (held %d)" % k["held"])
        if r["limited"]:
            lw = "%s (held only %d)" % ("%.0f" % r["rate"] if r["ok"] else "n/a", r["held"])
        else:
            lw = "%.0f" % r["rate"]
        rows.append(("P2 rate with %d held" % r["target_held"], lw, ref,
                     "%.2fx" % ratio(r["rate"], a["rate"]) if a and r["ok"] else "-",
                     ">= 0.9x lwIP"))
    p3 = res.get("p3")
    if p3:
        l = p3["open_latency_1_client"]
        rows.append(("P3 POST+wait p50/p99, 1 client", "%.2f / %.2f ms" % (
            l["p50_us"] / 1000, l["p99_us"] / 1000), "-", "-", "p99 < 1 ms"))
        rows.append(("P3 GET/s, 32 clients", "%.0f" % p3["get_32_clients"]["rate"], "-", "-",
                     ">= 30,000"))
        meanwhile = p3.get("opens_meanwhile") or {"rate": 0}
        rows.append(("P3 GET/s during opens", "%.0f" % p3["get_32_clients_during_opens"]["rate"],
                     "-", "opens %.0f/s meanwhile" % meanwhile["rate"],
                     ">= 20,000 (during a batch)"))
    p4 = res.get("p4")
    if p4:
        pcb = next((r["tcp_pcb_bytes"] for r in res.get("p2_lwip_inprocess", [])), 0)
        rows.append(("P4 RSS per held connection", "%.0f B" % p4["bytes_per_conn"],
                     "lwIP PCB %d B" % pcb, "%.0f B beyond, timelines %s" % (
                         p4["bytes_per_conn"] - pcb, p4["timelines"]),
                     "<= 1 KiB beyond lwIP's PCB"))
        if "timelines_on_bytes_per_conn" in p4:
            rows.append(("P4 ... with timelines on", "%.0f B" % p4["timelines_on_bytes_per_conn"],
                         "-", "-", "report"))
    p5 = res.get("p5")
    if p5:
        during = p5["rss_kib_samples"] or [p5["rss_kib_after"]]
        rows.append(("P5 graceful churn/s (%d s)" % p5["seconds"], "%.0f" % p5["lwipd"]["rate"],
                     "kernel %.0f" % p5["kernel"]["rate"],
                     "RSS %d idle, %d..%d KiB during" % (p5["rss_kib_before"], min(during),
                                                          max(during)),
                     ">= 10,000/s for 60 s, flat"))
    st = res.get("sigterm")
    if st:
        rows.append(("SIGTERM exit, %d open" % st["established"], "%.2f s" % st["exit_s"],
                     "-", "%d left on peer" % st["kernel_established_after"], "<= 2 s, all reset"))
    head = ("figure", "lwipd", "reference", "ratio/extra", "target")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(5)]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
             for r in [head] + rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def plot(res, png):
    """Rate against connections held: lwipd, lwIP alone, the kernel (gnuplot)."""
    dat = png[:-4] + ".dat"
    # A level where nothing could be measured (a limit) has no point.
    lwipd = "lwipd (batch)" if res.get("lwipd", {}).get("batch_api") else "lwipd (API)"
    series = [(name, [(r["held"], r["rate"]) for r in res.get(key, []) if r["ok"] > 0])
              for name, key in ((lwipd, "p2_lwipd"), ("lwIP in-process", "p2_lwip_inprocess"),
                                ("Linux kernel", "p2_kernel"))]
    with open(dat, "w") as f:
        for name, pts in series:
            f.write("# %s\n" % name)
            for h, r in pts:
                f.write("%d %.1f\n" % (max(h, 1), max(r, 1.0)))
            f.write("\n\n")
    script = "\n".join([
        "set terminal pngcairo size 900,560",
        "set output '%s'" % png,
        "set title 'Handshake + RST rate against connections held open'",
        "set xlabel 'connections held open (1 = none)'",
        "set ylabel 'handshakes/s'",
        "set logscale xy", "set grid", "set key outside bottom center horizontal",
        "plot " + ", ".join("'%s' index %d with linespoints title '%s'" % (dat, i, name)
                            for i, (name, _) in enumerate(series)),
    ])
    subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)


def main():
    ap = argparse.ArgumentParser(description="lwipd's benchmark against the kernel and lwIP alone")
    ap.add_argument("--smoke", action="store_true", help="tiny counts, a few seconds a step")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "results.json"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run.py: needs root (network namespaces, a TAP device)")
    for prog in ("lwipd", "kclient", "ksink", "httpload", "lwipbench"):
        if not os.access(os.path.join(args.build_dir, prog), os.X_OK):
            sys.exit("run.py: %s/%s is missing; build first (bash tests/bench/run.sh builds)"
                     % (args.build_dir, prog))
    if shutil.which("gnuplot") is None:
        sys.exit("run.py: gnuplot is missing (apt-get install gnuplot-nox, or bash tests/setup.sh)")

    bench = Bench(args)
    # SIGTERM and SIGHUP end the run as Ctrl-C does, through the cleanup below.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    started = time.monotonic()
    try:
        bench.run()
    finally:
        bench.cleanup()
    res = bench.results
    res["elapsed_s"] = time.monotonic() - started
    res["notes"].append("%d cores; other work may share them (note it when publishing)"
                        % (os.cpu_count() or 0))
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    png = args.out[:-5] + ".png" if args.out.endswith(".json") else args.out + ".png"
    plot(res, png)
    print(table(res))
    print("machine: %(nproc)d cores, %(cpu)s, Linux %(kernel)s, %(date)s" % res["machine"])
    print("JSON: %s\nplot: %s\n(%.0f s)" % (args.out, png, res["elapsed_s"]))


if __name__ == "__main__":
    main()
