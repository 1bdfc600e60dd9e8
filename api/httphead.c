/*
 * httphead: the rules a request's raw bytes must follow before
 * libmicrohttpd sees them (RFC 9112, strictly).
 *
 * DESIGN: libmicrohttpd 0.9.75 answers what it cannot parse with HTML of
 * its own, sends its status line twice for a Content-Length it cannot hold,
 * and is lenient where lwipd must not be: a NUL cuts the target short, two
 * different Content-Lengths pass, HTTP/1.1 passes without Host. It has no
 * hook to change any of that. So gate.c peeks at a new connection's bytes
 * and hands the connection over only once this file finds the whole head
 * (and a chunked body) well formed; anything else it answers itself, in
 * problem+json. The rules:
 *
 * - up to 4 empty lines, then METHOD SP TARGET SP HTTP/1.x CRLF, exactly;
 *   a method of tchars, a target in origin form ('/' first) of visible
 *   ASCII with '%' followed by two hex digits, no '#'; HTTP/2 and other
 *   versions are 505, no version at all (HTTP/0.9) is 400;
 * - field lines "name: value" CRLF with a tchar name, no space before the
 *   colon, no folding, no control byte but HTAB in the value;
 * - one Host (required in HTTP/1.1); Content-Length as digits, repeated
 *   only with the same value; Transfer-Encoding only "chunked", once, not
 *   with Content-Length nor in HTTP/1.0; Expect only "100-continue", and
 *   not with a chunked body, which is checked whole here and could not be
 *   while its client waits for "100 Continue";
 * - bounds: HTTPHEAD_TARGET_MAX (414), HTTPHEAD_MAX and HTTPHEAD_FIELDS_MAX
 *   (431), REQUEST_BODY_MAX for a chunked body (413).
 *
 * Each rule is checked as soon as its bytes are there, so a garbage
 * request line is refused on its first bad byte, not after a timeout.
 */
#include "httphead.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Empty lines skipped before the request line (RFC 9112 section 2.2 allows "at least one"). */
#define HTTPHEAD_EMPTY_LINES_MAX 4
/* A chunk size of 8 hex digits is already far beyond REQUEST_BODY_MAX. */
#define HTTPHEAD_CHUNK_DIGITS_MAX 8
#define HTTPHEAD_CHUNK_EXT_MAX 256
/* How much of an untrusted name or value a detail quotes. */
#define HTTPHEAD_QUOTE_MAX 40

#define MORE (-EAGAIN)

/* What the field lines said, while they are read. */
struct fields {
	unsigned int count;
	unsigned int hosts;
	bool has_length;
	bool has_coding;
};

/* A field line: its name and its value without the surrounding white space. */
struct field_line {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return (unsigned int)(c | 0x20) - 'a' + 10;
}

/* Whether a field value may hold c: HTAB, SP, visible ASCII and obs-text. */
static bool
is_value_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool
span_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

/* Asks for more bytes, or refuses a head that has grown past its bound without ending. */
static int
more(size_t pos, struct problem *err)
{
	if (pos > HTTPHEAD_MAX) {
		problem_set(err, PROBLEM_HEADERS_TOO_LARGE, NULL,
		    "the request head exceeds %d bytes", HTTPHEAD_MAX);
		return -EMSGSIZE;
	}
	return MORE;
}

/* Checks the request target's '%' escapes, once the whole target is there. */
static int
check_escapes(const char *target, size_t len, struct problem *err)
{
	for (size_t i = 0; i < len; i++) {
		if (target[i] == '%' &&
		    (i + 2 >= len || !is_hex((unsigned char)target[i + 1]) ||
		    !is_hex((unsigned char)target[i + 2]))) {
			problem_set(err, PROBLEM_BAD_REQUEST, NULL,
			    "a '%%' in the request target is not followed by two hex digits");
			return -EBADMSG;
		}
	}
	return 0;
}

