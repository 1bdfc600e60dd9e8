/*
 * netif: lwIP's network interface on the TAP device: the reader thread that
 * feeds frames in through the gate, and the link output that writes them.
 *
 * DESIGN
 *
 * Frames from the TAP never go through lwIP's tcpip mailbox, which drops
 * frames when a burst fills it. A reader thread reads a bounded batch, takes
 * the core lock once, and hands each frame to ethernet_input() itself.
 *
 * A gate in front of lwIP lets through only what the glue tracks segment by
 * segment. Each TCP segment that passes goes through faultpath.c, where
 * tcpglue.c looks it up, reports it and follows it through lwIP, and where
 * fault rules act on it; so does each one lwIP sends, on its way out. Both
 * directions count into the interface's counters.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <lwip/etharp.h>
#include <lwip/pbuf.h>
#include <lwip/tcpip.h>
#include <netif/ethernet.h>

#include "log.h"
#include "stack_internal.h"

#define READ_BATCH 32

static struct {
	uint8_t mac[ETH_HWADDR_LEN];
	uint32_t mtu;
	int tap_fd;
	uint8_t *tx_buffer;
	int stop_fd;
	void (*link_lost)(void);
	pthread_t reader;
	bool reader_running;	/* changed under the core lock */
} tap = {
	.tap_fd = -1,
	.stop_fd = -1,
};

/* Reports a frame to the live capture; tcp is its parse, or NULL when it is not TCP. */
static void
captured(bool outbound, const uint8_t *frame, size_t len, const struct frame_tcp *tcp)
{
	struct stack_frame report = { .outbound = outbound, .bytes = frame, .len = len };

	if (tcp != NULL) {
		report.tcp = true;
		report.remote_ip = outbound ? tcp->dst_ip : tcp->src_ip;
		report.local_port = outbound ? tcp->src_port : tcp->dst_port;
		report.remote_port = outbound ? tcp->dst_port : tcp->src_port;
	}
	stack_state.hooks.frame(stack_state.hooks.arg, &report);
}

/* Writes one frame to the TAP and counts it. */
err_t
tapnetif_write(const uint8_t *frame, size_t len)
{
	ssize_t written = write(tap.tap_fd, frame, len);
	struct frame_tcp tcp;

	if (written != (ssize_t)len) {
		log_debug("TAP write of %zu bytes failed: %s", len,
		    written < 0 ? strerror(errno) : "short write");
		return ERR_IF;
	}
	stack_state.iface.tx_frames++;
	stack_state.iface.tx_bytes += len;
	if (stack_state.capturing)
		captured(true, frame, len, frame_parse_tcp(frame, len, &tcp) == 0 ? &tcp : NULL);
	return ERR_OK;
}

static err_t
tap_linkoutput(struct netif *netif, struct pbuf *p)
{
	const uint8_t *frame = p->payload;

	(void)netif;
	/* The core lock serialises every output, so one buffer serves them all. */
	if (p->next != NULL) {
		pbuf_copy_partial(p, tap.tx_buffer, p->tot_len, 0);
		frame = tap.tx_buffer;
	}
	return faultpath_output(frame, p->tot_len);
}

static err_t
tap_netif_init(struct netif *netif)
{
	netif->name[0] = 't';
	netif->name[1] = 'p';
	netif->output = etharp_output;
	netif->linkoutput = tap_linkoutput;
	netif->mtu = (u16_t)(tap.mtu > 0xffff ? 0xffff : tap.mtu);
	netif->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(netif->hwaddr, tap.mac, ETH_HWADDR_LEN);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	return ERR_OK;
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
		stack_state.iface.rx_fragments++;
		return false;
	case FRAME_MALFORMED:
		stack_state.iface.rx_malformed++;
		return false;
	case FRAME_OTHER:
		break;
	}
	stack_state.iface.rx_other++;
	return false;
}

/*
 * Hands one frame to lwIP; the glue, following rx, reports any change of
 * state it caused. A frame that finds no memory is counted as dropped, a
 * segment lwIP would abort on (glue_rx_unsafe()) as an RFC 9293 drop.
 */
void
tapnetif_feed(const uint8_t *frame, size_t len, struct glue_rx *rx)
{
	struct pbuf *p;

	if (glue_rx_unsafe(rx)) {
		stack_state.totals.in_rfc_drops++;
		glue_rx_dropped(rx);
		return;
	}
	if (len > 0xffff || (p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM)) == NULL) {
		stack_state.iface.rx_dropped++;
		glue_rx_dropped(rx);
		return;
	}
	pbuf_take(p, frame, (u16_t)len);
	glue_rx_begin(rx);
	ethernet_input(p, &stack_state.netif);	/* takes ownership of p */
	glue_rx_end(rx);
}

