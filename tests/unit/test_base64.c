#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

/* RFC 4648 section 10. */
static const struct {
	const char *data;
	const char *text;
} vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
expect_decoded(const char *text, const void *expected, size_t expected_len)
{
	uint8_t *data = NULL;
	size_t len = 99;

	assert_int_equal(base64_decode(text, strlen(text), &data, &len), 0);
	assert_int_equal(len, expected_len);
	if (expected_len > 0)
		assert_memory_equal(data, expected, expected_len);
	else
		assert_null(data);
	free(data);
}

static void
expect_refused(const char *text, size_t len)
{
	uint8_t *data = (uint8_t *)"untouched";
	size_t data_len = 99;

	assert_int_equal(base64_decode(text, len, &data, &data_len), -EINVAL);
	assert_string_equal((const char *)data, "untouched");
	assert_int_equal(data_len, 99);
}

static void
test_rfc_vectors(void **state)
{
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		text = base64_encode((const uint8_t *)vectors[i].data, strlen(vectors[i].data));
		assert_non_null(text);
		assert_string_equal(text, vectors[i].text);
		free(text);
		expect_decoded(vectors[i].text, vectors[i].data, strlen(vectors[i].data));
	}
}

static void
test_whole_alphabet(void **state)
{
	static const uint8_t data[] = {
		0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f,
		0x41, 0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f,
		0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
		0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf,
	};
	static const char text[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *encoded;

	(void)state;
	encoded = base64_encode(data, sizeof(data));
	assert_non_null(encoded);
	assert_string_equal(encoded, text);
	free(encoded);
	expect_decoded(text, data, sizeof(data));
}

static void
test_round_trips(void **state)
{
	uint8_t bytes[515];
	uint8_t *decoded;
	size_t len, decoded_len;
	char *text;

	(void)state;
	for (len = 0; len < sizeof(bytes); len++)
		bytes[len] = (uint8_t)(len * 7 + 3);
	for (len = 0; len <= sizeof(bytes); len++) {
		text = base64_encode(bytes, len);
		assert_non_null(text);
		assert_int_equal(strlen(text), (len + 2) / 3 * 4);
		assert_int_equal(base64_decode(text, strlen(text), &decoded, &decoded_len), 0);
		assert_int_equal(decoded_len, len);
		if (len > 0)
			assert_memory_equal(decoded, bytes, len);
		free(decoded);
		free(text);
	}
}

static void
test_refuses_bad_length(void **state)
{
	(void)state;
	expect_refused("Z", 1);
	expect_refused("Zg", 2);
	expect_refused("Zg=", 3);
	expect_refused("Zm9vY", 5);
	/* Unpadded forms are not accepted. */
	expect_refused("Zm9vYg", 6);
	expect_refused("Zm9vYmE", 7);
}

static void
test_refuses_misplaced_padding(void **state)
{
	(void)state;
	expect_refused("====", 4);
	expect_refused("Z===", 4);
	expect_refused("=Zg=", 4);
	expect_refused("Z=g=", 4);
	expect_refused("Zg==Zm9v", 8);
	expect_refused("Zm8=Zm8=", 8);
	expect_refused("Zm9v====", 8);
}

static void
test_refuses_foreign_characters(void **state)
{
	(void)state;
	expect_refused("Zm9v\n", 5);
	expect_refused("Zm9v Zm9v", 9);
	expect_refused("Zm 9", 4);
	expect_refused("Zm9\n", 4);
	/* The URL-safe alphabet is a different encoding. */
	expect_refused("-_-_", 4);
	expect_refused("Zm9*", 4);
	expect_refused("Zm9\xc3", 4);
	/* A NUL inside the given length is a character like any other. */
	expect_refused("Zm\0v", 4);
}

static void
test_refuses_nonzero_leftover_bits(void **state)
{
	(void)state;
	/* "Zg==" is "f"; "Zh==" to "Zv==" set bits the padding drops. */
	expect_refused("Zh==", 4);
	expect_refused("Zv==", 4);
	/* "Zm8=" is "fo"; "Zm9=" sets a dropped bit. */
	expect_refused("Zm9=", 4);
	expect_decoded("AA==", "\0", 1);
	expect_decoded("AAA=", "\0\0", 2);
	expect_decoded("//8=", "\xff\xff", 2);
	expect_decoded("/w==", "\xff", 1);
}

static void
test_reads_only_len(void **state)
{
	uint8_t *data;
	size_t len;

	(void)state;
	/* The text need not end at len: a JSON string is passed with its length. */
	assert_int_equal(base64_decode("Zm9vjunk", 4, &data, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "foo", 3);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_vectors),
		cmocka_unit_test(test_whole_alphabet),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_refuses_bad_length),
		cmocka_unit_test(test_refuses_misplaced_padding),
		cmocka_unit_test(test_refuses_foreign_characters),
		cmocka_unit_test(test_refuses_nonzero_leftover_bits),
		cmocka_unit_test(test_reads_only_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
