/*
 * stack_internal: what the files of lwip-port/ share with one another and
 * with no one else: the state they all read, the glue record of one
 * connection, and the calls between the files. Every call here needs the
 * core lock, except tapnetif_start(), tapnetif_stop() and tapnetif_reading(),
 * which stack.c makes without it.
 */
#ifndef LWIPD_STACK_INTERNAL_H
#define LWIPD_STACK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include <lwip/netif.h>
#include <lwip/tcp.h>

#include "frame.h"
#include "stack.h"

/* State more than one file reads. stack_start() fills it; after that it changes only under the core lock. */
struct stack_state {
	struct netif netif;
	struct stack_hooks hooks;
	uint32_t address;		/* network byte order, as are the next two */
	uint32_t netmask;
	uint32_t gateway;
	/* Only its counters: netif.c counts, stack_iface_info() fills in the rest. */
	struct stack_iface_info iface;
	struct stack_tcp_totals totals;	/* tcpglue.c and faultpath.c count */
	bool lwip_raw;			/* no RFC 9293 drops before lwIP */
	bool capturing;			/* the frame hook is on */
};

extern struct stack_state stack_state;

struct arpwait;
struct stack_listener;

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
	struct arpwait *arp_wait;	/* set while the SYN waits for ARP */
	struct stack_tcp *arp_prev, *arp_next;
	struct stack_listener *listener;	/* set while a passive open is mid-handshake */
	struct stack_tcp *handshake_prev, *handshake_next;
	struct stack_tcp *tw_prev, *tw_next;	/* in TIME_WAIT, newest first as in lwIP's list */
	struct pbuf *held;		/* received data the owner did not take yet */
	uint32_t iss, irs;		/* read off the SYNs on the wire */
	bool iss_known, irs_known;
	bool gone;			/* reported CLOSED while a frame for it was in lwIP */
	UT_hash_handle hh;
};

/* What drives the event lwIP is handling now, for the causes it reports. */
struct glue_drive {
	bool active;
	struct tcpinfo_cause cause;
};

/* One inbound frame on its way through lwIP, as the glue follows it. */
struct glue_rx {
	struct stack_tcp *t;		/* the tracked connection of a TCP segment, or NULL */
	bool passive;			/* t was made for this SYN */
	uint8_t flags;			/* the segment's TCPINFO_FLAG_* */
	uint32_t seq;			/* and its sequence number */
	/* What lwIP had before, to tell what it accepted. */
	enum tcpinfo_state state_before;
	bool had_pcb;
	uint32_t rcv_nxt_before;
	struct glue_drive saved;
};

/* stack.c: makes lwIP's thread look at its timers again, after one was set from another thread. */
void stack_wake_core(void);

/* tcpglue.c: the TCP connections. */
struct tcpinfo_cause glue_cause(enum tcpinfo_cause_kind kind, uint8_t flags);
struct stack_tcp *glue_find(uint64_t key);
void glue_track(struct stack_tcp *t);
void glue_untrack(struct stack_tcp *t);
void glue_set_callbacks(struct tcp_pcb *pcb, struct stack_tcp *t);
int glue_tcp_start(struct stack_tcp *t);
void glue_tcp_finish(struct stack_tcp *t, struct tcpinfo_cause cause);
void glue_segment_out(const struct frame_tcp *seg, struct stack_segment *report);
struct stack_tcp *glue_segment_owner(const struct frame_tcp *seg, bool outbound);
enum tcpinfo_state glue_state(const struct stack_tcp *t);
void glue_sync_state(struct stack_tcp *t, struct tcpinfo_cause cause);
void glue_report_segment(struct stack_tcp *t, const struct frame_tcp *seg, bool outbound,
    struct stack_segment *report);
void glue_input_begin(struct stack_tcp *t, struct glue_drive *saved, struct tcpinfo_cause cause);
void glue_input_end(const struct glue_drive *saved);

/* tcplisten.c: listeners and the passive opens they make. */
bool glue_listening(uint16_t port);
void glue_handshake_done(struct stack_tcp *t);
int glue_passive_begin(const struct frame_tcp *seg, struct stack_tcp **t);
void glue_passive_end(struct stack_tcp *t, struct tcpinfo_cause cause);

/* tcprx.c: the inbound half of the glue. */
int glue_rx_segment(const struct frame_tcp *seg, struct glue_rx *rx, struct stack_segment *report);
void glue_rx_dropped(struct glue_rx *rx);
bool glue_rx_unsafe(const struct glue_rx *rx);
void glue_rx_begin(struct glue_rx *rx);
void glue_rx_end(struct glue_rx *rx);

/* faultpath.c: fault verdicts carried out on frames. */
int faultpath_start(size_t hold_max, size_t hold_bytes);
void faultpath_stop(void);
err_t faultpath_output(const uint8_t *frame, size_t len);
void faultpath_input(const uint8_t *frame, size_t len, const struct frame_tcp *seg);

/* tcpdata.c: lwIP's recv and sent callbacks of a tracked connection. */
err_t tcpdata_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
err_t tcpdata_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len);

/* netif.c: the TAP netif and its reader thread. */
int tapnetif_start(const struct stack_config *cfg);
void tapnetif_stop(void);
bool tapnetif_reading(void);
err_t tapnetif_write(const uint8_t *frame, size_t len);
void tapnetif_feed(const uint8_t *frame, size_t len, struct glue_rx *rx);
/* The TAP reader's handling of one frame; tests/fuzz/fuzz_frames.c calls it too. */
void tapnetif_input(const uint8_t *frame, size_t len);

/* ports.c: local ports of active opens. */
int ports_use_add(uint16_t port);
void ports_use_release(uint16_t port);
bool ports_used(uint16_t port);
bool ports_taken(uint32_t remote_ip, uint16_t local_port, uint16_t remote_port);
int ports_pick(uint32_t remote_ip, uint16_t remote_port, uint16_t *out);

/* arpwait.c: active opens whose SYN waits for ARP. */
bool arpwait_resolved(uint32_t next_hop);
int arpwait_add(struct stack_tcp *t, uint32_t next_hop);
void arpwait_remove(struct stack_tcp *t);
void arpwait_frame(const uint8_t *frame, size_t len);

#endif
