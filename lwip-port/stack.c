/*
 * stack: starts and stops lwIP on the TAP device, and holds what belongs to
 * the stack as a whole: the core lock, timers, health, the interface's
 * information and the TCP totals.
 *
 * DESIGN
 *
 * lwIP runs with NO_SYS=0 and core locking: tcpip_init() starts its core
 * thread, which runs lwIP's timers with the core lock held. Every other
 * thread calls into lwIP only between stack_lock() and stack_unlock(), and
 * each stack_* entry that needs the lock asserts it with
 * LWIP_ASSERT_CORE_LOCKED(), which this lwIP build makes abort on a
 * violation once the core thread runs.
 *
 * The rest of the port lives in one file per job: netif.c (the TAP netif,
 * its reader thread and the gate in front of lwIP), tcpglue.c (the glue of
 * each connection), ports.c (local ports), arpwait.c (SYNs held until ARP
 * answers), and lwip_private.h, the only place that touches lwIP's
 * internals.
 */
#include "stack.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <lwip/init.h>
#include <lwip/tcpip.h>
#include <lwip/timeouts.h>

#include "log.h"
#include "lwip_private.h"
#include "stack_internal.h"

struct stack_state stack_state;

/* tcpip_init() returns before its thread runs; stack_start() waits for this. */
static struct {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	bool done;
} core_ready = {
	.mutex = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
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

static void
wake_noop(void *arg)
{
	(void)arg;
}

/*
 * lwIP's thread sleeps until its next timer, computed when it went to
 * sleep: a timer set from another thread would wait for that. A message
 * wakes it, and it sleeps again until the earliest timer.
 */
void
stack_wake_core(void)
{
	if (tcpip_try_callback(wake_noop, NULL) != ERR_OK)
		log_debug("could not wake lwIP's thread; a new timer waits for its next one");
}

void
stack_timeout(uint32_t ms, void (*fn)(void *arg), void *arg)
{
	LWIP_ASSERT_CORE_LOCKED();
	sys_timeout(ms, fn, arg);
	stack_wake_core();
}

void
stack_untimeout(void (*fn)(void *arg), void *arg)
{
	LWIP_ASSERT_CORE_LOCKED();
	sys_untimeout(fn, arg);
}

static void
on_tcpip_ready(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&core_ready.mutex);
	core_ready.done = true;
	pthread_cond_signal(&core_ready.cond);
	pthread_mutex_unlock(&core_ready.mutex);
}

int
stack_start(const struct stack_config *cfg, const struct stack_hooks *hooks)
{
	unsigned int seed;
	int rc;

	stack_state.hooks = *hooks;
	stack_state.address = cfg->address;
	stack_state.netmask = htonl(0xffffffffu << (32 - cfg->prefix));
	stack_state.gateway = cfg->gateway;
	stack_state.lwip_raw = cfg->lwip_raw;

	/* lwIP's LWIP_RAND is rand(): unseeded, every restart would repeat its choices. */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned int)getpid() ^ (unsigned int)time(NULL);
	srand(seed);

	tcpip_init(on_tcpip_ready, NULL);
	pthread_mutex_lock(&core_ready.mutex);
	while (!core_ready.done)
		pthread_cond_wait(&core_ready.cond, &core_ready.mutex);
	pthread_mutex_unlock(&core_ready.mutex);

	LOCK_TCPIP_CORE();
	/* A random start makes the ISNs differ per run and per open. */
	lwpriv_set_tcp_ticks((uint32_t)rand());
	rc = faultpath_start(cfg->hold_max, cfg->hold_bytes);
	UNLOCK_TCPIP_CORE();
	if (rc < 0)
		return rc;
	return tapnetif_start(cfg);
}

/* After the reader: frames still held are let go with the TAP's last reads. */
void
stack_stop(void)
{
	tapnetif_stop();
	LOCK_TCPIP_CORE();
	faultpath_stop();
	UNLOCK_TCPIP_CORE();
}

/*
 * Reads state the core lock guards, so callers hold the lock for a true
 * answer (the engine does); without it the answer may be a moment old.
 */
bool
stack_healthy(void)
{
	return tapnetif_reading() && netif_is_up(&stack_state.netif) &&
	    netif_is_link_up(&stack_state.netif);
}

void
stack_tcp_totals(struct stack_tcp_totals *out)
{
	LWIP_ASSERT_CORE_LOCKED();
	*out = stack_state.totals;
}

void
stack_iface_info(struct stack_iface_info *out)
{
	const struct netif *netif = &stack_state.netif;

	LWIP_ASSERT_CORE_LOCKED();
	*out = stack_state.iface;
	memcpy(out->mac, netif->hwaddr, sizeof(out->mac));
	out->mtu = netif->mtu;
	out->up = netif_is_up(netif) && netif_is_link_up(netif);
}
