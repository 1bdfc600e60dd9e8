/*
 * fake_stack: the stack.h functions for in-process engine tests, and the
 * drivers that play lwIP's part. See fake_stack.h.
 */
#include "fake_stack.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * What stack.h lets a hook call back, enforced here so a test fails when
 * the engine breaks the contract. Timers are left out: the engine cancels a
 * wait's timer (stack_untimeout) when a hook wakes the wait.
 */
enum fake_allow {
	FAKE_ALLOW_ANY = 0,		/* sendable, or no hook running */
	FAKE_ALLOW_NO_END,		/* state_changed, not CLOSED: nothing that ends it */
	FAKE_ALLOW_TCB,			/* state_changed(CLOSED): stack_tcp_tcb only */
	FAKE_ALLOW_NONE			/* segment, segment_done, passive_*, accepted, received */
};

struct fake_timer {
	uint64_t due_us;
	void (*fn)(void *arg);
	void *arg;
	struct fake_timer *next;
};

static struct {
	struct stack_hooks hooks;
	pthread_mutex_t lock;
	bool locked;
	pthread_t holder;
	uint64_t now_us;
	struct fake_timer *timers;
	struct stack_tcp *tcps;
	struct stack_listener *listeners;
	struct stack_tcp *last_tcp;
	int fail_connect;
	enum fake_allow allow;		/* for the hook running now */
	uint16_t next_port;
	unsigned long locks;		/* stack_lock() calls since the reset */
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_port = 49152 };

static void
assert_locked(void)
{
	assert(fake.locked && pthread_equal(fake.holder, pthread_self()));
}

/* Asserts the lock, a live handle, and that the running hook may make a call of this kind. */
static void
assert_call(const struct stack_tcp *tcp, enum fake_allow needs)
{
	assert_locked();
	assert(tcp == NULL || !tcp->dead);
	assert(fake.allow <= needs && "stack.h does not let this hook make that call");
}

static void
assert_usable(const struct stack_tcp *tcp)
{
	assert(tcp != NULL);
	assert_call(tcp, FAKE_ALLOW_ANY);
}

/* Runs a hook with what it may call; hooks nest, as the glue's do. */
#define FAKE_HOOK(allowed, call) do {				\
	enum fake_allow saved_allow = fake.allow;		\
								\
	fake.allow = (allowed);					\
	call;							\
	fake.allow = saved_allow;				\
} while (0)

void
fake_stack_reset(void)
{
	struct stack_tcp *tcp, *next_tcp;
	struct stack_listener *listener, *next_listener;
	struct fake_timer *timer, *next_timer;

	for (tcp = fake.tcps; tcp != NULL; tcp = next_tcp) {
		next_tcp = tcp->next_fake;
		free(tcp->written);
		free(tcp->held);
		free(tcp);
	}
	for (listener = fake.listeners; listener != NULL; listener = next_listener) {
		next_listener = listener->next_fake;
		free(listener);
	}
	for (timer = fake.timers; timer != NULL; timer = next_timer) {
		next_timer = timer->next;
		free(timer);
	}
	fake.tcps = NULL;
	fake.listeners = NULL;
	fake.timers = NULL;
	fake.last_tcp = NULL;
	fake.now_us = 0;
	fake.locks = 0;
	fake.fail_connect = 0;
	fake.next_port = 49152;
}

uint64_t
fake_clock_us(void *arg)
{
	(void)arg;
	return fake.now_us;
}

void
fake_advance_ms(uint32_t ms)
{
	uint64_t until = fake.now_us + (uint64_t)ms * 1000u;
	struct fake_timer *timer;

	stack_lock();
	while ((timer = fake.timers) != NULL && timer->due_us <= until) {
		fake.timers = timer->next;
		fake.now_us = timer->due_us;
		timer->fn(timer->arg);
		free(timer);
	}
	fake.now_us = until;
	stack_unlock();
}

size_t
fake_timer_count(void)
{
	size_t n = 0;

	for (struct fake_timer *timer = fake.timers; timer != NULL; timer = timer->next)
		n++;
	return n;
}

void
fake_fail_next_connect(int rc)
{
	fake.fail_connect = rc;
}

struct stack_tcp *
fake_last_tcp(void)
{
	return fake.last_tcp;
}