/* Whether a GET or HEAD of path may use the connections kept for health checks. */
static bool
is_reserved(const char *method, size_t method_len, const char *target, size_t len)
{
	const char *query = memchr(target, '?', len);
	size_t path_len = query != NULL ? (size_t)(query - target) : len;

	if (!span_is(method, method_len, "GET") && !span_is(method, method_len, "HEAD"))
		return false;
	return (path_len == 8 && memcmp(target, "/healthz", 8) == 0) ||
	    (path_len == 8 && memcmp(target, "/metrics", 8) == 0);
}

/* Checks the version after the target, from pos; sets *pos past its CRLF. */
static int
check_version(const char *buf, size_t len, size_t *pos, bool *http10, struct problem *err)
{
	static const char prefix[] = "HTTP/";
	size_t i = *pos, k;

	for (k = 0; k < sizeof(prefix) - 1; k++) {
		if (i + k >= len)
			return MORE;
		if (buf[i + k] != prefix[k])
			goto bad;
	}
	i += k;
	if (i + 5 > len)
		return MORE;
	if (buf[i] < '0' || buf[i] > '9' || buf[i + 1] != '.' || buf[i + 2] < '0' || buf[i + 2] > '9')
		goto bad;
	if (buf[i] != '1' || (buf[i + 2] != '0' && buf[i + 2] != '1')) {
		problem_set(err, PROBLEM_VERSION_NOT_SUPPORTED, NULL,
		    "HTTP/%c.%c is not supported; use HTTP/1.1", buf[i], buf[i + 2]);
		return -ENOTSUP;
	}
	if (buf[i + 3] != '\r' || buf[i + 4] != '\n')
		goto bad;
	*http10 = buf[i + 2] == '0';
	*pos = i + 5;
	return 0;
bad:
	problem_set(err, PROBLEM_BAD_REQUEST, NULL,
	    "the request line must end with one space, HTTP/1.1 and CRLF");
	return -EBADMSG;
}

/* Checks the request line from *pos, after any empty lines, and sets *pos past it. */
static int
check_request_line(const char *buf, size_t len, size_t *pos, bool *http10, struct httphead *out,
    struct problem *err)
{
	size_t i = *pos, method, method_len, target;
	unsigned char c;
	int rc;

	for (int n = 0; i < len && buf[i] == '\r'; n++) {
		if (i + 1 == len)
			return MORE;
		if (buf[i + 1] != '\n' || n == HTTPHEAD_EMPTY_LINES_MAX)
			goto bad_line;
		i += 2;
	}
	for (method = i; i < len && is_tchar((unsigned char)buf[i]); i++) {
		if (i - method == HTTPHEAD_METHOD_MAX) {
			problem_set(err, PROBLEM_NOT_IMPLEMENTED, NULL,
			    "no method is longer than %d bytes", HTTPHEAD_METHOD_MAX);
			return -ENOTSUP;
		}
	}
	if (i == len)
		return MORE;
	method_len = i - method;
	if (method_len == 0 || buf[i] != ' ')
		goto bad_line;
	out->is_head = span_is(buf + method, method_len, "HEAD");
	if (++i == len)
		return MORE;
	if (buf[i] != '/') {
		if (span_is(buf + method, method_len, "PRI") && buf[i] == '*') {
			problem_set(err, PROBLEM_VERSION_NOT_SUPPORTED, NULL,
			    "HTTP/2 is not supported; use HTTP/1.1");
			return -ENOTSUP;
		}
		problem_set(err, PROBLEM_BAD_REQUEST, NULL,
		    "the request target must be a path starting with '/'");
		return -EBADMSG;
	}
	for (target = i; i < len && buf[i] != ' '; i++) {
		c = (unsigned char)buf[i];
		if (c == '\r') {
			problem_set(err, PROBLEM_BAD_REQUEST, NULL,
			    "the request line has no HTTP version; HTTP/0.9 is not supported");
			return -EBADMSG;
		}
		if (c < 0x21 || c > 0x7e || c == '#') {
			problem_set(err, PROBLEM_BAD_REQUEST, NULL,
			    "the request target holds byte 0x%02x, which is not allowed there", c);
			return -EBADMSG;
		}
		if (i - target == HTTPHEAD_TARGET_MAX) {
			problem_set(err, PROBLEM_URI_TOO_LONG, NULL,
			    "the request target exceeds %d bytes", HTTPHEAD_TARGET_MAX);
			return -EMSGSIZE;
		}
	}
	if (i == len)
		return MORE;
	rc = check_escapes(buf + target, i - target, err);
	if (rc != 0)
		return rc;
	out->reserved = is_reserved(buf + method, method_len, buf + target, i - target);
	i++;
	rc = check_version(buf, len, &i, http10, err);
	if (rc != 0)
		return rc;
	*pos = i;
	return 0;
bad_line:
	problem_set(err, PROBLEM_BAD_REQUEST, NULL,
	    "the request line must be METHOD, one space, a path, one space and HTTP/1.1");
	return -EBADMSG;
}

