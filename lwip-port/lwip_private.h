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

/* The send MSS until the peer's SYN tells its own: RFC 9293's default of 536, as lwIP starts. */
#define LWPRIV_INITIAL_MSS 536u

/*
 * Starts an active open on a new, unbound PCB without lwIP's walks of its
 * PCB lists. tcp_bind() walks the listen, bound and active lists to prove
 * the local port free, and tcp_connect() walks the active and TIME_WAIT
 * lists to prove the 4-tuple unique: with 10,000 connections open the two
 * walks took two thirds of the daemon's CPU. The caller has proved both in
 * one lookup of the glue's 4-tuple hash (ports_taken()), which holds every
 * PCB lwIP has, active, passive and in TIME_WAIT, until lwIP frees it.
 *
 * What tcp_bind() + tcp_connect() do, and what this does instead:
 * - assert the core lock and a CLOSED PCB: asserted here too;
 * - walk the lists for the port, then the 4-tuple: skipped (the hash);
 * - register in tcp_bound_pcbs, then move to tcp_active_pcbs: registered
 *   once, in tcp_active_pcbs, through lwIP's TCP_REG_ACTIVE, which also
 *   sets tcp_active_pcbs_changed and arms the TCP timers;
 * - set the local and remote address and port: done;
 * - find the netif of the route, ERR_RTE without one: done;
 * - the ISS (tcp_next_iss), the send and receive sequence variables, the
 *   windows, the initial MSS capped by the netif's MTU, a cwnd of 1: done;
 * - the connected callback: skipped, the glue compares states instead;
 * - enqueue the SYN with its options, then SYN_SENT: done; on failure the
 *   PCB is left CLOSED, unbound and unregistered, for tcp_close();
 * - the SNMP counter of active opens: skipped, lwIP is built without it;
 * - send the SYN (tcp_output): done.
 */
static inline err_t
lwpriv_tcp_open(struct tcp_pcb *pcb, uint32_t local_ip, uint16_t local_port, uint32_t remote_ip,
    uint16_t remote_port)
{
	struct netif *netif;
	uint32_t iss;
	err_t err;

	LWIP_ASSERT_CORE_LOCKED();
	LWIP_ASSERT("lwpriv_tcp_open: a new PCB", pcb->state == CLOSED && pcb->local_port == 0);
	ip_addr_set_ip4_u32_val(pcb->local_ip, local_ip);
	ip_addr_set_ip4_u32_val(pcb->remote_ip, remote_ip);
	netif = ip_route(&pcb->local_ip, &pcb->remote_ip);
	if (netif == NULL)
		return ERR_RTE;
	pcb->local_port = local_port;
	pcb->remote_port = remote_port;

	iss = tcp_next_iss(pcb);
	pcb->snd_nxt = iss;
	pcb->lastack = iss - 1;		/* nothing sent is acknowledged yet */
	pcb->snd_wl2 = iss - 1;
	pcb->snd_lbb = iss - 1;
	pcb->rcv_nxt = 0;
	pcb->rcv_wnd = pcb->rcv_ann_wnd = TCPWND_MIN16(TCP_WND);	/* unscaled until both agree */
	pcb->rcv_ann_right_edge = pcb->rcv_nxt;
	pcb->snd_wnd = TCP_WND;
	pcb->mss = tcp_eff_send_mss_netif(LWPRIV_INITIAL_MSS, netif, &pcb->remote_ip);
	pcb->cwnd = 1;

	err = tcp_enqueue_flags(pcb, TCP_SYN);
	if (err != ERR_OK) {
		pcb->local_port = 0;	/* tcp_close() then frees it as never bound */
		return err;
	}
	pcb->state = SYN_SENT;
	TCP_REG_ACTIVE(pcb);
	tcp_output(pcb);
	return ERR_OK;
}

/*
 * Moves a TIME_WAIT PCB to the head of tcp_tw_pcbs, given the PCB before
 * it, so that tcp_abort() unlinks it in one step: it walks the list from
 * the head, and the daemon ends TIME_WAITs oldest first, which lwIP keeps
 * at the tail (it adds each PCB entering TIME_WAIT at the head). At 460
 * graceful closes a second with 10 s of TIME_WAIT that walk took 42% of
 * the CPU. The glue notes the order PCBs enter TIME_WAIT in, so it knows
 * the PCB before; a wrong guess moves nothing, and tcp_abort() walks.
 */
static inline void
lwpriv_time_wait_to_head(struct tcp_pcb *pcb, struct tcp_pcb *before)
{
	LWIP_ASSERT_CORE_LOCKED();
	if (pcb->state != TIME_WAIT || before == NULL || before->state != TIME_WAIT ||
	    before->next != pcb)
		return;
	before->next = pcb->next;
	pcb->next = tcp_tw_pcbs;
	tcp_tw_pcbs = pcb;
}

/*
 * The segment size tcp_write() cuts at now, min(MSS, largest window / 2),
 * or 0 while tcp_write() must not be called. lwIP asserts that the last
 * unsent segment, with its options and the spare room of its pbuf
 * (TCP_OVERSIZE), still fits that size, and aborts the daemon otherwise
 * ("mss_local is too small"). Only a SYN+ACK can shrink the size under a
 * queued segment, and the glue writes nothing in SYN_SENT (tcpdata.c); the
 * check keeps any other way there from aborting. The unsent queue holds at
 * most TCP_SND_QUEUELEN segments, so the walk is bounded.
 */
static inline uint16_t
lwpriv_tcp_write_seg_size(const struct tcp_pcb *pcb)
{
	uint16_t seg_size = LWIP_MIN(pcb->mss, TCPWND_MIN16(pcb->snd_wnd_max / 2));
	const struct tcp_seg *last = pcb->unsent;
	uint32_t used;

	LWIP_ASSERT_CORE_LOCKED();
	if (seg_size == 0)
		seg_size = pcb->mss;	/* as tcp_write() falls back */
	if (last == NULL)
		return seg_size;
	while (last->next != NULL)
		last = last->next;
	used = (uint32_t)last->len + LWIP_TCP_OPT_LENGTH(last->flags) +
	    pcb->unsent_oversize;
	return used > seg_size ? 0 : seg_size;
}

/* The retransmission timeout in milliseconds: pcb->rto counts slow-timer ticks, whose length only tcp_priv.h tells. */
static inline uint32_t
lwpriv_rto_ms(const struct tcp_pcb *pcb)
{
	return (uint32_t)(pcb->rto > 0 ? pcb->rto : 0) * TCP_SLOW_INTERVAL;
}

#endif