size_t
fake_tcps_in(enum tcpinfo_state state, struct stack_tcp **out, size_t max)
{
	size_t n = 0;

	for (struct stack_tcp *tcp = fake.tcps; tcp != NULL && n < max; tcp = tcp->next_fake) {
		if (!tcp->dead && tcp->state == state)
			out[n++] = tcp;
	}
	return n;
}

struct stack_listener *
fake_listener(uint16_t port)
{
	for (struct stack_listener *l = fake.listeners; l != NULL; l = l->next_fake) {
		if (l->port == port)
			return l;
	}
	return NULL;
}

static struct stack_tcp *
tcp_new(void *owner, enum tcpinfo_state state)
{
	struct stack_tcp *tcp = calloc(1, sizeof(*tcp));

	assert(tcp != NULL);
	tcp->owner = owner;
	tcp->state = state;
	tcp->send_space = 8192;
	tcp->next_fake = fake.tcps;
	fake.tcps = tcp;
	fake.last_tcp = tcp;
	return tcp;
}

/*
 * Reports a change as the glue does, with the lock held. Like the glue, it
 * frees the handle only once the CLOSED report returns: the PCB is gone
 * (no TCB) but the handle is still the owner's during the call.
 */
static void
report(struct stack_tcp *tcp, enum tcpinfo_state state, struct tcpinfo_cause cause)
{
	tcp->state = state;
	if (state == TCPINFO_CLOSED)
		tcp->has_tcb = false;
	FAKE_HOOK(state == TCPINFO_CLOSED ? FAKE_ALLOW_TCB : FAKE_ALLOW_NO_END,
	    fake.hooks.state_changed(tcp->owner, state, cause));
	if (state == TCPINFO_CLOSED)
		tcp->dead = true;
}

void
fake_state(struct stack_tcp *tcp, enum tcpinfo_state state, struct tcpinfo_cause cause)
{
	stack_lock();
	report(tcp, state, cause);
	stack_unlock();
}

void
fake_segment(struct stack_tcp *tcp, bool outbound, uint8_t flags, uint32_t seq,
    uint32_t ack, uint32_t len, enum tcpinfo_state next)
{
	struct stack_segment segment = {
		.outbound = outbound, .flags = flags, .seq = seq, .ack = ack, .window = 65535,
		.payload_len = len, .state_before = tcp->state, .state_after = tcp->state,
	};

	stack_lock();
	FAKE_HOOK(FAKE_ALLOW_NONE, fake.hooks.segment(fake.hooks.arg, tcp->owner, &segment));
	if (!outbound) {
		struct stack_rx_outcome outcome = { .accepted_bytes = len };

		if (next != tcp->state)
			report(tcp, next, (struct tcpinfo_cause){ .kind = TCPINFO_CAUSE_RX, .flags = flags });
		FAKE_HOOK(FAKE_ALLOW_NONE, fake.hooks.segment_done(tcp->owner, &outcome));
	}
	stack_unlock();
}

size_t
fake_receive(struct stack_tcp *tcp, const void *data, size_t len)
{
	size_t taken;

	stack_lock();
	FAKE_HOOK(FAKE_ALLOW_NONE, taken = fake.hooks.received(tcp->owner, data, len));
	if (taken < len) {
		tcp->held = realloc(tcp->held, tcp->held_len + len - taken);
		assert(tcp->held != NULL);
		memcpy(tcp->held + tcp->held_len, (const uint8_t *)data + taken, len - taken);
		tcp->held_len += len - taken;
	}
	stack_unlock();
	return taken;
}

void
fake_sendable(struct stack_tcp *tcp, size_t space)
{
	stack_lock();
	tcp->send_space = space;
	fake.hooks.sendable(tcp->owner);
	stack_unlock();
}

struct stack_tcp *
fake_passive_open(struct stack_listener *listener, uint32_t remote_ip, uint16_t remote_port)
{
	struct stack_tcp *tcp;

	stack_lock();
	tcp = tcp_new(NULL, TCPINFO_LISTEN);
	tcp->remote_ip = remote_ip;
	tcp->remote_port = remote_port;
	tcp->local_port = listener->port;
	FAKE_HOOK(FAKE_ALLOW_NONE, tcp->owner = fake.hooks.passive_open(listener->owner, remote_ip,
	    remote_port, listener->port, tcp));
	if (tcp->owner == NULL) {
		tcp->dead = true;
		tcp = NULL;
	} else {
		report(tcp, TCPINFO_SYN_RCVD, (struct tcpinfo_cause){ .kind = TCPINFO_CAUSE_RX,
			.flags = TCPINFO_FLAG_SYN });
	}
	stack_unlock();
	return tcp;
}

