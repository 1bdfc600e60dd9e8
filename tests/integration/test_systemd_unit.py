"""The installed files: `cmake --install` into a temporary DESTDIR puts the
binary, the unit, the example configuration and the man page in place;
`systemd-analyze verify` finds nothing to say about the unit; `systemd-analyze
security --offline=yes` rates it at an exposure of 3.0 or less; the man page
formats without warnings and covers every flag; the example configuration
passes --check."""

import os
import re
import shutil
import subprocess

import pytest

import helpers

PREFIX_PATHS = {
    "binary": "usr/sbin/lwipd",
    "conf": "etc/lwipd/tap0.conf",
    "man": "usr/share/man/man8/lwipd.8",
}
UNIT_DIRS = ("lib/systemd/system", "usr/lib/systemd/system")


def cmake_install(lwipd_bin, root):
    build = os.path.dirname(lwipd_bin)
    if not os.path.isfile(os.path.join(build, "cmake_install.cmake")):
        pytest.fail("%s is not a CMake build directory" % build, pytrace=False)
    cp = subprocess.run(["cmake", "--install", build], env=dict(os.environ, DESTDIR=root),
                        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp
    return cp


@pytest.fixture(scope="module")
def installed(tmp_path_factory, lwipd_bin):
    """A DESTDIR that `cmake --install` of the build holding lwipd_bin filled."""
    root = str(tmp_path_factory.mktemp("destdir"))
    cmake_install(lwipd_bin, root)
    return root


def unit_path(root):
    for d in UNIT_DIRS:
        path = os.path.join(root, d, "lwipd@.service")
        if os.path.isfile(path):
            return path
    raise AssertionError("lwipd@.service is not under %s in %s" % (UNIT_DIRS, root))


def unit_settings(path):
    """{key: [values]} of a unit file, in order, ignoring sections."""
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def instance(root, tmp_path, name="lwipd@tap0.service"):
    """The installed template, under an instance's name, as systemd-analyze takes it."""
    path = tmp_path / name
    shutil.copyfile(unit_path(root), path)
    return str(path)


def test_install_puts_everything_in_place(installed):
    for what, rel in PREFIX_PATHS.items():
        path = os.path.join(installed, rel)
        assert os.path.isfile(path), "%s missing: %s" % (what, path)
    assert os.access(os.path.join(installed, PREFIX_PATHS["binary"]), os.X_OK)
    unit_path(installed)


def test_unit_contract(installed):
    s = unit_settings(unit_path(installed))
    expect = {
        "Type": ["notify"],
        "EnvironmentFile": ["-/etc/lwipd/%i.conf"],
        "ExecStart": ["/usr/sbin/lwipd --config /etc/lwipd/%i.conf --tap %i"],
        "Restart": ["on-failure"],
        "DynamicUser": ["yes"],
        "AmbientCapabilities": ["CAP_NET_ADMIN"],
        "CapabilityBoundingSet": ["CAP_NET_ADMIN"],
        "DeviceAllow": ["/dev/net/tun rw"],
        "DevicePolicy": ["closed"],
        "ProtectSystem": ["strict"],
        "RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6 AF_NETLINK"],
        "Documentation": ["man:lwipd(8)"],
    }
    for key, values in expect.items():
        assert s.get(key) == values, "%s=%s, expected %s" % (key, s.get(key), values)
    assert s["SystemCallFilter"][0] == "@system-service", s["SystemCallFilter"]
    assert "WatchdogSec" in s
    assert s.get("PrivateDevices", ["no"]) == ["no"], "PrivateDevices= would hide /dev/net/tun"


def verify(unit, root, extra_env=None):
    """systemd-analyze verify, with the installed binary and man page where
    the unit names them: a private mount namespace shows DESTDIR's sbin as
    /usr/sbin, and MANPATH points into DESTDIR."""
    env = dict(os.environ, MANPATH=os.path.join(root, "usr/share/man"), **(extra_env or {}))
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
           'mount --bind "$1" /usr/sbin && exec systemd-analyze verify --man=yes "$2"', "sh",
           os.path.join(root, "usr/sbin"), unit]
    return subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)


