#!/usr/bin/env bash
# Installs everything lwipd needs to build and to run its tests, on Debian 12,
# as root. Idempotent: when every package is already installed it does not
# touch apt at all. Non-interactive.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  liblwip-dev libmicrohttpd-dev libjansson-dev uthash-dev libcmocka-dev
  python3 python3-pytest python3-scapy python3-prometheus-client
  tcpdump curl iproute2 ca-certificates
  systemd systemd-container debootstrap man-db groff-base util-linux procps
  nftables tshark libxml2-utils clang libclang-rt-14-dev
  gnuplot-nox valgrind
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup.sh: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update </dev/null
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
