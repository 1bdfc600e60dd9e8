/*
 * tcplisten: lwIP's listeners and the passive opens they make: listen and
 * unlisten, the backlog of handshakes in SYN_RCVD, a SYN's new glue record
 * and owner before lwIP sees it, adopting the PCB lwIP made for it, and
 * lwIP's accept callback. tcpglue.c tracks the connections once made.
 *
 * DESIGN
 *
 * A passive open gets its glue record and its owner when its SYN arrives,
 * before lwIP sees it, so that the SYN+ACK lwIP sends at once is counted.
 * lwIP makes the PCB without telling; the glue finds it afterwards (see
 * lwpriv_passive_pcb()) and adopts it. lwIP is built without
 * TCP_LISTEN_BACKLOG, so each listener counts its own handshakes.
 */
#include <errno.h>
#include <stdlib.h>
#include <utlist.h>

#include <lwip/ip4_addr.h>
#include <lwip/tcp.h>

#include "log.h"
#include "lwip_private.h"
#include "stack_internal.h"

struct stack_listener {
	struct tcp_pcb *pcb;		/* a struct tcp_pcb_listen in lwIP */
	void *owner;
	uint16_t port;
	uint32_t backlog;
	uint32_t handshaking_count;
	struct stack_tcp *handshaking;	/* passive opens in SYN_RCVD */
	UT_hash_handle hh;
};

static struct stack_listener *listeners;	/* by port */

static struct stack_listener *
listener_find(uint16_t port)
{
	struct stack_listener *listener;

	HASH_FIND(hh, listeners, &port, sizeof(port), listener);
	return listener;
}

bool
glue_listening(uint16_t port)
{
	return listener_find(port) != NULL;
}

void
glue_handshake_done(struct stack_tcp *t)
{
	struct stack_listener *listener = t->listener;

	if (listener == NULL)
		return;
	DL_DELETE2(listener->handshaking, t, handshake_prev, handshake_next);
	listener->handshaking_count--;
	t->listener = NULL;
}

/*
 * lwIP calls this with the new PCB's argument when a passive open completes
 * its handshake. A PCB the glue never adopted inherits the listener's
 * argument, which is NULL: no segment of its handshake was reported, so it
 * is aborted rather than become a connection no one tracks. The gate in
 * front of lwIP makes this unreachable; the check keeps it so.
 */
static err_t
on_tcp_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct stack_tcp *t = arg;
	struct stack_listener *listener;

	(void)err;
	if (t == NULL) {
		log_warnx("aborting a connection lwIP made without the daemon seeing its SYN");
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	listener = t->listener;
	if (listener != NULL) {
		glue_handshake_done(t);
		stack_state.hooks.accepted(listener->owner);
	}
	return ERR_OK;
}

int
stack_tcp_listen(void *owner, uint16_t port, uint32_t backlog, struct stack_listener **out)
{
	ip_addr_t local = IPADDR4_INIT(stack_state.address);
	struct stack_listener *listener;
	struct tcp_pcb *pcb, *listening;
	err_t err;

	LWIP_ASSERT_CORE_LOCKED();
	if (listener_find(port) != NULL || ports_used(port))
		return -EADDRINUSE;
	listener = calloc(1, sizeof(*listener));
	if (listener == NULL)
		return -ENOMEM;
	pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (pcb == NULL)
		goto free_listener;
	ip_set_option(pcb, SOF_REUSEADDR);
	if (tcp_bind(pcb, &local, port) != ERR_OK)
		goto close_pcb;
	/* lwIP is built without TCP_LISTEN_BACKLOG, so the backlog is enforced here. */
	listening = tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &err);
	if (listening == NULL)
		goto close_pcb;
	listener->pcb = listening;
	listener->owner = owner;
	listener->port = port;
	listener->backlog = backlog;
	/* New PCBs inherit this argument until the glue adopts them: see on_tcp_accept(). */
	tcp_arg(listening, NULL);
	tcp_accept(listening, on_tcp_accept);
	HASH_ADD(hh, listeners, port, sizeof(listener->port), listener);
	*out = listener;
	return 0;

close_pcb:
	tcp_close(pcb);
free_listener:
	free(listener);
	return -ENOMEM;
}

void
stack_tcp_unlisten(struct stack_listener *listener)
{
	struct stack_tcp *t, *tmp;

	LWIP_ASSERT_CORE_LOCKED();
	/* lwIP resets these when their handshake completes without a listener. */
	DL_FOREACH_SAFE2(listener->handshaking, t, tmp, handshake_next)
		glue_handshake_done(t);
	HASH_DEL(listeners, listener);
	tcp_close(listener->pcb);
	free(listener);
}

static bool
is_listener_syn(const struct frame_tcp *seg)
{
	return (seg->flags & (TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK | TCPINFO_FLAG_RST)) == TCPINFO_FLAG_SYN &&
	    seg->checksum_ok && seg->dst_ip == stack_state.address;
}

/*
 * A SYN for a listener: makes the glue and asks for an owner. Returns NULL
 * when the SYN is to be dropped: the backlog is full, or the owner refused it.
 */
static struct stack_tcp *
passive_begin(struct stack_listener *listener, const struct frame_tcp *seg)
{
	struct stack_tcp *t;

	if (listener->handshaking_count >= listener->backlog)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->remote_ip = seg->src_ip;
	t->remote_port = seg->src_port;
	t->local_port = seg->dst_port;
	t->last_state = TCPINFO_LISTEN;
	t->key = frame_conn_key(seg->src_ip, seg->dst_port, seg->src_port);
	t->owner = stack_state.hooks.passive_open(listener->owner, seg->src_ip, seg->src_port,
	    seg->dst_port, t);
	if (t->owner == NULL) {
		free(t);
		return NULL;
	}
	glue_track(t);
	t->listener = listener;
	DL_APPEND2(listener->handshaking, t, handshake_prev, handshake_next);
	listener->handshaking_count++;
	return t;
}

/* After lwIP handled the SYN: adopt its PCB, or give up. */
void
glue_passive_end(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	static const struct stack_rx_outcome nothing;

	t->pcb = lwpriv_passive_pcb(t->remote_ip, t->remote_port, t->local_port);
	if (t->pcb != NULL) {
		glue_set_callbacks(t->pcb, t);
		glue_sync_state(t, cause);
		stack_state.hooks.segment_done(t->owner, &nothing);
		return;
	}
	stack_state.hooks.segment_done(t->owner, &nothing);
	glue_handshake_done(t);
	glue_untrack(t);
	stack_state.hooks.passive_abandoned(t->owner);
	free(t);
}

/*
 * A new connection for seg when it is a SYN to one of lwIP's listeners:
 * sets *t, or leaves it NULL for any other segment. Returns -ENOBUFS when
 * the listener's full backlog (or its owner) refuses the SYN.
 */
int
glue_passive_begin(const struct frame_tcp *seg, struct stack_tcp **t)
{
	struct stack_listener *listener;

	*t = NULL;
	if (!is_listener_syn(seg) || (listener = listener_find(seg->dst_port)) == NULL)
		return 0;
	*t = passive_begin(listener, seg);
	return *t != NULL ? 0 : -ENOBUFS;
}
