#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define LINES_MAX 512
#define NAME_MAX_LEN 128

/* The metric name of a sample line: up to '{' or ' '. */
static void
sample_name(const char *line, char *name, size_t len)
{
	size_t n = strcspn(line, "{ ");

	assert_true(n < len);
	memcpy(name, line, n);
	name[n] = '\0';
}

/*
 * Checks the exposition structure: each family has one # HELP then one
 * # TYPE (counter or gauge), then only its own samples; no family or
 * sample appears twice; every line ends with a newline.
 */
static void
assert_exposition(const char *text)
{
	char *copy = strdup(text), *line, *save = NULL;
	char families[LINES_MAX][NAME_MAX_LEN];
	char *samples[LINES_MAX];
	char current[NAME_MAX_LEN] = "";
	char name[NAME_MAX_LEN], type[16];
	size_t nfamilies = 0, nsamples = 0, i;
	bool help_seen = false, type_seen = false;

	assert_non_null(copy);
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			sample_name(line + 7, name, sizeof(name));
			for (i = 0; i < nfamilies; i++)
				assert_string_not_equal(families[i], name);
			assert_true(nfamilies < LINES_MAX);
			snprintf(families[nfamilies++], NAME_MAX_LEN, "%s", name);
			snprintf(current, sizeof(current), "%s", name);
			help_seen = true;
			type_seen = false;
			/* Some help text follows the name. */
			assert_true(strlen(line) > 7 + strlen(name) + 1);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_true(help_seen && !type_seen);
			assert_int_equal(sscanf(line + 7, "%127s %15s", name, type), 2);
			assert_string_equal(name, current);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
			/* Counters end in _total, gauges do not. */
			assert_int_equal(strcmp(type, "counter") == 0,
			    strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0);
			type_seen = true;
			continue;
		}
		assert_true(line[0] != '#');
		assert_true(type_seen);
		sample_name(line, name, sizeof(name));
		assert_string_equal(name, current);
		for (i = 0; i < nsamples; i++)
			assert_true(strncmp(samples[i], line, strrchr(line, ' ') - line + 1) != 0);
		assert_true(nsamples < LINES_MAX);
		samples[nsamples++] = line;
	}
	free(copy);
}

static const char *const routes[] = { "/v1/connections", "/v1/connections/{id}", "other" };

static void
fill_input(struct metrics_input *in, struct metrics_http *http)
{
	memset(in, 0, sizeof(*in));
	memset(http, 0, sizeof(*http));
	in->stats.tcp.active_opens = 3;
	in->stats.tcp.passive_opens = 4;
	in->stats.tcp.curr_estab = 2;
	in->stats.tcp.out_rsts = UINT64_MAX;
	in->stats.transitions[TCPINFO_CLOSED][TCPINFO_SYN_SENT] = 5;
	in->stats.transitions[TCPINFO_TIME_WAIT][TCPINFO_CLOSED] = 1;
	in->stats.iface.rx_frames = 10;
	in->stats.iface.tx_bytes = 1500;
	in->by_state[TCPINFO_ESTABLISHED] = 2;
	in->by_state[TCPINFO_TIME_WAIT] = 1;
	in->http = http;
	in->routes = routes;
	in->route_count = 3;
	in->sse_clients = 2;
	in->sse_dropped = 1;
	metrics_http_count(http, 1, METRICS_METHOD_GET, 200);
	metrics_http_count(http, 1, METRICS_METHOD_GET, 200);
	metrics_http_count(http, 0, METRICS_METHOD_POST, 201);
	metrics_http_count(http, 2, metrics_method_parse("PUT"), 404);
	metrics_http_count(http, 1, METRICS_METHOD_DELETE, 299);
}

static char *
render(const struct metrics_input *in)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(in, &text, &len), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void
assert_line(const char *text, const char *line)
{
	char needle[256];

	snprintf(needle, sizeof(needle), "\n%s\n", line);
	if (strstr(text, needle) == NULL)
		fail_msg("no line '%s' in:\n%s", line, text);
}

static void
test_structure(void **state)
{
	struct metrics_input in;
	struct metrics_http http;
	char *text;

	(void)state;
	fill_input(&in, &http);
	text = render(&in);
	assert_exposition(text);
	/* The first family comes first, with no blank line before it. */
	assert_true(strncmp(text, "# HELP lwipd_tcp_active_opens_total ", 36) == 0);
	free(text);

	/* All zero: every family is still announced, and the structure holds. */
	memset(&in.stats, 0, sizeof(in.stats));
	memset(&http, 0, sizeof(http));
	text = render(&in);
	assert_exposition(text);
	assert_non_null(strstr(text, "# TYPE lwipd_tcp_transitions_total counter\n"));
	assert_non_null(strstr(text, "# TYPE lwipd_http_requests_total counter\n"));
	assert_null(strstr(text, "lwipd_http_requests_total{"));
	free(text);
}

