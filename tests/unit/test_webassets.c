/* Unit tests of webassets (finding the lab page's embedded files) and of webserve's ETag check. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "webassets.h"
#include "webserve.h"

static void
test_root_is_the_page(void **state)
{
	const struct webasset *root = webasset_find("/");

	(void)state;
	assert_non_null(root);
	assert_ptr_equal(root, webasset_find("/index.html"));
	assert_string_equal(root->path, "/index.html");
	assert_string_equal(root->content_type, "text/html; charset=utf-8");
	assert_true(root->len > 0);
	assert_memory_equal(root->data, "<!DOCTYPE html>", strlen("<!DOCTYPE html>"));
}

static void
test_types(void **state)
{
	const struct webasset *css = webasset_find("/lab.css");
	const struct webasset *js = webasset_find("/lab.js");

	(void)state;
	assert_non_null(css);
	assert_non_null(js);
	assert_string_equal(css->content_type, "text/css");
	assert_string_equal(js->content_type, "text/javascript");
	assert_true(css->len > 0 && js->len > 0);
}

static void
test_every_asset_is_found_by_its_path(void **state)
{
	size_t i;

	(void)state;
	assert_true(webasset_count >= 3);
	for (i = 0; i < webasset_count; i++) {
		assert_ptr_equal(webasset_find(webassets[i].path), &webassets[i]);
		assert_true(strcmp(webassets[i].content_type, "text/html; charset=utf-8") == 0 ||
		    strcmp(webassets[i].content_type, "text/css") == 0 ||
		    strcmp(webassets[i].content_type, "text/javascript") == 0);
	}
}

static void
test_unknown_paths(void **state)
{
	static const char *const paths[] = {
		"", "index.html", "/nope", "/lab.css/", "/LAB.CSS", "/lab.cs", "/lab.css.map",
		"//", "/./lab.css", "/../lab.css", "/web/lab.css", "/v1/connections", "/v1/",
		"/healthz",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_null(webasset_find(paths[i]));
}

static void
test_etags_are_strong_and_distinct(void **state)
{
	size_t i, j, len;

	(void)state;
	for (i = 0; i < webasset_count; i++) {
		const char *etag = webassets[i].etag;

		len = strlen(etag);
		/* A strong tag: quoted, no W/, 32 hex digits of the content's SHA-256. */
		assert_int_equal(len, 34);
		assert_int_equal(etag[0], '"');
		assert_int_equal(etag[len - 1], '"');
		for (j = 1; j < len - 1; j++)
			assert_true(isxdigit((unsigned char)etag[j]));
		for (j = 0; j < i; j++)
			assert_string_not_equal(etag, webassets[j].etag);
	}
}

static void
test_if_none_match(void **state)
{
	const char *etag = webasset_find("/")->etag;
	char list[128];

	(void)state;
	assert_false(webserve_etag_matches(NULL, etag));
	assert_false(webserve_etag_matches("", etag));
	assert_true(webserve_etag_matches(etag, etag));
	assert_true(webserve_etag_matches("*", etag));
	snprintf(list, sizeof(list), "\"x\", W/%s", etag);
	assert_true(webserve_etag_matches(list, etag));
	snprintf(list, sizeof(list), "\"x\",%s ", etag);
	assert_true(webserve_etag_matches(list, etag));
	assert_false(webserve_etag_matches("\"x\", \"y\"", etag));
	/* A tag that only begins like ours is another tag. */
	snprintf(list, sizeof(list), "%.20s", etag);
	assert_false(webserve_etag_matches(list, etag));
	assert_false(webserve_etag_matches(webasset_find("/lab.css")->etag, etag));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_is_the_page),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_every_asset_is_found_by_its_path),
		cmocka_unit_test(test_unknown_paths),
		cmocka_unit_test(test_etags_are_strong_and_distinct),
		cmocka_unit_test(test_if_none_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
