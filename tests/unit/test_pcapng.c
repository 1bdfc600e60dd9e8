/*
 * test_pcapng: the pcapng writer's exact bytes, its bounds, and that
 * tshark reads what it writes (skipped when tshark is not installed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapng.h"

static const uint8_t header_tap0[] = {
	/* Section Header Block, 28 bytes. */
	0x0A, 0x0D, 0x0D, 0x0A, 0x1C, 0x00, 0x00, 0x00,
	0x4D, 0x3C, 0x2B, 0x1A, 0x01, 0x00, 0x00, 0x00,
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	0x1C, 0x00, 0x00, 0x00,
	/* Interface Description Block, 40 bytes: Ethernet, snaplen 128. */
	0x01, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
	/* if_name "tap0" */
	0x02, 0x00, 0x04, 0x00, 't', 'a', 'p', '0',
	/* if_tsresol 6, padded */
	0x09, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
	/* opt_endofopt */
	0x00, 0x00, 0x00, 0x00,
	0x28, 0x00, 0x00, 0x00,
};

static const uint8_t frame5[] = { 1, 2, 3, 4, 5 };

static const uint8_t packet_hi[] = {
	/* Enhanced Packet Block, 52 bytes. */
	0x06, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,		/* interface 0 */
	0x01, 0x00, 0x00, 0x00,		/* timestamp, high word */
	0x02, 0x00, 0x00, 0x00,		/* low word */
	0x05, 0x00, 0x00, 0x00,		/* captured */
	0x3C, 0x00, 0x00, 0x00,		/* original: 60 */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x00, 0x00, 0x00,
	/* opt_comment "hi", padded */
	0x01, 0x00, 0x02, 0x00, 'h', 'i', 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0x34, 0x00, 0x00, 0x00,
};

static const struct pcapng_interface tap0 = { .name = "tap0", .snaplen = 128 };

