#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tcpinfo.h"

static void
state_names_round_trip(void **unused)
{
	(void)unused;
	for (int i = 0; i < TCPINFO_STATE_COUNT; i++) {
		enum tcpinfo_state parsed;

		assert_int_equal(tcpinfo_state_parse(tcpinfo_state_name((enum tcpinfo_state)i), &parsed), 0);
		assert_int_equal(parsed, i);
	}
	assert_string_equal(tcpinfo_state_name(TCPINFO_FIN_WAIT_2), "FIN_WAIT_2");
	assert_null(tcpinfo_state_name(TCPINFO_STATE_COUNT));
}

static void
state_parse_is_exact(void **unused)
{
	enum tcpinfo_state parsed;

	(void)unused;
	assert_int_equal(tcpinfo_state_parse("established", &parsed), -EINVAL);
	assert_int_equal(tcpinfo_state_parse("ESTABLISHED ", &parsed), -EINVAL);
	assert_int_equal(tcpinfo_state_parse("", &parsed), -EINVAL);
}

static void
flags_in_reading_order(void **unused)
{
	char buf[TCPINFO_TEXT_MAX];

	(void)unused;
	assert_string_equal(tcpinfo_flags_format(TCPINFO_FLAG_ACK | TCPINFO_FLAG_SYN, buf, sizeof(buf)),
	    "SYN,ACK");
	assert_string_equal(tcpinfo_flags_format(TCPINFO_FLAG_ACK | TCPINFO_FLAG_FIN, buf, sizeof(buf)),
	    "FIN,ACK");
	assert_string_equal(tcpinfo_flags_format(TCPINFO_FLAG_RST | TCPINFO_FLAG_ACK, buf, sizeof(buf)),
	    "RST,ACK");
	assert_string_equal(tcpinfo_flags_format(0xff, buf, sizeof(buf)),
	    "SYN,FIN,RST,PSH,ACK,URG,ECE,CWR");
	assert_string_equal(tcpinfo_flags_format(0, buf, sizeof(buf)), "");
}

static void
flags_truncate_at_a_comma(void **unused)
{
	char buf[8];

	(void)unused;
	assert_string_equal(tcpinfo_flags_format(0xff, buf, sizeof(buf)), "SYN,FIN");
}

static void
causes_format(void **unused)
{
	char buf[TCPINFO_TEXT_MAX];
	struct tcpinfo_cause rx = { .kind = TCPINFO_CAUSE_RX, .flags = TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK };
	struct tcpinfo_cause open = { .kind = TCPINFO_CAUSE_API_OPEN };
	struct tcpinfo_cause twomsl = { .kind = TCPINFO_CAUSE_TIMER_2MSL };
	struct tcpinfo_cause arp = { .kind = TCPINFO_CAUSE_ARP_UNRESOLVED };
	struct tcpinfo_cause bogus = { .kind = TCPINFO_CAUSE_KIND_COUNT };

	(void)unused;
	assert_string_equal(tcpinfo_cause_format(rx, buf, sizeof(buf)), "rx:SYN,ACK");
	assert_string_equal(tcpinfo_cause_format(open, buf, sizeof(buf)), "api:open");
	assert_string_equal(tcpinfo_cause_format(twomsl, buf, sizeof(buf)), "timer:2msl");
	assert_string_equal(tcpinfo_cause_format(arp, buf, sizeof(buf)), "arp:unresolved");
	assert_string_equal(tcpinfo_cause_format(bogus, buf, sizeof(buf)), "unknown");
}

static void
flags_parse_what_format_writes(void **unused)
{
	char text[TCPINFO_TEXT_MAX];
	uint8_t flags;

	(void)unused;
	for (unsigned bits = 1; bits < 256; bits++) {
		tcpinfo_flags_format((uint8_t)bits, text, sizeof(text));
		assert_int_equal(tcpinfo_flags_parse(text, &flags), 0);
		assert_int_equal(flags, bits);
	}
	assert_int_equal(tcpinfo_flags_parse("ACK,SYN", &flags), 0);
	assert_int_equal(flags, TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK);
	const char *bad[] = { "", "syn", "SYN,", ",SYN", "SYN,,ACK", "SYN,SYN", "SYN ACK", "SYNACK" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tcpinfo_flags_parse(bad[i], &flags), -EINVAL);
}

static void
step_parse_is_exact(void **unused)
{
	enum tcpinfo_step step;

	(void)unused;
	for (int i = TCPINFO_STEP_NONE + 1; i < TCPINFO_STEP_COUNT; i++) {
		assert_int_equal(tcpinfo_step_parse(tcpinfo_step_name((enum tcpinfo_step)i), &step), 0);
		assert_int_equal(step, i);
	}
	assert_int_equal(tcpinfo_step_parse("teardown-2+3", &step), 0);
	assert_int_equal(step, TCPINFO_STEP_TEARDOWN_2_3);
	assert_int_equal(tcpinfo_step_parse("teardown-2", &step), 0);
	assert_int_equal(step, TCPINFO_STEP_TEARDOWN_2);
	assert_int_equal(tcpinfo_step_parse("teardown-5", &step), -EINVAL);
	assert_int_equal(tcpinfo_step_parse("teardown-2+", &step), -EINVAL);
	assert_int_equal(tcpinfo_step_parse("Handshake-1", &step), -EINVAL);
	assert_int_equal(tcpinfo_step_parse("", &step), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_names_round_trip),
		cmocka_unit_test(state_parse_is_exact),
		cmocka_unit_test(flags_in_reading_order),
		cmocka_unit_test(flags_truncate_at_a_comma),
		cmocka_unit_test(causes_format),
		cmocka_unit_test(flags_parse_what_format_writes),
		cmocka_unit_test(step_parse_is_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
