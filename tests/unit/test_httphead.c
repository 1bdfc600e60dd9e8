#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "httphead.h"

/* Requests the gate must let through, with what it learns of them. */
static const struct {
	const char *text;
	bool reserved, chunked, is_head;
	uint64_t length;
} good[] = {
	{ "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", true, false, false, 0 },
	{ "HEAD /metrics?x HTTP/1.1\r\nHost: x\r\n\r\n", true, false, true, 0 },
	{ "GET /v1/interface HTTP/1.0\r\n\r\n", false, false, false, 0 },
	{ "\r\nPOST /v1/connections HTTP/1.1\r\nhost:x\r\nContent-Length: 2\r\n"
	    "content-length:2\r\n\r\n{}", false, false, false, 2 },
	{ "POST /v1/listeners HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "2;a=b\r\n{}\r\n0\r\nX-T: y\r\n\r\n", false, true, false, 0 },
	{ "GET /v1/connections/1%20 HTTP/1.1\r\nHost: x\r\nX-A: \xff\t b \r\n\r\n", false, false,
	    false, 0 },
};

/* Bad requests and the status each gets, also when its bytes come one at a time. */
static const struct {
	const char *text;
	size_t len;		/* 0: strlen */
	unsigned int status;
} bad[] = {
	{ "GET /healthz\0x HTTP/1.1\r\nHost: x\r\n\r\n", 35, 400 },
	{ "GET /healthz HTTP/1.1\r\n\r\n", 0, 400 },
	{ "GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 0, 400 },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0, 400 },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 0, 400 },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000000000\r\n\r\n", 0, 413 },
	{ "GET / HTTP/1.1\r\nHost: x\r\nFoo\r\n\r\n", 0, 400 },
	{ "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 0, 505 },
	{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, 505 },
	{ "GET /\r\n\r\n", 0, 400 },
	{ "\x16\x03\x01", 0, 400 },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 400 },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 501 },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
	    0, 400 },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	    "Expect: 100-continue\r\n\r\n", 0, 417 },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 0, 413 },
	{ "GET / HTTP/1.1\r\nHost: x\r\n X: y\r\n\r\n", 0, 400 },
	{ "GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400 },
};

static void
test_good_requests_pass_whole_and_in_pieces(void **state)
{
	struct httphead head;
	struct problem err;
	size_t i, n, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		len = strlen(good[i].text);
		/*
		 * Every prefix is well formed so far: the gate waits for more or,
		 * once a head with a Content-Length is whole, lets it through.
		 */
		for (n = 0; n < len; n++) {
			rc = httphead_check(good[i].text, n, &head, &err);
			if (rc != -EAGAIN && !(rc == 0 && !good[i].chunked))
				fail_msg("good request %zu refused after %zu bytes", i, n);
		}
		assert_int_equal(httphead_check(good[i].text, len, &head, &err), 0);
		assert_int_equal(head.reserved, good[i].reserved);
		assert_int_equal(head.chunked, good[i].chunked);
		assert_int_equal(head.is_head, good[i].is_head);
		assert_true(head.content_length == good[i].length);
		/* A chunked body is framed whole; another is passed on as its Content-Length says. */
		assert_int_equal(head.framed_len, good[i].chunked ? len : len - good[i].length);
	}
}

/* The gate passes on one request at a time: a request sent right behind another is not part of it. */
static void
test_framed_length_stops_at_the_request(void **state)
{
	static const char two[] = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\n{}\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	struct httphead head;
	struct problem err;

	(void)state;
	assert_int_equal(httphead_check(two, sizeof(two) - 1, &head, &err), 0);
	assert_int_equal(head.framed_len, strlen(two) - strlen("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
	assert_memory_equal(two + head.framed_len, "GET ", 4);
}

static void
test_bad_requests_get_their_status_as_soon_as_it_shows(void **state)
{
	struct httphead head;
	struct problem err;
	size_t i, n, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = bad[i].len != 0 ? bad[i].len : strlen(bad[i].text);
		for (n = 0; n <= len; n++) {
			rc = httphead_check(bad[i].text, n, &head, &err);
			if (rc != -EAGAIN)
				break;
		}
		if (rc == -EAGAIN || rc == 0)
			fail_msg("bad request %zu passed", i);
		assert_int_equal(problem_status(&err), bad[i].status);
	}
}

static void
test_limits(void **state)
{
	static char buf[HTTPHEAD_PEEK_MAX];
	struct httphead head;
	struct problem err;
	size_t len;

	(void)state;
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	assert_int_equal(httphead_check(buf, HTTPHEAD_TARGET_MAX + 10, &head, &err), -EMSGSIZE);
	assert_int_equal(problem_status(&err), 414);
	len = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: ");
	memset(buf + len, 'a', sizeof(buf) - len);
	assert_int_equal(httphead_check(buf, HTTPHEAD_MAX + 1, &head, &err), -EMSGSIZE);
	assert_int_equal(problem_status(&err), 431);
	len = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < HTTPHEAD_FIELDS_MAX; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "X-%d: v\r\n", i);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\r\n");
	assert_int_equal(httphead_check(buf, len, &head, &err), -EMSGSIZE);
	assert_int_equal(problem_status(&err), 431);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests_pass_whole_and_in_pieces),
		cmocka_unit_test(test_framed_length_stops_at_the_request),
		cmocka_unit_test(test_bad_requests_get_their_status_as_soon_as_it_shows),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
