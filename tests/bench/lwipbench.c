/*
 * lwipbench: lwIP's own cost per handshake, in-process, with no daemon, TAP
 * or mailbox around it. Two netifs of one lwIP stack are wired to each
 * other in memory: what one sends is queued and fed to the other's
 * ip4_input() by this thread, under the core lock. Listeners on one side,
 * active opens from the other, K in flight; each established connection is
 * closed with a RST (tcp_abort), so nothing lingers in TIME_WAIT. Before
 * each measurement, connections are opened and held until H are open, so
 * the rate is measured with H connections (2H PCBs: both ends are lwIP's)
 * on lwIP's lists. Prints one JSON line per H.
 *
 * lwipbench --held H[,H...] --count N [--in-flight K] [--seconds T]
 *           [--hold-seconds T]
 *
 * --seconds bounds each measurement, --hold-seconds each climb to the next
 * H (slow: every SYN walks the whole list); progress goes to stderr.
 */
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/init.h>
#include <lwip/ip4.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>

#include "benchutil.h"
#include "latency.h"

#define PROG "lwipbench"
#define HELD_LEVELS_MAX 16
#define IN_FLIGHT_MAX 4096u
#define QUEUE_LEN 65536u	/* packets between the netifs; a power of two */
#define LISTENERS 8u		/* remote ports, so tuples never run out */
#define FIRST_REMOTE_PORT 7000u
#define FIRST_LOCAL_PORT 1024u
#define LOCAL_PORTS 64000u

static struct {
	unsigned long held[HELD_LEVELS_MAX];
	size_t nheld;
	unsigned long count, in_flight, seconds, hold_seconds;
} opt = { .in_flight = 128, .seconds = 30, .hold_seconds = 300 };

/* The client's netif (10.1.0.1) and the server's (10.2.0.1). */
static struct netif nif_client, nif_server;

/* Packets on the wire between them, in order. */
static struct {
	struct pbuf *p[QUEUE_LEN];
	struct netif *to[QUEUE_LEN];
	unsigned long head, tail, dropped;
} wire;

enum slot_state { SLOT_FREE, SLOT_CONNECTING, SLOT_ESTABLISHED, SLOT_FAILED };

struct slot {
	struct tcp_pcb *pcb;
	enum slot_state state;
};

static unsigned long long tuple_seq, accepted;

static void
usage(void)
{
	fprintf(stderr, "usage: " PROG " --held H[,H...] --count N [--in-flight K] [--seconds T] "
	    "[--hold-seconds T]\n");
	exit(2);
}

static void
parse_held(const char *text)
{
	char buf[256], *save = NULL;

	if (strlen(text) >= sizeof(buf))
		usage();
	strcpy(buf, text);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (opt.nheld == HELD_LEVELS_MAX)
			usage();
		opt.held[opt.nheld] = arg_ulong("--held", t, PROG);
		if (opt.nheld > 0 && opt.held[opt.nheld] < opt.held[opt.nheld - 1])
			usage();	/* held connections are only added */
		opt.nheld++;
	}
}

static void
parse_args(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (!strcmp(a, "--held"))
			parse_held(v);
		else if (!strcmp(a, "--count"))
			opt.count = arg_ulong(a, v, PROG);
		else if (!strcmp(a, "--in-flight"))
			opt.in_flight = arg_ulong(a, v, PROG);
		else if (!strcmp(a, "--seconds"))
			opt.seconds = arg_ulong(a, v, PROG);
		else if (!strcmp(a, "--hold-seconds"))
			opt.hold_seconds = arg_ulong(a, v, PROG);
		else
			usage();
	}
	if (argc % 2 == 0 || opt.nheld == 0 || opt.in_flight == 0 || opt.in_flight > IN_FLIGHT_MAX)
		usage();
}

