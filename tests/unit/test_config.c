#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

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
	    "--retain-closed", "0", "--log-level", "debug", NULL), 0);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
