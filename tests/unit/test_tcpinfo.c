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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_names_round_trip),
		cmocka_unit_test(state_parse_is_exact),
		cmocka_unit_test(flags_in_reading_order),
		cmocka_unit_test(flags_truncate_at_a_comma),
		cmocka_unit_test(causes_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
