/*
 * config: the daemon's settings and their validation.
 * Every option goes through one setter, so the command line and the
 * configuration file (--config) share one set of rules and messages.
 */
#ifndef LWIPD_CONFIG_H
#define LWIPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"

#define CONFIG_TAP_NAME_MAX 15		/* IFNAMSIZ - 1 */
#define CONFIG_NETNS_NAME_MAX 255
#define CONFIG_VALUE_MAX 512
#define CONFIG_KEY_MAX 32
#define CONFIG_ERROR_MAX 512
#define CONFIG_FILE_MAX 65536		/* bytes in a --config file */
#define CONFIG_LINE_MAX 1024		/* bytes in one of its lines, without the newline */

#define CONFIG_MSL_MS_DEFAULT 30000u
/*
 * lwIP frees TIME_WAIT PCBs on its own after 2 x 60 s, silently. The daemon's
 * 2MSL must end well before that, with a margin for lwIP's 500 ms slow timer.
 */
#define CONFIG_MSL_MS_MAX 59000u
#define CONFIG_RETAIN_CLOSED_DEFAULT 1024u
#define CONFIG_RETAIN_CLOSED_MAX 1000000u
#define CONFIG_RECV_BUFFER_DEFAULT 65536u
#define CONFIG_RECV_BUFFER_MIN 1024u
#define CONFIG_RECV_BUFFER_MAX (16u << 20)

/* Fault rules given at start (--fault, or fault = in the file), each a JSON object. */
#define CONFIG_FAULTS_MAX 64
#define CONFIG_FAULT_RULES_DEFAULT 256u
#define CONFIG_FAULT_RULES_MAX 4096u
/* Segments that delay and reorder rules hold at once, and their bytes. */
#define CONFIG_FAULT_HOLD_DEFAULT 1024u
#define CONFIG_FAULT_HOLD_MAX 65536u
#define CONFIG_FAULT_HOLD_BYTES_DEFAULT (4u << 20)
#define CONFIG_FAULT_HOLD_BYTES_MIN 65536u
#define CONFIG_FAULT_HOLD_BYTES_MAX (256u << 20)

/*
 * The HTTP API's limits: connections in all, from one address, their idle
 * timeout, and waits. 0 for --http-max-per-client or --max-waiters lets the
 * API derive them from --http-max-clients (a half and three quarters).
 */
#define CONFIG_HTTP_MAX_CLIENTS_DEFAULT 256u
#define CONFIG_HTTP_MAX_CLIENTS_MIN 16u
#define CONFIG_HTTP_MAX_CLIENTS_MAX 4096u
/* Above the event stream's 15 s heartbeat, so an idle stream is never timed out. */
#define CONFIG_HTTP_TIMEOUT_S_DEFAULT 30u
#define CONFIG_HTTP_TIMEOUT_S_MIN 20u
#define CONFIG_HTTP_TIMEOUT_S_MAX 3600u

/* Where an option was given: "--fault", or "FILE:LINE: fault". */
#define CONFIG_ORIGIN_MAX 216

struct config_fault {
	char json[CONFIG_VALUE_MAX + 1];	/* checked as a rule by the API's parser */
	char origin[CONFIG_ORIGIN_MAX];
};

struct config {
	char tap_name[CONFIG_TAP_NAME_MAX + 1];
	char netns[CONFIG_NETNS_NAME_MAX + 1];	/* empty: the daemon's own namespace */
	uint32_t address;			/* network byte order */
	uint8_t prefix;
	uint32_t gateway;			/* network byte order; 0: none */
	uint8_t mac[6];
	bool has_mac;
	struct sockaddr_storage listen_addr;
	socklen_t listen_addr_len;
	uint32_t msl_ms;
	uint32_t retain_closed;
	uint32_t recv_buffer;
	uint32_t timeline_max;
	uint32_t snaplen;	/* payload bytes a timeline segment keeps of its frame */
	uint32_t max_connections;
	uint32_t max_listeners;
	uint32_t max_event_streams;
	uint32_t max_capture_readers;
	uint32_t max_batches;
	uint32_t max_send_queue;
	uint32_t memory_budget;	/* bytes of send copies, receive rings and timelines in all */
	uint32_t max_fault_rules;
	uint32_t fault_hold_max;
	uint32_t fault_hold_bytes;
	uint32_t http_max_clients;
	uint32_t http_max_per_client;
	uint32_t http_timeout_s;
	uint32_t max_waiters;
	char api_token_file[CONFIG_VALUE_MAX + 1];	/* empty: none */
	bool lwip_raw;				/* no RFC 9293 drops before lwIP */
	bool peer_trace;			/* read the kernel's TCP states (lab only) */
	size_t fault_count;
	struct config_fault faults[CONFIG_FAULTS_MAX];
	enum log_level log_level;
};

enum config_action {
	CONFIG_ACTION_RUN = 0,
	CONFIG_ACTION_CHECK,		/* --check: the options are valid, do nothing */
	CONFIG_ACTION_HELP,
	CONFIG_ACTION_VERSION
};

/* Fills cfg with the defaults. --tap and --address have none. */
void config_defaults(struct config *cfg);

/*
 * Sets one option by its long name without dashes, e.g. "msl-ms".
 * Returns 0, or -EINVAL with a one-line reason in err that names the option.
 */
int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen);

/*
 * Parses the command line over the defaults and checks that the required
 * options are there and agree with each other. With --config FILE, the
 * file's options are set first and the flags then override them.
 *
 * A configuration file holds "key = value" lines, blank lines, and comments
 * starting with '#' or ';'. A key is a flag's name without the dashes, and
 * '_' may stand for '-'. Nothing is quoted; spaces around the key and value
 * are dropped.
 *
 * Returns 0, or a negative errno with a one-line reason in err; a reason
 * about the file starts with "FILE:LINE: ".
 */
int config_parse_args(struct config *cfg, int argc, char **argv, enum config_action *action,
    char *err, size_t errlen);

/*
 * Sets the options of a configuration file's text as --config does: len
 * bytes at text, which holds one byte more and may be written to. name
 * stands for the file in reasons. Returns 0, or a negative errno with
 * "NAME:LINE: reason" in err.
 */
int config_parse_text(struct config *cfg, const char *name, char *text, size_t len, char *err,
    size_t errlen);

/* Writes the --help text. */
void config_usage(FILE *out);

#endif