void
fake_accept(struct stack_listener *listener, struct stack_tcp *tcp)
{
	stack_lock();
	/* As in the glue: lwIP's accept callback runs before the ESTABLISHED report. */
	FAKE_HOOK(FAKE_ALLOW_NONE, fake.hooks.accepted(listener->owner));
	report(tcp, TCPINFO_ESTABLISHED, (struct tcpinfo_cause){ .kind = TCPINFO_CAUSE_RX,
		.flags = TCPINFO_FLAG_ACK });
	stack_unlock();
}

const char *
stack_lwip_version(void)
{
	return "fake";
}

int
stack_start(const struct stack_config *cfg, const struct stack_hooks *hooks)
{
	(void)cfg;
	fake.hooks = *hooks;
	return 0;
}

void
stack_stop(void)
{
}

void
stack_lock(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.locked = true;
	fake.holder = pthread_self();
	fake.locks++;
}

unsigned long
fake_lock_count(void)
{
	return fake.locks;
}

void
stack_unlock(void)
{
	assert_locked();
	fake.locked = false;
	pthread_mutex_unlock(&fake.lock);
}

bool
stack_healthy(void)
{
	assert_locked();
	return true;
}

void
stack_iface_info(struct stack_iface_info *out)
{
	assert_locked();
	*out = (struct stack_iface_info){ .mac = { 0x02, 0, 0, 0, 0, 1 }, .mtu = 1500, .up = true };
}

void
stack_tcp_totals(struct stack_tcp_totals *out)
{
	assert_locked();
	*out = (struct stack_tcp_totals){ .in_segs = 0 };
}

void
stack_capture_frames(bool on)
{
	assert_locked();
	(void)on;
}

int
stack_tcp_connect(void *owner, uint32_t remote_ip, uint16_t remote_port,
    uint16_t local_port, struct stack_tcp **out, uint16_t *chosen_port)
{
	struct stack_tcp *tcp;
	int rc = fake.fail_connect;

	assert_call(NULL, FAKE_ALLOW_ANY);
	if (rc < 0) {
		fake.fail_connect = 0;
		return rc;
	}
	tcp = tcp_new(owner, TCPINFO_CLOSED);
	tcp->remote_ip = remote_ip;
	tcp->remote_port = remote_port;
	tcp->local_port = local_port != 0 ? local_port : fake.next_port++;
	*out = tcp;
	*chosen_port = tcp->local_port;
	report(tcp, TCPINFO_SYN_SENT, (struct tcpinfo_cause){ .kind = TCPINFO_CAUSE_API_OPEN });
	return 0;
}

/* The state a FIN sent from state leads to, or CLOSED when it sends none. */
static enum tcpinfo_state
after_fin(enum tcpinfo_state state)
{
	switch (state) {
	case TCPINFO_SYN_RCVD:
	case TCPINFO_ESTABLISHED:
		return TCPINFO_FIN_WAIT_1;
	case TCPINFO_CLOSE_WAIT:
		return TCPINFO_LAST_ACK;
	default:
		return TCPINFO_CLOSED;
	}
}

int
stack_tcp_close(struct stack_tcp *tcp, struct tcpinfo_cause cause)
{
	assert(tcp != NULL);
	assert_call(tcp, FAKE_ALLOW_NO_END);
	/* The glue goes on using a handle in SYN_SENT after its state hook. */
	assert(!(fake.allow == FAKE_ALLOW_NO_END && tcp->state == TCPINFO_SYN_SENT));
	if (tcp->state == TCPINFO_SYN_SENT) {
		report(tcp, TCPINFO_CLOSED, cause);
		return 0;
	}
	if (after_fin(tcp->state) == TCPINFO_CLOSED)
		return -EALREADY;
	report(tcp, after_fin(tcp->state), cause);
	return 0;
}

int
stack_tcp_shutdown_write(struct stack_tcp *tcp, struct tcpinfo_cause cause)
{
	assert(tcp != NULL);
	assert_call(tcp, FAKE_ALLOW_NO_END);
	if (after_fin(tcp->state) == TCPINFO_CLOSED)
		return -ENOTCONN;
	report(tcp, after_fin(tcp->state), cause);
	return 0;
}

static bool
can_send(const struct stack_tcp *tcp)
{
	return tcp->state == TCPINFO_ESTABLISHED || tcp->state == TCPINFO_CLOSE_WAIT;
}

