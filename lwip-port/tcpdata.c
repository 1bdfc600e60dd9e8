/*
 * tcpdata: the bytes of one connection: received data the owner has not
 * taken yet, and what the owner writes into lwIP's send queue.
 *
 * DESIGN
 *
 * The window stays closed over what the owner did not take: lwIP's pbufs
 * wait in the glue record, and tcp_recved() reopens the window only over
 * the bytes the owner took. On the sending side the owner is offered only
 * what one tcp_write() can really take, and lwIP's sent callback tells it
 * when there is room again.
 */
#include <errno.h>

#include <lwip/pbuf.h>
#include <lwip/tcp.h>

#include "lwip_private.h"
#include "stack_internal.h"

void
stack_tcp_deliver(struct stack_tcp *t)
{
	LWIP_ASSERT_CORE_LOCKED();
	while (t->held != NULL && t->pcb != NULL) {
		struct pbuf *q = t->held;
		size_t offered = q->len;
		size_t taken = stack_state.hooks.received(t->owner, q->payload, offered);

		if (taken == 0)
			break;
		tcp_recved(t->pcb, (u16_t)taken);
		/* Drops the bytes taken, freeing q when they were all of it. */
		t->held = pbuf_free_header(q, (u16_t)taken);
		if (taken < offered)
			break;
	}
}

/* The owner takes what it can; the rest waits in t->held, outside the receive window. */
err_t
tcpdata_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct stack_tcp *t = arg;

	(void)pcb;
	(void)err;
	if (p == NULL)
		return ERR_OK;	/* the FIN: lwIP has changed the state itself */
	if (t->held != NULL)
		pbuf_cat(t->held, p);
	else
		t->held = p;
	stack_tcp_deliver(t);
	return ERR_OK;
}

err_t
tcpdata_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct stack_tcp *t = arg;

	(void)pcb;
	(void)len;
	stack_state.hooks.sendable(t->owner);
	/*
	 * The owner may have closed the connection meanwhile, and an abort there
	 * freed the PCB: lwIP must hear so. The glue itself outlives this call,
	 * since the frame being handled is this connection's.
	 */
	return t->pcb == NULL ? ERR_ABRT : ERR_OK;
}

/*
 * The bytes one tcp_write() can take now. lwIP bounds its send queue in
 * segments (TCP_SND_QUEUELEN), not only in bytes, and refuses a whole write
 * that needs more segments than are left: with a peer MSS of 64, 64 KiB
 * would need a thousand. So offer only what fits in the segments left,
 * keeping one for the pbuf lwIP may chain onto the last unsent segment; the
 * sent callback asks for the rest. A segment size of 0 means a queued
 * segment no longer fits what tcp_write() allows (see lwip_private.h).
 */
static size_t
send_fits(const struct tcp_pcb *pcb)
{
	uint32_t seg_size = lwpriv_tcp_write_seg_size(pcb);
	uint32_t segs_left;

	if (seg_size == 0 || pcb->snd_queuelen + 1u >= TCP_SND_QUEUELEN)
		return 0;
	segs_left = TCP_SND_QUEUELEN - pcb->snd_queuelen - 1u;
	return LWIP_MIN((size_t)tcp_sndbuf(pcb), (size_t)segs_left * seg_size);
}

/*
 * Nothing is written in SYN_SENT: lwIP would cut it for its initial MSS of
 * 536, and a SYN+ACK announcing an MSS under 134 sets a congestion window
 * (4 MSS) smaller than that segment, which lwIP 2.1.3 then never sends nor
 * splits. Held in the engine, the data is cut for the MSS the peer
 * announced once the handshake is done.
 */
size_t
stack_tcp_send_space(struct stack_tcp *t)
{
	LWIP_ASSERT_CORE_LOCKED();
	if (t->pcb == NULL)
		return 0;
	switch (t->pcb->state) {
	case SYN_RCVD:
	case ESTABLISHED:
	case CLOSE_WAIT:
		return send_fits(t->pcb);
	default:
		return 0;
	}
}

int
stack_tcp_write(struct stack_tcp *t, const void *data, size_t len, size_t *written)
{
	size_t space, n;

	LWIP_ASSERT_CORE_LOCKED();
	*written = 0;
	if (t->pcb == NULL)
		return -ENOTCONN;
	space = stack_tcp_send_space(t);
	n = len < space ? len : space;
	if (n > 0xffff)
		n = 0xffff;
	if (n == 0)
		return 0;
	/*
	 * ERR_MEM takes nothing. It can still come from a failed allocation;
	 * one segment's worth is then tried, so something is in flight and its
	 * ACK brings the sent callback that asks for more.
	 */
	if (tcp_write(t->pcb, data, (u16_t)n, TCP_WRITE_FLAG_COPY) == ERR_OK) {
		*written = n;
	} else if (n > t->pcb->mss &&
	    tcp_write(t->pcb, data, t->pcb->mss, TCP_WRITE_FLAG_COPY) == ERR_OK) {
		*written = t->pcb->mss;
	}
	return 0;
}

void
stack_tcp_flush(struct stack_tcp *t)
{
	LWIP_ASSERT_CORE_LOCKED();
	if (t->pcb != NULL)
		tcp_output(t->pcb);
}