def test_systemd_analyze_verify_is_silent(installed, tmp_path):
    cp = verify(instance(installed, tmp_path), installed)
    assert cp.returncode == 0 and cp.stdout == "" and cp.stderr == "", cp


def test_systemd_analyze_verify_catches_mistakes(installed, tmp_path):
    """The check above would notice a bad unit: one unknown key is enough."""
    path = instance(installed, tmp_path)
    with open(path, "a") as f:
        f.write("[Service]\nNoSuchSetting=1\n")
    cp = verify(path, installed)
    assert "NoSuchSetting" in cp.stdout + cp.stderr, cp


def test_netns_drop_in_verifies(installed, tmp_path):
    path = instance(installed, tmp_path, "lwipd@tap1.service")
    drop_in = tmp_path / "lwipd@tap1.service.d"
    drop_in.mkdir()
    shutil.copyfile(os.path.join(helpers.ROOT, "systemd", "netns.conf"), drop_in / "netns.conf")
    cp = verify(path, installed)
    assert cp.returncode == 0 and cp.stdout == "" and cp.stderr == "", cp


EXPOSURE_RE = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")


def test_security_exposure_at_most_3(installed, tmp_path):
    cmd = ["systemd-analyze", "security", "--offline=yes", "--threshold=30", "--no-pager",
           instance(installed, tmp_path)]
    cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    m = EXPOSURE_RE.search(cp.stdout)
    assert m, cp
    assert float(m.group(1)) <= 3.0, cp.stdout
    assert cp.returncode == 0, cp


def test_man_page_formats_cleanly_and_covers_every_flag(installed, lwipd_bin):
    page = os.path.join(installed, PREFIX_PATHS["man"])
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    cp = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], env=env,
                        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and cp.stderr == "", cp
    cp = subprocess.run(["man", "-l", "--warnings=w", page], env=env, stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and cp.stderr == "", cp
    text = re.sub(r".\x08", "", cp.stdout)
    usage = subprocess.run([lwipd_bin, "--help"], capture_output=True, text=True, timeout=20)
    flags = set(re.findall(r"^\s+(--[a-z-]+)", usage.stdout, re.M))
    assert len(flags) >= 13, usage.stdout
    for flag in flags:
        assert re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(flag), text), "%s is not in lwipd(8)" % flag
    for key in ("tap", "address", "gateway", "mac", "netns", "listen", "msl-ms",
                "retain-closed", "log-level"):
        assert re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(key), text), key
    for words in ("SIGTERM", "SIGINT", "EXIT STATUS", "GET /healthz", "GET /v1/interface",
                  "POST /v1/connections", "GET /v1/connections", "DELETE /v1/connections/",
                  "?state=", "?mode=abort", "problem+json", "RFC 9457", "NOTIFY_SOCKET",
                  "WATCHDOG_USEC", "JOURNAL_STREAM", "lwipd@tap0.service", "CAP_SYS_ADMIN"):
        assert words in text, "%r is not in lwipd(8)" % words


def test_example_configuration_is_valid(installed, lwipd_bin):
    conf = os.path.join(installed, PREFIX_PATHS["conf"])
    cp = subprocess.run([lwipd_bin, "--check", "--config", conf, "--tap", "tap0"],
                        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert cp.returncode == 0, cp


def test_install_keeps_an_existing_configuration(lwipd_bin, tmp_path):
    conf = tmp_path / PREFIX_PATHS["conf"]
    conf.parent.mkdir(parents=True)
    conf.write_text("address = 10.9.0.5/24\n")
    cmake_install(lwipd_bin, str(tmp_path))
    assert conf.read_text() == "address = 10.9.0.5/24\n"
    assert (tmp_path / PREFIX_PATHS["binary"]).is_file()
