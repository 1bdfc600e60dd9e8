/*
 * DESIGN
 *
 * Frames from the TAP never go through lwIP's tcpip mailbox, which drops
 * frames when a burst fills it. A reader thread reads a bounded batch, takes
 * the core lock once, and hands each frame to ethernet_input() itself.
 *
 * Before a frame goes in, its TCP 4-tuple is looked up in a hash of tracked
 * connections (one lookup per frame, never a walk), the segment is reported
 * and the PCB's state remembered; afterwards the new state is compared. API
 * calls do the same around the lwIP call. lwIP's err callback tells when it
 * frees a PCB; the glue record then reports CLOSED and forgets the pointer.
 * Graceful closes shut only the write side (tcp_shutdown), because lwIP
 * frees a fully closed PCB after LAST_ACK without calling back.
 *
 * Local ports are chosen here, not by lwIP: its allocator scans every PCB
 * list per candidate and fails slowly when the 16K range fills. The hash of
 * 4-tuples tells in one lookup whether a port is free towards a peer, and
 * every PCB is bound with SOF_REUSEADDR so that a port can serve many peers.
 *
 * An active open whose next hop is not in the ARP cache waits here, not in
 * lwIP's ARP queue, which holds only ARP_QUEUE_LEN packets and drops the rest.
 * It is reported in SYN_SENT meanwhile, as a kernel reports a socket whose
 * SYN waits for neighbour resolution; tcp_connect() runs once ARP answers.
 */
#include "stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>
#include <utlist.h>

#include <lwip/etharp.h>
#include <lwip/init.h>
#include <lwip/ip4_addr.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>	/* tcp_abandon(): a drop without RST */
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
#include <lwip/timeouts.h>
#include <netif/ethernet.h>

#include "frame.h"
#include "log.h"

#define READ_BATCH 32
#define READ_SLOT_SIZE 65550	/* the largest frame a TAP can hand over */
#define EPHEMERAL_FIRST 49152u
#define EPHEMERAL_COUNT 16384u
#define ARP_RETRY_MS 1000u
#define ARP_TRIES 3

_Static_assert(TCPINFO_TIME_WAIT == (int)TIME_WAIT && TCPINFO_LISTEN == (int)LISTEN &&
    TCPINFO_CLOSING == (int)CLOSING, "tcpinfo states follow lwIP's numbering");

struct arp_wait;

/* The glue between one lwIP PCB and the engine's connection that owns it. */
struct stack_tcp {
	struct tcp_pcb *pcb;		/* NULL while waiting for ARP, and once freed */
	void *owner;
	uint64_t key;
	uint32_t remote_ip;
	uint16_t remote_port;
	uint16_t local_port;
	bool active;			/* an active open: its local port counts as in use */
	enum tcpinfo_state last_state;
	struct arp_wait *arp_wait;	/* set while the SYN waits for ARP */
	struct stack_tcp *arp_prev, *arp_next;
	struct stack_listener *listener;	/* set while a passive open is mid-handshake */
	struct stack_tcp *handshake_prev, *handshake_next;
	struct pbuf *held;		/* received data the owner did not take yet */
	uint32_t iss, irs;		/* read off the SYNs on the wire */
	bool iss_known, irs_known;
	bool gone;			/* reported CLOSED while a frame for it was in lwIP */
	UT_hash_handle hh;
};

struct stack_listener {
	struct tcp_pcb *pcb;		/* a struct tcp_pcb_listen in lwIP */
	void *owner;
	uint16_t port;
	uint32_t backlog;
	uint32_t handshaking_count;
	struct stack_tcp *handshaking;	/* passive opens in SYN_RCVD */
	UT_hash_handle hh;
};

/* How many active opens use a local port; listeners need it free. */
struct port_use {
	uint16_t port;
	uint32_t count;
	UT_hash_handle hh;
};

/* Active opens waiting for one next hop to answer ARP. */
struct arp_wait {
	uint32_t next_hop;
	int tries;
	struct stack_tcp *waiting;
	UT_hash_handle hh;
};

/* What drives the event lwIP is handling now, for the causes it reports. */
struct drive {
	bool active;
	struct tcpinfo_cause cause;
};

