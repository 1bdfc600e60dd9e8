/*
 * fuzz_frames: libFuzzer harness for Ethernet frames from the wire, through
 * the daemon's real inbound path into lwIP and the engine behind it.
 *
 * DESIGN
 *
 * LLVMFuzzerInitialize starts the real engine and lwIP once, on a "TAP"
 * that is one end of a SOCK_SEQPACKET socketpair. The harness holds the
 * other end, the wire: lwIP's frames arrive there and are drained after
 * every frame fed, so nothing blocks. The TAP reader thread runs but reads
 * nothing; the harness hands each frame to tapnetif_input(), the reader's
 * own handling of a frame (the gate, the fault path, the glue, lwIP, the
 * engine's timeline, peer state and capture), under the core lock as the
 * reader takes it.
 *
 * The wire answers as a peer would: an ARP request gets a reply, and a SYN
 * lwIP sends gets a SYN+ACK, so ARP resolves and active opens complete.
 * Present for every input: a listener on LISTEN_PORT and a tracked
 * connection in ESTABLISHED, opened again (and the old one aborted) when an
 * input left it in any other state. A record may also make the tracked
 * connection send (a bounded queue) or close, so that lwIP has data in
 * flight and the closing states and their deadlines are reached. Other
 * connections an input made are aborted after it, and a capture reader of
 * every frame is read empty, so work and memory stay bounded per input. Fault rules given at start drop,
 * duplicate, corrupt, delay and reorder a few segments, with holds of a few
 * milliseconds.
 *
 * Timers are not driven by the harness: lwIP's core thread runs them (and
 * the fault path's releases and the engine's deadlines) in real time
 * whenever the harness does not hold the core lock, i.e. between frames,
 * as they do beside a real TAP reader. Replayed, an input may meet them at
 * other moments; the engine's small limits (MSL 10 ms, holds of 1 to 3 ms)
 * make them fire often.
 *
 * The input is a sequence of records: one byte of FIX_* and DO_* flags,
 * two bytes of length (big-endian, capped at FUZZ_FRAME_MAX) and the
 * frame. Without flags the bytes go in raw; the FIX_* flags rewrite the
 * frame first so that the fuzzer gets past addresses, checksums and
 * sequence numbers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <lwip/inet_chksum.h>
#include <lwip/tcpip.h>

#include "engine.h"
#include "log.h"
#include "membudget.h"
#include "stack_internal.h"

#define FUZZ_RECORDS_MAX 64
#define FUZZ_FRAME_MAX 2048
#define WIRE_DRAIN_MAX 256	/* frames read off the wire per frame fed */
#define LISTEN_PORT 80
#define LISTEN_BACKLOG 4
#define PEER_PORT 7
#define PEER_ISS 0x10000000u
#define CAPTURE_BATCH 16

/* Record flags: each rewrites the frame before it is fed. */
#define FIX_SUM 0x01		/* recompute the IPv4 header and TCP checksums */
#define FIX_ADDR 0x02		/* MACs and IPv4 addresses: from the peer to lwipd */
#define FIX_CONN 0x04		/* ports of the tracked connection; seq and ack are offsets in its space */
#define FIX_LISTEN 0x08		/* the listener's port as destination */
#define FIX_LEN 0x10		/* the IPv4 total length: the rest of the frame */
#define FIX_PASSIVE 0x20	/* with FIX_LISTEN: the port and ack of the last SYN+ACK the listener sent */
/* Record flags that act before the frame is fed. */
#define DO_SEND 0x40		/* the tracked connection queues SEND_BYTES more, up to SEND_QUEUED_MAX */
#define DO_CLOSE 0x80		/* the tracked connection sends its FIN */
#define SEND_BYTES 3000
#define SEND_QUEUED_MAX (16u << 10)

#define ETH_LEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t lwipd_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

static struct {
	struct engine *engine;
	struct tap_device tap;
	int wire;			/* the peer's end of the socketpair */
	uint32_t address;		/* network byte order, as is peer */
	uint32_t peer;
	uint64_t conn;			/* the tracked connection; 0: none */
	uint16_t conn_port;		/* its local port */
	struct engine_tcb conn_tcb;	/* its TCB before the current frame */
	uint16_t synack_port;		/* the peer port of the listener's last SYN+ACK */
	uint32_t synack_seq;
	struct engine_capture_reader *capture;
	struct engine_capture_frame captured[CAPTURE_BATCH];
	uint8_t frame[FUZZ_FRAME_MAX];
	uint8_t pseudo[12 + FUZZ_FRAME_MAX];
} fz;

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void
feed(const uint8_t *frame, size_t len)
{
	stack_lock();
	tapnetif_input(frame, len);
	stack_unlock();
}