/*
 * One frame from the TAP: through the gate, then to lwIP, a TCP segment by
 * way of the fault path. The frame fuzzer calls it as the reader does.
 */
void
tapnetif_input(const uint8_t *frame, size_t len)
{
	struct glue_rx rx = { 0 };
	struct frame_tcp seg;
	enum frame_kind kind;

	stack_state.iface.rx_frames++;
	stack_state.iface.rx_bytes += len;
	kind = frame_classify(frame, len, &seg);
	if (stack_state.capturing)
		captured(false, frame, len, kind == FRAME_TCP ? &seg : NULL);
	if (!gate_admits(kind))
		return;
	if (kind == FRAME_TCP)
		faultpath_input(frame, len, &seg);
	else
		tapnetif_feed(frame, len, &rx);
	arpwait_frame(frame, len);
}

static void *
reader_main(void *arg)
{
	static uint8_t slots[READ_BATCH][FRAME_MAX_LEN];
	size_t lengths[READ_BATCH];
	struct pollfd fds[2] = {
		{ .fd = tap.tap_fd, .events = POLLIN },
		{ .fd = tap.stop_fd, .events = POLLIN },
	};
	bool lost = false;

	(void)arg;
	while (!lost) {
		int count = 0;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll on the TAP device");
			lost = true;
			break;
		}
		if (fds[1].revents)
			break;
		if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			log_warnx("the TAP device failed or was deleted; no more frames can be read");
			lost = true;
			break;
		}
		while (count < READ_BATCH) {
			ssize_t n = read(tap.tap_fd, slots[count], FRAME_MAX_LEN);

			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				log_warn("read from the TAP device");
				lost = true;
				break;
			}
			lengths[count++] = (size_t)n;
		}
		if (count == 0)
			continue;
		LOCK_TCPIP_CORE();
		for (int i = 0; i < count; i++)
			tapnetif_input(slots[i], lengths[i]);
		UNLOCK_TCPIP_CORE();
	}
	LOCK_TCPIP_CORE();
	tap.reader_running = false;
	/* Down everywhere: the interface says so and opens are refused. */
	if (lost)
		netif_set_link_down(&stack_state.netif);
	UNLOCK_TCPIP_CORE();
	if (lost && tap.link_lost != NULL)
		tap.link_lost();
	return NULL;
}

/* Adds the netif and starts the reader. lwIP's core thread must run already. */
int
tapnetif_start(const struct stack_config *cfg)
{
	ip4_addr_t address = { .addr = stack_state.address };
	ip4_addr_t netmask = { .addr = stack_state.netmask };
	ip4_addr_t gateway = { .addr = stack_state.gateway };
	int rc;

	memcpy(tap.mac, cfg->mac, sizeof(tap.mac));
	tap.tap_fd = cfg->tap->fd;
	tap.mtu = cfg->tap->mtu;
	tap.link_lost = cfg->link_lost;
	tap.tx_buffer = malloc(FRAME_MAX_LEN);
	if (tap.tx_buffer == NULL)
		return -ENOMEM;
	tap.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (tap.stop_fd < 0) {
		rc = -errno;
		goto free_buffer;
	}

	LOCK_TCPIP_CORE();
	if (netif_add(&stack_state.netif, &address, &netmask, &gateway, NULL, tap_netif_init,
	    ethernet_input) == NULL) {
		UNLOCK_TCPIP_CORE();
		rc = -ENODEV;
		goto close_stop;
	}
	netif_set_default(&stack_state.netif);
	netif_set_link_up(&stack_state.netif);
	netif_set_up(&stack_state.netif);
	tap.reader_running = true;
	UNLOCK_TCPIP_CORE();

	rc = -pthread_create(&tap.reader, NULL, reader_main, NULL);
	if (rc < 0) {
		LOCK_TCPIP_CORE();
		tap.reader_running = false;
		UNLOCK_TCPIP_CORE();
		goto close_stop;
	}
	return 0;

close_stop:
	close(tap.stop_fd);
	tap.stop_fd = -1;
free_buffer:
	free(tap.tx_buffer);
	tap.tx_buffer = NULL;
	return rc;
}

void
tapnetif_stop(void)
{
	uint64_t one = 1;

	if (tap.stop_fd < 0)
		return;
	if (write(tap.stop_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("waking the TAP reader");
	pthread_join(tap.reader, NULL);
	close(tap.stop_fd);
	tap.stop_fd = -1;
}

bool
tapnetif_reading(void)
{
	return tap.reader_running;
}
