/*
 * tcpglue: ties each lwIP PCB to the engine's connection that owns it:
 * lwIP's err callback, the state reports with their causes, the segment
 * reports, and the stack_tcp_* calls that open, close and abort. Listeners
 * and passive opens are tcplisten.c's; the bytes themselves are
 * tcpdata.c's; the inbound segment's way through lwIP is tcprx.c's.
 *
 * DESIGN
 *
 * lwIP reports no state changes, so each tracked PCB's state is compared
 * before and after every event the glue drives: an inbound frame (tcprx.c
 * brackets ethernet_input() with glue_rx_begin() and glue_rx_end()), an API
 * call, or a timer. The event driving lwIP now is kept in `drive`, so that
 * a change, or an err callback, is reported with its cause.
 *
 * Segments are found by their 4-tuple in one hash of tracked connections
 * (one lookup per frame, never a walk). lwIP's err callback tells when it
 * frees a PCB; the glue record then reports CLOSED and forgets the pointer,
 * and is freed at once, or after the frame being handled for it is done.
 * Graceful closes shut only the write side (tcp_shutdown), because lwIP
 * frees a fully closed PCB after LAST_ACK without calling back.
 */
#include <errno.h>
#include <stdlib.h>
#include <utlist.h>

#include <lwip/ip4_addr.h>
#include <lwip/pbuf.h>
#include <lwip/tcp.h>

#include "log.h"
#include "lwip_private.h"
#include "stack_internal.h"

_Static_assert(TCPINFO_TIME_WAIT == (int)TIME_WAIT && TCPINFO_LISTEN == (int)LISTEN &&
    TCPINFO_CLOSING == (int)CLOSING, "tcpinfo states follow lwIP's numbering");

static struct {
	struct stack_tcp *by_key;
	struct glue_drive drive;
	struct stack_tcp *in_input;	/* the connection of the frame lwIP is handling */
	struct stack_tcp *time_wait;	/* newest first: see lwpriv_time_wait_to_head() */
} glue;

struct tcpinfo_cause
glue_cause(enum tcpinfo_cause_kind kind, uint8_t flags)
{
	return (struct tcpinfo_cause){ .kind = (uint8_t)kind, .flags = flags };
}

static void
drive_begin(struct glue_drive *saved, struct tcpinfo_cause cause)
{
	*saved = glue.drive;
	glue.drive.active = true;
	glue.drive.cause = cause;
}

static void
drive_end(const struct glue_drive *saved)
{
	glue.drive = *saved;
}

struct stack_tcp *
glue_find(uint64_t key)
{
	struct stack_tcp *t;

	HASH_FIND(hh, glue.by_key, &key, sizeof(key), t);
	return t;
}

/* Puts t in the hash by its 4-tuple key, before any segment of it goes out. */
void
glue_track(struct stack_tcp *t)
{
	HASH_ADD(hh, glue.by_key, key, sizeof(t->key), t);
}

void
glue_untrack(struct stack_tcp *t)
{
	HASH_DEL(glue.by_key, t);
}

/* Reports a change of state, if there is one, while the PCB lives. */
void
glue_sync_state(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	enum tcpinfo_state now;

	if (t->pcb == NULL)
		return;
	now = (enum tcpinfo_state)t->pcb->state;
	if (now == t->last_state)
		return;
	t->last_state = now;
	if (now == TCPINFO_TIME_WAIT && t->tw_prev == NULL)
		DL_PREPEND2(glue.time_wait, t, tw_prev, tw_next);
	stack_state.hooks.state_changed(t->owner, now, cause);
}