/*
 * Reads one field line from *pos into *line and sets *pos past its CRLF.
 * Returns 0, 1 for the empty line that ends the fields, MORE, or -EBADMSG.
 */
static int
scan_field_line(const char *buf, size_t len, size_t *pos, struct field_line *line,
    struct problem *err)
{
	size_t i = *pos, end;

	if (i == len)
		return MORE;
	if (buf[i] == '\r') {
		if (i + 1 == len)
			return MORE;
		if (buf[i + 1] != '\n')
			goto bare_cr;
		*pos = i + 2;
		return 1;
	}
	if (buf[i] == ' ' || buf[i] == '\t') {
		problem_set(err, PROBLEM_BAD_REQUEST, NULL,
		    "a header line starts with white space (obsolete line folding)");
		return -EBADMSG;
	}
	for (line->name = buf + i; i < len && is_tchar((unsigned char)buf[i]); i++)
		;
	if (i == len)
		return MORE;
	line->name_len = (size_t)(buf + i - line->name);
	if (buf[i] != ':' || line->name_len == 0) {
		problem_set(err, PROBLEM_BAD_REQUEST, NULL,
		    "header line '%.*s' is not a name, a colon and a value",
		    (int)(line->name_len < HTTPHEAD_QUOTE_MAX ? line->name_len : HTTPHEAD_QUOTE_MAX),
		    line->name);
		return -EBADMSG;
	}
	for (i++; i < len && buf[i] != '\r'; i++) {
		if (!is_value_byte((unsigned char)buf[i])) {
			problem_set(err, PROBLEM_BAD_REQUEST, NULL,
			    "header %.*s holds byte 0x%02x, which is not allowed in a value",
			    (int)(line->name_len < HTTPHEAD_QUOTE_MAX ? line->name_len :
			    HTTPHEAD_QUOTE_MAX), line->name, (unsigned char)buf[i]);
			return -EBADMSG;
		}
	}
	if (i + 1 >= len)
		return MORE;
	if (buf[i + 1] != '\n')
		goto bare_cr;
	line->value = line->name + line->name_len + 1;
	for (end = i; line->value < buf + end && (*line->value == ' ' || *line->value == '\t');)
		line->value++;
	while (buf + end > line->value && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
		end--;
	line->value_len = (size_t)(buf + end - line->value);
	*pos = i + 2;
	return 0;
bare_cr:
	problem_set(err, PROBLEM_BAD_REQUEST, NULL, "a header line ends in a CR without LF");
	return -EBADMSG;
}

/* Parses a Content-Length value and checks it against any earlier one. */
static int
check_length(const struct field_line *line, struct fields *seen, struct httphead *out,
    struct problem *err)
{
	uint64_t value = 0;
	size_t i;

