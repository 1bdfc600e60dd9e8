/*
 * config: parses and checks the daemon's settings: the table of bounded
 * numbers, the setter every option goes through, the configuration file
 * (--config) and the command line, and the checks across options. The
 * --help text is config_help.c's.
 */
#include "config.h"
#include "engine.h"
#include "membudget.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
config_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Decimal digits only: no sign, no spaces, no hex, within [min, max]. */
static int
parse_uint(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t value = 0;

	if (*text == '\0' || strlen(text) > 10)
		return -EINVAL;
	for (const char *p = text; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		value = value * 10 + (uint64_t)(*p - '0');
	}
	if (value < min || value > max)
		return -EINVAL;
	*out = (uint32_t)value;
	return 0;
}

/* "true" or "false" (also "yes"/"no", "1"/"0", as systemd writes them). */
static int
parse_bool(const char *text, bool *out)
{
	if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 || strcmp(text, "1") == 0)
		*out = true;
	else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 || strcmp(text, "0") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* A strict dotted quad; inet_pton already refuses octal and short forms. */
static int
parse_ipv4(const char *text, uint32_t *out)
{
	struct in_addr addr;

	if (strlen(text) > 15 || inet_pton(AF_INET, text, &addr) != 1)
		return -EINVAL;
	*out = addr.s_addr;
	return 0;
}

static uint32_t
prefix_mask(uint8_t prefix)
{
	return prefix == 0 ? 0 : htonl(0xffffffffu << (32 - prefix));
}

/* Zero network, loopback, multicast and the reserved class E, broadcast included. */
static bool
ipv4_is_special(uint32_t ip)
{
	uint8_t first = (uint8_t)(ntohl(ip) >> 24);

	return first == 0 || first == 127 || first >= 224;
}

static bool
name_is_safe(const char *name, size_t max)
{
	size_t len = strlen(name);

	if (len == 0 || len > max || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *p = name; *p; p++) {
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) || !isprint((unsigned char)*p))
			return false;
	}
	return true;
}

static int
set_address(struct config *cfg, const char *opt, const char *value, char *err, size_t errlen)
{
	char copy[32];
	char *slash;
	uint32_t ip, prefix, mask;

	if (strlen(value) >= sizeof(copy) || (slash = strchr(strcpy(copy, value), '/')) == NULL)
		return config_error(err, errlen, "%s: expected A.B.C.D/LEN, got '%.40s'", opt, value);
	*slash = '\0';
	if (parse_ipv4(copy, &ip) < 0)
		return config_error(err, errlen, "%s: '%.40s' is not an IPv4 address", opt, copy);
	if (parse_uint(slash + 1, 1, 30, &prefix) < 0)
		return config_error(err, errlen, "%s: prefix length must be from 1 to 30, got '%.40s'",
		    opt, slash + 1);
	if (ipv4_is_special(ip))
		return config_error(err, errlen,
		    "%s: %s is a zero-network, loopback, multicast or reserved address", opt, copy);
	mask = prefix_mask((uint8_t)prefix);
	if ((ip & ~mask) == 0 || (ip & ~mask) == ~mask)
		return config_error(err, errlen, "%s: %s is the network or broadcast address of /%u",
		    opt, copy, prefix);
	cfg->address = ip;
	cfg->prefix = (uint8_t)prefix;
	return 0;
}