static struct {
	struct netif netif;
	uint8_t mac[ETH_HWADDR_LEN];
	struct stack_hooks hooks;
	int tap_fd;
	uint32_t mtu;
	uint32_t address;
	uint32_t netmask;
	uint32_t gateway;
	struct stack_tcp *by_key;
	struct stack_listener *listeners;	/* by port */
	struct port_use *port_uses;
	struct stack_tcp_totals totals;
	struct arp_wait *arp_waits;
	bool arp_timer_armed;
	struct drive drive;
	struct stack_tcp *in_input;
	uint8_t *tx_buffer;
	uint64_t rx_frames, tx_frames, rx_bytes, tx_bytes, rx_dropped;
	uint64_t rx_fragments, rx_malformed, rx_other;
	int stop_fd;
	pthread_t reader;
	bool reader_running;
	pthread_mutex_t init_mutex;
	pthread_cond_t init_cond;
	bool init_done;
} stack = {
	.tap_fd = -1,
	.stop_fd = -1,
	.init_mutex = PTHREAD_MUTEX_INITIALIZER,
	.init_cond = PTHREAD_COND_INITIALIZER,
};

const char *
stack_lwip_version(void)
{
	return LWIP_VERSION_STRING;
}

void
stack_lock(void)
{
	LOCK_TCPIP_CORE();
}

void
stack_unlock(void)
{
	UNLOCK_TCPIP_CORE();
}

void
stack_timeout(uint32_t ms, void (*fn)(void *arg), void *arg)
{
	sys_timeout(ms, fn, arg);
}

void
stack_untimeout(void (*fn)(void *arg), void *arg)
{
	sys_untimeout(fn, arg);
}

static struct port_use *
port_use_find(uint16_t port)
{
	struct port_use *use;

	HASH_FIND(hh, stack.port_uses, &port, sizeof(port), use);
	return use;
}

static int
port_use_add(uint16_t port)
{
	struct port_use *use = port_use_find(port);

	if (use == NULL) {
		use = calloc(1, sizeof(*use));
		if (use == NULL)
			return -ENOMEM;
		use->port = port;
		HASH_ADD(hh, stack.port_uses, port, sizeof(use->port), use);
	}
	use->count++;
	return 0;
}

static void
port_use_release(uint16_t port)
{
	struct port_use *use = port_use_find(port);

	if (use != NULL && --use->count == 0) {
		HASH_DEL(stack.port_uses, use);
		free(use);
	}
}

static struct stack_listener *
listener_find(uint16_t port)
{
	struct stack_listener *listener;

	HASH_FIND(hh, stack.listeners, &port, sizeof(port), listener);
	return listener;
}

static struct tcpinfo_cause
cause_of(enum tcpinfo_cause_kind kind, uint8_t flags)
{
	return (struct tcpinfo_cause){ .kind = (uint8_t)kind, .flags = flags };
}

static void
drive_begin(struct drive *saved, struct tcpinfo_cause cause)
{
	*saved = stack.drive;
	stack.drive.active = true;
	stack.drive.cause = cause;
}

static void
drive_end(const struct drive *saved)
{
	stack.drive = *saved;
}

/* Reports a change of state, if there is one, while the PCB lives. */
static void
tcp_sync_state(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	enum tcpinfo_state now;

	if (t->pcb == NULL)
		return;
	now = (enum tcpinfo_state)t->pcb->state;
	if (now == t->last_state)
		return;
	t->last_state = now;
	stack.hooks.state_changed(t->owner, now, cause);
}

static void arp_wait_remove(struct stack_tcp *t);
static void tcp_abandon_with(struct stack_tcp *t, bool reset, struct tcpinfo_cause cause);

static void
handshake_done(struct stack_tcp *t)
{
	struct stack_listener *listener = t->listener;

	if (listener == NULL)
		return;
	DL_DELETE2(listener->handshaking, t, handshake_prev, handshake_next);
	listener->handshaking_count--;
	t->listener = NULL;
}

/* The PCB is gone: report CLOSED and free the glue, unless a frame for it is still in lwIP. */
static void
tcp_finish(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	t->pcb = NULL;
	arp_wait_remove(t);
	handshake_done(t);
	if (t->held != NULL) {
		pbuf_free(t->held);
		t->held = NULL;
	}
	if (t->active)
		port_use_release(t->local_port);
	HASH_DEL(stack.by_key, t);
	t->last_state = TCPINFO_CLOSED;
	stack.hooks.state_changed(t->owner, TCPINFO_CLOSED, cause);
	if (t == stack.in_input)
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

	if (stack.drive.active) {
		cause = stack.drive.cause;
	} else if (t->last_state == TCPINFO_SYN_SENT) {
		cause = cause_of(TCPINFO_CAUSE_TIMER_SYN_RETRIES, 0);
	} else if (t->last_state == TCPINFO_ESTABLISHED || t->last_state == TCPINFO_FIN_WAIT_1 ||
	    t->last_state == TCPINFO_CLOSE_WAIT || t->last_state == TCPINFO_CLOSING) {
		cause = cause_of(TCPINFO_CAUSE_TIMER_RETRANSMIT, 0);
	} else {
		cause = cause_of(TCPINFO_CAUSE_TIMER_TIMEOUT, 0);
	}
	log_debug("connection %u -> %u freed by lwIP (err %d)", t->local_port, t->remote_port, err);
	tcp_finish(t, cause);
}

