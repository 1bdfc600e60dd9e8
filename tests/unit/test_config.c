#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "engine.h"

#define MAX_ARGS 32

/* Parses "lwipd" followed by the NULL-terminated arguments. */
static int
parse(struct config *cfg, enum config_action *action, char *err, ...)
{
	char *argv[MAX_ARGS] = { "lwipd" };
	int argc = 1;
	va_list ap;

	va_start(ap, err);
	while (argc < MAX_ARGS - 1 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	config_defaults(cfg);
	return config_parse_args(cfg, argc, argv, action, err, CONFIG_ERROR_MAX);
}

#define BASE "--tap", "tap0", "--address", "10.9.0.2/24"

static void
minimal_command_line_gets_defaults(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&cfg.listen_addr;

	(void)unused;
	assert_int_equal(parse(&cfg, &action, err, BASE, NULL), 0);
	assert_int_equal(action, CONFIG_ACTION_RUN);
	assert_string_equal(cfg.tap_name, "tap0");
	assert_int_equal(cfg.address, inet_addr("10.9.0.2"));
	assert_int_equal(cfg.prefix, 24);
	assert_int_equal(cfg.gateway, 0);
	assert_false(cfg.has_mac);
	assert_string_equal(cfg.netns, "");
	assert_int_equal(cfg.msl_ms, 30000);
	assert_int_equal(cfg.retain_closed, 1024);
	assert_int_equal(cfg.recv_buffer, 65536);
	assert_int_equal(cfg.memory_budget, 256u << 20);
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(ntohs(sin->sin_port), 8080);
}

static void
every_option_is_read(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&cfg.listen_addr;

	(void)unused;
	assert_int_equal(parse(&cfg, &action, err, BASE, "--gateway", "10.9.0.1", "--mac",
	    "02:AB:cd:00:00:01", "--netns", "lab", "--listen", "[::1]:0", "--msl-ms=59000",
	    "--retain-closed", "0", "--log-level", "debug", "--recv-buffer", "4096",
	    "--memory-budget", "4294967295", NULL), 0);
	assert_int_equal(cfg.recv_buffer, 4096);
	assert_int_equal(cfg.memory_budget, UINT32_MAX);
	assert_int_equal(cfg.gateway, inet_addr("10.9.0.1"));
	assert_true(cfg.has_mac);
	assert_memory_equal(cfg.mac, ((uint8_t[]){ 0x02, 0xab, 0xcd, 0, 0, 1 }), 6);
	assert_string_equal(cfg.netns, "lab");
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(sin6->sin6_port, 0);
	assert_int_equal(cfg.msl_ms, 59000);
	assert_int_equal(cfg.retain_closed, 0);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
}

static void
help_and_version(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];

	(void)unused;
	assert_int_equal(parse(&cfg, &action, err, "--help", NULL), 0);
	assert_int_equal(action, CONFIG_ACTION_HELP);
	assert_int_equal(parse(&cfg, &action, err, "--version", NULL), 0);
	assert_int_equal(action, CONFIG_ACTION_VERSION);
}

