/*
 * arpwait: holds back the SYN of each active open until ARP has resolved
 * its next hop.
 *
 * DESIGN
 *
 * An active open whose next hop is not in the ARP cache waits here, not in
 * lwIP's ARP queue, which holds only ARP_QUEUE_LEN packets and drops the rest.
 * It is reported in SYN_SENT meanwhile, as a kernel reports a socket whose
 * SYN waits for neighbour resolution; tcp_connect() runs once ARP answers.
 * The opens are grouped by next hop, so one ARP reply starts all of them,
 * and one timer asks again for every hop still unanswered, giving up after
 * ARP_TRIES.
 */
#include <errno.h>
#include <stdlib.h>
#include <utlist.h>

#include <lwip/etharp.h>
#include <lwip/timeouts.h>

#include "stack_internal.h"

#define ARP_RETRY_MS 1000u
#define ARP_TRIES 3

/* Active opens waiting for one next hop to answer ARP. */
struct arpwait {
	uint32_t next_hop;
	int tries;
	struct stack_tcp *waiting;
	UT_hash_handle hh;
};

static struct arpwait *arp_waits;	/* by next hop */
static bool arp_timer_armed;

bool
arpwait_resolved(uint32_t next_hop)
{
	ip4_addr_t addr = { .addr = next_hop };
	struct eth_addr *eth;
	const ip4_addr_t *ip;

	return etharp_find_addr(&stack_state.netif, &addr, &eth, &ip) >= 0;
}

void
arpwait_remove(struct stack_tcp *t)
{
	struct arpwait *wait = t->arp_wait;

	if (wait == NULL)
		return;
	DL_DELETE2(wait->waiting, t, arp_prev, arp_next);
	t->arp_wait = NULL;
	if (wait->waiting == NULL) {
		HASH_DEL(arp_waits, wait);
		free(wait);
	}
}

/* Starts every open waiting on next_hop, or fails them all when ARP gave up. */
static void
arp_wait_release(struct arpwait *wait, bool resolved)
{
	struct stack_tcp *t, *tmp;
	int rc;

	HASH_DEL(arp_waits, wait);
	DL_FOREACH_SAFE2(wait->waiting, t, tmp, arp_next) {
		t->arp_wait = NULL;
		rc = resolved ? glue_tcp_start(t) : -EHOSTUNREACH;
		if (rc < 0)
			glue_tcp_finish(t, glue_cause(resolved ? TCPINFO_CAUSE_API_OPEN :
			    TCPINFO_CAUSE_ARP_UNRESOLVED, 0));
	}
	free(wait);
}

static void
arp_retry_timer(void *arg)
{
	struct arpwait *wait, *tmp;

	(void)arg;
	arp_timer_armed = false;
	HASH_ITER(hh, arp_waits, wait, tmp) {
		ip4_addr_t addr = { .addr = wait->next_hop };

		if (++wait->tries >= ARP_TRIES)
			arp_wait_release(wait, false);
		else
			etharp_request(&stack_state.netif, &addr);
	}
	if (arp_waits != NULL) {
		sys_timeout(ARP_RETRY_MS, arp_retry_timer, NULL);
		arp_timer_armed = true;
	}
}

int
arpwait_add(struct stack_tcp *t, uint32_t next_hop)
{
	struct arpwait *wait;

	HASH_FIND(hh, arp_waits, &next_hop, sizeof(next_hop), wait);
	if (wait == NULL) {
		ip4_addr_t addr = { .addr = next_hop };

		wait = calloc(1, sizeof(*wait));
		if (wait == NULL)
			return -ENOMEM;
		wait->next_hop = next_hop;
		HASH_ADD(hh, arp_waits, next_hop, sizeof(wait->next_hop), wait);
		etharp_query(&stack_state.netif, &addr, NULL);
	}
	DL_APPEND2(wait->waiting, t, arp_prev, arp_next);
	t->arp_wait = wait;
	if (!arp_timer_armed) {
		sys_timeout(ARP_RETRY_MS, arp_retry_timer, NULL);
		arp_timer_armed = true;
	}
	return 0;
}

/* After lwIP has handled a frame: an ARP frame from a hop that opens wait for starts them. */
void
arpwait_frame(const uint8_t *frame, size_t len)
{
	struct arpwait *wait;
	uint32_t sender;

	if (arp_waits == NULL || frame_parse_arp_sender(frame, len, &sender) < 0)
		return;
	HASH_FIND(hh, arp_waits, &sender, sizeof(sender), wait);
	if (wait != NULL && arpwait_resolved(sender))
		arp_wait_release(wait, true);
}
