/*
 * config_help: the --help text. Its defaults and bounds come from the same
 * constants config.c's table holds, so the two cannot disagree; every flag
 * here must also appear in systemd/lwipd.8 (a test checks).
 */
#include "config.h"
#include "engine.h"
#include "membudget.h"

#include <stdio.h>

void
config_usage(FILE *out)
{
	fprintf(out,
	    "usage: lwipd --tap NAME --address A.B.C.D/LEN [options]\n"
	    "\n"
	    "Runs the lwIP TCP/IP stack on a TAP device and serves a REST API to drive\n"
	    "and watch its TCP connections.\n"
	    "\n"
	    "  --tap NAME           TAP device to attach to, created if missing\n"
	    "  --address A.B.C.D/LEN  lwIP's IPv4 address and prefix length\n"
	    "  --gateway IP         next hop for addresses off the subnet\n"
	    "  --mac MAC            lwIP's MAC address (default: derived from the TAP name\n"
	    "                       and address, locally administered)\n"
	    "  --netns NSNAME       open the TAP inside /run/netns/NSNAME; the API stays in\n"
	    "                       the daemon's own namespace\n"
	    "  --listen HOST:PORT   API address (default 127.0.0.1:8080; port 0 picks one);\n"
	    "                       an address other than loopback needs --api-token-file\n"
	    "  --api-token-file FILE  bearer token the API requires (at least 16 bytes)\n"
	    "  --http-max-clients N API connections at once (default %u, %u to %u), plus a\n"
	    "                       few kept for /healthz and /metrics\n"
	    "  --http-max-per-client N  API connections from one address (default 0:\n"
	    "                       half of --http-max-clients)\n"
	    "  --http-timeout-s N   close an idle or half-sent API request after N s\n"
	    "                       (default %u, %u to %u)\n"
	    "  --max-waiters N      requests waiting at once (?wait_for=, ?wait_accepted=,\n"
	    "                       event streams), below --http-max-clients (default 0:\n"
	    "                       three quarters of it)\n"
	    "  --max-connections N  live connections at once (default %u, at most %u)\n"
	    "  --max-listeners N    listening ports at once (default %u, at most %u)\n"
	    "  --max-event-streams N  event stream clients at once (default %u, at most %u)\n"
	    "  --max-capture-readers N  live capture readers at once (default %u, at most %u)\n"
	    "  --max-send-queue N   bytes that may wait to be sent per connection\n"
	    "                       (default %u, %u to %u)\n"
	    "  --max-batches N      batches (POST /v1/batches) running at once (default %u,\n"
	    "                       at most %u)\n"
	    "  --msl-ms N           maximum segment lifetime; TIME_WAIT lasts 2 x N ms\n"
	    "                       (default %u, at most %u)\n"
	    "  --retain-closed N    closed connections kept for queries (default %u)\n"
	    "  --recv-buffer N      bytes of received data kept per connection until read\n"
	    "                       (default %u); the TCP window closes when it is full\n"
	    "  --timeline-max N     events kept per connection's timeline: the first %u\n"
	    "                       and the latest (default %u, %u to %u)\n"
	    "  --snaplen N          payload bytes each timeline segment keeps of its frame,\n"
	    "                       after its headers, for captures (default %u, at most %u)\n"
	    "  --memory-budget N    bytes that queued sends, receive buffers and timelines\n"
	    "                       may hold in all (default %u, %u to %u); beyond it sends\n"
	    "                       get 503, received data waits in lwIP, events are not kept\n"
	    "  --fault JSON         a fault rule, as POST /v1/faults takes it; repeatable\n"
	    "                       (at most %d)\n"
	    "  --max-fault-rules N  fault rules that may exist at once (default %u)\n"
	    "  --fault-hold-max N   segments that delay and reorder rules may hold at once\n"
	    "                       (default %u)\n"
	    "  --fault-hold-bytes N bytes of those segments (default %u)\n"
	    "  --lwip-raw           hand lwIP the segments RFC 9293 says to drop, to show\n"
	    "                       what lwIP 2.1.3 does with them (default: drop them)\n"
	    "  --peer-trace         a lab feature: read the local kernel's TCP states from its\n"
	    "                       sock:inet_sock_set_state tracepoint, beside the inferred\n"
	    "                       ones (needs tracefs at /sys/kernel/tracing and root)\n"
	    "  --log-level LEVEL    error, warn, info or debug (default info)\n"
	    "  --config FILE        read options from FILE, one 'key = value' a line, keys\n"
	    "                       named as the flags above; flags override the file\n"
	    "  --check              validate the options and exit, opening nothing\n"
	    "  --help               show this help and exit\n"
	    "  --version            show the version and exit\n"
	    "\n"
	    "Exit status: 0 after SIGTERM or SIGINT, 1 on a runtime failure, 2 on a usage error.\n",
	    CONFIG_HTTP_MAX_CLIENTS_DEFAULT, CONFIG_HTTP_MAX_CLIENTS_MIN, CONFIG_HTTP_MAX_CLIENTS_MAX,
	    CONFIG_HTTP_TIMEOUT_S_DEFAULT, CONFIG_HTTP_TIMEOUT_S_MIN, CONFIG_HTTP_TIMEOUT_S_MAX,
	    ENGINE_CONNECTIONS_DEFAULT, ENGINE_CONNECTIONS_MAX, ENGINE_LISTENERS_DEFAULT,
	    ENGINE_LISTENERS_MAX, ENGINE_EVENT_STREAMS_DEFAULT, ENGINE_EVENT_STREAMS_MAX,
	    ENGINE_CAPTURE_READERS_DEFAULT, ENGINE_CAPTURE_READERS_MAX, ENGINE_SEND_QUEUE_DEFAULT,
	    ENGINE_SEND_QUEUE_MIN, ENGINE_SEND_QUEUE_MAX, ENGINE_BATCHES_DEFAULT, ENGINE_BATCHES_MAX,
	    CONFIG_MSL_MS_DEFAULT, CONFIG_MSL_MS_MAX, CONFIG_RETAIN_CLOSED_DEFAULT,
	    CONFIG_RECV_BUFFER_DEFAULT, ENGINE_TIMELINE_HEAD, ENGINE_TIMELINE_DEFAULT,
	    ENGINE_TIMELINE_MIN, ENGINE_TIMELINE_MAX, ENGINE_SNAPLEN_DEFAULT, ENGINE_SNAPLEN_MAX,
	    MEMBUDGET_DEFAULT, MEMBUDGET_MIN, MEMBUDGET_MAX,
	    CONFIG_FAULTS_MAX, CONFIG_FAULT_RULES_DEFAULT,
	    CONFIG_FAULT_HOLD_DEFAULT, CONFIG_FAULT_HOLD_BYTES_DEFAULT);
}
