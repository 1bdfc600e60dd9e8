/*
 * lwip_private: the only place where lwipd reaches into lwIP's internals.
 *
 * Everything here depends on how lwIP 2.1.3 works inside, not on its public
 * API: a private header, a global it does not export for writing, and where
 * it puts a new PCB. Each use is a small helper with the reason it is
 * needed, so that moving to another lwIP means reading this one file. A
 * different lwIP fails to build rather than misbehave quietly.
 *
 * Every helper must be called with the core lock held.
 */
#ifndef LWIPD_LWIP_PRIVATE_H
#define LWIPD_LWIP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <lwip/init.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

/* lwIP 2.1.3 has no LWIP_MAKE_VERSION, so the parts are compared one by one. */
#if LWIP_VERSION_MAJOR != 2 || LWIP_VERSION_MINOR != 1 || LWIP_VERSION_REVISION != 3 || \
    !LWIP_VERSION_IS_RELEASE
#error "lwip_private.h was written against lwIP 2.1.3: check each helper against this lwIP"
#endif

/*
 * Frees a PCB with a RST or without one. tcp_abort() always sends the RST,
 * and a FIN_WAIT_2 that times out is dropped silently; only the private
 * tcp_abandon() lets the caller choose. lwIP calls the err callback.
 */
static inline void
lwpriv_tcp_abandon(struct tcp_pcb *pcb, bool reset)
{
	tcp_abandon(pcb, reset ? 1 : 0);
}

/*
 * The PCB lwIP made for the SYN it has just handled, or NULL. lwIP calls no
 * one when it makes a PCB for a SYN (the accept callback waits for the
 * handshake), but it puts the PCB at the head of tcp_active_pcbs; checking
 * the head's 4-tuple and state tells whether it is the one wanted.
 */
static inline struct tcp_pcb *
lwpriv_passive_pcb(uint32_t remote_ip, uint16_t remote_port, uint16_t local_port)
{
	struct tcp_pcb *pcb = tcp_active_pcbs;

	if (pcb != NULL && pcb->state == SYN_RCVD && pcb->local_port == local_port &&
	    pcb->remote_port == remote_port && ip_2_ip4(&pcb->remote_ip)->addr == remote_ip)
		return pcb;
	return NULL;
}

/*
 * Moves lwIP's TCP clock. lwIP's ISN is a static counter plus tcp_ticks, so
 * every start would repeat the same ISNs. Its timers only compare
 * differences of tcp_ticks, so any start value is safe.
 */
static inline void
lwpriv_set_tcp_ticks(uint32_t ticks)
{
	tcp_ticks = ticks;
}

/*
 * The heads of lwIP's lists of active and of TIME_WAIT PCBs. Freeing a PCB
 * unlinks it with a walk from the head, so freeing many in list order costs
 * one step each where any other order walks the list for every PCB.
 */
static inline struct tcp_pcb *
lwpriv_active_head(void)
{
	return tcp_active_pcbs;
}

static inline struct tcp_pcb *
lwpriv_time_wait_head(void)
{
	return tcp_tw_pcbs;
}

/* The retransmission timeout in milliseconds: pcb->rto counts slow-timer ticks, whose length only tcp_priv.h tells. */
static inline uint32_t
lwpriv_rto_ms(const struct tcp_pcb *pcb)
{
	return (uint32_t)(pcb->rto > 0 ? pcb->rto : 0) * TCP_SLOW_INTERVAL;
}

#endif