/* The PCB is gone: report CLOSED and free the glue, unless a frame for it is still in lwIP. */
void
glue_tcp_finish(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	t->pcb = NULL;
	arpwait_remove(t);
	glue_handshake_done(t);
	if (t->tw_prev != NULL) {
		DL_DELETE2(glue.time_wait, t, tw_prev, tw_next);
		t->tw_prev = t->tw_next = NULL;
	}
	if (t->held != NULL) {
		pbuf_free(t->held);
		t->held = NULL;
	}
	if (t->active)
		ports_use_release(t->local_port);
	glue_untrack(t);
	t->last_state = TCPINFO_CLOSED;
	stack_state.hooks.state_changed(t->owner, TCPINFO_CLOSED, cause);
	if (t == glue.in_input)
		t->gone = true;
	else
		free(t);
}

/* lwIP has freed the PCB (abort, reset, retransmission limit, or LAST_ACK done). */
static void
on_tcp_err(void *arg, err_t err)
{
	struct stack_tcp *t = arg;
	struct tcpinfo_cause cause;

	if (glue.drive.active) {
		cause = glue.drive.cause;
	} else if (t->last_state == TCPINFO_SYN_SENT) {
		cause = glue_cause(TCPINFO_CAUSE_TIMER_SYN_RETRIES, 0);
	} else if (t->last_state == TCPINFO_ESTABLISHED || t->last_state == TCPINFO_FIN_WAIT_1 ||
	    t->last_state == TCPINFO_CLOSE_WAIT || t->last_state == TCPINFO_CLOSING) {
		cause = glue_cause(TCPINFO_CAUSE_TIMER_RETRANSMIT, 0);
	} else {
		cause = glue_cause(TCPINFO_CAUSE_TIMER_TIMEOUT, 0);
	}
	log_debug("connection %u -> %u freed by lwIP (err %d)", t->local_port, t->remote_port, err);
	glue_tcp_finish(t, cause);
}

void
glue_set_callbacks(struct tcp_pcb *pcb, struct stack_tcp *t)
{
	ip_set_option(pcb, SOF_REUSEADDR);
	tcp_arg(pcb, t);
	tcp_err(pcb, on_tcp_err);
	tcp_recv(pcb, tcpdata_on_recv);
	tcp_sent(pcb, tcpdata_on_sent);
}

/* Finds the tracked connection of a segment; the direction says which end is lwIP's. */
struct stack_tcp *
glue_segment_owner(const struct frame_tcp *seg, bool outbound)
{
	if (outbound)
		return glue_find(frame_conn_key(seg->dst_ip, seg->src_port, seg->dst_port));
	return glue_find(frame_conn_key(seg->src_ip, seg->dst_port, seg->src_port));
}

/* lwIP's state of t now: a passive open's PCB may exist before it is adopted. */
enum tcpinfo_state
glue_state(const struct stack_tcp *t)
{
	const struct tcp_pcb *pcb = t->pcb;

	if (pcb == NULL && t->listener != NULL)
		pcb = lwpriv_passive_pcb(t->remote_ip, t->remote_port, t->local_port);
	return pcb != NULL ? (enum tcpinfo_state)pcb->state : t->last_state;
}

/*
 * Reports a segment of t (NULL: of no tracked connection), and notes the
 * ISNs its SYNs carry. A segment lwIP sends while it handles an inbound one
 * leaves in the state that one led to (the ACK of a SYN+ACK in
 * ESTABLISHED); one sent for an API call or a timer shows the change it
 * makes (a SYN goes from CLOSED to SYN_SENT). A held outbound segment keeps
 * the states of the moment lwIP sent it; a held inbound one is handled by
 * lwIP in the state of the moment it is released.
 */
void
glue_report_segment(struct stack_tcp *t, const struct frame_tcp *seg, bool outbound,
    struct stack_segment *report)
{
	bool answering = glue.drive.active && glue.drive.cause.kind == TCPINFO_CAUSE_RX;

