/*
 * test_membudget: the memory budget's accounting, and the buffers of
 * connbuf.c charging it: a send copy refused whole, a receive ring grown
 * within the room, freed once read and shrunk to its unread bytes.
 */
#include "unit_helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "connbuf.h"
#include "membudget.h"

static void
charges_fit_or_are_refused(void **unused)
{
	struct membudget budget;

	(void)unused;
	membudget_init(&budget, 100);
	assert_true(membudget_charge(&budget, MEMBUDGET_SEND, 60));
	assert_false(membudget_charge(&budget, MEMBUDGET_RECV, 41));
	assert_int_equal(budget.refused[MEMBUDGET_RECV], 1);
	assert_int_equal(membudget_charge_upto(&budget, MEMBUDGET_TIMELINE, 50), 40);
	assert_int_equal(budget.refused[MEMBUDGET_TIMELINE], 1);
	assert_int_equal(membudget_used(&budget), 100);
	assert_int_equal(membudget_charge_upto(&budget, MEMBUDGET_RECV, 1), 0);
	membudget_credit(&budget, MEMBUDGET_SEND, 60);
	membudget_credit(&budget, MEMBUDGET_TIMELINE, 40);
	assert_int_equal(membudget_used(&budget), 0);
	/* Exactly the room fits, and is no refusal. */
	assert_true(membudget_charge(&budget, MEMBUDGET_SEND, 100));
	assert_int_equal(budget.refused[MEMBUDGET_SEND], 0);
	/* A NULL budget grants everything. */
	assert_true(membudget_charge(NULL, MEMBUDGET_SEND, UINT64_MAX));
	assert_int_equal(membudget_charge_upto(NULL, MEMBUDGET_RECV, 7), 7);
	membudget_credit(NULL, MEMBUDGET_RECV, 7);
}

/* Copies are charged until sent; pattern bytes hold no memory and cost nothing. */
static void
send_copies_are_charged_until_sent(void **unused)
{
	uint8_t data[300] = { 1 }, scratch[CONNBUF_PATTERN_CHUNK];
	struct connbuf_send queue = { 0 };
	struct membudget budget;
	const uint8_t *bytes;

	(void)unused;
	membudget_init(&budget, 500);
	assert_int_equal(connbuf_send_push(&queue, data, 300, &budget), 0);
	assert_int_equal(connbuf_send_push(&queue, data, 201, &budget), -ENOBUFS);
	assert_int_equal(queue.queued, 300);
	assert_int_equal(connbuf_send_push(&queue, NULL, 1u << 20, &budget), 0);
	assert_int_equal(budget.used[MEMBUDGET_SEND], 300);
	/* A chunk's copy is given back when its last byte is sent. */
	assert_int_equal(connbuf_send_peek(&queue, 200, scratch, &bytes), 200);
	connbuf_send_consume(&queue, 200, &budget);
	assert_int_equal(budget.used[MEMBUDGET_SEND], 300);
	assert_int_equal(connbuf_send_peek(&queue, 200, scratch, &bytes), 100);
	connbuf_send_consume(&queue, 100, &budget);
	assert_int_equal(budget.used[MEMBUDGET_SEND], 0);
	assert_int_equal(connbuf_send_push(&queue, data, 200, &budget), 0);
	connbuf_send_clear(&queue, &budget);
	assert_int_equal(budget.used[MEMBUDGET_SEND], 0);
	assert_true(connbuf_send_empty(&queue));
}

/* The ring grows with unread data, within its cap and the budget's room, and keeps the order. */
static void
recv_ring_grows_within_the_budget(void **unused)
{
	static uint8_t data[20000], *out;
	struct connbuf_recv ring = { 0 };
	struct membudget budget;
	size_t len;

	(void)unused;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i % 253);
	membudget_init(&budget, 10000);
	assert_int_equal(connbuf_recv_put(&ring, 65536, data, 100, &budget), 100);
	assert_int_equal(ring.capacity, CONNBUF_RECV_FIRST);
	assert_int_equal(budget.used[MEMBUDGET_RECV], CONNBUF_RECV_FIRST);
	/* Wants 16 KiB, the budget grants 10,000 bytes in all. */
	assert_int_equal(connbuf_recv_put(&ring, 65536, data + 100, 12000, &budget), 9900);
	assert_int_equal(ring.capacity, 10000);
	assert_int_equal(budget.refused[MEMBUDGET_RECV], 1);
	assert_int_equal(connbuf_recv_put(&ring, 65536, data + 10000, 10, &budget), 0);
	/* Read empty, the ring is freed and its bytes come back. */
	assert_int_equal(connbuf_recv_take(&ring, &out, &len, &budget), 0);
	assert_int_equal(len, 10000);
	assert_memory_equal(out, data, len);
	free(out);
	assert_null(ring.bytes);
	assert_int_equal(budget.used[MEMBUDGET_RECV], 0);
	/* The ring's cap bounds it whatever the budget. */
	membudget_init(&budget, 1 << 20);
	assert_int_equal(connbuf_recv_put(&ring, 6000, data, 20000, &budget), 6000);
	assert_int_equal(ring.capacity, 6000);
	connbuf_recv_clear(&ring, &budget);
	assert_int_equal(budget.used[MEMBUDGET_RECV], 0);
}

/* A closed connection keeps exactly its unread bytes, wrapped or not. */
static void
recv_ring_shrinks_to_its_unread_bytes(void **unused)
{
	uint8_t data[5000], *out;
	struct connbuf_recv ring = { 0 };
	struct membudget budget;
	size_t len;

	(void)unused;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i % 251);
	membudget_init(&budget, 1 << 20);
	assert_int_equal(connbuf_recv_put(&ring, 4096, data, 4096, &budget), 4096);
	/* Wrap it: read some by hand as a drain would, then put more. */
	ring.start = 4000;
	ring.len = 96;
	assert_int_equal(connbuf_recv_put(&ring, 4096, data + 4096, 904, &budget), 904);
	connbuf_recv_shrink(&ring, &budget);
	assert_int_equal(ring.capacity, 1000);
	assert_int_equal(budget.used[MEMBUDGET_RECV], 1000);
	assert_int_equal(connbuf_recv_copy(&ring, &out, &len), 0);
	assert_int_equal(len, 1000);
	assert_memory_equal(out, data + 4000, 1000);
	free(out);
	connbuf_recv_clear(&ring, &budget);
	/* Nothing unread: nothing kept. */
	assert_int_equal(connbuf_recv_put(&ring, 4096, data, 10, &budget), 10);
	assert_int_equal(connbuf_recv_take(&ring, &out, &len, &budget), 0);
	free(out);
	connbuf_recv_shrink(&ring, &budget);
	assert_null(ring.bytes);
	assert_int_equal(budget.used[MEMBUDGET_RECV], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(charges_fit_or_are_refused),
		cmocka_unit_test(send_copies_are_charged_until_sent),
		cmocka_unit_test(recv_ring_grows_within_the_budget),
		cmocka_unit_test(recv_ring_shrinks_to_its_unread_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