static void
header_bytes(void **unused)
{
	uint8_t buf[128];
	size_t len = 0;

	(void)unused;
	assert_int_equal(pcapng_header_size(&tap0), sizeof(header_tap0));
	assert_int_equal(pcapng_header(&tap0, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(header_tap0));
	assert_memory_equal(buf, header_tap0, sizeof(header_tap0));
}

/* shb_userappl and if_description, as tshark shows them (frame.interface_description). */
static void
header_options_bytes(void **unused)
{
	static const uint8_t expected[] = {
		/* Section Header Block, 44 bytes: shb_userappl "lwipd", padded, then opt_endofopt. */
		0x0A, 0x0D, 0x0D, 0x0A, 0x2C, 0x00, 0x00, 0x00,
		0x4D, 0x3C, 0x2B, 0x1A, 0x01, 0x00, 0x00, 0x00,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0x04, 0x00, 0x05, 0x00, 'l', 'w', 'i', 'p', 'd', 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x2C, 0x00, 0x00, 0x00,
		/* Interface Description Block, 52 bytes. */
		0x01, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x04, 0x00, 't', 'a', 'p', '0',
		/* if_description "a tap" */
		0x03, 0x00, 0x05, 0x00, 'a', ' ', 't', 'a', 'p', 0x00, 0x00, 0x00,
		0x09, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x34, 0x00, 0x00, 0x00,
	};
	const struct pcapng_interface iface = {
		.name = "tap0", .description = "a tap", .application = "lwipd", .snaplen = 128,
	};
	uint8_t buf[128];
	size_t len = 0;

	(void)unused;
	assert_int_equal(pcapng_header_size(&iface), sizeof(expected));
	assert_int_equal(pcapng_header(&iface, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(expected));
	assert_memory_equal(buf, expected, sizeof(expected));
}

static void
packet_bytes(void **unused)
{
	const struct pcapng_packet p = {
		.ts_us = 0x100000002ull, .data = frame5, .captured = 5, .original = 60,
		.comment = "hi",
	};
	uint8_t buf[128];
	size_t len = 0;

	(void)unused;
	assert_int_equal(pcapng_packet_size(&p), sizeof(packet_hi));
	assert_int_equal(pcapng_packet(&p, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(packet_hi));
	assert_memory_equal(buf, packet_hi, sizeof(packet_hi));
}

/* No comment: no options at all, not even the end of them. */
static void
packet_without_comment(void **unused)
{
	const struct pcapng_packet p = { .ts_us = 7, .data = frame5, .captured = 4, .original = 5 };
	uint8_t buf[64];
	size_t len = 0;

	(void)unused;
	assert_int_equal(pcapng_packet(&p, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 36);
	assert_int_equal(buf[4], 36);
	assert_int_equal(buf[32], 36);
	assert_memory_equal(buf + 28, frame5, 4);
}

static void
file_is_header_then_packets(void **unused)
{
	const struct pcapng_packet p[2] = {
		{ .ts_us = 0x100000002ull, .data = frame5, .captured = 5, .original = 60, .comment = "hi" },
		{ .ts_us = 0x100000002ull, .data = frame5, .captured = 5, .original = 60, .comment = "hi" },
	};
	uint8_t *out = NULL;
	size_t len = 0;

	(void)unused;
	assert_int_equal(pcapng_file(&tap0, p, 2, &out, &len), 0);
	assert_int_equal(len, sizeof(header_tap0) + 2 * sizeof(packet_hi));
	assert_memory_equal(out, header_tap0, sizeof(header_tap0));
	assert_memory_equal(out + sizeof(header_tap0), packet_hi, sizeof(packet_hi));
	assert_memory_equal(out + sizeof(header_tap0) + sizeof(packet_hi), packet_hi,
	    sizeof(packet_hi));
	free(out);
	/* No packets: a valid, empty capture. */
	assert_int_equal(pcapng_file(&tap0, NULL, 0, &out, &len), 0);
	assert_int_equal(len, sizeof(header_tap0));
	free(out);
}

static void
bounds_and_bad_values(void **unused)
{
	const struct pcapng_interface no_snap = { .name = "tap0", .snaplen = 0 };
	const struct pcapng_interface huge = { .name = "tap0", .snaplen = PCAPNG_SNAPLEN_MAX + 1 };
	struct pcapng_packet p = { .data = frame5, .captured = 5, .original = 4 };
	uint8_t buf[128], *out = NULL;
	size_t len = 0;
	char name[200], comment[PCAPNG_COMMENT_MAX + 100];

	(void)unused;
	assert_int_equal(pcapng_header(&no_snap, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(pcapng_header(&huge, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(pcapng_header(&tap0, buf, sizeof(header_tap0) - 1, &len), -ENOSPC);
	/* captured above original */
	assert_int_equal(pcapng_packet(&p, buf, sizeof(buf), &len), -EINVAL);
	p.original = 5;
	assert_int_equal(pcapng_packet(&p, buf, 35, &len), -ENOSPC);
	/* captured above the file's snaplen */
	p.captured = 5;
	assert_int_equal(pcapng_file(&(struct pcapng_interface){ .snaplen = 4 }, &p, 1, &out, &len),
	    -EINVAL);
	/* A long name is cut to PCAPNG_IFNAME_MAX bytes. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(pcapng_header_size(&(struct pcapng_interface){ .name = name, .snaplen = 1 }),
	    28 + 16 + (4 + PCAPNG_IFNAME_MAX) + 8 + 4 + 4);
	/* A long comment is cut before a UTF-8 character, never inside one. */
	memset(comment, 'c', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = '\0';
	memcpy(comment + PCAPNG_COMMENT_MAX - 1, "\xc3\xa9", 2);
	p.comment = comment;
	/* 1023 bytes kept, padded to 1024; the block: 28, 5 data bytes padded to 8, the options, 4. */
	assert_int_equal(pcapng_packet_size(&p), 28 + 8 + (4 + PCAPNG_COMMENT_MAX) + 4 + 4);
}

/* A hand-made Ethernet/IPv4/TCP SYN+ACK from 10.9.0.1:7000 to 10.9.0.2:49152. */
static const uint8_t synack[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x26, 0xcd,
	0x0a, 0x09, 0x00, 0x01, 0x0a, 0x09, 0x00, 0x02,
	0x1b, 0x58, 0xc0, 0x00, 0x00, 0x00, 0x13, 0x88, 0x00, 0x00, 0x03, 0xe9,
	0x50, 0x12, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};

#define COMMENT "lwIP SYN_SENT->ESTABLISHED peer SYN_RCVD->SYN_RCVD step handshake-2 " \
	"fault drop rule 3 \xc3\xa9"

static void
tshark_reads_it(void **unused)
{
	const struct pcapng_packet p = {
		.ts_us = 1700000000123456ull, .data = synack, .captured = sizeof(synack),
		.original = sizeof(synack), .comment = COMMENT,
	};
	char path[] = "/tmp/test_pcapng_XXXXXX", cmd[256], line[512] = "";
	uint8_t *out = NULL;
	size_t len = 0;
	FILE *f;
	int fd;

	(void)unused;
	if (system("command -v tshark >/dev/null 2>&1") != 0)
		skip();
	assert_int_equal(pcapng_file(&tap0, &p, 1, &out, &len), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out, len), (ssize_t)len);
	close(fd);
	free(out);
	snprintf(cmd, sizeof(cmd), "tshark -r %s -T fields -e frame.comment -e tcp.flags "
	    "-e frame.time_epoch 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	pclose(f);
	unlink(path);
	assert_string_equal(line, COMMENT "\t0x0012\t1700000000.123456000\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_bytes),
		cmocka_unit_test(header_options_bytes),
		cmocka_unit_test(packet_bytes),
		cmocka_unit_test(packet_without_comment),
		cmocka_unit_test(file_is_header_then_packets),
		cmocka_unit_test(bounds_and_bad_values),
		cmocka_unit_test(tshark_reads_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
