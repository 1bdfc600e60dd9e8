/*
 * frame: reads Ethernet, ARP, IPv4 and TCP headers without lwIP, to classify
 * each frame before lwIP sees it and to find its connection.
 */
#include "frame.h"

#include <errno.h>
#include <string.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define IP_PROTO_TCP 6
#define IP_PROTO_UDPLITE 136

static uint16_t
read16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
read32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* The Internet checksum (RFC 1071) of the pseudo-header and the TCP segment; 0 when it verifies. */
static uint16_t
tcp_checksum(const uint8_t *ip, const uint8_t *tcp, size_t tcp_len)
{
	uint32_t sum = 0;

	for (int i = 12; i < 20; i += 2)
		sum += read16(ip + i);
	sum += IP_PROTO_TCP + (uint32_t)tcp_len;
	for (size_t i = 0; i + 1 < tcp_len; i += 2)
		sum += read16(tcp + i);
	if (tcp_len & 1)
		sum += (uint32_t)tcp[tcp_len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

enum frame_kind
frame_classify(const uint8_t *frame, size_t len, struct frame_tcp *tcp)
{
	const uint8_t *ip;
	size_t ip_header_len, ip_total_len;
	uint32_t sender;

	if (len < FRAME_ETH_HEADER_LEN)
		return FRAME_MALFORMED;
	switch (read16(frame + 12)) {
	case ETHERTYPE_ARP:
		return frame_parse_arp_sender(frame, len, &sender) == 0 ? FRAME_ARP : FRAME_MALFORMED;
	case ETHERTYPE_IPV4:
		break;
	default:
		return FRAME_OTHER;
	}
	if (len < FRAME_ETH_HEADER_LEN + 20)
		return FRAME_MALFORMED;
	ip = frame + FRAME_ETH_HEADER_LEN;
	ip_header_len = (size_t)(ip[0] & 0x0f) * 4;
	ip_total_len = read16(ip + 2);
	if ((ip[0] >> 4) != 4 || ip_header_len < 20 || ip_total_len < ip_header_len ||
	    ip_total_len > len - FRAME_ETH_HEADER_LEN)
		return FRAME_MALFORMED;
	/* More-fragments set or a non-zero offset. */
	if ((read16(ip + 6) & 0x3fff) != 0)
		return FRAME_IPV4_FRAGMENT;
	/*
	 * lwIP 2.1.3 trusts UDP-Lite's checksum coverage: one longer than the
	 * datagram fails an assertion in inet_chksum.c, which aborts the
	 * daemon. lwipd serves no UDP-Lite, so lwIP never sees it.
	 */
	if (ip[9] == IP_PROTO_UDPLITE)
		return FRAME_OTHER;
	if (ip[9] != IP_PROTO_TCP)
		return FRAME_IPV4;
	return frame_parse_tcp(frame, len, tcp) == 0 ? FRAME_TCP : FRAME_MALFORMED;
}

int
frame_parse_tcp(const uint8_t *frame, size_t len, struct frame_tcp *out)
{
	const uint8_t *ip, *tcp;
	size_t ip_header_len, ip_total_len, tcp_header_len;

	if (len < FRAME_ETH_HEADER_LEN + 20 || read16(frame + 12) != ETHERTYPE_IPV4)
		return -EINVAL;
	ip = frame + FRAME_ETH_HEADER_LEN;
	ip_header_len = (size_t)(ip[0] & 0x0f) * 4;
	ip_total_len = read16(ip + 2);
	if ((ip[0] >> 4) != 4 || ip_header_len < 20 || ip[9] != IP_PROTO_TCP)
		return -EINVAL;
	/* More-fragments set or a non-zero offset: the TCP header may be elsewhere. */
	if ((read16(ip + 6) & 0x3fff) != 0)
		return -EINVAL;
	if (ip_total_len < ip_header_len + 20 || ip_total_len > len - FRAME_ETH_HEADER_LEN)
		return -EINVAL;
	tcp = ip + ip_header_len;
	tcp_header_len = (size_t)(tcp[12] >> 4) * 4;
	if (tcp_header_len < 20 || ip_header_len + tcp_header_len > ip_total_len)
		return -EINVAL;

	memcpy(&out->src_ip, ip + 12, 4);
	memcpy(&out->dst_ip, ip + 16, 4);
	out->src_port = read16(tcp);
	out->dst_port = read16(tcp + 2);
	out->seq = read32(tcp + 4);
	out->ack = read32(tcp + 8);
	out->flags = tcp[13];
	out->window = read16(tcp + 14);
	out->payload_len = (uint32_t)(ip_total_len - ip_header_len - tcp_header_len);
	out->checksum_ok = tcp_checksum(ip, tcp, ip_total_len - ip_header_len) == 0;
	out->frame = frame;
	out->frame_len = len;
	out->headers_len = FRAME_ETH_HEADER_LEN + ip_header_len + tcp_header_len;
	return 0;
}

int
frame_parse_arp_sender(const uint8_t *frame, size_t len, uint32_t *sender_ip)
{
	const uint8_t *arp = frame + FRAME_ETH_HEADER_LEN;

	if (len < FRAME_ETH_HEADER_LEN + 28 || read16(frame + 12) != ETHERTYPE_ARP)
		return -EINVAL;
	/* Ethernet hardware, IPv4 protocol, 6- and 4-byte addresses. */
	if (read16(arp) != 1 || read16(arp + 2) != ETHERTYPE_IPV4 || arp[4] != 6 || arp[5] != 4)
		return -EINVAL;
	memcpy(sender_ip, arp + 14, 4);
	return 0;
}
