/*
 * render_fixture: what the renderer's tests share: the check of a JSON
 * value's compact dump, and connection 42, whose JSON render_fixture.h
 * spells out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "render_fixture.h"

/* Checks the compact, ordered dump of value and releases it. */
void
assert_json(json_t *value, const char *expected)
{
	char *text;

	assert_non_null(value);
	text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
	json_decref(value);
}

void
fill_connection(struct engine_conn_view *conn)
{
	memset(conn, 0, sizeof(*conn));
	conn->id = 42;
	conn->origin = ENGINE_ORIGIN_ACTIVE;
	conn->local.ip = inet_addr("10.9.0.2");
	conn->local.port = 49999;
	conn->remote.ip = inet_addr("10.9.0.1");
	conn->remote.port = 7000;
	conn->state = TCPINFO_ESTABLISHED;
	conn->history_len = 2;
	conn->history[0].state = TCPINFO_SYN_SENT;
	conn->history[0].at_us = 123;
	conn->history[0].cause.kind = TCPINFO_CAUSE_API_OPEN;
	conn->history[1].state = TCPINFO_ESTABLISHED;
	conn->history[1].at_us = 456;
	conn->history[1].cause.kind = TCPINFO_CAUSE_RX;
	conn->history[1].cause.flags = TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK;
	conn->counters.segs_in = 1;
	conn->counters.segs_out = 2;
	conn->counters.bytes_in = 3;
	conn->counters.bytes_out = 4;
	conn->counters.retransmits = 5;
	conn->counters.rst_in = 6;
	conn->counters.rst_out = 7;
	conn->has_tcb = true;
	conn->tcb = (struct engine_tcb){
		.iss = 1000, .irs = 2000, .snd_nxt = 1001, .snd_una = 1001, .rcv_nxt = 2001,
		.snd_wnd = 64240, .rcv_wnd = 65535, .mss = 1460, .rto_ms = 1000,
		.cwnd = 2920, .ssthresh = 65535, .nrtx = 0,
	};
	conn->send_queued = 8;
	conn->recv_buffered = 9;
	/* Outside TIME_WAIT this is not rendered, whatever it holds. */
	conn->time_wait_remaining_ms = 77;
}