void
stack_tcp_deliver(struct stack_tcp *t)
{
	while (t->held != NULL && t->pcb != NULL) {
		struct pbuf *q = t->held;
		size_t offered = q->len;
		size_t taken = stack.hooks.received(t->owner, q->payload, offered);

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
static err_t
on_tcp_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
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

static err_t
on_tcp_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct stack_tcp *t = arg;

	(void)pcb;
	(void)len;
	stack.hooks.sendable(t->owner);
	/*
	 * The owner may have closed the connection meanwhile, and an abort there
	 * freed the PCB: lwIP must hear so. The glue itself outlives this call,
	 * since the frame being handled is this connection's.
	 */
	return t->pcb == NULL ? ERR_ABRT : ERR_OK;
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
		handshake_done(t);
		stack.hooks.accepted(listener->owner);
	}
	return ERR_OK;
}

static void
tcp_set_callbacks(struct tcp_pcb *pcb, struct stack_tcp *t)
{
	ip_set_option(pcb, SOF_REUSEADDR);
	tcp_arg(pcb, t);
	tcp_err(pcb, on_tcp_err);
	tcp_recv(pcb, on_tcp_recv);
	tcp_sent(pcb, on_tcp_sent);
}

static struct stack_tcp *
tcp_lookup(uint64_t key)
{
	struct stack_tcp *t;

	HASH_FIND(hh, stack.by_key, &key, sizeof(key), t);
	return t;
}

/* Finds the tracked connection of a segment; the direction says which end is lwIP's. */
static struct stack_tcp *
segment_owner(const struct frame_tcp *seg, bool outbound)
{
	if (outbound)
		return tcp_lookup(frame_conn_key(seg->dst_ip, seg->src_port, seg->dst_port));
	return tcp_lookup(frame_conn_key(seg->src_ip, seg->dst_port, seg->src_port));
}

static void
count_segment(const struct frame_tcp *seg, bool outbound)
{
	if (outbound) {
		stack.totals.out_segs++;
		stack.totals.out_rsts += !!(seg->flags & TCPINFO_FLAG_RST);
	} else {
		stack.totals.in_segs++;
		stack.totals.in_errs += !seg->checksum_ok;
	}
}

static struct tcp_pcb *passive_pcb(const struct stack_tcp *t);

/* lwIP's state of t now: a passive open's PCB may exist before it is adopted. */
static enum tcpinfo_state
glue_state(const struct stack_tcp *t)
{
	const struct tcp_pcb *pcb = t->pcb;

	if (pcb == NULL && t->listener != NULL)
		pcb = passive_pcb(t);
	return pcb != NULL ? (enum tcpinfo_state)pcb->state : t->last_state;
}

/*
 * Reports a segment of t, and notes the ISNs its SYNs carry. A segment lwIP
 * sends while it handles an inbound one leaves in the state that one led to
 * (the ACK of a SYN+ACK in ESTABLISHED); one sent for an API call or a timer
 * shows the change it makes (a SYN goes from CLOSED to SYN_SENT).
 */
static void
report_segment(struct stack_tcp *t, const struct frame_tcp *seg, bool outbound)
{
	bool answering = stack.drive.active && stack.drive.cause.kind == TCPINFO_CAUSE_RX;
	struct stack_segment report = {
		.outbound = outbound,
		.flags = seg->flags,
		.seq = seg->seq,
		.ack = seg->ack,
		.window = seg->window,
		.payload_len = seg->payload_len,
		.state_before = outbound && answering ? glue_state(t) : t->last_state,
		.state_after = outbound ? glue_state(t) : t->last_state,
	};

	if ((seg->flags & TCPINFO_FLAG_SYN) && outbound && !t->iss_known) {
		t->iss = seg->seq;
		t->iss_known = true;
		/* An open's first SYN is what takes it out of CLOSED, even when ARP held it back. */
		if (t->active) {
			report.state_before = TCPINFO_CLOSED;
			report.state_after = TCPINFO_SYN_SENT;
		}
	} else if ((seg->flags & TCPINFO_FLAG_SYN) && !outbound && seg->checksum_ok) {
		t->irs = seg->seq;
		t->irs_known = true;
	}
	stack.hooks.segment(t->owner, &report);
}

