#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"
#include "tcpinfo.h"

/* Builds Ethernet + IPv4 (20 bytes) + TCP (20 bytes + options) + payload. Returns the length. */
static size_t
build_tcp_frame(uint8_t *buf, size_t tcp_options, size_t payload, uint8_t flags)
{
	size_t ip_len = 20 + 20 + tcp_options + payload;
	uint8_t *ip = buf + 14, *tcp = ip + 20;

	memset(buf, 0, 14 + ip_len);
	buf[12] = 0x08;
	buf[13] = 0x00;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[6] = 0x40;	/* don't fragment */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){ 10, 9, 0, 2 }, 4);
	memcpy(ip + 16, (uint8_t[]){ 10, 9, 0, 1 }, 4);
	tcp[0] = 0xc3; tcp[1] = 0x50;		/* 50000 */
	tcp[2] = 0x1b; tcp[3] = 0x58;		/* 7000 */
	memcpy(tcp + 4, (uint8_t[]){ 0x01, 0x02, 0x03, 0x04 }, 4);
	memcpy(tcp + 8, (uint8_t[]){ 0xa0, 0xb0, 0xc0, 0xd0 }, 4);
	tcp[12] = (uint8_t)(((20 + tcp_options) / 4) << 4);
	tcp[13] = flags;
	tcp[14] = 0xff; tcp[15] = 0xfe;
	return 14 + ip_len;
}

static void
parses_a_syn_with_options(void **unused)
{
	uint8_t buf[128];
	struct frame_tcp seg;
	size_t len = build_tcp_frame(buf, 12, 0, TCPINFO_FLAG_SYN);

	(void)unused;
	assert_int_equal(frame_parse_tcp(buf, len, &seg), 0);
	assert_int_equal(seg.src_ip, inet_addr("10.9.0.2"));
	assert_int_equal(seg.dst_ip, inet_addr("10.9.0.1"));
	assert_int_equal(seg.src_port, 50000);
	assert_int_equal(seg.dst_port, 7000);
	assert_int_equal(seg.seq, 0x01020304);
	assert_int_equal(seg.ack, 0xa0b0c0d0);
	assert_int_equal(seg.flags, TCPINFO_FLAG_SYN);
	assert_int_equal(seg.window, 0xfffe);
	assert_int_equal(seg.payload_len, 0);
}

static void
payload_excludes_ethernet_padding(void **unused)
{
	uint8_t buf[128];
	struct frame_tcp seg;
	size_t len = build_tcp_frame(buf, 0, 3, TCPINFO_FLAG_PSH | TCPINFO_FLAG_ACK);

	(void)unused;
	/* A short frame is padded to 60 bytes on the wire; the IP length still rules. */
	assert_int_equal(frame_parse_tcp(buf, 60, &seg), 0);
	assert_int_equal(len, 57);
	assert_int_equal(seg.payload_len, 3);
}

static void
rejects_what_is_not_a_whole_tcp_segment(void **unused)
{
	uint8_t buf[128];
	struct frame_tcp seg;
	size_t len = build_tcp_frame(buf, 0, 10, TCPINFO_FLAG_ACK);

	(void)unused;
	assert_int_equal(frame_parse_tcp(buf, len - 1, &seg), -EINVAL);	/* truncated */
	assert_int_equal(frame_parse_tcp(buf, 30, &seg), -EINVAL);
	buf[14 + 6] = 0x20;						/* more fragments */
	assert_int_equal(frame_parse_tcp(buf, len, &seg), -EINVAL);
	buf[14 + 6] = 0x40;
	buf[14 + 9] = 17;						/* UDP */
	assert_int_equal(frame_parse_tcp(buf, len, &seg), -EINVAL);
	buf[14 + 9] = 6;
	buf[14 + 20 + 12] = 0x40;					/* data offset 16 bytes */
	assert_int_equal(frame_parse_tcp(buf, len, &seg), -EINVAL);
	buf[14 + 20 + 12] = 0x50;
	buf[12] = 0x86;							/* IPv6 ethertype */
	assert_int_equal(frame_parse_tcp(buf, len, &seg), -EINVAL);
}

/* A SYN with three payload bytes and a correct checksum, as scapy builds it (odd length on purpose). */
static const uint8_t checked_syn[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0x00,
	0x00, 0x2b, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x66, 0xb8, 0x0a, 0x09, 0x00, 0x01, 0x0a, 0x09,
	0x00, 0x02, 0x1b, 0x58, 0x23, 0x28, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02,
	0xfa, 0xf0, 0xd5, 0x08, 0x00, 0x00, 0x68, 0x69, 0x21,
};

