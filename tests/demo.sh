#!/usr/bin/env bash
# A short tour of lwipd: installs the dependencies, builds, then opens and
# closes one TCP connection between lwIP (10.9.0.2, in lwipd) and the Linux
# kernel (10.9.0.1) across a TAP device in a throwaway network namespace,
# showing every step through the REST API and the packets on the wire.
# Run as root. Everything it creates is removed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
PY=/usr/bin/python3

bash tests/setup.sh </dev/null
echo "== building lwipd in build/"
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
LWIPD="$root/build/lwipd"

NS="lwipd-demo-$$"
work=$(mktemp -d /tmp/lwipd-demo.XXXXXX)
lwipd_pid="" peer_pid="" dump_pid=""

cleanup() {
  set +e
  for pid in $lwipd_pid $peer_pid $dump_pid; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '$ %s\n' "$*"; }
pretty() { "$PY" -m json.tool; }
# jget EXPR: evaluates a Python expression over the JSON on stdin, as d.
jget() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# wait_until DESCRIPTION COMMAND...: polls for up to 20 s.
wait_until() {
  local what=$1; shift
  for _ in $(seq 1 200); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for $what" >&2
  [ -f "$work/lwipd.log" ] && sed 's/^/  lwipd: /' "$work/lwipd.log" >&2
  return 1
}

say "a network namespace $NS with a persistent TAP tap0; the kernel side is 10.9.0.1/24"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev tap0 mode tap
ip -n "$NS" addr add 10.9.0.1/24 dev tap0
ip -n "$NS" link set tap0 up
ip -n "$NS" -br addr show dev tap0

say "a kernel TCP listener on 10.9.0.1:7000 (it closes its side only when told to)"
ip netns exec "$NS" "$PY" tests/integration/peer.py --mode hold --port 7000 >"$work/peer.log" 2>&1 &
peer_pid=$!
wait_until "the listener" grep -q LISTENING "$work/peer.log"

ip netns exec "$NS" tcpdump -i tap0 -U -n -Z root -w "$work/demo.pcap" tcp 2>"$work/tcpdump.log" &
dump_pid=$!
wait_until "tcpdump" grep -q "listening on" "$work/tcpdump.log"

say "lwipd: lwIP as 10.9.0.2/24 on that TAP, the API on 127.0.0.1 (TIME_WAIT = 2 x 1 s)"
show "$LWIPD --netns $NS --tap tap0 --address 10.9.0.2/24 --listen 127.0.0.1:0 --msl-ms 1000"
"$LWIPD" --netns "$NS" --tap tap0 --address 10.9.0.2/24 --listen 127.0.0.1:0 --msl-ms 1000 \
  2>"$work/lwipd.log" &
lwipd_pid=$!
wait_until "the API" grep -q "API listening on 127.0.0.1:" "$work/lwipd.log"
port=$(sed -n 's/.*API listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/lwipd.log" | head -n 1)
API="http://127.0.0.1:$port"
export no_proxy="127.0.0.1${no_proxy:+,$no_proxy}" NO_PROXY="127.0.0.1${NO_PROXY:+,$NO_PROXY}"
wait_until "/healthz" curl -fsS "$API/healthz"
show "curl $API/healthz"; curl -sS "$API/healthz"; echo

state_of() { curl -sS "$API/v1/connections/$1" | jget 'd["state"]'; }
# state_in ID STATE...: true when the connection is in one of the states.
state_in() {
  local s; s=$(state_of "$1"); shift
  for want in "$@"; do [ "$s" = "$want" ] && return 0; done
  return 1
}

say "open a connection: lwIP sends the SYN"
show "curl --json '{\"remote_ip\":\"10.9.0.1\",\"remote_port\":7000}' $API/v1/connections"
curl -sS -D "$work/headers" --json '{"remote_ip":"10.9.0.1","remote_port":7000}' \
  "$API/v1/connections" >"$work/created.json"
grep -i '^\(HTTP\|Location\)' "$work/headers" | tr -d '\r'
pretty <"$work/created.json"
id=$(jget 'd["id"]' <"$work/created.json")

say "the three-way handshake is done"
wait_until "ESTABLISHED" state_in "$id" ESTABLISHED
show "curl $API/v1/connections/$id"
curl -sS "$API/v1/connections/$id" | pretty
show "ip netns exec $NS ss -tan state established"
ip netns exec "$NS" ss -tan state established

say "close it: lwIP sends its FIN"
show "curl -X DELETE $API/v1/connections/$id"
curl -sS -X DELETE -o "$work/deleted.json" -w 'HTTP %{http_code}, ' "$API/v1/connections/$id"
jget '"state " + d["state"]' <"$work/deleted.json"
wait_until "FIN_WAIT_2" state_in "$id" FIN_WAIT_2
echo "lwIP: $(state_of "$id")   kernel:"
ip netns exec "$NS" ss -tan state close-wait

say "the kernel closes its side: FIN, then lwIP waits 2 x MSL in TIME_WAIT"
kill -USR1 "$peer_pid"
wait_until "TIME_WAIT" state_in "$id" TIME_WAIT CLOSED
echo "lwIP: $(state_of "$id")"
wait_until "CLOSED" state_in "$id" CLOSED

say "closed: the whole history (closed connections stay queryable)"
show "curl $API/v1/connections/$id"
curl -sS "$API/v1/connections/$id" | pretty
show "curl '$API/v1/connections?state=CLOSED'   (ids only)"
curl -sS "$API/v1/connections?state=CLOSED" | jget '[c["id"] for c in d["connections"]]'

say "the same connection as a ladder, lwIP on the left, the kernel on the right"
show "curl '$API/v1/connections/$id/timeline?format=text'"
curl -sS "$API/v1/connections/$id/timeline?format=text"

say "the interface and its counters"
show "curl $API/v1/interface"
curl -sS "$API/v1/interface" | pretty

say "a bad request gets a problem+json answer"
show "curl --json '{\"remote_ip\":\"10.9.0.1\",\"remote_port\":70000}' $API/v1/connections"
curl -sS --json '{"remote_ip":"10.9.0.1","remote_port":70000}' "$API/v1/connections" | pretty

say "the exchange on the wire (tcpdump on tap0)"
kill -INT "$dump_pid"; wait "$dump_pid" 2>/dev/null || true; dump_pid=""
tcpdump -nn -r "$work/demo.pcap" 2>/dev/null

say "stop lwipd (SIGTERM)"
kill -TERM "$lwipd_pid"
rc=0; wait "$lwipd_pid" || rc=$?; lwipd_pid=""
echo "lwipd exited with status $rc; its log:"
sed 's/^/  /' "$work/lwipd.log"
