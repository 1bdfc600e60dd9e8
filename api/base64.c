#include <errno.h>
#include <stdlib.h>

#include "base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
base64_encode(const uint8_t *data, size_t len)
{
	size_t groups = len / 3 + (len % 3 != 0);
	size_t i, o = 0, left;
	uint32_t quantum;
	char *text;

	if (groups > (SIZE_MAX - 1) / 4)
		return NULL;
	text = malloc(groups * 4 + 1);
	if (text == NULL)
		return NULL;
	for (i = 0; i < len; i += 3) {
		left = len - i;
		quantum = (uint32_t)data[i] << 16;
		if (left > 1)
			quantum |= (uint32_t)data[i + 1] << 8;
		if (left > 2)
			quantum |= data[i + 2];
		text[o++] = base64_alphabet[(quantum >> 18) & 0x3fu];
		text[o++] = base64_alphabet[(quantum >> 12) & 0x3fu];
		text[o++] = left > 1 ? base64_alphabet[(quantum >> 6) & 0x3fu] : '=';
		text[o++] = left > 2 ? base64_alphabet[quantum & 0x3fu] : '=';
	}
	text[o] = '\0';
	return text;
}

/* Returns the value of one alphabet character, or -1 for any other byte ('=' included). */
static int
base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
	size_t pad = 0, data_len, i, j, o = 0, count;
	uint32_t quantum;
	uint8_t *data;
	int value;

	if (len % 4 != 0)
		return -EINVAL;
	if (len == 0) {
		*out = NULL;
		*out_len = 0;
		return 0;
	}
	/* Padding can only end the text; an '=' anywhere else fails base64_value below. */
	if (text[len - 1] == '=')
		pad = text[len - 2] == '=' ? 2 : 1;
	data_len = len / 4 * 3 - pad;
	data = malloc(data_len);
	if (data == NULL)
		return -ENOMEM;
	for (i = 0; i < len; i += 4) {
		quantum = 0;
		for (j = i; j < i + 4; j++) {
			value = j < len - pad ? base64_value(text[j]) : 0;
			if (value < 0)
				goto invalid;
			quantum = (quantum << 6) | (uint32_t)value;
		}
		count = i + 4 == len ? 3 - pad : 3;
		/* Bits that the padding leaves over must be zero, or two texts would be one. */
		if (count < 3 && (quantum & (count == 2 ? 0xffu : 0xffffu)) != 0)
			goto invalid;
		data[o++] = (uint8_t)(quantum >> 16);
		if (count > 1)
			data[o++] = (uint8_t)(quantum >> 8);
		if (count > 2)
			data[o++] = (uint8_t)quantum;
	}
	*out = data;
	*out_len = data_len;
	return 0;
invalid:
	free(data);
	return -EINVAL;
}
