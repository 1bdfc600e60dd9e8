/* Unit tests for origin.c: Host, Origin and Sec-Fetch-Site (issue 13). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "origin.h"

static void
expect_ok(const char *host, const char *origin, const char *site, bool page_file)
{
	struct problem err;

	assert_int_equal(origin_check(host, true, origin, site, page_file, &err), 0);
}

/* Expects a 403 whose detail names header. */
static void
expect_refused(const char *host, const char *origin, const char *site, bool page_file,
    const char *header)
{
	struct problem err;

	assert_int_equal(origin_check(host, true, origin, site, page_file, &err), -EACCES);
	assert_int_equal(problem_status(&err), 403);
	assert_non_null(strstr(err.detail, header));
}

static void
test_host(void **state)
{
	(void)state;
	expect_ok("127.0.0.1:8080", NULL, NULL, false);
	expect_ok("10.1.2.3", NULL, NULL, false);
	expect_ok("localhost:8080", NULL, NULL, false);
	expect_ok("LOCALHOST", NULL, NULL, false);
	expect_ok("[::1]:8080", NULL, NULL, false);
	expect_ok("[::1]", NULL, NULL, false);
	/* HTTP/1.0 without a Host. */
	expect_ok(NULL, NULL, NULL, false);
	expect_refused("evil.example:8080", NULL, NULL, false, "Host");
	expect_refused("evil.example", NULL, NULL, true, "Host");
	expect_refused("localhost.evil.example", NULL, NULL, false, "Host");
	expect_refused("127.0.0.1.nip.io:8080", NULL, NULL, false, "Host");
	expect_refused("127.0.0.1:", NULL, NULL, false, "Host");
	expect_refused("127.0.0.1:123456", NULL, NULL, false, "Host");
	expect_refused("127.0.0.1:80:80", NULL, NULL, false, "Host");
	expect_refused("[::1", NULL, NULL, false, "Host");
	expect_refused("[::1]x", NULL, NULL, false, "Host");
	expect_refused("[127.0.0.1]", NULL, NULL, false, "Host");
	expect_refused("", NULL, NULL, false, "Host");
}

/* Behind a token the API may be named by a DNS name; Origin still holds. */
static void
test_host_behind_a_token(void **state)
{
	struct problem err;

	(void)state;
	assert_int_equal(origin_check("lab.school.example:8080", false, NULL, NULL, false, &err), 0);
	assert_int_equal(origin_check("lab.school.example:8080", false,
	    "http://lab.school.example:8080", "same-origin", false, &err), 0);
	assert_int_equal(origin_check("lab.school.example:8080", false, "http://evil.example",
	    NULL, false, &err), -EACCES);
}

static void
test_origin(void **state)
{
	(void)state;
	expect_ok("127.0.0.1:8080", "http://127.0.0.1:8080", NULL, false);
	expect_ok("localhost:8080", "HTTP://LocalHost:8080", NULL, false);
	expect_refused("127.0.0.1:8080", "http://127.0.0.1:8081", NULL, false, "Origin");
	expect_refused("127.0.0.1:8080", "http://127.0.0.2:8080", NULL, false, "Origin");
	expect_refused("127.0.0.1:8080", "https://127.0.0.1:8080", NULL, false, "Origin");
	expect_refused("127.0.0.1:8080", "null", NULL, false, "Origin");
	expect_refused("127.0.0.1:8080", "http://127.0.0.1:8080/", NULL, false, "Origin");
	expect_refused(NULL, "http://127.0.0.1", NULL, false, "Origin");
	/* A page file may be reached by a link on another site. */
	expect_ok("127.0.0.1:8080", "http://evil.example", "cross-site", true);
}

static void
test_fetch_site(void **state)
{
	(void)state;
	expect_ok("127.0.0.1:8080", NULL, "same-origin", false);
	expect_ok("127.0.0.1:8080", NULL, "none", false);
	expect_refused("127.0.0.1:8080", NULL, "same-site", false, "Sec-Fetch-Site");
	expect_refused("127.0.0.1:8080", NULL, "cross-site", false, "Sec-Fetch-Site");
	expect_refused("127.0.0.1:8080", NULL, "", false, "Sec-Fetch-Site");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_host_behind_a_token),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_fetch_site),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