/* Each bad command line fails with a message that names the option. */
static void
bad_values_name_their_option(void **unused)
{
	static const struct {
		const char *flag;
		const char *value;
		const char *named;
	} cases[] = {
		{ "--msl-ms", "0", "--msl-ms" },
		{ "--msl-ms", "59001", "--msl-ms" },
		{ "--msl-ms", "60000", "--msl-ms" },
		{ "--msl-ms", "-5", "--msl-ms" },
		{ "--msl-ms", "1e3", "--msl-ms" },
		{ "--msl-ms", "", "--msl-ms" },
		{ "--address", "10.9.0.2", "--address" },
		{ "--address", "10.9.0.2/33", "--address" },
		{ "--address", "10.9.0.2/0", "--address" },
		{ "--address", "10.9.0.0/24", "--address" },
		{ "--address", "10.9.0.255/24", "--address" },
		{ "--address", "127.0.0.2/8", "--address" },
		{ "--address", "224.0.0.1/24", "--address" },
		{ "--address", "10.9.0.256/24", "--address" },
		{ "--address", "010.9.0.2/24", "--address" },
		{ "--gateway", "10.9.1.1", "--gateway" },
		{ "--gateway", "10.9.0.2", "--gateway" },
		{ "--gateway", "nope", "--gateway" },
		{ "--mac", "01:00:00:00:00:01", "--mac" },
		{ "--mac", "00:00:00:00:00:00", "--mac" },
		{ "--mac", "02:00:00:00:00", "--mac" },
		{ "--mac", "02-00-00-00-00-01", "--mac" },
		{ "--mac", "02:00:00:00:00:0g", "--mac" },
		{ "--listen", "127.0.0.1", "--listen" },
		{ "--listen", "127.0.0.1:65536", "--listen" },
		{ "--listen", "example.com:80", "--listen" },
		{ "--listen", "[::1:80", "--listen" },
		{ "--listen", ":80", "--listen" },
		{ "--retain-closed", "1000001", "--retain-closed" },
		{ "--recv-buffer", "1023", "--recv-buffer" },
		{ "--recv-buffer", "16777217", "--recv-buffer" },
		{ "--memory-budget", "1048575", "--memory-budget" },
		{ "--memory-budget", "4294967296", "--memory-budget" },
		{ "--log-level", "verbose", "--log-level" },
		{ "--netns", "a/b", "--netns" },
		{ "--netns", "..", "--netns" },
		{ "--tap", "a-name-longer-than-15", "--tap" },
		{ "--tap", "tap 0", "--tap" },
		{ "--frobnicate", "1", "--frobnicate" },
	};
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char flag[64];

		snprintf(flag, sizeof(flag), "%s", cases[i].flag);
		err[0] = '\0';
		assert_int_equal(parse(&cfg, &action, err, BASE, flag, cases[i].value, NULL), -EINVAL);
		if (strstr(err, cases[i].named) == NULL || strchr(err, '\n') != NULL)
			fail_msg("case %zu (%s %s): message '%s'", i, cases[i].flag, cases[i].value, err);
	}
}

static void
required_and_stray_arguments(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];

	(void)unused;
	assert_int_equal(parse(&cfg, &action, err, "--address", "10.9.0.2/24", NULL), -EINVAL);
	assert_non_null(strstr(err, "--tap"));
	assert_int_equal(parse(&cfg, &action, err, "--tap", "tap0", NULL), -EINVAL);
	assert_non_null(strstr(err, "--address"));
	assert_int_equal(parse(&cfg, &action, err, BASE, "extra", NULL), -EINVAL);
	assert_non_null(strstr(err, "extra"));
	assert_int_equal(parse(&cfg, &action, err, BASE, "--msl-ms", NULL), -EINVAL);
	assert_non_null(strstr(err, "--msl-ms"));
}

