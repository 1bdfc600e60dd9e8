/*
 * DESIGN: one writer serves both sizing and writing. A cursor with no
 * buffer only counts, so pcapng_*_size() and the writers cannot disagree
 * on a block's length; a cursor with a buffer refuses to go past its end
 * and remembers that it did.
 */
#include "pcapng.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 0x00000001u
#define PCAPNG_EPB 0x00000006u
#define PCAPNG_BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define PCAPNG_LINKTYPE_ETHERNET 1u

#define OPT_ENDOFOPT 0u
#define OPT_COMMENT 1u
#define SHB_USERAPPL 4u
#define IF_NAME 2u
#define IF_DESCRIPTION 3u
#define IF_TSRESOL 9u
/* if_tsresol 6: timestamps count 10^-6 s. */
#define TSRESOL_MICRO 6u

struct cursor {
	uint8_t *buf;	/* NULL: count only */
	size_t cap;
	size_t used;
	bool overflow;
};

static void
put_bytes(struct cursor *c, const void *data, size_t len)
{
	if (c->buf != NULL) {
		if (len > c->cap - c->used) {
			c->overflow = true;
			return;
		}
		if (len > 0)
			memcpy(c->buf + c->used, data, len);
	}
	c->used += len;
}

static void
put_u16(struct cursor *c, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	put_bytes(c, b, sizeof(b));
}

static void
put_u32(struct cursor *c, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	put_bytes(c, b, sizeof(b));
}

/* Zeros up to the next multiple of four bytes. */
static void
put_padding(struct cursor *c, size_t len)
{
	static const uint8_t zeros[3];

	put_bytes(c, zeros, (4 - len % 4) % 4);
}

/* Overwrites the four bytes written earlier at offset at: a block's length, known at its end. */
static void
patch_u32(struct cursor *c, size_t at, uint32_t v)
{
	if (c->buf == NULL || c->overflow)
		return;
	c->buf[at] = (uint8_t)v;
	c->buf[at + 1] = (uint8_t)(v >> 8);
	c->buf[at + 2] = (uint8_t)(v >> 16);
	c->buf[at + 3] = (uint8_t)(v >> 24);
}

/* Starts a block: its type and a length filled in by block_end(). Returns where it starts. */
static size_t
block_begin(struct cursor *c, uint32_t type)
{
	size_t start = c->used;

	put_u32(c, type);
	put_u32(c, 0);
	return start;
}

/* Ends a block with its total length, repeated at its end as the format wants. */
static void
block_end(struct cursor *c, size_t start)
{
	uint32_t total = (uint32_t)(c->used + 4 - start);

	put_u32(c, total);
	patch_u32(c, start + 4, total);
}

/* The length of text cut to max bytes, not splitting a UTF-8 sequence. */
static size_t
utf8_cut(const char *text, size_t max)
{
	size_t len = strnlen(text, max + 1);

	if (len <= max)
		return len;
	len = max;
	/* Back off continuation bytes (10xxxxxx) so the cut falls before a character. */
	while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
		len--;
	return len;
}

static void
put_option(struct cursor *c, uint16_t code, const void *value, size_t len)
{
	put_u16(c, code);
	put_u16(c, (uint16_t)len);
	put_bytes(c, value, len);
	put_padding(c, len);
}

static void
put_text_option(struct cursor *c, uint16_t code, const char *text, size_t max)
{
	put_option(c, code, text, utf8_cut(text, max));
}

