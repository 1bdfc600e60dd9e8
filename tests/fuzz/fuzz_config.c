/*
 * fuzz_config: libFuzzer harness for the configuration file parser and the
 * command line, the two ways options reach lwipd.
 *
 * The first byte chooses: even, the rest is a configuration file's text;
 * odd, the rest is a command line, its arguments separated by NUL bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define FUZZ_ARGS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
parse_command_line(char *text, size_t len)
{
	char *argv[FUZZ_ARGS_MAX + 2] = { "lwipd" };
	char err[CONFIG_ERROR_MAX];
	enum config_action action;
	struct config cfg;
	int argc = 1;

	for (char *p = text; p < text + len && argc <= FUZZ_ARGS_MAX; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	config_defaults(&cfg);
	/* A --config FILE names a real path; only the parser is fuzzed, not the disk. */
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--config", 8) == 0)
			return;
	}
	config_parse_args(&cfg, argc, argv, &action, err, sizeof(err));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERROR_MAX];
	struct config cfg;
	char *text;

	if (size == 0 || size > CONFIG_FILE_MAX + 1)
		return 0;
	/* One byte more, as config_parse_text() asks, and a NUL for the command line. */
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 2 == 0) {
		config_defaults(&cfg);
		config_parse_text(&cfg, "fuzz.conf", text, size - 1, err, sizeof(err));
	} else {
		parse_command_line(text, size - 1);
	}
	free(text);
	return 0;
}
