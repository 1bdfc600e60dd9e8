#include "tcpinfo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[TCPINFO_STATE_COUNT] = {
	[TCPINFO_CLOSED] = "CLOSED",
	[TCPINFO_LISTEN] = "LISTEN",
	[TCPINFO_SYN_SENT] = "SYN_SENT",
	[TCPINFO_SYN_RCVD] = "SYN_RCVD",
	[TCPINFO_ESTABLISHED] = "ESTABLISHED",
	[TCPINFO_FIN_WAIT_1] = "FIN_WAIT_1",
	[TCPINFO_FIN_WAIT_2] = "FIN_WAIT_2",
	[TCPINFO_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCPINFO_CLOSING] = "CLOSING",
	[TCPINFO_LAST_ACK] = "LAST_ACK",
	[TCPINFO_TIME_WAIT] = "TIME_WAIT",
};

static const char *const cause_names[TCPINFO_CAUSE_KIND_COUNT] = {
	[TCPINFO_CAUSE_API_OPEN] = "api:open",
	[TCPINFO_CAUSE_API_CLOSE] = "api:close",
	[TCPINFO_CAUSE_API_ABORT] = "api:abort",
	[TCPINFO_CAUSE_API_SHUTDOWN] = "api:shutdown",
	[TCPINFO_CAUSE_API_EXPIRE] = "api:expire",
	[TCPINFO_CAUSE_RX] = "rx:",
	[TCPINFO_CAUSE_TIMER_2MSL] = "timer:2msl",
	[TCPINFO_CAUSE_TIMER_FIN_WAIT_2] = "timer:fin-wait-2",
	[TCPINFO_CAUSE_TIMER_SYN_RETRIES] = "timer:syn-retries",
	[TCPINFO_CAUSE_TIMER_RETRANSMIT] = "timer:retransmit",
	[TCPINFO_CAUSE_TIMER_TIMEOUT] = "timer:timeout",
	[TCPINFO_CAUSE_ARP_UNRESOLVED] = "arp:unresolved",
	[TCPINFO_CAUSE_DAEMON_STOP] = "daemon:stop",
};

static const char *const step_names[TCPINFO_STEP_COUNT] = {
	[TCPINFO_STEP_HANDSHAKE_1] = "handshake-1",
	[TCPINFO_STEP_HANDSHAKE_2] = "handshake-2",
	[TCPINFO_STEP_HANDSHAKE_3] = "handshake-3",
	[TCPINFO_STEP_TEARDOWN_1] = "teardown-1",
	[TCPINFO_STEP_TEARDOWN_2] = "teardown-2",
	[TCPINFO_STEP_TEARDOWN_3] = "teardown-3",
	[TCPINFO_STEP_TEARDOWN_4] = "teardown-4",
	[TCPINFO_STEP_TEARDOWN_2_3] = "teardown-2+3",
	[TCPINFO_STEP_DATA] = "data",
	[TCPINFO_STEP_ACK] = "ack",
	[TCPINFO_STEP_RST] = "rst",
	[TCPINFO_STEP_RETRANSMIT] = "retransmit",
};

/* The order people read flags in: the handshake and teardown flags first. */
static const struct {
	uint8_t bit;
	const char *name;
} flag_names[] = {
	{ TCPINFO_FLAG_SYN, "SYN" },
	{ TCPINFO_FLAG_FIN, "FIN" },
	{ TCPINFO_FLAG_RST, "RST" },
	{ TCPINFO_FLAG_PSH, "PSH" },
	{ TCPINFO_FLAG_ACK, "ACK" },
	{ TCPINFO_FLAG_URG, "URG" },
	{ TCPINFO_FLAG_ECE, "ECE" },
	{ TCPINFO_FLAG_CWR, "CWR" },
};

const char *
tcpinfo_state_name(enum tcpinfo_state state)
{
	if ((unsigned)state >= TCPINFO_STATE_COUNT)
		return NULL;
	return state_names[state];
}

static const char *const drop_names[TCPINFO_DROP_COUNT] = {
	[TCPINFO_DROP_NO_ACK] = "rfc9293:no-ack",
	[TCPINFO_DROP_SYN_FIN] = "rfc9293:syn-fin",
	[TCPINFO_DROP_SYN_RST] = "rfc9293:syn-rst",
	[TCPINFO_DROP_HALF_SPACE] = "rfc9293:half-space",
};

const char *
tcpinfo_drop_name(enum tcpinfo_drop drop)
{
	if ((unsigned)drop >= TCPINFO_DROP_COUNT)
		return NULL;
	return drop_names[drop];
}

const char *
tcpinfo_step_name(enum tcpinfo_step step)
{
	if ((unsigned)step >= TCPINFO_STEP_COUNT)
		return NULL;
	return step_names[step];
}

int
tcpinfo_state_parse(const char *name, enum tcpinfo_state *out)
{
	for (int i = 0; i < TCPINFO_STATE_COUNT; i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum tcpinfo_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

int
tcpinfo_step_parse(const char *name, enum tcpinfo_step *out)
{
	for (int i = TCPINFO_STEP_NONE + 1; i < TCPINFO_STEP_COUNT; i++) {
		if (strcmp(name, step_names[i]) == 0) {
			*out = (enum tcpinfo_step)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* The bit of one flag name of len bytes, or 0 when there is none by that name. */
static uint8_t
flag_bit(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (strlen(flag_names[i].name) == len && memcmp(name, flag_names[i].name, len) == 0)
			return flag_names[i].bit;
	}
	return 0;
}

int
tcpinfo_flags_parse(const char *text, uint8_t *out)
{
	uint8_t flags = 0;

	for (const char *p = text;; p++) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		uint8_t bit = flag_bit(p, len);

		if (bit == 0 || (flags & bit))
			return -EINVAL;
		flags |= bit;
		if (end == NULL)
			break;
		p = end;
	}
	*out = flags;
	return 0;
}

char *
tcpinfo_flags_format(uint8_t flags, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & flag_names[i].bit))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", flag_names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

char *
tcpinfo_cause_format(struct tcpinfo_cause cause, char *buf, size_t len)
{
	char flags[TCPINFO_TEXT_MAX];

	if (cause.kind >= TCPINFO_CAUSE_KIND_COUNT) {
		snprintf(buf, len, "unknown");
		return buf;
	}
	if (cause.kind == TCPINFO_CAUSE_RX)
		snprintf(buf, len, "rx:%s", tcpinfo_flags_format(cause.flags, flags, sizeof(flags)));
	else
		snprintf(buf, len, "%s", cause_names[cause.kind]);
	return buf;
}

bool
tcpinfo_seq_resent(struct tcpinfo_seq_mark *mark, uint32_t seq, uint32_t seq_len)
{
	bool resent;

	if (seq_len == 0)
		return false;
	resent = mark->valid && tcpinfo_seq_lt(seq, mark->end);
	if (!mark->valid || tcpinfo_seq_lt(mark->end, seq + seq_len)) {
		mark->end = seq + seq_len;
		mark->valid = true;
	}
	return resent;
}
