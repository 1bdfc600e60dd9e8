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
	enum tcpinfo_state last_state;
	struct arp_wait *arp_wait;	/* set while the SYN waits for ARP */
	struct stack_tcp *arp_prev, *arp_next;
	bool gone;			/* reported CLOSED while a frame for it was in lwIP */
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
	struct arp_wait *arp_waits;
	bool arp_timer_armed;
	struct drive drive;
	struct stack_tcp *in_input;
	uint8_t *tx_buffer;
	uint64_t rx_frames, tx_frames, rx_bytes, tx_bytes, rx_dropped;
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

/* The PCB is gone: report CLOSED and free the glue, unless a frame for it is still in lwIP. */
static void
tcp_finish(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	t->pcb = NULL;
	arp_wait_remove(t);
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

/* Data is accepted and its window reopened at once; the FIN (p == NULL) needs nothing. */
static err_t
on_tcp_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (p != NULL) {
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
	}
	return ERR_OK;
}

/* Reports one segment of a tracked connection; the frame's direction picks the 4-tuple. */
static struct stack_tcp *
report_segment(const uint8_t *frame, size_t len, bool outbound)
{
	struct frame_tcp seg;
	struct stack_segment report;
	struct stack_tcp *t;
	uint64_t key;

	if (frame_parse_tcp(frame, len, &seg) < 0)
		return NULL;
	if (outbound)
		key = frame_conn_key(seg.dst_ip, seg.src_port, seg.dst_port);
	else
		key = frame_conn_key(seg.src_ip, seg.dst_port, seg.src_port);
	HASH_FIND(hh, stack.by_key, &key, sizeof(key), t);
	if (t == NULL)
		return NULL;
	report = (struct stack_segment){
		.outbound = outbound,
		.flags = seg.flags,
		.seq = seg.seq,
		.ack = seg.ack,
		.window = seg.window,
		.payload_len = seg.payload_len,
	};
	stack.hooks.segment(t->owner, &report);
	return t;
}

static err_t
tap_linkoutput(struct netif *netif, struct pbuf *p)
{
	const uint8_t *frame = p->payload;
	ssize_t written;

	(void)netif;
	/* The core lock serialises every output, so one buffer serves them all. */
	if (p->next != NULL) {
		pbuf_copy_partial(p, stack.tx_buffer, p->tot_len, 0);
		frame = stack.tx_buffer;
	}
	report_segment(frame, p->tot_len, true);
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
	ip_set_option(pcb, SOF_REUSEADDR);
	tcp_arg(pcb, t);
	tcp_err(pcb, on_tcp_err);
	tcp_recv(pcb, on_tcp_recv);
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

static bool
key_in_use(uint32_t remote_ip, uint16_t local_port, uint16_t remote_port)
{
	uint64_t key = frame_conn_key(remote_ip, local_port, remote_port);
	struct stack_tcp *t;

	HASH_FIND(hh, stack.by_key, &key, sizeof(key), t);
	return t != NULL;
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
	if (t == NULL)
		return -ENOMEM;
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

int
stack_tcp_close(struct stack_tcp *t, struct tcpinfo_cause cause)
{
	struct drive saved;
	err_t err;

	if (t->pcb == NULL) {
		tcp_finish(t, cause);
		return 0;
	}
	switch (t->pcb->state) {
	case SYN_SENT:
		/* RFC 9293: CLOSE in SYN-SENT deletes the TCB; lwIP frees it without calling back. */
		tcp_close(t->pcb);
		tcp_finish(t, cause);
		return 0;
	case SYN_RCVD:
	case ESTABLISHED:
	case CLOSE_WAIT:
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
	default:
		return -EALREADY;
	}
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

/* Hands one frame to lwIP, reporting its segment and any change of state it caused. */
static void
input_frame(const uint8_t *frame, size_t len)
{
	struct stack_tcp *t;
	struct pbuf *p;
	struct drive saved;
	struct frame_tcp seg;
	uint32_t arp_sender;
	struct tcpinfo_cause cause = cause_of(TCPINFO_CAUSE_RX, 0);

	stack.rx_frames++;
	stack.rx_bytes += len;
	p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
	if (len > 0xffff || p == NULL) {
		stack.rx_dropped++;
		if (p != NULL)
			pbuf_free(p);
		return;
	}
	pbuf_take(p, frame, (u16_t)len);

	t = report_segment(frame, len, false);
	if (t != NULL && frame_parse_tcp(frame, len, &seg) == 0)
		cause.flags = seg.flags;
	stack.in_input = t;
	drive_begin(&saved, cause);
	ethernet_input(p, &stack.netif);	/* takes ownership of p */
	drive_end(&saved);
	stack.in_input = NULL;
	if (t != NULL) {
		if (t->gone)
			free(t);
		else
			tcp_sync_state(t, cause);
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
}