	report->outbound = outbound;
	report->flags = seg->flags;
	report->seq = seg->seq;
	report->ack = seg->ack;
	report->window = seg->window;
	report->payload_len = seg->payload_len;
	report->local_port = outbound ? seg->src_port : seg->dst_port;
	report->remote_port = outbound ? seg->dst_port : seg->src_port;
	report->frame = seg->frame;
	report->frame_len = seg->frame_len;
	report->headers_len = seg->headers_len;
	if (t == NULL || (outbound && report->released)) {
		stack_state.hooks.segment(stack_state.hooks.arg, t != NULL ? t->owner : NULL, report);
		return;
	}
	report->state_before = outbound && answering ? glue_state(t) : t->last_state;
	report->state_after = outbound ? glue_state(t) : t->last_state;
	if ((seg->flags & TCPINFO_FLAG_SYN) && outbound && !t->iss_known) {
		t->iss = seg->seq;
		t->iss_known = true;
		/* An open's first SYN is what takes it out of CLOSED, even when ARP held it back. */
		if (t->active) {
			report->state_before = TCPINFO_CLOSED;
			report->state_after = TCPINFO_SYN_SENT;
		}
	} else if ((seg->flags & TCPINFO_FLAG_SYN) && !outbound && seg->checksum_ok &&
	    !report->fault.action) {
		t->irs = seg->seq;
		t->irs_known = true;
	}
	stack_state.hooks.segment(stack_state.hooks.arg, t->owner, report);
}

/*
 * A segment lwIP is sending, or a held one going out at last: counted once,
 * when lwIP sends it, and reported. report carries the verdict back.
 */
void
glue_segment_out(const struct frame_tcp *seg, struct stack_segment *report)
{
	struct stack_tcp_totals *totals = &stack_state.totals;

	if (!report->released && !report->copy) {
		totals->out_segs++;
		totals->out_rsts += !!(seg->flags & TCPINFO_FLAG_RST);
	}
	glue_report_segment(glue_segment_owner(seg, true), seg, true, report);
}

/*
 * Creates the PCB and sends its SYN: lwpriv_tcp_open() binds and connects
 * without lwIP's walks, since ports_taken() has proved the 4-tuple free.
 * Reports SYN_SENT on success.
 */
int
glue_tcp_start(struct stack_tcp *t)
{
	struct tcp_pcb *pcb;
	struct glue_drive saved;
	err_t err;

	pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (pcb == NULL)
		return -ENOMEM;
	glue_set_callbacks(pcb, t);
	t->pcb = pcb;
	drive_begin(&saved, glue_cause(TCPINFO_CAUSE_API_OPEN, 0));
	err = lwpriv_tcp_open(pcb, stack_state.address, t->local_port, t->remote_ip, t->remote_port);
	drive_end(&saved);
	if (err != ERR_OK) {
		/* Still CLOSED and in no list: tcp_close() frees it without calling back. */
		t->pcb = NULL;
		tcp_close(pcb);
		return err == ERR_RTE ? -ENETUNREACH : -ENOMEM;
	}
	glue_sync_state(t, glue_cause(TCPINFO_CAUSE_API_OPEN, 0));
	return 0;
}

static uint32_t
next_hop_of(uint32_t remote_ip)
{
	if ((remote_ip & stack_state.netmask) == (stack_state.address & stack_state.netmask))
		return remote_ip;
	return stack_state.gateway;
}

int
stack_tcp_connect(void *owner, uint32_t remote_ip, uint16_t remote_port, uint16_t local_port,
    struct stack_tcp **out, uint16_t *chosen_port)
{
	uint32_t netmask = stack_state.netmask, address = stack_state.address;
	uint32_t host_bits = remote_ip & ~netmask;
	uint32_t next_hop;
	struct stack_tcp *t;
	int rc;