/* Recomputes the IPv4 header checksum and, if the segment is TCP, its checksum, over what the frame holds. */
static void
fix_checksums(uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + ETH_LEN, *tcp;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, seg_len;
	u16_t sum;

	if (ihl < 20 || ETH_LEN + ihl > len)
		return;
	memset(ip + 10, 0, 2);
	sum = inet_chksum(ip, (u16_t)ihl);
	memcpy(ip + 10, &sum, 2);
	seg_len = get16(ip + 2) > ihl ? get16(ip + 2) - ihl : 0;
	/* A fragment's TCP checksum covers the reassembled segment: leave it. */
	if (ip[9] != IP_PROTO_TCP || (get16(ip + 6) & 0x3fff) != 0 || seg_len < 20 ||
	    ETH_LEN + ihl + seg_len > len)
		return;
	tcp = ip + ihl;
	memset(tcp + 16, 0, 2);
	memcpy(fz.pseudo, ip + 12, 8);
	fz.pseudo[8] = 0;
	fz.pseudo[9] = IP_PROTO_TCP;
	put16(fz.pseudo + 10, (uint16_t)seg_len);
	memcpy(fz.pseudo + 12, tcp, seg_len);
	sum = inet_chksum(fz.pseudo, (u16_t)(12 + seg_len));
	memcpy(tcp + 16, &sum, 2);
}

/* Rewrites a fuzzed frame as its flags ask. */
static void
fix_up(uint8_t flags, uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + ETH_LEN, *tcp;
	size_t ihl;

	if ((flags & FIX_ADDR) && len >= ETH_LEN) {
		memcpy(frame, lwipd_mac, 6);
		memcpy(frame + 6, peer_mac, 6);
	}
	if (len < ETH_LEN + 20 || get16(frame + 12) != ETHERTYPE_IPV4)
		return;
	if (flags & FIX_ADDR) {
		memcpy(ip + 12, &fz.peer, 4);
		memcpy(ip + 16, &fz.address, 4);
	}
	if (flags & FIX_LEN)
		put16(ip + 2, (uint16_t)(len - ETH_LEN));
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	tcp = ip + ihl;
	if (ip[9] == IP_PROTO_TCP && ihl >= 20 && ETH_LEN + ihl + 20 <= len) {
		if ((flags & FIX_CONN) && fz.conn != 0) {
			put16(tcp, PEER_PORT);
			put16(tcp + 2, fz.conn_port);
			put32(tcp + 4, get32(tcp + 4) + fz.conn_tcb.rcv_nxt);
			put32(tcp + 8, get32(tcp + 8) + fz.conn_tcb.snd_nxt);
		} else if (flags & FIX_LISTEN) {
			put16(tcp + 2, LISTEN_PORT);
			if ((flags & FIX_PASSIVE) && fz.synack_port != 0) {
				put16(tcp, fz.synack_port);
				put32(tcp + 8, get32(tcp + 8) + fz.synack_seq + 1);
			}
		}
	}
	if (flags & FIX_SUM)
		fix_checksums(frame, len);
}

/* Answers an ARP request for any address with the peer's MAC. */
static void
answer_arp(const uint8_t *request, size_t len)
{
	uint8_t reply[ETH_LEN + 28];

	if (len < sizeof(reply) || get16(request + ETH_LEN + 6) != 1)
		return;
	memcpy(reply, request + 6, 6);
	memcpy(reply + 6, peer_mac, 6);
	put16(reply + 12, ETHERTYPE_ARP);
	memcpy(reply + ETH_LEN, request + ETH_LEN, 6);	/* hardware and protocol types and sizes */
	put16(reply + ETH_LEN + 6, 2);
	memcpy(reply + ETH_LEN + 8, peer_mac, 6);
	memcpy(reply + ETH_LEN + 14, request + ETH_LEN + 24, 4);	/* the address asked for */
	memcpy(reply + ETH_LEN + 18, request + ETH_LEN + 8, 10);	/* the asker's MAC and address */
	feed(reply, sizeof(reply));
}

