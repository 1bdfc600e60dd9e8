/*
 * tcpinfo: TCP vocabulary shared by the engine, the lwIP glue and the API.
 * States, header flags and the causes of state changes, with their names.
 * Nothing here depends on lwIP, HTTP or JSON.
 */
#ifndef LWIPD_TCPINFO_H
#define LWIPD_TCPINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The eleven states of RFC 9293, in lwIP's numbering. */
enum tcpinfo_state {
	TCPINFO_CLOSED = 0,
	TCPINFO_LISTEN,
	TCPINFO_SYN_SENT,
	TCPINFO_SYN_RCVD,
	TCPINFO_ESTABLISHED,
	TCPINFO_FIN_WAIT_1,
	TCPINFO_FIN_WAIT_2,
	TCPINFO_CLOSE_WAIT,
	TCPINFO_CLOSING,
	TCPINFO_LAST_ACK,
	TCPINFO_TIME_WAIT,
	TCPINFO_STATE_COUNT
};

/* TCP header flag bits, as they sit in byte 13 of the header. */
#define TCPINFO_FLAG_FIN 0x01u
#define TCPINFO_FLAG_SYN 0x02u
#define TCPINFO_FLAG_RST 0x04u
#define TCPINFO_FLAG_PSH 0x08u
#define TCPINFO_FLAG_ACK 0x10u
#define TCPINFO_FLAG_URG 0x20u
#define TCPINFO_FLAG_ECE 0x40u
#define TCPINFO_FLAG_CWR 0x80u

/* What drove a state change. */
enum tcpinfo_cause_kind {
	TCPINFO_CAUSE_API_OPEN = 0,	/* "api:open" */
	TCPINFO_CAUSE_API_CLOSE,	/* "api:close" */
	TCPINFO_CAUSE_API_ABORT,	/* "api:abort" */
	TCPINFO_CAUSE_API_SHUTDOWN,	/* "api:shutdown" */
	TCPINFO_CAUSE_API_EXPIRE,	/* "api:expire" */
	TCPINFO_CAUSE_RX,		/* "rx:SYN,ACK": an inbound segment */
	TCPINFO_CAUSE_TIMER_2MSL,	/* "timer:2msl" */
	TCPINFO_CAUSE_TIMER_FIN_WAIT_2,	/* "timer:fin-wait-2": the peer never sent its FIN */
	TCPINFO_CAUSE_TIMER_SYN_RETRIES, /* "timer:syn-retries": lwIP gave up on the SYN */
	TCPINFO_CAUSE_TIMER_RETRANSMIT,	/* "timer:retransmit": lwIP gave up retransmitting */
	TCPINFO_CAUSE_TIMER_TIMEOUT,	/* "timer:timeout": a state timed out in lwIP */
	TCPINFO_CAUSE_ARP_UNRESOLVED,	/* "arp:unresolved": the next hop never answered ARP */
	TCPINFO_CAUSE_DAEMON_STOP,	/* "daemon:stop": aborted at shutdown */
	TCPINFO_CAUSE_KIND_COUNT
};

struct tcpinfo_cause {
	uint8_t kind;	/* enum tcpinfo_cause_kind */
	uint8_t flags;	/* TCPINFO_FLAG_* of the segment, for TCPINFO_CAUSE_RX */
};

/* Long enough for any formatted cause or flag list, with its NUL. */
#define TCPINFO_TEXT_MAX 40

/* The role of a segment in a connection's life, for timelines and ladders. */
enum tcpinfo_step {
	TCPINFO_STEP_NONE = 0,		/* null: none of the others */
	TCPINFO_STEP_HANDSHAKE_1,	/* the SYN */
	TCPINFO_STEP_HANDSHAKE_2,	/* the SYN+ACK */
	TCPINFO_STEP_HANDSHAKE_3,	/* the opener's first ACK of the SYN+ACK */
	TCPINFO_STEP_TEARDOWN_1,	/* the first FIN, whichever side sends it */
	TCPINFO_STEP_TEARDOWN_2,	/* the other side's ACK of it, without a FIN */
	TCPINFO_STEP_TEARDOWN_3,	/* the other side's FIN */
	TCPINFO_STEP_TEARDOWN_4,	/* the ACK of that second FIN */
	TCPINFO_STEP_TEARDOWN_2_3,	/* "teardown-2+3": the other side's FIN, acknowledging the first */
	TCPINFO_STEP_DATA,		/* new payload */
	TCPINFO_STEP_ACK,		/* a bare acknowledgement */
	TCPINFO_STEP_RST,
	TCPINFO_STEP_RETRANSMIT,	/* sequence space sent before */
	TCPINFO_STEP_COUNT
};

/* Sequence-space comparison, modulo 2^32 (RFC 9293 section 3.4). */
static inline bool
tcpinfo_seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* How far one side has sent: the highest sequence number, plus one. */
struct tcpinfo_seq_mark {
	bool valid;
	uint32_t end;
};

/*
 * Whether a segment of seq_len (payload, plus one each for SYN and FIN)
 * from seq resends sequence space the mark has seen; moves the mark past
 * it. A segment with no sequence space is never a retransmission.
 */
bool tcpinfo_seq_resent(struct tcpinfo_seq_mark *mark, uint32_t seq, uint32_t seq_len);

/* Why the daemon dropped an inbound segment before lwIP that no fault rule asked to drop. */
enum tcpinfo_drop {
	TCPINFO_DROP_NONE = 0,
	TCPINFO_DROP_NO_ACK,	/* "rfc9293:no-ack": no ACK in a synchronized state (3.10.7.4) */
	TCPINFO_DROP_SYN_FIN,	/* "rfc9293:syn-fin": no state accepts SYN with FIN */
	TCPINFO_DROP_SYN_RST,	/* "rfc9293:syn-rst": nor SYN with RST */
	TCPINFO_DROP_HALF_SPACE,	/* "rfc9293:half-space": 2^31 from rcv_nxt, in no window (3.10.7.4) */
	TCPINFO_DROP_COUNT
};

/* Returns e.g. "rfc9293:no-ack", or NULL for TCPINFO_DROP_NONE. */
const char *tcpinfo_drop_name(enum tcpinfo_drop drop);

/* Returns e.g. "handshake-1", "teardown-2+3", "data", or NULL for TCPINFO_STEP_NONE. */
const char *tcpinfo_step_name(enum tcpinfo_step step);

/* Returns the RFC name, e.g. "SYN_SENT", or NULL for a value out of range. */
const char *tcpinfo_state_name(enum tcpinfo_state state);

/* Parses an exact state name. Returns 0, or -EINVAL for an unknown name. */
int tcpinfo_state_parse(const char *name, enum tcpinfo_state *out);

/* Parses an exact step name such as "teardown-4". Returns 0, or -EINVAL. */
int tcpinfo_step_parse(const char *name, enum tcpinfo_step *out);

/*
 * Parses a flag list such as "SYN,ACK" (names as tcpinfo_flags_format()
 * writes them, in any order, each once). Returns 0, or -EINVAL.
 */
int tcpinfo_flags_parse(const char *text, uint8_t *out);

/* Writes flags as "SYN,ACK" into buf (empty for none). Returns buf. */
char *tcpinfo_flags_format(uint8_t flags, char *buf, size_t len);

/* Writes a cause as "rx:FIN,ACK" or "api:open" into buf. Returns buf. */
char *tcpinfo_cause_format(struct tcpinfo_cause cause, char *buf, size_t len);

#endif