static void
long_values_are_refused(void **unused)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX];
	char value[CONFIG_VALUE_MAX + 2];

	(void)unused;
	config_defaults(&cfg);
	memset(value, 'a', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	assert_int_equal(config_set(&cfg, "netns", value, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--netns"));
}

/* Writes text (len bytes) to a new temporary file; the caller unlinks path. */
static void
write_file(char path[static 64], const char *text, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/lwipd-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Parses "--config FILE" holding text, then the NULL-terminated arguments. */
static int
parse_file(struct config *cfg, enum config_action *action, char *err, const char *text, ...)
{
	char *argv[MAX_ARGS] = { "lwipd", "--config" };
	char path[64];
	int argc = 3, rc;
	va_list ap;

	write_file(path, text, strlen(text));
	argv[2] = path;
	va_start(ap, text);
	while (argc < MAX_ARGS - 1 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	config_defaults(cfg);
	rc = config_parse_args(cfg, argc, argv, action, err, CONFIG_ERROR_MAX);
	/* Messages name the file: make them comparable across runs. */
	if (rc < 0 && strncmp(err, path, strlen(path)) == 0)
		memmove(err, err + strlen(path), strlen(err + strlen(path)) + 1);
	unlink(path);
	return rc;
}

static void
file_sets_every_option(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];

	(void)unused;
	assert_int_equal(parse_file(&cfg, &action, err,
	    "# comment\n"
	    "; another\n"
	    "\n"
	    "  \t\n"
	    "tap = tap9\n"
	    "address=10.9.0.2/24\n"
	    "\tgateway\t=\t10.9.0.1   \n"
	    "mac = 02:00:00:00:00:07\r\n"
	    "netns = lab\n"
	    "listen = [::1]:0\n"
	    "msl_ms = 1000\n"
	    "retain-closed = 5\n"
	    "log_level = debug", NULL), 0);
	assert_int_equal(action, CONFIG_ACTION_RUN);
	assert_string_equal(cfg.tap_name, "tap9");
	assert_int_equal(cfg.address, inet_addr("10.9.0.2"));
	assert_int_equal(cfg.gateway, inet_addr("10.9.0.1"));
	assert_memory_equal(cfg.mac, ((uint8_t[]){ 2, 0, 0, 0, 0, 7 }), 6);
	assert_string_equal(cfg.netns, "lab");
	assert_int_equal(cfg.listen_addr.ss_family, AF_INET6);
	assert_int_equal(cfg.msl_ms, 1000);
	assert_int_equal(cfg.retain_closed, 5);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
}

/* Flags win over the file whether they come before or after --config. */
static void
flags_override_the_file(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];
	char *argv[] = { "lwipd", "--msl-ms", "2000", "--config", NULL, "--tap", "tap2", NULL };
	char path[64];
	const char *text = "tap = tap1\naddress = 10.9.0.2/24\nmsl-ms = 1000\nmsl-ms = 1500\n";

	(void)unused;
	assert_int_equal(parse_file(&cfg, &action, err, text, NULL), 0);
	assert_string_equal(cfg.tap_name, "tap1");
	assert_int_equal(cfg.msl_ms, 1500);

	write_file(path, text, strlen(text));
	argv[4] = path;
	config_defaults(&cfg);
	assert_int_equal(config_parse_args(&cfg, 7, argv, &action, err, sizeof(err)), 0);
	unlink(path);
	assert_string_equal(cfg.tap_name, "tap2");
	assert_int_equal(cfg.msl_ms, 2000);
	assert_int_equal(cfg.address, inet_addr("10.9.0.2"));
}

/* The first bad line ends the parse; the message is "FILE:LINE: key: reason". */
static void
bad_lines_name_file_line_and_key(void **unused)
{
	static const struct {
		const char *text;
		const char *message_start;
	} cases[] = {
		{ "tap = tap0\nbogus = 1\n", ":2: bogus: unknown option" },
		{ "\n# c\nmsl_ms = 0\n", ":3: msl_ms: must be an integer from 1 to 59000" },
		{ "address = 10.9.0.2/33\naddress = 10.9.0.2/24\n", ":1: address: prefix length" },
		{ "address 10.9.0.2/24\n", ":1: expected 'key = value'" },
		{ " = 1\n", ":1: expected 'key = value'" },
		{ "[lwipd]\n", ":1: expected 'key = value'" },
		{ "address = \"10.9.0.2/24\"\n", ":1: address: '\"10.9.0.2' is not an IPv4 address" },
		{ "log-level = info # loud\n", ":1: log-level: must be one of" },
		{ "config = other.conf\n", ":1: config: unknown option" },
		{ "help = 1\n", ":1: help: unknown option" },
		{ "Tap = tap0\n", ":1: Tap: unknown option" },
		{ "a_key_that_is_much_longer_than_32_bytes = 1\n", ":1: a_key_that_is_much_longer_than_32" },
		{ "tap = tap0\nmac =\n", ":2: mac: expected six hex bytes" },
	};
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (parse_file(&cfg, &action, err, cases[i].text, BASE, NULL) != -EINVAL)
			fail_msg("case %zu: accepted", i);
		if (strncmp(err, cases[i].message_start, strlen(cases[i].message_start)) != 0 ||
		    strchr(err, '\n') != NULL)
			fail_msg("case %zu: message '%s', expected it to start with '%s'", i, err,
			    cases[i].message_start);
	}
}

static void
line_and_file_limits(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];
	char *text = malloc(CONFIG_FILE_MAX + 2);
	size_t len;

	(void)unused;
	assert_non_null(text);
	/* A comment line of exactly CONFIG_LINE_MAX bytes is fine, one more is not. */
	len = (size_t)snprintf(text, CONFIG_FILE_MAX, "tap = tap0\n#");
	memset(text + len, 'x', CONFIG_LINE_MAX - 1);
	strcpy(text + len + CONFIG_LINE_MAX - 1, "\naddress = 10.9.0.2/24\n");
	assert_int_equal(parse_file(&cfg, &action, err, text, NULL), 0);
	memset(text + len, 'x', CONFIG_LINE_MAX);
	strcpy(text + len + CONFIG_LINE_MAX, "\naddress = 10.9.0.2/24\n");
	assert_int_equal(parse_file(&cfg, &action, err, text, NULL), -EINVAL);
	assert_string_equal(err, ":2: line is longer than 1024 bytes");

	/* A file of exactly CONFIG_FILE_MAX bytes is read, one byte more is refused. */
	len = (size_t)snprintf(text, CONFIG_FILE_MAX, "tap = tap0\naddress = 10.9.0.2/24\n");
	while (len < CONFIG_FILE_MAX) {
		size_t line = CONFIG_FILE_MAX - len < 100 ? CONFIG_FILE_MAX - len : 100;

		memset(text + len, '#', line - 1);
		text[len + line - 1] = '\n';
		len += line;
	}
	text[len] = '\0';
	assert_int_equal(parse_file(&cfg, &action, err, text, NULL), 0);
	strcpy(text + len, "\n");
	assert_int_equal(parse_file(&cfg, &action, err, text, NULL), -EFBIG);
	assert_string_equal(err, ": larger than 65536 bytes");
	free(text);
}