static err_t
tap_linkoutput(struct netif *netif, struct pbuf *p)
{
	const uint8_t *frame = p->payload;
	struct frame_tcp seg;
	ssize_t written;

	(void)netif;
	/* The core lock serialises every output, so one buffer serves them all. */
	if (p->next != NULL) {
		pbuf_copy_partial(p, stack.tx_buffer, p->tot_len, 0);
		frame = stack.tx_buffer;
	}
	if (frame_parse_tcp(frame, p->tot_len, &seg) == 0) {
		struct stack_tcp *t = segment_owner(&seg, true);

		count_segment(&seg, true);
		if (t != NULL)
			report_segment(t, &seg, true);
	}
	written = write(stack.tap_fd, frame, p->tot_len);
	if (written != (ssize_t)p->tot_len) {
		log_debug("TAP write of %u bytes failed: %s", p->tot_len,
		    written < 0 ? strerror(errno) : "short write");
		return ERR_IF;
	}
	stack.tx_frames++;
	stack.tx_bytes += p->tot_len;
	return ERR_OK;
}

static err_t
tap_netif_init(struct netif *netif)
{
	netif->name[0] = 't';
	netif->name[1] = 'p';
	netif->output = etharp_output;
	netif->linkoutput = tap_linkoutput;
	netif->mtu = (u16_t)(stack.mtu > 0xffff ? 0xffff : stack.mtu);
	netif->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(netif->hwaddr, stack.mac, ETH_HWADDR_LEN);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	return ERR_OK;
}

static uint32_t
next_hop_of(uint32_t remote_ip)
{
	if ((remote_ip & stack.netmask) == (stack.address & stack.netmask))
		return remote_ip;
	return stack.gateway;
}

static bool
arp_resolved(uint32_t next_hop)
{
	ip4_addr_t addr = { .addr = next_hop };
	struct eth_addr *eth;
	const ip4_addr_t *ip;

	return etharp_find_addr(&stack.netif, &addr, &eth, &ip) >= 0;
}

/* Creates, binds and connects the PCB. Reports SYN_SENT on success. */
static int
tcp_start(struct stack_tcp *t)
{
	ip_addr_t local = IPADDR4_INIT(stack.address);
	ip_addr_t remote = IPADDR4_INIT(t->remote_ip);
	struct tcp_pcb *pcb;
	struct drive saved;
	err_t err;

	pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (pcb == NULL)
		return -ENOMEM;
	tcp_set_callbacks(pcb, t);
	/* Until connected the PCB is CLOSED, and tcp_close() frees it without calling back. */
	err = tcp_bind(pcb, &local, t->local_port);
	if (err != ERR_OK) {
		tcp_close(pcb);
		return err == ERR_USE ? -EADDRINUSE : -ENOMEM;
	}
	t->pcb = pcb;
	drive_begin(&saved, cause_of(TCPINFO_CAUSE_API_OPEN, 0));
	err = tcp_connect(pcb, &remote, t->remote_port, NULL);
	drive_end(&saved);
	if (err != ERR_OK) {
		t->pcb = NULL;
		tcp_close(pcb);
		return err == ERR_USE ? -EADDRINUSE : err == ERR_RTE ? -ENETUNREACH : -ENOMEM;
	}
	tcp_sync_state(t, cause_of(TCPINFO_CAUSE_API_OPEN, 0));
	return 0;
}

static void
arp_wait_remove(struct stack_tcp *t)
{
	struct arp_wait *wait = t->arp_wait;

	if (wait == NULL)
		return;
	DL_DELETE2(wait->waiting, t, arp_prev, arp_next);
	t->arp_wait = NULL;
	if (wait->waiting == NULL) {
		HASH_DEL(stack.arp_waits, wait);
		free(wait);
	}
}

/* Starts every open waiting on next_hop, or fails them all when ARP gave up. */
static void
arp_wait_release(struct arp_wait *wait, bool resolved)
{
	struct stack_tcp *t, *tmp;
	int rc;

	HASH_DEL(stack.arp_waits, wait);
	DL_FOREACH_SAFE2(wait->waiting, t, tmp, arp_next) {
		t->arp_wait = NULL;
		rc = resolved ? tcp_start(t) : -EHOSTUNREACH;
		if (rc < 0)
			tcp_finish(t, cause_of(resolved ? TCPINFO_CAUSE_API_OPEN :
			    TCPINFO_CAUSE_ARP_UNRESOLVED, 0));
	}
	free(wait);
}

static void
arp_retry_timer(void *arg)
{
	struct arp_wait *wait, *tmp;

	(void)arg;
	stack.arp_timer_armed = false;
	HASH_ITER(hh, stack.arp_waits, wait, tmp) {
		ip4_addr_t addr = { .addr = wait->next_hop };

		if (++wait->tries >= ARP_TRIES)
			arp_wait_release(wait, false);
		else
			etharp_request(&stack.netif, &addr);
	}
	if (stack.arp_waits != NULL) {
		sys_timeout(ARP_RETRY_MS, arp_retry_timer, NULL);
		stack.arp_timer_armed = true;
	}
}