static void
write_header(struct cursor *c, const struct pcapng_interface *iface)
{
	static const uint8_t tsresol = TSRESOL_MICRO;
	size_t start;

	start = block_begin(c, PCAPNG_SHB);
	put_u32(c, PCAPNG_BYTE_ORDER_MAGIC);
	put_u16(c, 1);		/* major version */
	put_u16(c, 0);		/* minor version */
	put_u32(c, 0xFFFFFFFFu);	/* section length: not given */
	put_u32(c, 0xFFFFFFFFu);
	if (iface->application != NULL && iface->application[0] != '\0') {
		put_text_option(c, SHB_USERAPPL, iface->application, PCAPNG_IFNAME_MAX);
		put_option(c, OPT_ENDOFOPT, NULL, 0);
	}
	block_end(c, start);

	start = block_begin(c, PCAPNG_IDB);
	put_u16(c, PCAPNG_LINKTYPE_ETHERNET);
	put_u16(c, 0);		/* reserved */
	put_u32(c, iface->snaplen);
	if (iface->name != NULL && iface->name[0] != '\0')
		put_text_option(c, IF_NAME, iface->name, PCAPNG_IFNAME_MAX);
	if (iface->description != NULL && iface->description[0] != '\0')
		put_text_option(c, IF_DESCRIPTION, iface->description, PCAPNG_COMMENT_MAX);
	put_option(c, IF_TSRESOL, &tsresol, sizeof(tsresol));
	put_option(c, OPT_ENDOFOPT, NULL, 0);
	block_end(c, start);
}

static void
write_packet(struct cursor *c, const struct pcapng_packet *packet)
{
	size_t start = block_begin(c, PCAPNG_EPB);

	put_u32(c, 0);		/* interface id */
	put_u32(c, (uint32_t)(packet->ts_us >> 32));
	put_u32(c, (uint32_t)packet->ts_us);
	put_u32(c, packet->captured);
	put_u32(c, packet->original);
	put_bytes(c, packet->data, packet->captured);
	put_padding(c, packet->captured);
	if (packet->comment != NULL && packet->comment[0] != '\0') {
		put_text_option(c, OPT_COMMENT, packet->comment, PCAPNG_COMMENT_MAX);
		put_option(c, OPT_ENDOFOPT, NULL, 0);
	}
	block_end(c, start);
}

static bool
interface_valid(const struct pcapng_interface *iface)
{
	return iface->snaplen >= 1 && iface->snaplen <= PCAPNG_SNAPLEN_MAX;
}

static bool
packet_valid(const struct pcapng_packet *packet)
{
	return packet->captured <= packet->original && packet->captured <= PCAPNG_SNAPLEN_MAX &&
	    (packet->data != NULL || packet->captured == 0);
}

size_t
pcapng_header_size(const struct pcapng_interface *iface)
{
	struct cursor c = { 0 };

	write_header(&c, iface);
	return c.used;
}

size_t
pcapng_packet_size(const struct pcapng_packet *packet)
{
	struct cursor c = { 0 };

	write_packet(&c, packet);
	return c.used;
}

int
pcapng_header(const struct pcapng_interface *iface, uint8_t *buf, size_t cap, size_t *len)
{
	struct cursor c = { .buf = buf, .cap = cap };

	if (!interface_valid(iface))
		return -EINVAL;
	write_header(&c, iface);
	if (c.overflow)
		return -ENOSPC;
	*len = c.used;
	return 0;
}

int
pcapng_packet(const struct pcapng_packet *packet, uint8_t *buf, size_t cap, size_t *len)
{
	struct cursor c = { .buf = buf, .cap = cap };

	if (!packet_valid(packet))
		return -EINVAL;
	write_packet(&c, packet);
	if (c.overflow)
		return -ENOSPC;
	*len = c.used;
	return 0;
}

int
pcapng_file(const struct pcapng_interface *iface, const struct pcapng_packet *packets,
    size_t count, uint8_t **out, size_t *len)
{
	struct cursor c = { 0 };
	size_t i;

	if (!interface_valid(iface))
		return -EINVAL;
	for (i = 0; i < count; i++) {
		if (!packet_valid(&packets[i]) || packets[i].captured > iface->snaplen)
			return -EINVAL;
	}
	write_header(&c, iface);
	for (i = 0; i < count; i++)
		write_packet(&c, &packets[i]);
	c.cap = c.used;
	c.used = 0;
	c.buf = malloc(c.cap > 0 ? c.cap : 1);
	if (c.buf == NULL)
		return -ENOMEM;
	write_header(&c, iface);
	for (i = 0; i < count; i++)
		write_packet(&c, &packets[i]);
	*out = c.buf;
	*len = c.used;
	return 0;
}
