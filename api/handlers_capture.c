/*
 * handlers_capture: the handlers of captures for Wireshark: a connection's
 * frames as a pcapng file (/v1/connections/{id}/capture), and every frame
 * on the interface streamed live (/v1/capture, ?connection=ID).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "api_internal.h"
#include "capture_file.h"
#include "capture_live.h"
#include "errors.h"
#include "pcapng.h"

int
handlers_conn_capture(const struct call *call, struct reply *reply, struct problem *err)
{
	struct errors_subject subject = { .noun = "connection", .id = call->id };
	struct engine_timeline timeline;
	struct engine_iface_view iface;
	enum engine_result result;
	uint8_t *file = NULL;
	size_t len = 0;
	int rc;

	engine_interface(call->engine, &iface);
	result = engine_capture(call->engine, call->id, &timeline);
	if (result != ENGINE_OK)
		return errors_engine(result, &subject, err);
	rc = capture_file(&timeline, &iface, &file, &len);
	engine_timeline_free(&timeline);
	if (rc != 0)
		return errors_render_failed(err);
	reply->status = MHD_HTTP_OK;
	reply->text = (char *)file;
	reply->text_len = len;
	reply->content_type = PCAPNG_CONTENT_TYPE;
	snprintf(reply->disposition, sizeof(reply->disposition),
	    "attachment; filename=\"lwipd-conn-%" PRIu64 ".pcapng\"", call->id);
	return 0;
}

int
handlers_capture(const struct call *call, struct reply *reply, struct problem *err)
{
	const struct request_param *connection = routes_param(call, "connection");
	struct errors_subject subject = {
		.op = ERRORS_OP_CAPTURE, .noun = "connection", .limits = &call->server->limits };
	char description[CAPTURE_DESCRIPTION_MAX];
	struct engine_iface_view iface;
	struct engine_conn_view conn;
	enum engine_result result;
	uint64_t id = 0;
	int rc;

	engine_interface(call->engine, &iface);
	if (connection != NULL) {
		rc = request_parse_connection_filter(connection->value, &id, err);
		if (rc != 0)
			return rc;
		subject.id = id;
		result = engine_get(call->engine, id, &conn);
		if (result != ENGINE_OK)
			return errors_engine(result, &subject, err);
	}
	capture_describe(&iface, id != 0 ? &conn : NULL, description, sizeof(description));
	rc = capture_live_response(call->server->captures, call->engine, call->connection, iface.name,
	    description, id, &reply->stream);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		return errors_engine(ENGINE_NOT_FOUND, &subject, err);
	case -ENOBUFS:
		return errors_engine(ENGINE_LIMIT_REACHED, &subject, err);
	case -ESHUTDOWN:
		return errors_engine(ENGINE_STOPPING, &subject, err);
	default:
		return errors_engine(ENGINE_NO_MEMORY, &subject, err);
	}
	reply->status = MHD_HTTP_OK;
	reply->content_type = PCAPNG_CONTENT_TYPE;
	return 0;
}