size_t
stack_tcp_send_space(struct stack_tcp *tcp)
{
	assert(tcp != NULL);
	assert_call(tcp, FAKE_ALLOW_NO_END);
	return can_send(tcp) ? tcp->send_space : 0;
}

int
stack_tcp_write(struct stack_tcp *tcp, const void *data, size_t len, size_t *written)
{
	assert(tcp != NULL);
	assert_call(tcp, FAKE_ALLOW_NO_END);
	if (!can_send(tcp))
		return -ENOTCONN;
	if (len > tcp->send_space)
		len = tcp->send_space;
	tcp->written = realloc(tcp->written, tcp->written_len + len + 1);
	assert(tcp->written != NULL);
	memcpy(tcp->written + tcp->written_len, data, len);
	tcp->written_len += len;
	tcp->send_space -= len;
	*written = len;
	return 0;
}

void
stack_tcp_flush(struct stack_tcp *tcp)
{
	assert(tcp != NULL);
	assert_call(tcp, FAKE_ALLOW_NO_END);
	tcp->flushes++;
}

void
stack_tcp_deliver(struct stack_tcp *tcp)
{
	size_t taken;

	assert_usable(tcp);
	if (tcp->held_len == 0)
		return;
	FAKE_HOOK(FAKE_ALLOW_NONE, taken = fake.hooks.received(tcp->owner, tcp->held,
	    tcp->held_len));
	memmove(tcp->held, tcp->held + taken, tcp->held_len - taken);
	tcp->held_len -= taken;
}

bool
stack_tcp_tcb(struct stack_tcp *tcp, struct stack_tcb *out)
{
	assert(tcp != NULL);
	assert_call(tcp, FAKE_ALLOW_TCB);
	if (tcp->has_tcb)
		*out = tcp->tcb;
	return tcp->has_tcb;
}

int
stack_tcp_listen(void *owner, uint16_t port, uint32_t backlog, struct stack_listener **out)
{
	struct stack_listener *listener;

	assert_call(NULL, FAKE_ALLOW_ANY);
	if (fake_listener(port) != NULL)
		return -EADDRINUSE;
	listener = calloc(1, sizeof(*listener));
	if (listener == NULL)
		return -ENOMEM;
	*listener = (struct stack_listener){ .owner = owner, .port = port, .backlog = backlog,
		.next_fake = fake.listeners };
	fake.listeners = listener;
	*out = listener;
	return 0;
}

void
stack_tcp_unlisten(struct stack_listener *listener)
{
	struct stack_listener **at = &fake.listeners;

	assert_call(NULL, FAKE_ALLOW_ANY);
	while (*at != listener)
		at = &(*at)->next_fake;
	*at = listener->next_fake;
	free(listener);
}

void
stack_tcp_abort(struct stack_tcp *tcp, struct tcpinfo_cause cause)
{
	assert_usable(tcp);
	report(tcp, TCPINFO_CLOSED, cause);
}

void
stack_tcp_abort_all(struct tcpinfo_cause cause)
{
	assert_locked();
	for (struct stack_tcp *tcp = fake.tcps; tcp != NULL; tcp = tcp->next_fake) {
		if (!tcp->dead)
			report(tcp, TCPINFO_CLOSED, cause);
	}
}

void
stack_tcp_drop(struct stack_tcp *tcp, struct tcpinfo_cause cause)
{
	assert_usable(tcp);
	report(tcp, TCPINFO_CLOSED, cause);
}

void
stack_timeout(uint32_t ms, void (*fn)(void *arg), void *arg)
{
	struct fake_timer *timer = calloc(1, sizeof(*timer)), **at = &fake.timers;

	assert_locked();
	assert(timer != NULL);
	*timer = (struct fake_timer){ .due_us = fake.now_us + (uint64_t)ms * 1000u,
 .fn = fn, .arg = arg };
	/* Ties fire in the order they were set. */
	while (*at != NULL && (*at)->due_us <= timer->due_us)
		at = &(*at)->next;
	timer->next = *at;
	*at = timer;
}

void
stack_untimeout(void (*fn)(void *arg), void *arg)
{
	struct fake_timer **at = &fake.timers, *timer;

	assert_locked();
	while ((timer = *at) != NULL) {
		if (timer->fn == fn && timer->arg == arg) {
			*at = timer->next;
			free(timer);
			return;
		}
		at = &timer->next;
	}
}
