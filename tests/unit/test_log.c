/*
 * The line format: the journal's "<N>message" only when JOURNAL_STREAM names
 * the file stderr is open on, "lwipd: level: message" otherwise. Each test
 * points stderr at a temporary file and reads back what was written there.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

struct capture {
	char path[64];
	int saved_stderr;
};

/* Sends stderr to a new temporary file. */
static void
capture_start(struct capture *cap)
{
	int fd;

	snprintf(cap->path, sizeof(cap->path), "/tmp/lwipd-test-log-XXXXXX");
	fd = mkstemp(cap->path);
	assert_true(fd >= 0);
	cap->saved_stderr = dup(STDERR_FILENO);
	assert_true(cap->saved_stderr >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* Restores stderr and returns what was written, which the caller frees. */
static char *
capture_end(struct capture *cap)
{
	char *text = calloc(1, 4096);
	FILE *file;

	assert_non_null(text);
	assert_int_equal(dup2(cap->saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(cap->saved_stderr);
	file = fopen(cap->path, "r");
	assert_non_null(file);
	(void)fread(text, 1, 4095, file);
	fclose(file);
	unlink(cap->path);
	return text;
}

/* Sets JOURNAL_STREAM to stderr's own device and inode, plus inode_delta. */
static void
set_journal_stream(uint64_t inode_delta)
{
	struct stat st;
	char value[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(value, sizeof(value), "%" PRIu64 ":%" PRIu64, (uint64_t)st.st_dev,
	    (uint64_t)st.st_ino + inode_delta);
	assert_int_equal(setenv("JOURNAL_STREAM", value, 1), 0);
}

static void
every_level(void)
{
	log_set_level(LOG_LEVEL_DEBUG);
	log_warnx("careful %d", 1);
	log_info("hello");
	log_debug("details");
	errno = ENOENT;
	log_warn("open %s", "x");
	log_set_level(LOG_LEVEL_INFO);
}

static void
plain_without_journal_stream(void **unused)
{
	struct capture cap;
	char *text;

	(void)unused;
	unsetenv("JOURNAL_STREAM");
	capture_start(&cap);
	log_init();
	every_level();
	text = capture_end(&cap);
	assert_string_equal(text, "lwipd: warn: careful 1\n"
	    "lwipd: info: hello\n"
	    "lwipd: debug: details\n"
	    "lwipd: warn: open x: No such file or directory\n");
	free(text);
}

static void
priorities_when_stderr_is_the_journal(void **unused)
{
	struct capture cap;
	char *text;

	(void)unused;
	capture_start(&cap);
	set_journal_stream(0);
	log_init();
	every_level();
	text = capture_end(&cap);
	assert_string_equal(text, "<4>careful 1\n"
	    "<6>hello\n"
	    "<7>details\n"
	    "<4>open x: No such file or directory\n");
	free(text);
	unsetenv("JOURNAL_STREAM");
	log_init();
}

/* fatalx() exits, so it runs in a child. */
static void
error_priority_is_3(void **unused)
{
	struct capture cap;
	char *text;
	pid_t pid;
	int status;

	(void)unused;
	capture_start(&cap);
	set_journal_stream(0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		log_init();
		fatalx("broken %s", "stack");
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	text = capture_end(&cap);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_string_equal(text, "<3>broken stack\n");
	free(text);
	unsetenv("JOURNAL_STREAM");
}

/* A child whose stderr was redirected still inherits the variable. */
static void
plain_when_journal_stream_names_another_file(void **unused)
{
	struct capture cap;
	char *text;

	(void)unused;
	capture_start(&cap);
	set_journal_stream(1);
	log_init();
	log_info("hello");
	text = capture_end(&cap);
	assert_string_equal(text, "lwipd: info: hello\n");
	free(text);
	unsetenv("JOURNAL_STREAM");
}

static void
plain_when_journal_stream_is_malformed(void **unused)
{
	static const char *const values[] = { "", ":", "12", "12:", ":34", "a:b", "1:2x", "1:2:3", "-1:2" };

	(void)unused;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct capture cap;
		char *text;

		capture_start(&cap);
		assert_int_equal(setenv("JOURNAL_STREAM", values[i], 1), 0);
		log_init();
		log_info("hello");
		text = capture_end(&cap);
		assert_string_equal(text, "lwipd: info: hello\n");
		free(text);
	}
	unsetenv("JOURNAL_STREAM");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_without_journal_stream),
		cmocka_unit_test(priorities_when_stderr_is_the_journal),
		cmocka_unit_test(error_priority_is_3),
		cmocka_unit_test(plain_when_journal_stream_names_another_file),
		cmocka_unit_test(plain_when_journal_stream_is_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
