/*
 * pcapng: a writer of pcapng captures (draft-ietf-opsawg-pcapng) for
 * Wireshark: one section, one Ethernet interface with microsecond
 * timestamps, and one Enhanced Packet Block per frame with an optional
 * UTF-8 comment, which Wireshark shows as frame.comment.
 *
 * Pure and bounded: blocks are written into the caller's buffer, either a
 * whole file at once (pcapng_file) or a live stream block by block (the
 * header once, then one packet at a time). Everything is little-endian
 * and padded to 32 bits.
 */
#ifndef LWIPD_PCAPNG_H
#define LWIPD_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

/* The largest snap length a writer accepts, as tcpdump's default. */
#define PCAPNG_SNAPLEN_MAX 262144u
/* Names, descriptions and comments are cut (at a UTF-8 boundary) to these many bytes. */
#define PCAPNG_IFNAME_MAX 64u
#define PCAPNG_COMMENT_MAX 1024u

/* The MIME type of a pcapng file; application/vnd.tcpdump.pcap is the older pcap format's. */
#define PCAPNG_CONTENT_TYPE "application/x-pcapng"

/* The interface every packet is on, and the application that wrote the section. */
struct pcapng_interface {
	const char *name;	/* if_name, e.g. "tap0"; NULL for none */
	const char *description;	/* if_description; NULL for none */
	const char *application;	/* the section's shb_userappl; NULL for none */
	uint32_t snaplen;	/* 1..PCAPNG_SNAPLEN_MAX */
};

struct pcapng_packet {
	uint64_t ts_us;		/* microseconds since the epoch or any origin */
	const uint8_t *data;	/* the captured bytes, from the Ethernet header on */
	uint32_t captured;	/* at most the interface's snaplen */
	uint32_t original;	/* the frame's length on the wire, at least captured */
	const char *comment;	/* UTF-8, NUL-terminated; NULL or "" for none */
};

/* Bytes pcapng_header() writes for iface. */
size_t pcapng_header_size(const struct pcapng_interface *iface);

/* Bytes pcapng_packet() writes for packet. */
size_t pcapng_packet_size(const struct pcapng_packet *packet);

/*
 * Writes the Section Header Block and the Interface Description Block into
 * buf, cap bytes long, and sets *len. Returns 0, -EINVAL (snaplen out of
 * range) or -ENOSPC (buf too small; nothing useful is written).
 */
int pcapng_header(const struct pcapng_interface *iface, uint8_t *buf, size_t cap, size_t *len);

/*
 * Writes one Enhanced Packet Block on interface 0 into buf and sets *len.
 * Returns 0, -EINVAL (captured above original or above
 * PCAPNG_SNAPLEN_MAX), or -ENOSPC.
 */
int pcapng_packet(const struct pcapng_packet *packet, uint8_t *buf, size_t cap, size_t *len);

/*
 * A whole capture: the header blocks and count packets. *out is malloc'd,
 * *len its length. Returns 0, -EINVAL or -ENOMEM.
 */
int pcapng_file(const struct pcapng_interface *iface, const struct pcapng_packet *packets,
    size_t count, uint8_t **out, size_t *len);

#endif
