/*
 * peertrace: the peer's real states, when the peer is the local Linux
 * kernel (--peer-trace, a lab feature): a reader of the kernel's
 * sock:inet_sock_set_state tracepoint through a tracefs instance of
 * lwipd's own, recording each transition of a tracked connection's remote
 * end in its kernel peer history.
 */
#ifndef LWIPD_PEERTRACE_H
#define LWIPD_PEERTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpinfo.h"

/* Where tracefs is expected; lwipd never mounts it. */
#define PEERTRACE_TRACEFS "/sys/kernel/tracing"

/* One line of the tracepoint, IPv4 TCP only. Addresses in network byte order. */
struct peertrace_line {
	uint16_t sport, dport;
	uint32_t saddr, daddr;
	enum tcpinfo_state from, to;
};

/*
 * Parses a trace_pipe line of inet_sock_set_state. Returns 0, or -EINVAL
 * for any other line, another family or protocol, or a state lwipd has no
 * name for (TCP_NEW_SYN_RECV, a request socket's).
 */
int peertrace_parse(const char *line, struct peertrace_line *out);

/* Long enough for peertrace_filter()'s text, with its NUL. */
#define PEERTRACE_FILTER_MAX 64

/*
 * Writes the instance's event filter: IPv4 TCP sockets whose remote end is
 * lwIP's address (network byte order), the kernel's side of lwIP's
 * connections. Returns buf.
 */
char *peertrace_filter(uint32_t address, char *buf, size_t len);

struct engine;

/*
 * Creates instances/lwipd-<pid>, enables the tracepoint and starts the
 * reader thread. Returns 0, or a negative errno after logging once why the
 * peer's state stays inferred only (no tracefs, no privilege).
 */
int peertrace_start(struct engine *engine);

/* Stops the reader and removes the instance. Safe when it never started. */
void peertrace_stop(struct engine *engine);

#endif