/* A netif's output: a copy goes on the wire to the other netif. */
static err_t
pair_output(struct netif *netif, struct pbuf *p, const ip4_addr_t *dest)
{
	struct pbuf *copy;

	(void)dest;
	if (wire.tail - wire.head == QUEUE_LEN) {
		wire.dropped++;
		return ERR_OK;
	}
	/* lwIP keeps p for retransmission: the wire needs its own copy. */
	copy = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
	if (copy == NULL) {
		wire.dropped++;
		return ERR_OK;
	}
	wire.p[wire.tail % QUEUE_LEN] = copy;
	wire.to[wire.tail % QUEUE_LEN] = netif == &nif_client ? &nif_server : &nif_client;
	wire.tail++;
	return ERR_OK;
}

static err_t
pair_init(struct netif *netif)
{
	netif->output = pair_output;
	netif->mtu = 1500;
	/*
	 * No BROADCAST flag: with it lwIP would not treat the gateway as a
	 * point-to-point peer, and a destination that is a local address would
	 * be looped back through lwIP's mailbox instead of this wire.
	 */
	netif->flags = NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

/* Delivers everything on the wire, including what the deliveries send. */
static void
pump(void)
{
	while (wire.head != wire.tail) {
		struct pbuf *p = wire.p[wire.head % QUEUE_LEN];
		struct netif *to = wire.to[wire.head % QUEUE_LEN];

		wire.head++;
		ip4_input(p, to);
	}
}

static err_t
on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	(void)pcb;
	if (err == ERR_OK)
		accepted++;
	return ERR_OK;
}

static err_t
on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct slot *s = arg;

	(void)pcb;
	s->state = err == ERR_OK ? SLOT_ESTABLISHED : SLOT_FAILED;
	return ERR_OK;
}

/* lwIP freed the PCB (a RST, or it gave up). */
static void
on_error(void *arg, err_t err)
{
	struct slot *s = arg;

	(void)err;
	s->pcb = NULL;
	s->state = SLOT_FAILED;
}

static void
listen_all(void)
{
	for (unsigned int i = 0; i < LISTENERS; i++) {
		struct tcp_pcb *pcb = tcp_new();

		if (pcb == NULL || tcp_bind(pcb, netif_ip_addr4(&nif_server),
		    (u16_t)(FIRST_REMOTE_PORT + i)) != ERR_OK) {
			fprintf(stderr, PROG ": cannot bind listener %u\n", i);
			exit(1);
		}
		tcp_bind_netif(pcb, &nif_server);
		pcb = tcp_listen_with_backlog(pcb, 255);
		if (pcb == NULL) {
			fprintf(stderr, PROG ": cannot listen\n");
			exit(1);
		}
		tcp_accept(pcb, on_accept);
	}
}

/* Starts an active open in s on the next unused 4-tuple. */
static bool
open_one(struct slot *s)
{
	unsigned long long t = tuple_seq++;
	u16_t lport = (u16_t)(FIRST_LOCAL_PORT + t % LOCAL_PORTS);
	u16_t rport = (u16_t)(FIRST_REMOTE_PORT + (t / LOCAL_PORTS) % LISTENERS);
	struct tcp_pcb *pcb = tcp_new();

	if (pcb == NULL)
		return false;
	/* Ports are chosen here, as lwipd does: lwIP's allocator scans every list. */
	ip_set_option(pcb, SOF_REUSEADDR);
	tcp_bind_netif(pcb, &nif_client);
	tcp_arg(pcb, s);
	tcp_err(pcb, on_error);
	if (tcp_bind(pcb, netif_ip_addr4(&nif_client), lport) != ERR_OK ||
	    tcp_connect(pcb, netif_ip_addr4(&nif_server), rport, on_connected) != ERR_OK) {
		tcp_abort(pcb);
		return false;
	}
	s->pcb = pcb;
	s->state = SLOT_CONNECTING;
	return true;
}

