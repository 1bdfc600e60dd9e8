/*
 * test_ladder_mermaid: the Mermaid ladder against golden files, and the
 * characters Mermaid would read specially kept out of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ladder.h"
#include "ladder_fixture.h"

static char *
render(const struct builder *b)
{
	size_t len = 0;
	char *text = ladder_mermaid(&b->timeline, &len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	/* "#" starts an entity, ";" may end a statement, "<" may open HTML (">" is in arrows). */
	assert_null(strpbrk(text, "#;<"));
	return text;
}

static void
check_golden(const struct builder *b, const char *name)
{
	char *text = render(b);
	bool same = matches_golden(name, text);

	free(text);
	assert_true(same);
}

static void
golden_passive_peer_close(void **unused)
{
	struct builder b;

	(void)unused;
	build_passive_peer_close(&b);
	check_golden(&b, "ladder_passive.mmd");
	builder_free(&b);
}

static void
golden_dropped_final_ack(void **unused)
{
	struct builder b;

	(void)unused;
	build_dropped_final_ack(&b);
	check_golden(&b, "ladder_dropped_ack.mmd");
	builder_free(&b);
}

/* lwIP's change reported after the ACK it sent on the SYN+ACK is noted once, with its cause. */
static void
state_told_once(void **unused)
{
	struct builder b;
	char *text;

	(void)unused;
	builder_init(&b, ENGINE_ORIGIN_ACTIVE, TCPINFO_ESTABLISHED);
	add_state(&b, 0, TCPINFO_CLOSED, TCPINFO_SYN_SENT, TCPINFO_CAUSE_API_OPEN, 0);
	add_segment(&b, 10, true, TCPINFO_FLAG_SYN, 0, 0, 0, TCPINFO_SYN_SENT, TCPINFO_SYN_SENT,
	    TCPINFO_STEP_HANDSHAKE_1);
	add_segment(&b, 300, false, TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK, 0, 1, 0, TCPINFO_SYN_SENT,
	    TCPINFO_ESTABLISHED, TCPINFO_STEP_HANDSHAKE_2);
	add_segment(&b, 310, true, TCPINFO_FLAG_ACK, 1, 1, 0, TCPINFO_ESTABLISHED,
	    TCPINFO_ESTABLISHED, TCPINFO_STEP_HANDSHAKE_3);
	add_state(&b, 320, TCPINFO_SYN_SENT, TCPINFO_ESTABLISHED, TCPINFO_CAUSE_RX, TCPINFO_FLAG_SYN |
	    TCPINFO_FLAG_ACK);
	text = render(&b);
	assert_null(strstr(text, "Note over lwIP: ESTABLISHED\n"));
	assert_non_null(strstr(text, "Note over lwIP: ESTABLISHED (rx:SYN,ACK)\n"));
	free(text);
	builder_free(&b);
}

/* A capped timeline says where events were left out; unknown values show as "?". */
static void
capped_and_unknown(void **unused)
{
	struct builder b;
	char *text;

	(void)unused;
	builder_init(&b, ENGINE_ORIGIN_ACTIVE, TCPINFO_ESTABLISHED);
	for (uint32_t i = 0; i < ENGINE_TIMELINE_HEAD + 2; i++)
		add_segment(&b, 1000 * i, true, TCPINFO_FLAG_PSH | TCPINFO_FLAG_ACK, 1 + i, 1, 1,
		    TCPINFO_ESTABLISHED, TCPINFO_ESTABLISHED, TCPINFO_STEP_DATA);
	b.events[0].has_rel_seq = false;
	b.events[0].state_after = TCPINFO_STATE_COUNT;
	b.timeline.dropped = 1;
	text = render(&b);
	assert_non_null(strstr(text, "lwIP->>peer: PSH,ACK seq=? ack=1 len=1\n"));
	assert_non_null(strstr(text, "Note over lwIP: ?\n"));
	assert_non_null(strstr(text, "Note over lwIP,peer: ... 1 event not kept ...\n"));
	free(text);
	builder_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_passive_peer_close),
		cmocka_unit_test(golden_dropped_final_ack),
		cmocka_unit_test(state_told_once),
		cmocka_unit_test(capped_and_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
