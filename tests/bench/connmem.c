/*
 * connmem: the engine's heap per tracked connection (issue 12's P4), in
 * process on the fake stack of the unit tests, so no lwIP PCB and no glue
 * record is in the figure. Opens N connections through the engine, walks
 * each through a handshake as lwIP would report it (three segments, two
 * state changes), and prints one JSON line: heap bytes per connection in
 * all, what its timeline holds, and the rest, which is what a connection
 * whose timeline is never written costs.
 *
 * connmem [N] [off]    (default 10000; off: opened with their timeline off)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "fake_stack.h"
#include "membudget.h"

#define CONNMEM_REMOTE_IP 0x0200000au	/* 10.0.0.2, network byte order */
#define CONNMEM_MAX 16000		/* below the engine's live connections cap */

static size_t
heap_used(void)
{
	return mallinfo2().uordblks;
}

int
main(int argc, char **argv)
{
	struct engine_config cfg = {
		.ifname = "tap0", .address = 0x0100000au, .prefix = 24, .msl_ms = 30000,
		.retain_closed = 1024, .recv_buffer = 65536, .timeline_max = ENGINE_TIMELINE_DEFAULT,
		.snaplen = ENGINE_SNAPLEN_DEFAULT, .memory_budget = MEMBUDGET_MAX,
		.clock_us = fake_clock_us, .max_fault_rules = 1, .max_connections = CONNMEM_MAX,
	};
	struct stack_config stack_cfg = { .address = cfg.address, .prefix = 24 };
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
	struct engine_open_params params = { .remote = { .ip = CONNMEM_REMOTE_IP, .port = 7 },
		.timeline_off = argc > 2 && strcmp(argv[2], "off") == 0 };
	struct engine_conn_view view;
	struct engine_stats stats;
	struct engine *engine;
	size_t before, fake_record, after;
	void *volatile probe;	/* volatile: the compiler may elide an unused calloc and free */

	if (n < 1 || n > CONNMEM_MAX) {
		fprintf(stderr, "connmem: N from 1 to %d\n", CONNMEM_MAX);
		return 2;
	}
	fake_stack_reset();
	if (engine_start(&cfg, &stack_cfg, &engine) != 0)
		return 1;
	/* The fake's own record per connection, to take out of the figure. */
	before = heap_used();
	probe = calloc(1, sizeof(struct stack_tcp));
	fake_record = heap_used() - before;
	free(probe);
	before = heap_used();
	for (long i = 0; i < n; i++) {
		struct stack_tcp *tcp;

		if (engine_open(engine, &params, &view) != ENGINE_OK)
			return 1;
		tcp = fake_last_tcp();
		fake_segment(tcp, true, TCPINFO_FLAG_SYN, 1000, 0, 0, TCPINFO_SYN_SENT);
		fake_segment(tcp, false, TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK, 5000, 1001, 0,
		    TCPINFO_ESTABLISHED);
		fake_segment(tcp, true, TCPINFO_FLAG_ACK, 1001, 5001, 0, TCPINFO_ESTABLISHED);
	}
	after = heap_used();
	engine_stats(engine, &stats);
	printf("{\"connections\": %ld, \"heap_per_conn\": %.0f, \"timeline_per_conn\": %.0f, "
	    "\"without_timeline_per_conn\": %.0f}\n", n,
	    (double)(after - before) / (double)n - (double)fake_record,
	    (double)stats.memory.timelines / (double)n,
	    ((double)(after - before) - (double)stats.memory.timelines) / (double)n -
	    (double)fake_record);
	engine_stop(engine);
	engine_free(engine);
	return 0;
}
