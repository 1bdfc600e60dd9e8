/*
 * frame: reads the headers of Ethernet frames without lwIP, so the glue can
 * find a frame's connection before and after lwIP handles it.
 */
#ifndef LWIPD_FRAME_H
#define LWIPD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_ETH_HEADER_LEN 14
#define FRAME_MAX_LEN 65550	/* the largest frame a TAP hands over */

/* The fields of one IPv4 TCP segment. Addresses in network order, the rest in host order. */
struct frame_tcp {
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;		/* TCPINFO_FLAG_* */
	uint16_t window;	/* as on the wire, unscaled */
	uint32_t payload_len;
	bool checksum_ok;	/* the TCP checksum over the pseudo-header verifies */
	const uint8_t *frame;	/* the parsed frame, and its length with any padding */
	size_t frame_len;
	size_t headers_len;	/* Ethernet, IPv4 and TCP, with their options */
};

/* What a frame from the TAP is, for the gate in front of lwIP. */
enum frame_kind {
	FRAME_ARP,
	FRAME_IPV4,		/* whole, with a header that holds together, not TCP */
	FRAME_TCP,		/* a whole IPv4 TCP segment whose headers parse */
	FRAME_IPV4_FRAGMENT,	/* lwIP would reassemble it behind the daemon's back */
	FRAME_MALFORMED,	/* IPv4 or ARP whose headers do not hold together */
	FRAME_OTHER,		/* IPv6, VLAN tags, UDP-Lite and every other protocol: lwipd serves IPv4 only */
};

/* Classifies a frame; for FRAME_TCP it also fills *tcp as frame_parse_tcp() does. */
enum frame_kind frame_classify(const uint8_t *frame, size_t len, struct frame_tcp *tcp);

/*
 * Parses an Ethernet frame carrying an unfragmented IPv4 TCP segment.
 * Returns 0, or -EINVAL for anything else (other protocols, fragments, truncation).
 */
int frame_parse_tcp(const uint8_t *frame, size_t len, struct frame_tcp *out);

/* Parses an ARP frame. Returns 0 and the sender's IPv4 address, or -EINVAL. */
int frame_parse_arp_sender(const uint8_t *frame, size_t len, uint32_t *sender_ip);

/* The lookup key of a connection seen from lwIP's side: one local address, so it is left out. */
static inline uint64_t
frame_conn_key(uint32_t remote_ip, uint16_t local_port, uint16_t remote_port)
{
	return ((uint64_t)remote_ip << 32) | ((uint64_t)local_port << 16) | remote_port;
}

#endif
