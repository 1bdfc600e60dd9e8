/*
 * base64: RFC 4648 section 4, the standard alphabet with '=' padding.
 *
 * Decoding is strict, so one byte string has exactly one accepted text:
 * the length is a multiple of four, padding appears only at the very end,
 * the bits that padding leaves over are zero, and nothing else (no
 * whitespace, no line breaks, no URL-safe letters) is allowed.
 */
#ifndef LWIPD_BASE64_H
#define LWIPD_BASE64_H

#include <stddef.h>
#include <stdint.h>

/*
 * Encodes len bytes. Returns a malloc'd, NUL-terminated string ("" for
 * len 0), or NULL when out of memory.
 */
char *base64_encode(const uint8_t *data, size_t len);

/*
 * Decodes len characters of text (which need not be NUL-terminated).
 * On success *out is malloc'd (NULL when *out_len is 0) and the caller
 * frees it. Returns 0, -EINVAL for text that is not strict base64, or
 * -ENOMEM.
 */
int base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len);

#endif
