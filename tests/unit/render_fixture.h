/*
 * render_fixture: what the renderer's tests share (test_render*.c).
 */
#ifndef LWIPD_RENDER_FIXTURE_H
#define LWIPD_RENDER_FIXTURE_H

#include <jansson.h>

#include "engine.h"

/* Checks the compact, ordered dump of value and releases it. */
void assert_json(json_t *value, const char *expected);

/* Connection 42, ESTABLISHED, with every field set: CONNECTION_42_JSON renders it. */
void fill_connection(struct engine_conn_view *conn);

#define TCB_42_JSON \
	"{\"iss\":1000,\"irs\":2000,\"snd_nxt\":1001,\"snd_una\":1001,\"rcv_nxt\":2001," \
	"\"snd_wnd\":64240,\"rcv_wnd\":65535,\"mss\":1460,\"rto_ms\":1000," \
	"\"cwnd\":2920,\"ssthresh\":65535,\"nrtx\":0}"

#define CONNECTION_42_JSON \
	"{\"id\":42,\"origin\":\"active\",\"listener_id\":null," \
	"\"local\":{\"ip\":\"10.9.0.2\",\"port\":49999}," \
	"\"remote\":{\"ip\":\"10.9.0.1\",\"port\":7000}," \
	"\"state\":\"ESTABLISHED\"," \
	"\"history\":[{\"state\":\"SYN_SENT\",\"at_us\":123,\"cause\":\"api:open\"}," \
	"{\"state\":\"ESTABLISHED\",\"at_us\":456,\"cause\":\"rx:SYN,ACK\"}]," \
	"\"counters\":{\"segs_in\":1,\"segs_out\":2,\"bytes_in\":3,\"bytes_out\":4," \
	"\"retransmits\":5,\"rst_in\":6,\"rst_in_ignored\":0,\"rst_out\":7}," \
	"\"tcb\":" TCB_42_JSON ",\"send_queued\":8,\"recv_buffered\":9," \
	"\"peer_state\":\"CLOSED\",\"peer_state_source\":\"inferred\",\"peer_history\":[],\"peer_kernel_history\":[]}"

#endif