/* Answers lwIP's SYN with a SYN+ACK (MSS 1460) from the peer. */
static void
answer_syn(const struct frame_tcp *syn)
{
	uint8_t *f = fz.frame, *ip = f + ETH_LEN, *tcp = ip + 20;
	const size_t len = ETH_LEN + 20 + 24;

	memset(f, 0, len);
	memcpy(f, lwipd_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, ETHERTYPE_IPV4);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 24);
	ip[8] = 64;
	ip[9] = IP_PROTO_TCP;
	memcpy(ip + 12, &syn->dst_ip, 4);
	memcpy(ip + 16, &syn->src_ip, 4);
	put16(tcp, syn->dst_port);
	put16(tcp + 2, syn->src_port);
	put32(tcp + 4, PEER_ISS);
	put32(tcp + 8, syn->seq + 1);
	tcp[12] = 6 << 4;
	tcp[13] = TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK;
	put16(tcp + 14, 65535);
	tcp[20] = 2;	/* MSS */
	tcp[21] = 4;
	put16(tcp + 22, 1460);
	fix_checksums(f, len);
	feed(f, len);
}

/* Reads what lwIP wrote to the wire and answers ARP and SYNs; the rest is discarded. */
static void
drain_wire(void)
{
	static uint8_t out[FRAME_MAX_LEN];
	struct frame_tcp seg;

	for (int i = 0; i < WIRE_DRAIN_MAX; i++) {
		ssize_t n = recv(fz.wire, out, sizeof(out), MSG_DONTWAIT);

		if (n <= 0)
			return;
		if (n >= ETH_LEN && get16(out + 12) == ETHERTYPE_ARP) {
			answer_arp(out, (size_t)n);
			continue;
		}
		if (frame_parse_tcp(out, (size_t)n, &seg) < 0)
			continue;
		if ((seg.flags & (TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK | TCPINFO_FLAG_RST)) == TCPINFO_FLAG_SYN) {
			answer_syn(&seg);
		} else if ((seg.flags & (TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK)) ==
		    (TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK) && seg.src_port == LISTEN_PORT) {
			fz.synack_port = seg.dst_port;
			fz.synack_seq = seg.seq;
		}
	}
}

/* Aborts a connection, if it is still live. */
static void
abort_conn(uint64_t id)
{
	struct engine_conn_view view;
	bool acted;

	engine_close(fz.engine, id, ENGINE_CLOSE_ABORT, &view, &acted);
}

/* Makes sure the tracked connection exists and is ESTABLISHED, opening a new one if not. */
static void
track_connection(void)
{
	static struct engine_conn_view view;
	struct engine_open_params open = { .remote = { .ip = fz.peer, .port = PEER_PORT } };

	if (fz.conn != 0 && engine_get(fz.engine, fz.conn, &view) == ENGINE_OK &&
	    view.state == TCPINFO_ESTABLISHED)
		return;
	if (fz.conn != 0)
		abort_conn(fz.conn);
	fz.conn = 0;
	drain_wire();
	if (engine_open(fz.engine, &open, &view) != ENGINE_OK)
		return;
	fz.conn = view.id;
	fz.conn_port = view.local.port;
	drain_wire();
}

/* Does what a record asks of the tracked connection, and reads its TCB for FIX_CONN. */
static void
drive_connection(uint8_t flags)
{
	static struct engine_conn_view view;
	bool acted;

	if (fz.conn == 0 || engine_get(fz.engine, fz.conn, &view) != ENGINE_OK)
		return;
	if ((flags & DO_SEND) && view.send_queued < SEND_QUEUED_MAX)
		engine_send(fz.engine, fz.conn, NULL, SEND_BYTES, NULL);
	if (flags & DO_CLOSE)
		engine_close(fz.engine, fz.conn, ENGINE_CLOSE_GRACEFUL, &view, &acted);
	if (flags & (DO_SEND | DO_CLOSE)) {
		/* What went out moved snd_nxt: the offsets count from after it. */
		drain_wire();
		if (engine_get(fz.engine, fz.conn, &view) != ENGINE_OK)
			return;
	}
	fz.conn_tcb = view.tcb;
}

/* Aborts every live connection but the tracked one, so none outlives its input. */
static void
abort_others(void)
{
	struct engine_page page = { .after = 0, .limit = ENGINE_PAGE_MAX };
	struct engine_conn_view *views;
	size_t count;
	bool more = true;

	if (engine_live_count(fz.engine) <= 1)
		return;
	while (more && engine_list(fz.engine, NULL, &page, &views, &count, &more) == ENGINE_OK &&
	    count > 0) {
		for (size_t i = 0; i < count; i++) {
			if (views[i].id != fz.conn && views[i].state != TCPINFO_CLOSED)
				abort_conn(views[i].id);
		}
		page.after = views[count - 1].id;
		free(views);
	}
	drain_wire();
}

static void
capture_wake(void *arg)
{
	(void)arg;
}