static void
nul_bytes_are_refused(void **unused)
{
	static const char text[] = "tap = tap0\naddress = 10.9.0.2/24\0junk\n";
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];
	char *argv[] = { "lwipd", "--config", NULL, NULL };
	char path[64];

	(void)unused;
	write_file(path, text, sizeof(text) - 1);
	argv[2] = path;
	config_defaults(&cfg);
	assert_int_equal(config_parse_args(&cfg, 3, argv, &action, err, sizeof(err)), -EINVAL);
	unlink(path);
	assert_non_null(strstr(err, ":2: line holds a NUL byte"));
}

static void
unreadable_files(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];
	char *missing[] = { "lwipd", "--config", "/nonexistent/lwipd.conf", NULL };
	char *directory[] = { "lwipd", "--config", "/tmp", NULL };
	char *device[] = { "lwipd", "--config", "/dev/zero", NULL };

	(void)unused;
	config_defaults(&cfg);
	assert_int_equal(config_parse_args(&cfg, 3, missing, &action, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/lwipd.conf: No such file or directory");
	assert_int_equal(config_parse_args(&cfg, 3, directory, &action, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/tmp: not a regular file");
	assert_int_equal(config_parse_args(&cfg, 3, device, &action, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/dev/zero: not a regular file");
}

/* The engine's limits: defaults, flags, file keys, and ranges named with the file's line. */
static void
limits_are_flags_and_keys(void **unused)
{
	static const struct {
		const char *name;
		size_t offset;
		uint32_t def, min, max;
	} limits[] = {
		{ "max-connections", offsetof(struct config, max_connections),
		    ENGINE_CONNECTIONS_DEFAULT, 1, ENGINE_CONNECTIONS_MAX },
		{ "max-listeners", offsetof(struct config, max_listeners), ENGINE_LISTENERS_DEFAULT, 1,
		    ENGINE_LISTENERS_MAX },
		{ "max-event-streams", offsetof(struct config, max_event_streams),
		    ENGINE_EVENT_STREAMS_DEFAULT, 1, ENGINE_EVENT_STREAMS_MAX },
		{ "max-capture-readers", offsetof(struct config, max_capture_readers),
		    ENGINE_CAPTURE_READERS_DEFAULT, 1, ENGINE_CAPTURE_READERS_MAX },
		{ "max-batches", offsetof(struct config, max_batches), ENGINE_BATCHES_DEFAULT, 1,
		    ENGINE_BATCHES_MAX },
		{ "max-send-queue", offsetof(struct config, max_send_queue), ENGINE_SEND_QUEUE_DEFAULT,
		    ENGINE_SEND_QUEUE_MIN, ENGINE_SEND_QUEUE_MAX },
	};
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX], flag[64], value[16], text[128], expected[128];

	(void)unused;
	assert_int_equal(ENGINE_CONNECTIONS_DEFAULT, 16384);
	assert_int_equal(ENGINE_LISTENERS_DEFAULT, 1024);
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		uint32_t *field = (uint32_t *)((char *)&cfg + limits[i].offset);

		assert_int_equal(parse(&cfg, &action, err, BASE, NULL), 0);
		assert_int_equal(*field, limits[i].def);
		snprintf(flag, sizeof(flag), "--%s", limits[i].name);
		snprintf(value, sizeof(value), "%u", limits[i].max);
		assert_int_equal(parse(&cfg, &action, err, BASE, flag, value, NULL), 0);
		assert_int_equal(*field, limits[i].max);
		snprintf(value, sizeof(value), "%u", limits[i].min);
		assert_int_equal(parse(&cfg, &action, err, BASE, flag, value, NULL), 0);
		assert_int_equal(*field, limits[i].min);
		snprintf(value, sizeof(value), "%u", limits[i].max + 1);
		assert_int_equal(parse(&cfg, &action, err, BASE, flag, value, NULL), -EINVAL);
		snprintf(expected, sizeof(expected), "%s: must be an integer from %u to %u", flag,
		    limits[i].min, limits[i].max);
		assert_memory_equal(err, expected, strlen(expected));
		snprintf(value, sizeof(value), "%u", limits[i].min - 1);
		assert_int_equal(parse(&cfg, &action, err, BASE, flag, value, NULL), -EINVAL);

		/* The file's key, '_' for '-', and a bad value named with its line. */
		snprintf(text, sizeof(text), "tap = tap0\naddress = 10.9.0.2/24\n%s = %u\n",
		    limits[i].name, limits[i].min);
		for (char *p = strstr(text, limits[i].name); *p != ' '; p++)
			*p = *p == '-' ? '_' : *p;
		assert_int_equal(parse_file(&cfg, &action, err, text, NULL), 0);
		assert_int_equal(*field, limits[i].min);
		snprintf(text, sizeof(text), "# limits\n%s = 0\n", limits[i].name);
		assert_int_equal(parse_file(&cfg, &action, err, text, BASE, NULL), -EINVAL);
		snprintf(expected, sizeof(expected), ":2: %s: must be an integer from", limits[i].name);
		if (strstr(err, expected) == NULL)
			fail_msg("%s: message '%s'", limits[i].name, err);
	}
}

static void
check_validates_everything(void **unused)
{
	struct config cfg;
	enum config_action action;
	char err[CONFIG_ERROR_MAX];

	(void)unused;
	assert_int_equal(parse_file(&cfg, &action, err, "tap = tap0\n", "--check", NULL), -EINVAL);
	assert_non_null(strstr(err, "--address: required"));
	assert_int_equal(parse_file(&cfg, &action, err, "tap = tap0\n", "--check", "--address",
	    "10.9.0.2/24", NULL), 0);
	assert_int_equal(action, CONFIG_ACTION_CHECK);
	assert_int_equal(parse(&cfg, &action, err, "--check", BASE, NULL), 0);
	assert_int_equal(action, CONFIG_ACTION_CHECK);
	/* --help wins over everything, even a file that does not exist. */
	assert_int_equal(parse(&cfg, &action, err, "--config", "/nonexistent", "--check", "--help",
	    NULL), 0);
	assert_int_equal(action, CONFIG_ACTION_HELP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(minimal_command_line_gets_defaults),
		cmocka_unit_test(every_option_is_read),
		cmocka_unit_test(help_and_version),
		cmocka_unit_test(bad_values_name_their_option),
		cmocka_unit_test(required_and_stray_arguments),
		cmocka_unit_test(long_values_are_refused),
		cmocka_unit_test(file_sets_every_option),
		cmocka_unit_test(flags_override_the_file),
		cmocka_unit_test(bad_lines_name_file_line_and_key),
		cmocka_unit_test(line_and_file_limits),
		cmocka_unit_test(nul_bytes_are_refused),
		cmocka_unit_test(unreadable_files),
		cmocka_unit_test(limits_are_flags_and_keys),
		cmocka_unit_test(check_validates_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
