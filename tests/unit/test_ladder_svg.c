/*
 * test_ladder_svg: the SVG ladder against golden files, its segment
 * elements as a browser test finds them, and that it parses as XML
 * (xmllint, skipped when libxml2-utils is missing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ladder.h"
#include "ladder_fixture.h"

static size_t
count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static size_t
segments_in(const struct builder *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->timeline.count; i++)
		n += b->events[i].kind == ENGINE_EVENT_SEGMENT;
	return n;
}

static char *
render(const struct builder *b)
{
	size_t len = 0;
	char *svg = ladder_svg(&b->timeline, &len);

	assert_non_null(svg);
	assert_int_equal(strlen(svg), len);
	return svg;
}

static void
golden_active(void **unused)
{
	struct builder b;
	char *svg;
	bool same;

	(void)unused;
	build_active(&b);
	svg = render(&b);
	same = matches_golden("ladder_active.svg", svg);
	free(svg);
	assert_true(same);
	builder_free(&b);
}

static void
golden_dropped_final_ack(void **unused)
{
	struct builder b;
	char *svg;
	bool same;

	(void)unused;
	build_dropped_final_ack(&b);
	svg = render(&b);
	same = matches_golden("ladder_dropped_ack.svg", svg);
	free(svg);
	assert_true(same);
	builder_free(&b);
}

/* One class="segment" per segment, each with its step; the dropped one marked lost. */
static void
segments_are_findable(void **unused)
{
	struct builder b;
	char *svg;

	(void)unused;
	build_dropped_final_ack(&b);
	svg = render(&b);
	assert_int_equal(count(svg, "<g class=\"segment\""), segments_in(&b));
	assert_int_equal(count(svg, "data-lost=\"true\""), 1);
	assert_non_null(strstr(svg, "data-step=\"teardown-4\" data-dir=\"out\" data-lost=\"true\""));
	assert_int_equal(count(svg, "data-step=\"handshake-"), 3);
	assert_int_equal(count(svg, "data-step=\"teardown-2+3\""), 1);
	assert_non_null(strstr(svg, "the peer&apos;s FIN carried its ACK of lwIP&apos;s FIN"));
	assert_non_null(strstr(svg, "dropped by fault rule 3"));
	/* Nothing fetched from outside, nothing run. */
	assert_null(strstr(svg, "<script"));
	assert_null(strstr(svg, "href"));
	assert_null(strstr(svg, "@import"));
	free(svg);
	builder_free(&b);
}

/* Writes svg to a file and runs xmllint --noout on it. */
static void
assert_parses(const char *svg)
{
	char path[] = "/tmp/test_ladder_svg_XXXXXX", cmd[128];
	int fd, rc;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, svg, strlen(svg)), (ssize_t)strlen(svg));
	close(fd);
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	rc = system(cmd);
	unlink(path);
	assert_int_equal(rc, 0);
}

static void
parses_as_xml(void **unused)
{
	struct builder b;
	char *svg;

	(void)unused;
	if (system("command -v xmllint >/dev/null 2>&1") != 0)
		skip();
	build_passive_peer_close(&b);
	svg = render(&b);
	assert_parses(svg);
	free(svg);
	/* Bad values and a long, capped timeline still make a document. */
	builder_free(&b);
	builder_init(&b, ENGINE_ORIGIN_ACTIVE, TCPINFO_STATE_COUNT);
	for (uint32_t i = 0; i < ENGINE_TIMELINE_HEAD + 2; i++)
		add_segment(&b, 1000 * i, true, TCPINFO_FLAG_PSH | TCPINFO_FLAG_ACK, 1 + i, 1, 1,
		    TCPINFO_ESTABLISHED, TCPINFO_STATE_COUNT, TCPINFO_STEP_COUNT);
	b.timeline.dropped = 99;
	svg = render(&b);
	assert_non_null(strstr(svg, "... 99 events not kept ..."));
	assert_parses(svg);
	free(svg);
	builder_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_active),
		cmocka_unit_test(golden_dropped_final_ack),
		cmocka_unit_test(segments_are_findable),
		cmocka_unit_test(parses_as_xml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