	LWIP_ASSERT_CORE_LOCKED();
	if (!netif_is_link_up(&stack_state.netif))
		return -ENETDOWN;
	if (remote_ip == address || ((remote_ip & netmask) == (address & netmask) &&
	    (host_bits == 0 || host_bits == ~netmask)))
		return -EINVAL;
	next_hop = next_hop_of(remote_ip);
	if (next_hop == 0)
		return -ENETUNREACH;
	if (local_port == 0) {
		rc = ports_pick(remote_ip, remote_port, &local_port);
		if (rc < 0)
			return rc;
	} else if (ports_taken(remote_ip, local_port, remote_port)) {
		return -EADDRINUSE;
	}

	t = calloc(1, sizeof(*t));
	if (t == NULL || ports_use_add(local_port) < 0) {
		free(t);
		return -ENOMEM;
	}
	t->active = true;
	t->owner = owner;
	t->remote_ip = remote_ip;
	t->remote_port = remote_port;
	t->local_port = local_port;
	t->last_state = TCPINFO_CLOSED;
	t->key = frame_conn_key(remote_ip, local_port, remote_port);
	/* In the hash before the SYN leaves, so the SYN is counted. */
	glue_track(t);
	if (arpwait_resolved(next_hop))
		rc = glue_tcp_start(t);
	else
		rc = arpwait_add(t, next_hop);
	if (rc < 0) {
		glue_untrack(t);
		ports_use_release(local_port);
		free(t);
		return rc;
	}
	if (t->pcb == NULL) {
		/* Like a kernel whose SYN waits in the neighbour queue, the open is in SYN_SENT already. */
		t->last_state = TCPINFO_SYN_SENT;
		stack_state.hooks.state_changed(owner, TCPINFO_SYN_SENT,
		    glue_cause(TCPINFO_CAUSE_API_OPEN, 0));
	}
	*out = t;
	*chosen_port = local_port;
	return 0;
}

/* Puts t's TIME_WAIT PCB where tcp_abort() finds it first; in utlist, the head's prev is the tail. */
static void
time_wait_to_head(struct stack_tcp *t)
{
	struct stack_tcp *newer = t == glue.time_wait ? NULL : t->tw_prev;

	if (newer != NULL)
		lwpriv_time_wait_to_head(t->pcb, newer->pcb);
}

/* Frees the PCB, with a RST or without, and reports CLOSED. */
static void
abandon_with(struct stack_tcp *t, bool reset, struct tcpinfo_cause cause)
{
	struct glue_drive saved;

	if (t->pcb == NULL || t->pcb->state == TIME_WAIT) {
		/* lwIP frees a TIME_WAIT PCB without a RST and without calling back. */
		if (t->pcb != NULL) {
			time_wait_to_head(t);
			tcp_abort(t->pcb);
		}
		glue_tcp_finish(t, cause);
		return;
	}
	drive_begin(&saved, cause);
	lwpriv_tcp_abandon(t->pcb, reset);	/* the err callback reports CLOSED and frees t */
	drive_end(&saved);
}

/* Sends a FIN from a state that has one to send. Returns -ENOTCONN from the others. */
static int
send_fin(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	struct glue_drive saved;
	err_t err;

	switch (t->pcb->state) {
	case SYN_RCVD:
	case ESTABLISHED:
	case CLOSE_WAIT:
		break;
	default:
		return -ENOTCONN;
	}
	drive_begin(&saved, cause);
	err = tcp_shutdown(t->pcb, 0, 1);
	drive_end(&saved);
	if (err != ERR_OK) {
		/* No memory for the FIN segment: a RST still ends the connection. */
		log_warnx("no memory to send a FIN on port %u; aborting instead", t->local_port);
		abandon_with(t, true, cause);
		return 0;
	}
	glue_sync_state(t, cause);
	return 0;
}

int
stack_tcp_close(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	LWIP_ASSERT_CORE_LOCKED();
	if (t->pcb == NULL) {
		glue_tcp_finish(t, cause);
		return 0;
	}
	if (t->pcb->state == SYN_SENT) {
		/* RFC 9293: CLOSE in SYN-SENT deletes the TCB; lwIP frees it without calling back. */
		tcp_close(t->pcb);
		glue_tcp_finish(t, cause);
		return 0;
	}
	return send_fin(t, cause) == 0 ? 0 : -EALREADY;
}