/* Reads the capture of every frame empty; a reader dropped for falling behind is opened again. */
static void
read_capture(void)
{
	int n;

	do {
		if (fz.capture == NULL &&
		    engine_capture_open(fz.engine, 0, capture_wake, capture_wake, NULL, &fz.capture) < 0)
			return;
		n = engine_capture_read(fz.engine, fz.capture, fz.captured, NULL, CAPTURE_BATCH);
		if (n < 0) {
			engine_capture_close(fz.engine, fz.capture);
			fz.capture = NULL;
		}
	} while (n == CAPTURE_BATCH);
}

/* Reads what the tracked connection received, so its buffer and window do not stay full. */
static void
read_received(void)
{
	uint8_t *data = NULL;
	size_t len;
	bool truncated;

	if (fz.conn != 0 && engine_read(fz.engine, fz.conn, &data, &len, &truncated) == ENGINE_OK)
		free(data);
}

/* The link never fails here: the socketpair is never closed. */
static void
link_lost(void)
{
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct fault_spec faults[] = {
		{ .dir = FAULT_DIR_IN, .action = FAULT_DROP, .probability = 0.03, .has_seed = true, .seed = 1 },
		{ .dir = FAULT_DIR_IN, .action = FAULT_DUPLICATE, .probability = 0.03, .has_seed = true, .seed = 2 },
		{ .dir = FAULT_DIR_IN, .action = FAULT_CORRUPT, .probability = 0.02, .has_seed = true, .seed = 3 },
		{ .dir = FAULT_DIR_IN, .action = FAULT_DELAY, .delay_ms = 2, .probability = 0.03,
		    .has_seed = true, .seed = 4 },
		{ .dir = FAULT_DIR_OUT, .action = FAULT_REORDER, .hold_ms = 3, .probability = 0.05,
		    .has_seed = true, .seed = 5 },
		{ .dir = FAULT_DIR_OUT, .action = FAULT_DELAY, .delay_ms = 1, .probability = 0.03,
		    .has_seed = true, .seed = 6 },
	};
	struct engine_config cfg = {
		.ifname = "fuzz0",
		.prefix = 24,
		.msl_ms = 10,
		.retain_closed = 8,
		.recv_buffer = 4096,
		.timeline_max = ENGINE_TIMELINE_MIN,
		.snaplen = 64,
		.max_fault_rules = 8,
		/* Small limits, so that no input can make memory grow run after run. */
		.max_connections = 64,
		.max_listeners = 4,
		.max_event_streams = 1,
		.max_capture_readers = 1,
		.max_send_queue = ENGINE_SEND_QUEUE_MIN,
		.max_batches = 1,
		.memory_budget = 4 * MEMBUDGET_MIN,
		.fault_seed = 1,
		.faults = faults,
		.fault_count = sizeof(faults) / sizeof(faults[0]),
	};
	struct stack_config stack_cfg = {
		.tap = &fz.tap,
		.prefix = 24,
		.hold_max = 16,
		.hold_bytes = 64 << 10,
		.link_lost = link_lost,
	};
	struct engine_listener_view listener;
	int pair[2];

	(void)argc;
	(void)argv;
	log_init();
	log_set_level(LOG_LEVEL_WARN);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0) {
		perror("socketpair");
		abort();
	}
	/* Room for every frame lwIP may write between two drains. */
	setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	fz.tap.fd = pair[0];
	fz.wire = pair[1];
	snprintf(fz.tap.name, sizeof(fz.tap.name), "fuzz0");
	fz.tap.mtu = 1500;
	inet_pton(AF_INET, "10.9.0.1", &fz.address);
	inet_pton(AF_INET, "10.9.0.2", &fz.peer);
	cfg.address = stack_cfg.address = fz.address;
	memcpy(stack_cfg.mac, lwipd_mac, sizeof(stack_cfg.mac));
	if (engine_start(&cfg, &stack_cfg, &fz.engine) < 0 ||
	    engine_listen(fz.engine, LISTEN_PORT, LISTEN_BACKLOG, &listener) != ENGINE_OK) {
		fprintf(stderr, "fuzz_frames: the engine did not start\n");
		abort();
	}
	track_connection();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t at = 0;

	track_connection();
	for (int records = 0; records < FUZZ_RECORDS_MAX && size - at >= 3; records++) {
		uint8_t flags = data[at];
		size_t len = get16(data + at + 1);

		at += 3;
		if (len > FUZZ_FRAME_MAX)
			len = FUZZ_FRAME_MAX;
		if (len > size - at)
			len = size - at;
		memcpy(fz.frame, data + at, len);
		at += len;
		if (flags & (FIX_CONN | DO_SEND | DO_CLOSE))
			drive_connection(flags);
		fix_up(flags, fz.frame, len);
		feed(fz.frame, len);
		drain_wire();
	}
	read_received();
	read_capture();
	abort_others();
	return 0;
}
