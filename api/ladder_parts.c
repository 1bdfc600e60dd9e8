/*
 * ladder_parts: the pieces the ladder formats share; see ladder_parts.h.
 */
#include "ladder_parts.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void
ladder_time(uint64_t at_us, uint64_t start_us, char *buf, size_t len)
{
	uint64_t us = at_us > start_us ? at_us - start_us : 0;

	snprintf(buf, len, "%" PRIu64 ".%03u", us / 1000, (unsigned int)(us % 1000));
}

void
ladder_endpoint(const struct engine_endpoint *endpoint, char *buf, size_t len)
{
	struct in_addr addr = { .s_addr = endpoint->ip };
	char ip[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, (unsigned int)endpoint->port);
}

/* Appends "<NAME=value>", or "<NAME=?>" when the value is unknown. */
static size_t
append_field(char *buf, size_t len, size_t used, const char *name, bool known, uint32_t value)
{
	int n;

	if (used >= len)
		return used;
	if (known)
		n = snprintf(buf + used, len - used, "<%s=%" PRIu32 ">", name, value);
	else
		n = snprintf(buf + used, len - used, "<%s=?>", name);
	return n < 0 ? used : used + (size_t)n;
}

void
ladder_segment(const struct engine_event *event, char *buf, size_t len)
{
	char flags[TCPINFO_TEXT_MAX];
	size_t used;

	used = append_field(buf, len, 0, "SEQ", event->has_rel_seq, event->rel_seq);
	if (event->flags & TCPINFO_FLAG_ACK)
		used = append_field(buf, len, used, "ACK", event->has_rel_ack, event->rel_ack);
	tcpinfo_flags_format(event->flags, flags, sizeof(flags));
	if (flags[0] != '\0' && used < len)
		used += (size_t)snprintf(buf + used, len - used, "<CTL=%s>", flags);
	if (event->len > 0)
		append_field(buf, len, used, "LEN", true, event->len);
}

void
ladder_fault(const struct engine_fault *fault, char *buf, size_t len)
{
	uint64_t rule = fault->rule;

	switch (fault->action) {
	case FAULT_DROP:
		snprintf(buf, len, "dropped by fault rule %" PRIu64, rule);
		break;
	case FAULT_DELAY:
		snprintf(buf, len, "delayed up to %" PRIu32 " ms by fault rule %" PRIu64,
		    fault->hold_ms, rule);
		break;
	case FAULT_DUPLICATE:
		snprintf(buf, len, "%s by fault rule %" PRIu64, fault->copy ? "a copy made" :
		    "duplicated", rule);
		break;
	case FAULT_REORDER:
		snprintf(buf, len, "held up to %" PRIu32 " ms and reordered by fault rule %" PRIu64,
		    fault->hold_ms, rule);
		break;
	case FAULT_CORRUPT:
		snprintf(buf, len, "corrupted by fault rule %" PRIu64, rule);
		break;
	default:
		if (len > 0)
			buf[0] = '\0';
		break;
	}
}

const char *
ladder_together(bool outbound)
{
	return outbound ? "lwIP's FIN carried its ACK of the peer's FIN" :
	    "the peer's FIN carried its ACK of lwIP's FIN";
}

bool
ladder_lost(const struct engine_event *event)
{
	/* A corrupted segment reaches its receiver, which discards it for its checksum. */
	return event->fault.action == FAULT_DROP || event->fault.action == FAULT_CORRUPT;
}

const char *
ladder_state(enum tcpinfo_state state)
{
	const char *name = tcpinfo_state_name(state);

	return name != NULL ? name : "?";
}

char *
ladder_stream_close(FILE *f, char **text, size_t *size, size_t *len)
{
	bool failed = ferror(f) != 0;

	/* The stream's buffer and size are only final after fclose(). */
	if (fclose(f) != 0 || failed) {
		free(*text);
		*text = NULL;
		return NULL;
	}
	*len = *size;
	return *text;
}