static int
arp_wait_add(struct stack_tcp *t, uint32_t next_hop)
{
	struct arp_wait *wait;

	HASH_FIND(hh, stack.arp_waits, &next_hop, sizeof(next_hop), wait);
	if (wait == NULL) {
		ip4_addr_t addr = { .addr = next_hop };

		wait = calloc(1, sizeof(*wait));
		if (wait == NULL)
			return -ENOMEM;
		wait->next_hop = next_hop;
		HASH_ADD(hh, stack.arp_waits, next_hop, sizeof(wait->next_hop), wait);
		etharp_query(&stack.netif, &addr, NULL);
	}
	DL_APPEND2(wait->waiting, t, arp_prev, arp_next);
	t->arp_wait = wait;
	if (!stack.arp_timer_armed) {
		sys_timeout(ARP_RETRY_MS, arp_retry_timer, NULL);
		stack.arp_timer_armed = true;
	}
	return 0;
}

/* A local port is taken towards a peer by a connection to it, and towards everyone by a listener. */
static bool
key_in_use(uint32_t remote_ip, uint16_t local_port, uint16_t remote_port)
{
	return tcp_lookup(frame_conn_key(remote_ip, local_port, remote_port)) != NULL ||
	    listener_find(local_port) != NULL;
}

/* A random start, then the next free port towards this peer: at most one range of lookups. */
static int
pick_local_port(uint32_t remote_ip, uint16_t remote_port, uint16_t *out)
{
	uint32_t start = (uint32_t)rand() % EPHEMERAL_COUNT;

	for (uint32_t i = 0; i < EPHEMERAL_COUNT; i++) {
		uint16_t port = (uint16_t)(EPHEMERAL_FIRST + (start + i) % EPHEMERAL_COUNT);

		if (!key_in_use(remote_ip, port, remote_port)) {
			*out = port;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

int
stack_tcp_connect(void *owner, uint32_t remote_ip, uint16_t remote_port, uint16_t local_port,
    struct stack_tcp **out, uint16_t *chosen_port)
{
	uint32_t host_bits = remote_ip & ~stack.netmask;
	uint32_t next_hop;
	struct stack_tcp *t;
	int rc;

	if (remote_ip == stack.address ||
	    ((remote_ip & stack.netmask) == (stack.address & stack.netmask) &&
	    (host_bits == 0 || host_bits == ~stack.netmask)))
		return -EINVAL;
	next_hop = next_hop_of(remote_ip);
	if (next_hop == 0)
		return -ENETUNREACH;
	if (local_port == 0) {
		rc = pick_local_port(remote_ip, remote_port, &local_port);
		if (rc < 0)
			return rc;
	} else if (key_in_use(remote_ip, local_port, remote_port)) {
		return -EADDRINUSE;
	}

	t = calloc(1, sizeof(*t));
	if (t == NULL || port_use_add(local_port) < 0) {
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
	HASH_ADD(hh, stack.by_key, key, sizeof(t->key), t);
	if (arp_resolved(next_hop))
		rc = tcp_start(t);
	else
		rc = arp_wait_add(t, next_hop);
	if (rc < 0) {
		HASH_DEL(stack.by_key, t);
		port_use_release(local_port);
		free(t);
		return rc;
	}
	if (t->pcb == NULL) {
		/* Like a kernel whose SYN waits in the neighbour queue, the open is in SYN_SENT already. */
		t->last_state = TCPINFO_SYN_SENT;
		stack.hooks.state_changed(owner, TCPINFO_SYN_SENT, cause_of(TCPINFO_CAUSE_API_OPEN, 0));
	}
	*out = t;
	*chosen_port = local_port;
	return 0;
}

/* Sends a FIN from a state that has one to send. Returns -ENOTCONN from the others. */
static int
glue_send_fin(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	struct drive saved;
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
		tcp_abandon_with(t, true, cause);
		return 0;
	}
	tcp_sync_state(t, cause);
	return 0;
}

int
stack_tcp_close(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	if (t->pcb == NULL) {
		tcp_finish(t, cause);
		return 0;
	}
	if (t->pcb->state == SYN_SENT) {
		/* RFC 9293: CLOSE in SYN-SENT deletes the TCB; lwIP frees it without calling back. */
		tcp_close(t->pcb);
		tcp_finish(t, cause);
		return 0;
	}
	return glue_send_fin(t, cause) == 0 ? 0 : -EALREADY;
}

int
stack_tcp_shutdown_write(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	if (t->pcb == NULL)
		return -ENOTCONN;
	return glue_send_fin(t, cause);
}

/*
 * The bytes one tcp_write() can take now. lwIP bounds its send queue in
 * segments (TCP_SND_QUEUELEN), not only in bytes, and refuses a whole write
 * that needs more segments than are left: with a peer MSS of 64, 64 KiB
 * would need a thousand. So offer only what fits in the segments left,
 * keeping one for the pbuf lwIP may chain onto the last unsent segment; the
 * sent callback asks for the rest.
 */
static size_t
send_fits(const struct tcp_pcb *pcb)
{
	uint32_t seg_size = pcb->mss;
	uint32_t segs_left;

	/* tcp_write() cuts segments at half the peer's largest window when that is smaller. */
	if (pcb->snd_wnd_max / 2 > 0 && pcb->snd_wnd_max / 2 < seg_size)
		seg_size = pcb->snd_wnd_max / 2;
	if (seg_size == 0 || pcb->snd_queuelen + 1u >= TCP_SND_QUEUELEN)
		return 0;
	segs_left = TCP_SND_QUEUELEN - pcb->snd_queuelen - 1u;
	return LWIP_MIN((size_t)tcp_sndbuf(pcb), (size_t)segs_left * seg_size);
}

size_t
stack_tcp_send_space(struct stack_tcp *t)
{
	if (t->pcb == NULL)
		return 0;
	switch (t->pcb->state) {
	case SYN_SENT:
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
	size_t space = stack_tcp_send_space(t);
	size_t n = len < space ? len : space;

	*written = 0;
	if (t->pcb == NULL)
		return -ENOTCONN;
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
	if (t->pcb != NULL)
		tcp_output(t->pcb);
}

bool
stack_tcp_tcb(struct stack_tcp *t, struct stack_tcb *out)
{
	const struct tcp_pcb *pcb = t->pcb;

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
		.rto_ms = (uint32_t)(pcb->rto > 0 ? pcb->rto : 0) * TCP_SLOW_INTERVAL,
		.cwnd = pcb->cwnd,
		.ssthresh = pcb->ssthresh,
		.nrtx = pcb->nrtx,
	};
	return true;
}

int
stack_tcp_listen(void *owner, uint16_t port, uint32_t backlog, struct stack_listener **out)
{
	ip_addr_t local = IPADDR4_INIT(stack.address);
	struct stack_listener *listener;
	struct tcp_pcb *pcb, *listening;
	err_t err;

	if (listener_find(port) != NULL || port_use_find(port) != NULL)
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
	HASH_ADD(hh, stack.listeners, port, sizeof(listener->port), listener);
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

	/* lwIP resets these when their handshake completes without a listener. */
	DL_FOREACH_SAFE2(listener->handshaking, t, tmp, handshake_next)
		handshake_done(t);
	HASH_DEL(stack.listeners, listener);
	tcp_close(listener->pcb);
	free(listener);
}

/* Frees the PCB, with a RST or without, and reports CLOSED. */
static void
tcp_abandon_with(struct stack_tcp *t, bool reset, struct tcpinfo_cause cause)
{
	struct drive saved;

	if (t->pcb == NULL || t->pcb->state == TIME_WAIT) {
		/* lwIP frees a TIME_WAIT PCB without a RST and without calling back. */
		if (t->pcb != NULL)
			tcp_abort(t->pcb);
		tcp_finish(t, cause);
		return;
	}
	drive_begin(&saved, cause);
	tcp_abandon(t->pcb, reset);	/* the err callback reports CLOSED and frees t */
	drive_end(&saved);
}

void
stack_tcp_abort(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	tcp_abandon_with(t, true, cause);
}

void
stack_tcp_drop(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	tcp_abandon_with(t, false, cause);
}

/*
 * A SYN for a listener: the glue and its owner exist before lwIP sees the
 * SYN, so that the SYN+ACK lwIP sends at once is counted. Returns NULL when
 * the SYN is to be dropped: the backlog is full, or the owner refused it.
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
	t->owner = stack.hooks.passive_open(listener->owner, seg->src_ip, seg->src_port,
	    seg->dst_port, t);
	if (t->owner == NULL) {
		free(t);
		return NULL;
	}
	HASH_ADD(hh, stack.by_key, key, sizeof(t->key), t);
	t->listener = listener;
	DL_APPEND2(listener->handshaking, t, handshake_prev, handshake_next);
	listener->handshaking_count++;
	return t;
}

/* lwIP puts the PCB it makes for a SYN at the head of its active list. */
static struct tcp_pcb *
passive_pcb(const struct stack_tcp *t)
{
	struct tcp_pcb *pcb = tcp_active_pcbs;

	if (pcb != NULL && pcb->state == SYN_RCVD && pcb->local_port == t->local_port &&
	    pcb->remote_port == t->remote_port && ip_2_ip4(&pcb->remote_ip)->addr == t->remote_ip)
		return pcb;
	return NULL;
}

/* After lwIP handled the SYN: adopt its PCB, or give up. */
static void
passive_end(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	t->pcb = passive_pcb(t);
	if (t->pcb != NULL) {
		tcp_set_callbacks(t->pcb, t);
		tcp_sync_state(t, cause);
		stack.hooks.segment_done(t->owner);
		return;
	}
	stack.hooks.segment_done(t->owner);
	handshake_done(t);
	HASH_DEL(stack.by_key, t);
	stack.hooks.passive_abandoned(t->owner);
	free(t);
}

static bool
is_listener_syn(const struct frame_tcp *seg)
{
	return (seg->flags & (TCPINFO_FLAG_SYN | TCPINFO_FLAG_ACK | TCPINFO_FLAG_RST)) == TCPINFO_FLAG_SYN &&
	    seg->checksum_ok && seg->dst_ip == stack.address;
}

/*
 * Lets through only what lwipd tracks segment by segment. lwIP reassembles
 * IP fragments itself, so a fragmented segment would reach tcp_input() unseen
 * by the glue: connections would exist that no one tracks, bypassing the
 * backlog, and a tracked one could change state unreported. lwipd does not
 * reassemble; it drops fragments and counts them, as it does frames it
 * cannot parse and protocols it does not serve (lwipd is IPv4 only).
 */
static bool
gate_admits(enum frame_kind kind)
{
	switch (kind) {
	case FRAME_ARP:
	case FRAME_IPV4:
	case FRAME_TCP:
		return true;
	case FRAME_IPV4_FRAGMENT:
		stack.rx_fragments++;
		return false;
	case FRAME_MALFORMED:
		stack.rx_malformed++;
		return false;
	case FRAME_OTHER:
		break;
	}
	stack.rx_other++;
	return false;
}

/* Hands one frame to lwIP, reporting its segment and any change of state it caused. */
static void
input_frame(const uint8_t *frame, size_t len)
{
	struct stack_tcp *t = NULL, *passive = NULL;
	struct stack_listener *listener;
	struct pbuf *p;
	struct drive saved;
	struct frame_tcp seg;
	enum frame_kind kind;
	uint32_t arp_sender;
	struct tcpinfo_cause cause = cause_of(TCPINFO_CAUSE_RX, 0);

	stack.rx_frames++;
	stack.rx_bytes += len;
	kind = frame_classify(frame, len, &seg);
	if (!gate_admits(kind))
		return;
	if (len > 0xffff || (p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM)) == NULL) {
		stack.rx_dropped++;
		return;
	}
	pbuf_take(p, frame, (u16_t)len);

	if (kind == FRAME_TCP) {
		cause.flags = seg.flags;
		count_segment(&seg, false);
		t = segment_owner(&seg, false);
		if (t == NULL && is_listener_syn(&seg) && (listener = listener_find(seg.dst_port)) != NULL) {
			t = passive = passive_begin(listener, &seg);
			if (passive == NULL) {
				/* A full backlog drops the SYN, as a kernel does; the peer retries. */
				stack.rx_dropped++;
				pbuf_free(p);
				return;
			}
		}
		if (t != NULL)
			report_segment(t, &seg, false);
	}
	stack.in_input = t;
	drive_begin(&saved, cause);
	ethernet_input(p, &stack.netif);	/* takes ownership of p */
	drive_end(&saved);
	stack.in_input = NULL;
	if (passive != NULL) {
		passive_end(passive, cause);
	} else if (t != NULL) {
		if (!t->gone)
			tcp_sync_state(t, cause);
		stack.hooks.segment_done(t->owner);
		if (t->gone)
			free(t);
	}

	if (stack.arp_waits != NULL && frame_parse_arp_sender(frame, len, &arp_sender) == 0) {
		struct arp_wait *wait;

		HASH_FIND(hh, stack.arp_waits, &arp_sender, sizeof(arp_sender), wait);
		if (wait != NULL && arp_resolved(arp_sender))
			arp_wait_release(wait, true);
	}
}

static void *
reader_main(void *arg)
{
	static uint8_t slots[READ_BATCH][READ_SLOT_SIZE];
	size_t lengths[READ_BATCH];
	struct pollfd fds[2] = {
		{ .fd = stack.tap_fd, .events = POLLIN },
		{ .fd = stack.stop_fd, .events = POLLIN },
	};

	(void)arg;
	for (;;) {
		int count = 0;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll on the TAP device");
			break;
		}
		if (fds[1].revents)
			break;
		if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			log_warnx("the TAP device failed; no more frames can be read");
			break;
		}
		while (count < READ_BATCH) {
			ssize_t n = read(stack.tap_fd, slots[count], READ_SLOT_SIZE);

			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					log_warn("read from the TAP device");
				break;
			}
			lengths[count++] = (size_t)n;
		}
		if (count == 0)
			continue;
		LOCK_TCPIP_CORE();
		for (int i = 0; i < count; i++)
			input_frame(slots[i], lengths[i]);
		UNLOCK_TCPIP_CORE();
	}
	LOCK_TCPIP_CORE();
	stack.reader_running = false;
	UNLOCK_TCPIP_CORE();
	return NULL;
}