static unsigned long
rss_kib(void)
{
	char line[256];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * Opens up to `total` connections in rounds of in_flight: open, deliver,
 * then either keep them (holding) or abort them. Returns how many
 * completed; *failed counts the rest. Called with the core lock held; lets
 * it go between rounds so lwIP's timers run.
 */
static unsigned long
rounds(struct slot *slots, unsigned long total, bool holding, uint64_t deadline,
    unsigned long *failed)
{
	unsigned long done = 0;
	uint64_t last_progress = now_us();

	*failed = 0;
	while (done + *failed < total && now_us() < deadline) {
		unsigned long n = total - done - *failed;

		if (now_us() - last_progress >= 5000000u) {
			last_progress = now_us();
			fprintf(stderr, PROG ": %s %lu of %lu\n", holding ? "holding" : "measured",
			    done, total);
		}

		if (n > opt.in_flight)
			n = opt.in_flight;
		for (unsigned long i = 0; i < n; i++) {
			slots[i].state = SLOT_FREE;
			slots[i].pcb = NULL;
			if (!open_one(&slots[i]))
				slots[i].state = SLOT_FAILED;
		}
		pump();
		for (unsigned long i = 0; i < n; i++) {
			struct tcp_pcb *pcb = slots[i].pcb;

			if (slots[i].state == SLOT_ESTABLISHED) {
				done++;
				tcp_err(pcb, NULL);	/* a held one outlives this slot */
				tcp_arg(pcb, NULL);
				if (!holding)
					tcp_abort(pcb);
			} else {
				(*failed)++;
				if (pcb) {
					tcp_err(pcb, NULL);
					tcp_abort(pcb);
				}
			}
		}
		pump();
		UNLOCK_TCPIP_CORE();
		LOCK_TCPIP_CORE();
	}
	return done;
}

static void
on_ready(void *arg)
{
	sem_post(arg);
}

int
main(int argc, char **argv)
{
	sem_t ready;
	ip4_addr_t c_ip, s_ip, mask;
	struct slot *slots;
	unsigned long held = 0;

	parse_args(argc, argv);
	slots = calloc(opt.in_flight, sizeof(*slots));
	if (slots == NULL)
		return 1;
	/* tcpip_init() returns before its thread runs; on_ready says it does. */
	sem_init(&ready, 0, 0);
	tcpip_init(on_ready, &ready);
	while (sem_wait(&ready) != 0)
		continue;

	LOCK_TCPIP_CORE();
	IP4_ADDR(&c_ip, 10, 1, 0, 1);
	IP4_ADDR(&s_ip, 10, 2, 0, 1);
	IP4_ADDR(&mask, 255, 255, 255, 255);
	/* Each netif's gateway is the other side: a point-to-point link. */
	if (netif_add(&nif_server, &s_ip, &mask, &c_ip, NULL, pair_init, ip4_input) == NULL ||
	    netif_add(&nif_client, &c_ip, &mask, &s_ip, NULL, pair_init, ip4_input) == NULL) {
		fprintf(stderr, PROG ": netif_add failed\n");
		return 1;
	}
	netif_set_up(&nif_server);
	netif_set_up(&nif_client);
	listen_all();

	for (size_t level = 0; level < opt.nheld; level++) {
		unsigned long failed, hold_failed, ok;
		unsigned long rss_before = rss_kib();
		uint64_t t0, elapsed;

		held += rounds(slots, opt.held[level] - held, true,
		    now_us() + opt.hold_seconds * 1000000u, &hold_failed);
		unsigned long rss_held = rss_kib();
		t0 = now_us();
		ok = rounds(slots, opt.count, false, t0 + opt.seconds * 1000000u, &failed);
		elapsed = now_us() - t0;
		printf("{\"tool\":\"lwipbench\",\"held\":%lu,\"pcbs\":%lu,\"hold_failed\":%lu,"
		    "\"count\":%lu,\"ok\":%lu,\"errors\":%lu,\"in_flight\":%lu,\"elapsed_s\":%.6f,"
		    "\"rate\":%.1f,\"rss_kib_before\":%lu,\"rss_kib_held\":%lu,\"tcp_pcb_bytes\":%zu,"
		    "\"wire_dropped\":%lu,\"accepted\":%llu}\n",
		    held, 2 * held + LISTENERS, hold_failed, opt.count, ok, failed, opt.in_flight,
		    elapsed / 1e6, elapsed ? (double)ok * 1e6 / (double)elapsed : 0.0,
		    rss_before, rss_held, sizeof(struct tcp_pcb), wire.dropped, accepted);
		fflush(stdout);
	}
	UNLOCK_TCPIP_CORE();
	free(slots);
	return 0;
}
