/*
 * test_peertrace: the parser of the kernel's inet_sock_set_state lines,
 * on lines captured from trace_pipe.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "peertrace.h"

static uint32_t
ip(const char *text)
{
	uint32_t v;

	assert_int_equal(inet_pton(AF_INET, text, &v), 1);
	return v;
}

static void
parses_a_listeners_child(void **unused)
{
	struct peertrace_line l;

	(void)unused;
	assert_int_equal(peertrace_parse("          <idle>-0       [001] ..s2. 12345.678901: "
	    "inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=7000 dport=52607 "
	    "saddr=10.9.0.1 daddr=10.9.0.2 saddrv6=::ffff:10.9.0.1 daddrv6=::ffff:10.9.0.2 "
	    "oldstate=TCP_LISTEN newstate=TCP_SYN_RECV", &l), 0);
	assert_int_equal(l.sport, 7000);
	assert_int_equal(l.dport, 52607);
	assert_int_equal(l.saddr, ip("10.9.0.1"));
	assert_int_equal(l.daddr, ip("10.9.0.2"));
	assert_int_equal(l.from, TCPINFO_LISTEN);
	assert_int_equal(l.to, TCPINFO_SYN_RCVD);
}

static void
maps_every_state_name(void **unused)
{
	static const struct {
		const char *old, *new;
		enum tcpinfo_state from, to;
	} cases[] = {
		{ "TCP_CLOSE", "TCP_SYN_SENT", TCPINFO_CLOSED, TCPINFO_SYN_SENT },
		{ "TCP_SYN_SENT", "TCP_ESTABLISHED", TCPINFO_SYN_SENT, TCPINFO_ESTABLISHED },
		{ "TCP_ESTABLISHED", "TCP_FIN_WAIT1", TCPINFO_ESTABLISHED, TCPINFO_FIN_WAIT_1 },
		{ "TCP_FIN_WAIT1", "TCP_FIN_WAIT2", TCPINFO_FIN_WAIT_1, TCPINFO_FIN_WAIT_2 },
		{ "TCP_FIN_WAIT1", "TCP_CLOSING", TCPINFO_FIN_WAIT_1, TCPINFO_CLOSING },
		{ "TCP_ESTABLISHED", "TCP_CLOSE_WAIT", TCPINFO_ESTABLISHED, TCPINFO_CLOSE_WAIT },
		{ "TCP_CLOSE_WAIT", "TCP_LAST_ACK", TCPINFO_CLOSE_WAIT, TCPINFO_LAST_ACK },
		{ "TCP_TIME_WAIT", "TCP_CLOSE", TCPINFO_TIME_WAIT, TCPINFO_CLOSED },
	};
	char line[400];
	struct peertrace_line l;

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "python3-99 [000] ..... 1.0: inet_sock_set_state: "
		    "family=AF_INET protocol=IPPROTO_TCP sport=0 dport=9000 saddr=10.9.0.1 "
		    "daddr=10.9.0.2 saddrv6=::ffff:10.9.0.1 daddrv6=::ffff:10.9.0.2 oldstate=%s "
		    "newstate=%s", cases[i].old, cases[i].new);
		assert_int_equal(peertrace_parse(line, &l), 0);
		assert_int_equal(l.sport, 0);
		assert_int_equal(l.from, cases[i].from);
		assert_int_equal(l.to, cases[i].to);
	}
}

static void
refuses_other_lines(void **unused)
{
	struct peertrace_line l;

	(void)unused;
	assert_int_equal(peertrace_parse("x: inet_sock_set_state: family=AF_INET6 "
	    "protocol=IPPROTO_TCP sport=1 dport=2 saddr=0.0.0.0 daddr=0.0.0.0 saddrv6=::1 "
	    "daddrv6=::1 oldstate=TCP_CLOSE newstate=TCP_SYN_SENT", &l), -EINVAL);
	assert_int_equal(peertrace_parse("x: inet_sock_set_state: family=AF_INET "
	    "protocol=IPPROTO_MPTCP sport=1 dport=2 saddr=1.2.3.4 daddr=1.2.3.5 saddrv6=::1 "
	    "daddrv6=::1 oldstate=TCP_CLOSE newstate=TCP_SYN_SENT", &l), -EINVAL);
	assert_int_equal(peertrace_parse("x: inet_sock_set_state: family=AF_INET "
	    "protocol=IPPROTO_TCP sport=1 dport=2 saddr=1.2.3.4 daddr=1.2.3.5 saddrv6=::1 "
	    "daddrv6=::1 oldstate=TCP_LISTEN newstate=TCP_NEW_SYN_RECV", &l), -EINVAL);
	assert_int_equal(peertrace_parse("x: inet_sock_set_state: family=AF_INET "
	    "protocol=IPPROTO_TCP sport=70000 dport=2 saddr=1.2.3.4 daddr=1.2.3.5 saddrv6=::1 "
	    "daddrv6=::1 oldstate=TCP_CLOSE newstate=TCP_SYN_SENT", &l), -EINVAL);
	assert_int_equal(peertrace_parse("# tracer: nop", &l), -EINVAL);
	assert_int_equal(peertrace_parse("", &l), -EINVAL);
}

/* The filter keeps the kernel sockets talking to lwIP's address, compared as the kernel loads daddr. */
static void
filters_on_lwips_address(void **unused)
{
	static const uint8_t bytes[4] = { 10, 9, 0, 2 };
	char buf[PEERTRACE_FILTER_MAX], expected[PEERTRACE_FILTER_MAX];
	uint32_t address, in_memory;

	(void)unused;
	assert_int_equal(inet_pton(AF_INET, "10.9.0.2", &address), 1);
	memcpy(&in_memory, bytes, sizeof(in_memory));
	snprintf(expected, sizeof(expected), "family == 2 && protocol == 6 && daddr == 0x%08x",
	    (unsigned int)in_memory);
	assert_string_equal(peertrace_filter(address, buf, sizeof(buf)), expected);
	/* On this little-endian machine, as the kernel took it in a trace instance. */
	if (bytes[0] == (uint8_t)in_memory)
		assert_string_equal(buf, "family == 2 && protocol == 6 && daddr == 0x0200090a");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_listeners_child),
		cmocka_unit_test(maps_every_state_name),
		cmocka_unit_test(refuses_other_lines),
		cmocka_unit_test(filters_on_lwips_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