static void
test_values(void **state)
{
	static const char *const names[] = {
		"active_opens_total", "passive_opens_total", "attempt_fails_total",
		"estab_resets_total", "in_segs_total", "out_segs_total", "retrans_segs_total",
		"in_errs_total", "out_rsts_total",
	};
	struct metrics_input in;
	struct metrics_http http;
	char line[128];
	char *text;
	size_t i;

	(void)state;
	fill_input(&in, &http);
	text = render(&in);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "# TYPE lwipd_tcp_%s counter", names[i]);
		assert_line(text, line);
	}
	assert_line(text, "lwipd_tcp_active_opens_total 3");
	assert_line(text, "lwipd_tcp_passive_opens_total 4");
	assert_line(text, "lwipd_tcp_attempt_fails_total 0");
	assert_line(text, "lwipd_tcp_out_rsts_total 18446744073709551615");
	assert_line(text, "# TYPE lwipd_tcp_curr_estab gauge");
	assert_line(text, "lwipd_tcp_curr_estab 2");
	assert_line(text, "# TYPE lwipd_connections gauge");
	for (i = 0; i < TCPINFO_STATE_COUNT; i++) {
		snprintf(line, sizeof(line), "lwipd_connections{state=\"%s\"} %d",
		    tcpinfo_state_name((enum tcpinfo_state)i),
		    i == TCPINFO_ESTABLISHED ? 2 : i == TCPINFO_TIME_WAIT ? 1 : 0);
		assert_line(text, line);
	}
	assert_line(text, "lwipd_tcp_transitions_total{from=\"CLOSED\",to=\"SYN_SENT\"} 5");
	assert_line(text, "lwipd_tcp_transitions_total{from=\"TIME_WAIT\",to=\"CLOSED\"} 1");
	/* Only the pairs taken. */
	assert_null(strstr(text, "to=\"LISTEN\""));
	assert_line(text, "lwipd_interface_rx_frames_total 10");
	assert_line(text, "lwipd_interface_tx_frames_total 0");
	assert_line(text, "lwipd_interface_rx_bytes_total 0");
	assert_line(text, "lwipd_interface_tx_bytes_total 1500");
	assert_line(text, "lwipd_interface_rx_dropped_total 0");
	assert_line(text, "lwipd_interface_rx_fragments_total 0");
	assert_line(text, "lwipd_interface_rx_malformed_total 0");
	assert_line(text, "lwipd_interface_rx_other_total 0");
	assert_line(text, "lwipd_http_requests_total{route=\"/v1/connections/{id}\",method=\"GET\","
	    "status=\"200\"} 2");
	assert_line(text, "lwipd_http_requests_total{route=\"/v1/connections\",method=\"POST\","
	    "status=\"201\"} 1");
	assert_line(text, "lwipd_http_requests_total{route=\"other\",method=\"other\","
	    "status=\"404\"} 1");
	assert_line(text, "lwipd_http_requests_total{route=\"/v1/connections/{id}\","
	    "method=\"DELETE\",status=\"other\"} 1");
	assert_line(text, "# TYPE lwipd_sse_clients gauge");
	assert_line(text, "lwipd_sse_clients 2");
	assert_line(text, "# TYPE lwipd_sse_clients_dropped_total counter");
	assert_line(text, "lwipd_sse_clients_dropped_total 1");
	free(text);
}

static void
test_label_escaping(void **state)
{
	static const char *const odd[] = { "a\"b\\c\nd" };
	struct metrics_input in;
	struct metrics_http http;
	char *text;

	(void)state;
	fill_input(&in, &http);
	in.routes = odd;
	in.route_count = 1;
	metrics_http_count(&http, 0, METRICS_METHOD_HEAD, 503);
	text = render(&in);
	assert_exposition(text);
	assert_line(text, "lwipd_http_requests_total{route=\"a\\\"b\\\\c\\nd\",method=\"HEAD\","
	    "status=\"503\"} 1");
	free(text);
}

static void
test_methods_and_bounds(void **state)
{
	struct metrics_http http;

	(void)state;
	assert_int_equal(metrics_method_parse("GET"), METRICS_METHOD_GET);
	assert_int_equal(metrics_method_parse("HEAD"), METRICS_METHOD_HEAD);
	assert_int_equal(metrics_method_parse("POST"), METRICS_METHOD_POST);
	assert_int_equal(metrics_method_parse("DELETE"), METRICS_METHOD_DELETE);
	assert_int_equal(metrics_method_parse("get"), METRICS_METHOD_OTHER);
	assert_int_equal(metrics_method_parse("PATCH"), METRICS_METHOD_OTHER);
	memset(&http, 0, sizeof(http));
	/* Out of the table: ignored, not written past it. */
	metrics_http_count(&http, METRICS_ROUTE_MAX, METRICS_METHOD_GET, 200);
	metrics_http_count(&http, 0, METRICS_METHOD_COUNT, 200);
	assert_int_equal(http.requests[0][METRICS_METHOD_GET][0], 0);
	metrics_http_count(&http, METRICS_ROUTE_MAX - 1, METRICS_METHOD_OTHER, 422);
	metrics_http_count(&http, METRICS_ROUTE_MAX - 1, METRICS_METHOD_OTHER, 422);
	metrics_http_count(&http, METRICS_ROUTE_MAX - 1, METRICS_METHOD_OTHER, 422);
	/* 422 has a row of its own. */
	{
		uint64_t total = 0;
		size_t s;

		for (s = 0; s < METRICS_STATUS_COUNT; s++) {
			assert_true(http.requests[METRICS_ROUTE_MAX - 1][METRICS_METHOD_OTHER][s] == 0 ||
			    http.requests[METRICS_ROUTE_MAX - 1][METRICS_METHOD_OTHER][s] == 3);
			total += http.requests[METRICS_ROUTE_MAX - 1][METRICS_METHOD_OTHER][s];
		}
		assert_int_equal(total, 3);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_methods_and_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