	for (i = 0; i < line->value_len; i++) {
		if (line->value[i] < '0' || line->value[i] > '9')
			break;
	}
	if (line->value_len == 0 || i < line->value_len) {
		problem_set(err, PROBLEM_BAD_REQUEST, NULL,
		    "Content-Length must be a decimal number of bytes, not '%.*s'",
		    (int)(line->value_len < HTTPHEAD_QUOTE_MAX ? line->value_len : HTTPHEAD_QUOTE_MAX),
		    line->value);
		return -EBADMSG;
	}
	/* Nineteen digits always fit in 64 bits; more would be far past the limit anyway. */
	if (line->value_len > 19) {
		problem_set(err, PROBLEM_PAYLOAD_TOO_LARGE, NULL,
		    "the request body exceeds the limit of %d bytes", REQUEST_BODY_MAX);
		return -EMSGSIZE;
	}
	for (i = 0; i < line->value_len; i++)
		value = value * 10 + (uint64_t)(line->value[i] - '0');
	if (seen->has_length && value != out->content_length) {
		problem_set(err, PROBLEM_BAD_REQUEST, NULL, "two Content-Length headers disagree");
		return -EBADMSG;
	}
	seen->has_length = true;
	out->content_length = value;
	return 0;
}

/* Applies the rules of the fields lwipd reads: Host, Content-Length, Transfer-Encoding, Expect. */
static int
check_field(const struct field_line *line, struct fields *seen, struct httphead *out,
    struct problem *err)
{
	if (span_is(line->name, line->name_len, "Host")) {
		if (++seen->hosts > 1) {
			problem_set(err, PROBLEM_BAD_REQUEST, NULL, "the request has more than one Host");
			return -EBADMSG;
		}
	} else if (span_is(line->name, line->name_len, "Content-Length")) {
		return check_length(line, seen, out, err);
	} else if (span_is(line->name, line->name_len, "Transfer-Encoding")) {
		if (seen->has_coding) {
			problem_set(err, PROBLEM_BAD_REQUEST, NULL,
			    "Transfer-Encoding is given more than once");
			return -EBADMSG;
		}
		seen->has_coding = true;
		if (!span_is(line->value, line->value_len, "chunked")) {
			problem_set(err, PROBLEM_NOT_IMPLEMENTED, NULL,
			    "only the chunked transfer coding is supported, not '%.*s'",
			    (int)(line->value_len < HTTPHEAD_QUOTE_MAX ? line->value_len :
			    HTTPHEAD_QUOTE_MAX), line->value);
			return -ENOTSUP;
		}
		out->chunked = true;
	} else if (span_is(line->name, line->name_len, "Expect")) {
		if (!span_is(line->value, line->value_len, "100-continue")) {
			problem_set(err, PROBLEM_EXPECTATION_FAILED, NULL,
			    "the only expectation supported is 100-continue");
			return -ENOTSUP;
		}
		out->expect_continue = true;
	}
	return 0;
}

/* The rules between fields, once all are there. */
static int
check_framing(const struct fields *seen, bool http10, const struct httphead *out,
    struct problem *err)
{
	if (!http10 && seen->hosts == 0) {
		problem_set(err, PROBLEM_BAD_REQUEST, NULL, "an HTTP/1.1 request must have a Host");
		return -EBADMSG;
	}
	if (seen->has_coding && (seen->has_length || http10)) {
		problem_set(err, PROBLEM_BAD_REQUEST, NULL,
		    "Transfer-Encoding is not allowed with Content-Length or in HTTP/1.0");
		return -EBADMSG;
	}
	if (out->chunked && out->expect_continue) {
		problem_set(err, PROBLEM_EXPECTATION_FAILED, NULL,
		    "Expect: 100-continue is not supported with a chunked body; send it at once");
		return -ENOTSUP;
	}
	return 0;
}

/* Reads a chunk's size line from *pos: hex digits, an optional extension, CRLF. */
static int
scan_chunk_size(const char *buf, size_t len, size_t *pos, uint64_t *size, struct problem *err)
{
	size_t i = *pos, start = *pos;

	for (*size = 0; i < len && is_hex((unsigned char)buf[i]); i++) {
		if (i - start == HTTPHEAD_CHUNK_DIGITS_MAX)
			goto bad;
		*size = *size * 16 + hex_value((unsigned char)buf[i]);
	}
	if (i == len)
		return MORE;
	if (i == start)
		goto bad;
	if (buf[i] == ';') {
		for (; i < len && buf[i] != '\r'; i++) {
			if (!is_value_byte((unsigned char)buf[i]) ||
			    i - start > HTTPHEAD_CHUNK_EXT_MAX)
				goto bad;
		}
	}
	if (i + 1 >= len)
		return MORE;
	if (buf[i] != '\r' || buf[i + 1] != '\n')
		goto bad;
	*pos = i + 2;
	return 0;
bad:
	problem_set(err, PROBLEM_BAD_REQUEST, NULL,
	    "a chunk must start with its size in hex (at most %d digits) and CRLF",
	    HTTPHEAD_CHUNK_DIGITS_MAX);
	return -EBADMSG;
}

/* Refuses a chunked body still unfinished once the window is full: it is mostly framing. */
static int
framing_more(int rc, size_t len, struct problem *err)
{
	if (rc == MORE && len >= HTTPHEAD_PEEK_MAX) {
		problem_set(err, PROBLEM_PAYLOAD_TOO_LARGE, NULL,
		    "the chunked body with its framing exceeds %d bytes",
		    HTTPHEAD_PEEK_MAX - HTTPHEAD_MAX);
		return -EMSGSIZE;
	}
	return rc;
}

/* Checks a chunked body from pos, with its trailer fields; *end is set past them. */
static int
check_chunks(const char *buf, size_t len, size_t pos, size_t *end, struct problem *err)
{
	struct field_line line;
	uint64_t size, total = 0;
	unsigned int trailers = 0;
	int rc;

	for (;;) {
		rc = scan_chunk_size(buf, len, &pos, &size, err);
		if (rc != 0)
			return framing_more(rc, len, err);
		total += size;
		if (total > REQUEST_BODY_MAX) {
			problem_set(err, PROBLEM_PAYLOAD_TOO_LARGE, NULL,
			    "the request body exceeds the limit of %d bytes", REQUEST_BODY_MAX);
			return -EMSGSIZE;
		}
		if (size == 0)
			break;
		if (len - pos < size + 2)
			return framing_more(MORE, len, err);
		pos += size;
		if (buf[pos] != '\r' || buf[pos + 1] != '\n') {
			problem_set(err, PROBLEM_BAD_REQUEST, NULL,
			    "a chunk's data must be followed by CRLF");
			return -EBADMSG;
		}
		pos += 2;
	}
	while ((rc = scan_field_line(buf, len, &pos, &line, err)) == 0) {
		if (++trailers > HTTPHEAD_FIELDS_MAX) {
			problem_set(err, PROBLEM_HEADERS_TOO_LARGE, NULL,
			    "the request has more than %d trailer fields", HTTPHEAD_FIELDS_MAX);
			return -EMSGSIZE;
		}
	}
	if (rc != 1)
		return framing_more(rc, len, err);
	*end = pos;
	return 0;
}

int
httphead_check(const char *buf, size_t len, struct httphead *out, struct problem *err)
{
	struct fields seen = { .count = 0 };
	struct field_line line;
	bool http10 = false;
	size_t pos = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = check_request_line(buf, len, &pos, &http10, out, err);
	if (rc == MORE)
		return more(len, err);
	if (rc != 0)
		return rc;
	while ((rc = scan_field_line(buf, len, &pos, &line, err)) == 0) {
		if (++seen.count > HTTPHEAD_FIELDS_MAX) {
			problem_set(err, PROBLEM_HEADERS_TOO_LARGE, NULL,
			    "the request has more than %d header fields", HTTPHEAD_FIELDS_MAX);
			return -EMSGSIZE;
		}
		rc = check_field(&line, &seen, out, err);
		if (rc != 0)
			return rc;
	}
	if (rc == MORE || pos > HTTPHEAD_MAX)
		return more(rc == MORE ? len : pos, err);
	if (rc < 0)
		return rc;
	rc = check_framing(&seen, http10, out, err);
	if (rc != 0)
		return rc;
	out->head_len = pos;
	out->framed_len = pos;
	if (!out->chunked)
		return 0;
	return check_chunks(buf, len, pos, &out->framed_len, err);
}
