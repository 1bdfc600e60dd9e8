/*
 * token: reading the bearer token file and comparing a presented token
 * without leaking, through timing, how much of it was right.
 */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char bearer[] = "Bearer ";

int
token_load(const char *path, struct token *out)
{
	char buf[TOKEN_MAX + 3];	/* the token, a CRLF, and one byte to see it is longer */
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, rc = 0;

	memset(out, 0, sizeof(*out));
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat refuses it next. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		log_warnx("--api-token-file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warnx("--api-token-file %s: not a regular file", path);
		rc = -EINVAL;
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		log_warnx("--api-token-file %s: %s", path, strerror(-rc));
		goto out;
	}
	len = (size_t)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] < 0x21 || buf[i] > 0x7e)
			rc = -EINVAL;
	}
	if (rc != 0 || len < TOKEN_MIN || len > TOKEN_MAX) {
		log_warnx("--api-token-file %s: the token must be %d to %d visible ASCII characters",
		    path, TOKEN_MIN, TOKEN_MAX);
		rc = -EINVAL;
		goto out;
	}
	memcpy(out->value, buf, len);
	out->len = len;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

bool
token_check(const struct token *token, const char *authorization)
{
	unsigned char diff = 0;
	size_t len, i;

	if (token->len == 0)
		return true;
	if (authorization == NULL || strncasecmp(authorization, bearer, sizeof(bearer) - 1) != 0)
		return false;
	authorization += sizeof(bearer) - 1;
	len = strnlen(authorization, TOKEN_MAX + 1);
	/* Every byte of the token is compared, whatever the length presented. */
	diff = len != token->len;
	for (i = 0; i < token->len; i++)
		diff |= (unsigned char)(token->value[i] ^ (i < len ? authorization[i] : 0));
	return diff == 0;
}
