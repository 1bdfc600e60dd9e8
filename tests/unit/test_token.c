#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token.h"

/* Writes text to a new temporary file; returns its path, which the caller unlinks and frees. */
static char *
temp_file(const char *text)
{
	char *path = strdup("/tmp/lwipd-token-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
expect_load(const char *text, int rc, const char *token)
{
	char *path = temp_file(text);
	struct token t;

	assert_int_equal(token_load(path, &t), rc);
	if (rc == 0) {
		assert_int_equal(t.len, strlen(token));
		assert_memory_equal(t.value, token, t.len);
	}
	unlink(path);
	free(path);
}

static void
test_load(void **state)
{
	char long_token[TOKEN_MAX + 2];
	struct token t;

	(void)state;
	expect_load("0123456789abcdef", 0, "0123456789abcdef");
	expect_load("0123456789abcdef\n", 0, "0123456789abcdef");
	expect_load("0123456789abcdef\r\n", 0, "0123456789abcdef");
	expect_load("0123456789abcde\n", -EINVAL, NULL);
	expect_load("0123456789 abcdef\n", -EINVAL, NULL);
	expect_load("0123456789abcdef\n\n", -EINVAL, NULL);
	expect_load("", -EINVAL, NULL);
	memset(long_token, 'a', sizeof(long_token) - 1);
	long_token[sizeof(long_token) - 1] = '\0';
	expect_load(long_token, -EINVAL, NULL);
	long_token[TOKEN_MAX] = '\0';
	expect_load(long_token, 0, long_token);
	assert_int_equal(token_load("/tmp", &t), -EINVAL);
	assert_int_equal(token_load("/nonexistent/token", &t), -ENOENT);
}

static void
test_check(void **state)
{
	struct token none = { .len = 0 };
	struct token t = { .len = 16, .value = "0123456789abcdef" };

	(void)state;
	assert_true(token_check(&none, NULL));
	assert_true(token_check(&t, "Bearer 0123456789abcdef"));
	assert_true(token_check(&t, "bearer 0123456789abcdef"));
	assert_false(token_check(&t, NULL));
	assert_false(token_check(&t, ""));
	assert_false(token_check(&t, "Bearer "));
	assert_false(token_check(&t, "Bearer 0123456789abcde"));
	assert_false(token_check(&t, "Bearer 0123456789abcdefg"));
	assert_false(token_check(&t, "Bearer 0123456789abcdeF"));
	assert_false(token_check(&t, "Basic 0123456789abcdef"));
	assert_false(token_check(&t, "0123456789abcdef"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