static int
set_mac(struct config *cfg, const char *opt, const char *value, char *err, size_t errlen)
{
	uint8_t mac[6];

	if (strlen(value) != 17)
		return config_error(err, errlen,
		    "%s: expected six hex bytes like 02:00:00:00:00:01, got '%.40s'", opt, value);
	for (int i = 0; i < 6; i++) {
		const char *byte = value + i * 3;
		char hex[3] = { byte[0], byte[1], '\0' };

		if (!isxdigit((unsigned char)byte[0]) || !isxdigit((unsigned char)byte[1]) ||
		    (i < 5 && byte[2] != ':'))
			return config_error(err, errlen,
			    "%s: expected six hex bytes like 02:00:00:00:00:01, got '%s'", opt, value);
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	if (mac[0] & 0x01)
		return config_error(err, errlen, "%s: %s is a multicast address", opt, value);
	if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
		return config_error(err, errlen, "%s: the all-zero address is not usable", opt);
	memcpy(cfg->mac, mac, sizeof(mac));
	cfg->has_mac = true;
	return 0;
}

/* HOST:PORT where HOST is an IPv4 literal, "localhost" or [IPv6]. */
static int
set_listen(struct config *cfg, const char *opt, const char *value, char *err, size_t errlen)
{
	char host[64];
	const char *colon = strrchr(value, ':');
	uint32_t port;
	size_t host_len;

	if (colon == NULL || parse_uint(colon + 1, 0, 65535, &port) < 0)
		return config_error(err, errlen,
		    "%s: expected HOST:PORT with a port from 0 to 65535, got '%.80s'", opt, value);
	host_len = (size_t)(colon - value);
	if (host_len == 0 || host_len >= sizeof(host))
		return config_error(err, errlen, "%s: expected HOST:PORT, got '%.80s'", opt, value);
	memcpy(host, value, host_len);
	host[host_len] = '\0';

	memset(&cfg->listen_addr, 0, sizeof(cfg->listen_addr));
	if (host[0] == '[' && host[host_len - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cfg->listen_addr;

		host[host_len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return config_error(err, errlen, "%s: '%s' is not an IPv6 address", opt, host + 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		cfg->listen_addr_len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&cfg->listen_addr;
		uint32_t ip;

		if (strcmp(host, "localhost") == 0)
			ip = htonl(INADDR_LOOPBACK);
		else if (parse_ipv4(host, &ip) < 0)
			return config_error(err, errlen,
			    "%s: '%s' is not an IPv4 address, [IPv6] address or localhost", opt, host);
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = ip;
		sin->sin_port = htons((uint16_t)port);
		cfg->listen_addr_len = sizeof(*sin);
	}
	return 0;
}

/* The options that take a bounded integer; why, when not empty, says what the bound protects. */
static const struct number_option {
	const char *name;
	size_t offset;
	uint32_t min, max, def;
	const char *why;
} number_options[] = {
	{ "msl-ms", offsetof(struct config, msl_ms), 1, CONFIG_MSL_MS_MAX, CONFIG_MSL_MS_DEFAULT,
	    ", so that 2MSL ends before lwIP's own 120000 ms TIME_WAIT" },
	{ "retain-closed", offsetof(struct config, retain_closed), 0, CONFIG_RETAIN_CLOSED_MAX,
	    CONFIG_RETAIN_CLOSED_DEFAULT, "" },
	{ "recv-buffer", offsetof(struct config, recv_buffer), CONFIG_RECV_BUFFER_MIN,
	    CONFIG_RECV_BUFFER_MAX, CONFIG_RECV_BUFFER_DEFAULT, "" },
	{ "timeline-max", offsetof(struct config, timeline_max), ENGINE_TIMELINE_MIN,
	    ENGINE_TIMELINE_MAX, ENGINE_TIMELINE_DEFAULT, "" },
	{ "snaplen", offsetof(struct config, snaplen), 0, ENGINE_SNAPLEN_MAX, ENGINE_SNAPLEN_DEFAULT,
	    "" },
	{ "max-connections", offsetof(struct config, max_connections), 1, ENGINE_CONNECTIONS_MAX,
	    ENGINE_CONNECTIONS_DEFAULT, ", as lwIP walks every connection for each segment" },
	{ "max-listeners", offsetof(struct config, max_listeners), 1, ENGINE_LISTENERS_MAX,
	    ENGINE_LISTENERS_DEFAULT, ", one a port" },
	{ "max-event-streams", offsetof(struct config, max_event_streams), 1,
	    ENGINE_EVENT_STREAMS_MAX, ENGINE_EVENT_STREAMS_DEFAULT, "" },
	{ "max-capture-readers", offsetof(struct config, max_capture_readers), 1,
	    ENGINE_CAPTURE_READERS_MAX, ENGINE_CAPTURE_READERS_DEFAULT,
	    ", as each reader's queue takes 414 KiB" },
	{ "max-send-queue", offsetof(struct config, max_send_queue), ENGINE_SEND_QUEUE_MIN,
	    ENGINE_SEND_QUEUE_MAX, ENGINE_SEND_QUEUE_DEFAULT, "" },
	{ "max-batches", offsetof(struct config, max_batches), 1, ENGINE_BATCHES_MAX,
	    ENGINE_BATCHES_DEFAULT, "" },
	{ "memory-budget", offsetof(struct config, memory_budget), MEMBUDGET_MIN, MEMBUDGET_MAX,
	    MEMBUDGET_DEFAULT, "" },
	{ "max-fault-rules", offsetof(struct config, max_fault_rules), 1, CONFIG_FAULT_RULES_MAX,
	    CONFIG_FAULT_RULES_DEFAULT, "" },
	{ "fault-hold-max", offsetof(struct config, fault_hold_max), 1, CONFIG_FAULT_HOLD_MAX,
	    CONFIG_FAULT_HOLD_DEFAULT, "" },
	{ "fault-hold-bytes", offsetof(struct config, fault_hold_bytes), CONFIG_FAULT_HOLD_BYTES_MIN,
	    CONFIG_FAULT_HOLD_BYTES_MAX, CONFIG_FAULT_HOLD_BYTES_DEFAULT, "" },
	{ "http-max-clients", offsetof(struct config, http_max_clients), CONFIG_HTTP_MAX_CLIENTS_MIN,
	    CONFIG_HTTP_MAX_CLIENTS_MAX, CONFIG_HTTP_MAX_CLIENTS_DEFAULT, "" },
	{ "http-max-per-client", offsetof(struct config, http_max_per_client), 0,
	    CONFIG_HTTP_MAX_CLIENTS_MAX, 0, "" },
	{ "http-timeout-s", offsetof(struct config, http_timeout_s), CONFIG_HTTP_TIMEOUT_S_MIN,
	    CONFIG_HTTP_TIMEOUT_S_MAX, CONFIG_HTTP_TIMEOUT_S_DEFAULT,
	    ", above the event stream's 15 s heartbeat" },
	{ "max-waiters", offsetof(struct config, max_waiters), 0, CONFIG_HTTP_MAX_CLIENTS_MAX - 1,
	    0, "" },
};

static const struct number_option *
number_option(const char *name)
{
	for (size_t i = 0; i < sizeof(number_options) / sizeof(number_options[0]); i++) {
		if (strcmp(name, number_options[i].name) == 0)
			return &number_options[i];
	}
	return NULL;
}

void
config_defaults(struct config *cfg)
{
	char unused[CONFIG_ERROR_MAX];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < sizeof(number_options) / sizeof(number_options[0]); i++)
		*(uint32_t *)((char *)cfg + number_options[i].offset) = number_options[i].def;
	cfg->log_level = LOG_LEVEL_INFO;
	set_listen(cfg, "--listen", "127.0.0.1:8080", unused, sizeof(unused));
}

/* Sets the option called name; messages call it opt, as the user spelled it. */
static int
set_option(struct config *cfg, const char *name, const char *opt, const char *origin,
    const char *value, char *err, size_t errlen)
{
	const struct number_option *number;

	if (strlen(value) > CONFIG_VALUE_MAX)
		return config_error(err, errlen, "%s: value is longer than %d bytes", opt, CONFIG_VALUE_MAX);

	if (strcmp(name, "tap") == 0) {
		if (!name_is_safe(value, CONFIG_TAP_NAME_MAX))
			return config_error(err, errlen,
			    "%s: '%.40s' is not an interface name (1 to %d printable characters, no '/', ':' or spaces)",
			    opt, value, CONFIG_TAP_NAME_MAX);
		strcpy(cfg->tap_name, value);
	} else if (strcmp(name, "netns") == 0) {
		if (!name_is_safe(value, CONFIG_NETNS_NAME_MAX))
			return config_error(err, errlen, "%s: '%.40s' is not a namespace name", opt, value);
		strcpy(cfg->netns, value);
	} else if (strcmp(name, "address") == 0) {
		return set_address(cfg, opt, value, err, errlen);
	} else if (strcmp(name, "gateway") == 0) {
		uint32_t ip;

		if (parse_ipv4(value, &ip) < 0 || ipv4_is_special(ip))
			return config_error(err, errlen, "%s: '%.40s' is not a usable IPv4 address", opt, value);
		cfg->gateway = ip;
	} else if (strcmp(name, "mac") == 0) {
		return set_mac(cfg, opt, value, err, errlen);
	} else if (strcmp(name, "listen") == 0) {
		return set_listen(cfg, opt, value, err, errlen);
	} else if (strcmp(name, "api-token-file") == 0) {
		if (value[0] == '\0')
			return config_error(err, errlen, "%s: expected a file name", opt);
		strcpy(cfg->api_token_file, value);
	} else if (strcmp(name, "fault") == 0) {
		if (cfg->fault_count == CONFIG_FAULTS_MAX)
			return config_error(err, errlen, "%s: at most %d rules can be given at start", opt,
			    CONFIG_FAULTS_MAX);
		strcpy(cfg->faults[cfg->fault_count].json, value);
		/* "--fault", or "FILE:LINE: fault" as a file's reasons start. */
		if (origin == opt)
			snprintf(cfg->faults[cfg->fault_count].origin, CONFIG_ORIGIN_MAX, "%s", opt);
		else
			snprintf(cfg->faults[cfg->fault_count].origin, CONFIG_ORIGIN_MAX, "%.180s: %.32s",
			    origin, opt);
		cfg->fault_count++;
	} else if (strcmp(name, "lwip-raw") == 0) {
		if (parse_bool(value, &cfg->lwip_raw) < 0)
			return config_error(err, errlen, "%s: must be true or false; got '%.40s'", opt, value);
	} else if (strcmp(name, "peer-trace") == 0) {
		if (parse_bool(value, &cfg->peer_trace) < 0)
			return config_error(err, errlen, "%s: must be true or false; got '%.40s'", opt, value);
	} else if ((number = number_option(name)) != NULL) {
		uint32_t *field = (uint32_t *)((char *)cfg + number->offset);

		if (parse_uint(value, number->min, number->max, field) < 0)
			return config_error(err, errlen, "%s: must be an integer from %u to %u%s; got '%.40s'",
			    opt, number->min, number->max, number->why, value);
	} else if (strcmp(name, "log-level") == 0) {
		if (log_level_parse(value, &cfg->log_level) < 0)
			return config_error(err, errlen,
			    "%s: must be one of error, warn, info, debug; got '%.40s'", opt, value);
	} else {
		return config_error(err, errlen, "%s: unknown option", opt);
	}
	return 0;
}

int
config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
	char opt[CONFIG_KEY_MAX + 3];

	snprintf(opt, sizeof(opt), "--%s", name);
	return set_option(cfg, name, opt, opt, value, err, errlen);
}

static char *
trim(char *text)
{
	char *end;

	while (*text == ' ' || *text == '\t')
		text++;
	end = text + strlen(text);
	while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return text;
}

/* One line of a configuration file: blank, a comment, or "key = value". */
static int
file_line(struct config *cfg, char *line, const char *origin, char *err, size_t errlen)
{
	char name[CONFIG_KEY_MAX + 1];
	char *equals, *key, *value;
	size_t len;

	line = trim(line);
	if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
		return 0;
	equals = strchr(line, '=');
	if (equals == NULL || equals == line)
		return config_error(err, errlen, "expected 'key = value', got '%.40s'", line);
	*equals = '\0';
	key = trim(line);
	value = trim(equals + 1);
	len = strlen(key);
	if (len > CONFIG_KEY_MAX)
		return config_error(err, errlen, "%.40s...: unknown option", key);
	/* '_' stands for '-' so that the file also suits systemd's EnvironmentFile=. */
	for (size_t i = 0; i <= len; i++)
		name[i] = key[i] == '_' ? '-' : key[i];
	return set_option(cfg, name, key, origin, value, err, errlen);
}

/* Reads the whole file into a NUL-terminated, malloc'd buffer of at most CONFIG_FILE_MAX bytes. */
static int
read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	FILE *file;
	char *text;
	int fd, rc = 0;

	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		config_error(err, errlen, "%.200s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		config_error(err, errlen, "%.200s: not a regular file", path);
		close(fd);
		goto out;
	}
	file = fdopen(fd, "r");
	if (file == NULL) {
		rc = -errno;
		config_error(err, errlen, "%.200s: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	text = malloc(CONFIG_FILE_MAX + 1);
	if (text == NULL) {
		rc = -ENOMEM;
		config_error(err, errlen, "%.200s: out of memory", path);
		goto close_file;
	}
	*len = fread(text, 1, CONFIG_FILE_MAX + 1, file);
	if (ferror(file)) {
		rc = -EIO;
		config_error(err, errlen, "%.200s: %s", path, strerror(errno));
		goto free_text;
	}
	if (*len > CONFIG_FILE_MAX) {
		rc = -EFBIG;
		config_error(err, errlen, "%.200s: larger than %d bytes", path, CONFIG_FILE_MAX);
		goto free_text;
	}
	text[*len] = '\0';
	*out = text;
	text = NULL;
free_text:
	free(text);
close_file:
	fclose(file);
out:
	return rc;
}

int
config_parse_text(struct config *cfg, const char *name, char *text, size_t len, char *err,
    size_t errlen)
{
	char reason[CONFIG_ERROR_MAX], origin[CONFIG_ORIGIN_MAX];
	char *line, *end;
	size_t line_len;
	unsigned lineno = 0;
	int rc = 0;

	if (len > CONFIG_FILE_MAX)
		return config_error(err, errlen, "%.200s: larger than %d bytes", name, CONFIG_FILE_MAX);
	for (line = text; line < text + len; line += line_len + 1) {
		end = memchr(line, '\n', (size_t)(text + len - line));
		line_len = end != NULL ? (size_t)(end - line) : (size_t)(text + len - line);
		lineno++;
		if (line_len > CONFIG_LINE_MAX) {
			rc = config_error(reason, sizeof(reason), "line is longer than %d bytes", CONFIG_LINE_MAX);
			break;
		}
		if (memchr(line, '\0', line_len) != NULL) {
			rc = config_error(reason, sizeof(reason), "line holds a NUL byte");
			break;
		}
		line[line_len] = '\0';
		snprintf(origin, sizeof(origin), "%.200s:%u", name, lineno);
		rc = file_line(cfg, line, origin, reason, sizeof(reason));
		if (rc < 0)
			break;
	}
	if (rc < 0)
		config_error(err, errlen, "%.200s:%u: %s", name, lineno, reason);
	return rc;
}

static int
read_config_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	char *text = NULL;
	int rc;

	rc = read_file(path, &text, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = config_parse_text(cfg, path, text, len, err, errlen);
	free(text);
	return rc;
}

/* Whether the API would listen on loopback only: 127.0.0.0/8 or ::1. */
static bool
listen_is_loopback(const struct config *cfg)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&cfg->listen_addr;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&cfg->listen_addr;

	if (cfg->listen_addr.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
}

static int
config_check(const struct config *cfg, char *err, size_t errlen)
{
	uint32_t mask = prefix_mask(cfg->prefix);

	if (cfg->tap_name[0] == '\0')
		return config_error(err, errlen, "--tap: required, e.g. --tap tap0");
	if (cfg->address == 0)
		return config_error(err, errlen, "--address: required, e.g. --address 10.9.0.2/24");
	if (cfg->gateway != 0) {
		if ((cfg->gateway & mask) != (cfg->address & mask))
			return config_error(err, errlen, "--gateway: not inside the --address subnet");
		if (cfg->gateway == cfg->address)
			return config_error(err, errlen, "--gateway: equals --address");
		if ((cfg->gateway & ~mask) == ~mask)
			return config_error(err, errlen, "--gateway: is the subnet's broadcast address");
	}
	if (!listen_is_loopback(cfg) && cfg->api_token_file[0] == '\0')
		return config_error(err, errlen,
		    "--listen: an address other than loopback needs --api-token-file, "
		    "as the API drives the stack");
	if (cfg->max_waiters != 0 && cfg->max_waiters >= cfg->http_max_clients)
		return config_error(err, errlen,
		    "--max-waiters: must be below --http-max-clients (%u), so that other requests "
		    "keep slots", cfg->http_max_clients);
	if (cfg->http_max_per_client > cfg->http_max_clients)
		return config_error(err, errlen,
		    "--http-max-per-client: must not exceed --http-max-clients (%u)",
		    cfg->http_max_clients);
	return 0;
}

int
config_parse_args(struct config *cfg, int argc, char **argv, enum config_action *action,
    char *err, size_t errlen)
{
	static const struct option options[] = {
		{ "tap", required_argument, NULL, 0 },
		{ "address", required_argument, NULL, 0 },
		{ "gateway", required_argument, NULL, 0 },
		{ "mac", required_argument, NULL, 0 },
		{ "netns", required_argument, NULL, 0 },
		{ "listen", required_argument, NULL, 0 },
		{ "msl-ms", required_argument, NULL, 0 },
		{ "retain-closed", required_argument, NULL, 0 },
		{ "recv-buffer", required_argument, NULL, 0 },
		{ "timeline-max", required_argument, NULL, 0 },
		{ "snaplen", required_argument, NULL, 0 },
		{ "memory-budget", required_argument, NULL, 0 },
		{ "fault", required_argument, NULL, 0 },
		{ "lwip-raw", no_argument, NULL, 0 },
		{ "peer-trace", no_argument, NULL, 0 },
		{ "max-connections", required_argument, NULL, 0 },
		{ "max-listeners", required_argument, NULL, 0 },
		{ "max-event-streams", required_argument, NULL, 0 },
		{ "max-capture-readers", required_argument, NULL, 0 },
		{ "max-send-queue", required_argument, NULL, 0 },
		{ "max-batches", required_argument, NULL, 0 },
		{ "max-fault-rules", required_argument, NULL, 0 },
		{ "fault-hold-max", required_argument, NULL, 0 },
		{ "fault-hold-bytes", required_argument, NULL, 0 },
		{ "api-token-file", required_argument, NULL, 0 },
		{ "http-max-clients", required_argument, NULL, 0 },
		{ "http-max-per-client", required_argument, NULL, 0 },
		{ "http-timeout-s", required_argument, NULL, 0 },
		{ "max-waiters", required_argument, NULL, 0 },
		{ "log-level", required_argument, NULL, 0 },
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int index, opt, rc;

	/*
	 * Two passes, so that flags override the file wherever --config stands:
	 * the first finds the file and the action, the second applies the flags.
	 */
	*action = CONFIG_ACTION_RUN;
	opterr = 0;
	optind = 0;	/* GNU getopt: 0 also resets its state between calls. */
	while ((opt = getopt_long(argc, argv, ":", options, &index)) != -1) {
		switch (opt) {
		case 0:
			break;
		case 'c':
			path = optarg;
			break;
		case 'k':
			*action = CONFIG_ACTION_CHECK;
			break;
		case 'h':
			*action = CONFIG_ACTION_HELP;
			return 0;
		case 'V':
			*action = CONFIG_ACTION_VERSION;
			return 0;
		case ':':
			return config_error(err, errlen, "%s: requires a value", argv[optind - 1]);
		default:
			return config_error(err, errlen, "%.60s: unknown option (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return config_error(err, errlen, "%.60s: unexpected argument (see --help)", argv[optind]);
	if (path != NULL && (rc = read_config_file(cfg, path, err, errlen)) < 0)
		return rc;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", options, &index)) != -1) {
		/* A flag without a value, such as --lwip-raw, turns its option on. */
		if (opt == 0 && (rc = config_set(cfg, options[index].name,
		    optarg != NULL ? optarg : "true", err, errlen)) < 0)
			return rc;
	}
	return config_check(cfg, err, errlen);
}