static void
on_tcpip_ready(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&stack.init_mutex);
	stack.init_done = true;
	pthread_cond_signal(&stack.init_cond);
	pthread_mutex_unlock(&stack.init_mutex);
}

int
stack_start(const struct stack_config *cfg, const struct stack_hooks *hooks)
{
	ip4_addr_t address = { .addr = cfg->address };
	ip4_addr_t netmask, gateway = { .addr = cfg->gateway };
	unsigned int seed;
	int rc;

	stack.hooks = *hooks;
	memcpy(stack.mac, cfg->mac, sizeof(stack.mac));
	stack.tap_fd = cfg->tap->fd;
	stack.mtu = cfg->tap->mtu;
	stack.address = cfg->address;
	stack.netmask = htonl(0xffffffffu << (32 - cfg->prefix));
	stack.gateway = cfg->gateway;
	netmask.addr = stack.netmask;
	stack.tx_buffer = malloc(READ_SLOT_SIZE);
	if (stack.tx_buffer == NULL)
		return -ENOMEM;
	stack.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (stack.stop_fd < 0) {
		rc = -errno;
		goto free_buffer;
	}

	/* lwIP's LWIP_RAND is rand(): unseeded, every restart would repeat its choices. */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned int)getpid() ^ (unsigned int)time(NULL);
	srand(seed);

	tcpip_init(on_tcpip_ready, NULL);
	pthread_mutex_lock(&stack.init_mutex);
	while (!stack.init_done)
		pthread_cond_wait(&stack.init_cond, &stack.init_mutex);
	pthread_mutex_unlock(&stack.init_mutex);

	LOCK_TCPIP_CORE();
	/*
	 * lwIP's ISN is a static counter plus tcp_ticks, so every start would
	 * repeat the same ISNs. Timers only compare tcp_ticks differences, so a
	 * random start is safe and makes the ISNs differ per run and per open.
	 */
	tcp_ticks = (u32_t)rand();
	if (netif_add(&stack.netif, &address, &netmask, &gateway, NULL, tap_netif_init, ethernet_input) == NULL) {
		UNLOCK_TCPIP_CORE();
		rc = -ENODEV;
		goto close_stop;
	}
	netif_set_default(&stack.netif);
	netif_set_link_up(&stack.netif);
	netif_set_up(&stack.netif);
	stack.reader_running = true;
	UNLOCK_TCPIP_CORE();

	rc = -pthread_create(&stack.reader, NULL, reader_main, NULL);
	if (rc < 0) {
		LOCK_TCPIP_CORE();
		stack.reader_running = false;
		UNLOCK_TCPIP_CORE();
		goto close_stop;
	}
	return 0;