int
stack_tcp_shutdown_write(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	LWIP_ASSERT_CORE_LOCKED();
	if (t->pcb == NULL)
		return -ENOTCONN;
	return send_fin(t, cause);
}

void
stack_tcp_abort(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	LWIP_ASSERT_CORE_LOCKED();
	abandon_with(t, true, cause);
}

/*
 * Whether lwIP's PCB is the one the glue's hash holds for its 4-tuple. Opens
 * skip lwIP's own uniqueness walks (lwpriv_tcp_open()) because the hash
 * holds every PCB; a PCB it does not hold would break that.
 */
static bool
pcb_tracked(const struct tcp_pcb *pcb)
{
	const struct stack_tcp *t = pcb->callback_arg;

	return t != NULL && t->pcb == pcb &&
	    glue_find(frame_conn_key(ip_2_ip4(&pcb->remote_ip)->addr, pcb->local_port,
	    pcb->remote_port)) == t;
}

/*
 * Ends every connection lwIP has a PCB for, tracked or not, each from the
 * head of its list: in any other order each abort walks the list, and
 * 16,384 connections took seconds. Says how many there were, and warns of
 * any PCB the glue's hash does not hold.
 */
void
stack_tcp_abort_all(struct tcpinfo_cause cause)
{
	struct tcp_pcb *pcb;
	size_t count = 0, untracked = 0;

	LWIP_ASSERT_CORE_LOCKED();
	while ((pcb = lwpriv_active_head()) != NULL || (pcb = lwpriv_time_wait_head()) != NULL) {
		struct stack_tcp *t = pcb->callback_arg;

		count++;
		if (!pcb_tracked(pcb)) {
			untracked++;
			log_warnx("lwIP held a PCB the daemon does not track: port %u -> %u (%s)",
			    pcb->local_port, pcb->remote_port, tcp_debug_state_str(pcb->state));
		}
		if (t != NULL && t->pcb == pcb) {
			abandon_with(t, true, cause);
		} else {
			/* No record owns this PCB: free it without calling back. */
			tcp_err(pcb, NULL);
			tcp_abort(pcb);
		}
	}
	log_info("stopping: ended the %zu connections lwIP held, %zu of them untracked", count,
	    untracked);
}

void
stack_tcp_drop(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	LWIP_ASSERT_CORE_LOCKED();
	abandon_with(t, false, cause);
}

bool
stack_tcp_tcb(struct stack_tcp *t, struct stack_tcb *out)
{
	const struct tcp_pcb *pcb = t->pcb;

	LWIP_ASSERT_CORE_LOCKED();
	if (pcb == NULL || !t->iss_known)
		return false;
	*out = (struct stack_tcb){
		.iss = t->iss,
		.irs = t->irs_known ? t->irs : 0,
		.snd_nxt = pcb->snd_nxt,
		.snd_una = pcb->lastack,
		.rcv_nxt = pcb->rcv_nxt,
		.snd_wnd = pcb->snd_wnd,
		.rcv_wnd = pcb->rcv_wnd,
		.mss = pcb->mss,
		.rto_ms = lwpriv_rto_ms(pcb),
		.cwnd = pcb->cwnd,
		.ssthresh = pcb->ssthresh,
		.nrtx = pcb->nrtx,
	};
	return true;
}

/* lwIP is about to handle an inbound frame of t (or NULL): what it changes is the frame's doing. */
void
glue_input_begin(struct stack_tcp *t, struct glue_drive *saved, struct tcpinfo_cause cause)
{
	glue.in_input = t;
	drive_begin(saved, cause);
}

void
glue_input_end(const struct glue_drive *saved)
{
	drive_end(saved);
	glue.in_input = NULL;
}