static void
verifies_the_tcp_checksum(void **unused)
{
	uint8_t frame[sizeof(checked_syn)];
	struct frame_tcp seg;

	(void)unused;
	memcpy(frame, checked_syn, sizeof(frame));
	assert_int_equal(frame_parse_tcp(frame, sizeof(frame), &seg), 0);
	assert_true(seg.checksum_ok);
	assert_int_equal(seg.payload_len, 3);
	frame[sizeof(frame) - 1] ^= 0x01;	/* one payload bit flipped */
	assert_int_equal(frame_parse_tcp(frame, sizeof(frame), &seg), 0);
	assert_false(seg.checksum_ok);
}

static void
parses_arp_sender(void **unused)
{
	uint8_t buf[60] = { 0 };
	uint32_t sender;

	(void)unused;
	buf[12] = 0x08; buf[13] = 0x06;
	buf[14] = 0; buf[15] = 1;		/* Ethernet */
	buf[16] = 0x08; buf[17] = 0x00;		/* IPv4 */
	buf[18] = 6; buf[19] = 4;
	buf[21] = 2;				/* reply */
	memcpy(buf + 28, (uint8_t[]){ 10, 9, 0, 1 }, 4);
	assert_int_equal(frame_parse_arp_sender(buf, sizeof(buf), &sender), 0);
	assert_int_equal(sender, inet_addr("10.9.0.1"));
	assert_int_equal(frame_parse_arp_sender(buf, 40, &sender), -EINVAL);
	buf[18] = 8;
	assert_int_equal(frame_parse_arp_sender(buf, sizeof(buf), &sender), -EINVAL);
}

static void
keys_differ_by_every_part(void **unused)
{
	uint64_t key = frame_conn_key(inet_addr("10.9.0.1"), 50000, 7000);

	(void)unused;
	assert_int_not_equal(key, frame_conn_key(inet_addr("10.9.0.3"), 50000, 7000));
	assert_int_not_equal(key, frame_conn_key(inet_addr("10.9.0.1"), 50001, 7000));
	assert_int_not_equal(key, frame_conn_key(inet_addr("10.9.0.1"), 50000, 7001));
	assert_int_not_equal(frame_conn_key(1, 2, 3), frame_conn_key(1, 3, 2));
}

static void
classifies_what_the_gate_drops(void **unused)
{
	uint8_t buf[128];
	struct frame_tcp seg;
	size_t len = build_tcp_frame(buf, 0, 8, TCPINFO_FLAG_SYN);

	(void)unused;
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_TCP);
	assert_int_equal(seg.dst_port, 7000);
	buf[14 + 6] = 0x20;			/* more fragments */
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_IPV4_FRAGMENT);
	buf[14 + 6] = 0x00;
	buf[14 + 7] = 0x01;			/* offset 8, last fragment */
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_IPV4_FRAGMENT);
	buf[14 + 7] = 0x00;
	buf[14 + 9] = 17;			/* UDP: lwIP's to handle */
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_IPV4);
	buf[14 + 9] = 136;			/* UDP-Lite: lwIP would trust its coverage */
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_OTHER);
	buf[14 + 9] = 6;
	buf[14 + 20 + 12] = 0x40;		/* a TCP header of 16 bytes */
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_MALFORMED);
	buf[14 + 20 + 12] = 0x50;
	buf[14] = 0x44;				/* an IPv4 header of 16 bytes */
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_MALFORMED);
	buf[14] = 0x45;
	assert_int_equal(frame_classify(buf, len - 9, &seg), FRAME_MALFORMED);
	assert_int_equal(frame_classify(buf, 13, &seg), FRAME_MALFORMED);
	buf[12] = 0x86; buf[13] = 0xdd;		/* IPv6 */
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_OTHER);
	buf[12] = 0x81; buf[13] = 0x00;		/* a VLAN tag */
	assert_int_equal(frame_classify(buf, len, &seg), FRAME_OTHER);
	buf[12] = 0x08; buf[13] = 0x06;		/* ARP, but too short for one */
	assert_int_equal(frame_classify(buf, 40, &seg), FRAME_MALFORMED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_syn_with_options),
		cmocka_unit_test(payload_excludes_ethernet_padding),
		cmocka_unit_test(rejects_what_is_not_a_whole_tcp_segment),
		cmocka_unit_test(verifies_the_tcp_checksum),
		cmocka_unit_test(parses_arp_sender),
		cmocka_unit_test(keys_differ_by_every_part),
		cmocka_unit_test(classifies_what_the_gate_drops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