close_stop:
	close(stack.stop_fd);
	stack.stop_fd = -1;
free_buffer:
	free(stack.tx_buffer);
	stack.tx_buffer = NULL;
	return rc;
}

void
stack_stop(void)
{
	uint64_t one = 1;

	if (stack.stop_fd < 0)
		return;
	if (write(stack.stop_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("waking the TAP reader");
	pthread_join(stack.reader, NULL);
	close(stack.stop_fd);
	stack.stop_fd = -1;
}

bool
stack_healthy(void)
{
	return stack.reader_running && netif_is_up(&stack.netif) && netif_is_link_up(&stack.netif);
}

void
stack_tcp_totals(struct stack_tcp_totals *out)
{
	*out = stack.totals;
}

void
stack_iface_info(struct stack_iface_info *out)
{
	memcpy(out->mac, stack.netif.hwaddr, sizeof(out->mac));
	out->mtu = stack.netif.mtu;
	out->up = netif_is_up(&stack.netif) && netif_is_link_up(&stack.netif);
	out->rx_frames = stack.rx_frames;
	out->tx_frames = stack.tx_frames;
	out->rx_bytes = stack.rx_bytes;
	out->tx_bytes = stack.tx_bytes;
	out->rx_dropped = stack.rx_dropped;
	out->rx_fragments = stack.rx_fragments;
	out->rx_malformed = stack.rx_malformed;
	out->rx_other = stack.rx_other;
}
