/*
 * lab_live.js: keeps the lab page's copy current: the API calls (one
 * request, a paged list, a result line), fetching what changed, and what
 * each event from /v1/events changes (stream.js follows the stream).
 * lab.js holds the copy and loads first.
 */
"use strict";

/* Data segments raise no state event, so a live connection's ladder is also polled. */
const TIMELINE_POLL_MS = 300;

/* ---- The API ---------------------------------------------------------- */

/* One request. Resolves to {ok, status, body}; a network failure is status 0. */
async function api(method, path, body) {
	const init = { method, cache: "no-store", headers: withAuth({ Accept: "application/json" }) };
	if (body !== undefined) {
		init.headers["Content-Type"] = "application/json";
		init.body = JSON.stringify(body);
	}
	try {
		const res = await fetch(path, init);
		const text = await res.text();
		let data = null;
		try {
			data = text ? JSON.parse(text) : null;
		} catch (e) {
			data = { detail: text };
		}
		return { ok: res.ok, status: res.status, body: data, link: res.headers.get("Link") };
	} catch (e) {
		return { ok: false, status: 0,
			body: { title: "No answer", detail: "the daemon did not answer (" + e.message + ")" } };
	}
}

/* Entries asked for per page of a list: the API's largest page. */
let listPageSize = 10000;

/* A whole list, page by page: each page's Link header names the next one. */
async function apiList(path, key) {
	const items = [];
	for (let next = path + "?limit=" + listPageSize; next;) {
		const res = await api("GET", next);
		if (!res.ok)
			return res;
		items.push(...res.body[key]);
		const link = /<([^>]*)>;\s*rel="next"/.exec(res.link || "");
		next = link ? link[1] : null;
	}
	return { ok: true, status: 200, body: { [key]: items } };
}

/* Shows an answer in a result line: the problem's detail and field, or a note of success. */
function showResult(node, res, okText) {
	node.hidden = false;
	node.classList.toggle("problem", !res.ok);
	if (res.ok) {
		node.textContent = okText;
		return;
	}
	const p = res.body || {};
	let text = (res.status ? res.status + " " : "") + (p.title || "Error") + ": " + (p.detail || "");
	if (p.field)
		text += " (field: " + p.field + ")";
	node.textContent = text;
}

function clearResult(node) {
	node.hidden = true;
	node.textContent = "";
}

/* A form value as the API wants it: a whole number when it reads as one, else the text, so the API names the mistake. */
function numberOrText(text) {
	const t = text.trim();
	return /^-?\d+$/.test(t) ? Number(t) : t;
}

/* ---- Keeping the copy current ------------------------------------------ */

/* Stores a fetched connection unless the copy held is newer (it has lived through more states). */
function storeConn(conn, fetchedAt) {
	const held = lab.conns.get(conn.id);
	if (held && held.history.length > conn.history.length)
		return;
	conn.seenAt = fetchedAt;
	lab.conns.set(conn.id, conn);
}

async function fetchConn(id) {
	const started = performance.now();
	const res = await api("GET", "/v1/connections/" + id);
	if (res.ok)
		storeConn(res.body, started);
	else if (res.status === 404)
		lab.conns.delete(id);
	renderConnections();
	if (id === lab.selected)
		renderDetail();
}

/* A burst of events about a connection makes one request for it. */
const stale = new Set();
const fetchStale = throttle(() => {
	for (const id of stale)
		fetchConn(id);
	stale.clear();
}, 50);

function fetchSoon(id) {
	stale.add(id);
	fetchStale();
}

/*
 * Replaces the copy with the daemon's lists. A connection missing from the
 * list stays only if it was fetched after the list was asked for: an event
 * may have brought it in meanwhile.
 */
async function resync() {
	const started = performance.now();
	const [conns, listeners] = await Promise.all([
		apiList("/v1/connections", "connections"), apiList("/v1/listeners", "listeners")]);
	if (conns.ok) {
		const fresh = new Set(conns.body.connections.map((c) => c.id));
		for (const [id, c] of lab.conns) {
			if (!fresh.has(id) && c.seenAt < started)
				lab.conns.delete(id);
		}
		for (const c of conns.body.connections)
			storeConn(c, started);
	}
	if (listeners.ok)
		lab.listeners = listeners.body.listeners;
	noteLoad("the connections", conns);
	noteLoad("the listeners", listeners);
	renderConnections();
	renderListeners();
	refreshInterface();
	refreshFaults();
	refreshTimeline();
}

async function refreshInterface() {
	const res = await api("GET", "/v1/interface");
	if (res.ok)
		renderInterface(res.body);
	noteLoad("the interface", res);
}

async function refreshListeners() {
	const res = await apiList("/v1/listeners", "listeners");
	if (res.ok) {
		lab.listeners = res.body.listeners;
		renderListeners();
	}
	noteLoad("the listeners", res);
}

async function refreshFaults() {
	const res = await apiList("/v1/faults", "faults");
	if (res.ok) {
		lab.faults = res.body.faults;
		renderFaults();
	}
	noteLoad("the fault rules", res);
}

const soon = {
	interface: throttle(refreshInterface, 250),
	faults: throttle(refreshFaults, 250),
	/* A passive connection moves its listener's accepted count. */
	listeners: throttle(refreshListeners, 250),
};

/* The selected connection's timeline: one request at a time, one more if asked meanwhile. */
const tl = { busy: false, again: false, timer: null };

async function refreshTimeline() {
	clearTimeout(tl.timer);
	const id = lab.selected;
	if (id === null)
		return;
	if (tl.busy) {
		tl.again = true;
		return;
	}
	tl.busy = true;
	const started = performance.now();
	const res = await api("GET", "/v1/connections/" + id + "/timeline");
	tl.busy = false;
	if (id === lab.selected) {
		if (res.ok) {
			clearResult($("conn-problem"));
			lab.timeline = res.body;
			storeConn(res.body.connection, started);
			renderConnections();
		} else {
			lab.timeline = null;
			if (res.status !== 0)
				showResult($("conn-problem"), res);
		}
		renderDetail();
	}
	if (tl.again) {
		tl.again = false;
		refreshTimeline();
		return;
	}
	const conn = lab.conns.get(lab.selected);
	if (lab.linkUp && conn && conn.state !== "CLOSED")
		tl.timer = setTimeout(refreshTimeline, TIMELINE_POLL_MS);
}

/* ---- The event stream -------------------------------------------------- */

function setLink(up, text) {
	lab.linkUp = up;
	const node = $("link-status");
	node.dataset.state = up ? "up" : "down";
	node.textContent = text;
	/* What the page shows while down is what it knew before: fade it. */
	document.body.classList.toggle("stale", !up);
}

function onEvent(type, id, data) {
	if (id !== null) {
		/* Numbers start again from 1 when the daemon restarts. */
		if (id <= lab.lastEventId)
			resync();
		lab.lastEventId = id;
	}
	let ev;
	try {
		ev = JSON.parse(data);
	} catch (e) {
		return;
	}
	if (type === "state" || type === "connection") {
		const held = lab.conns.get(ev.id);
		if (type === "state" && held)
			held.state = ev.to;
		if (type === "connection" && ev.action === "removed")
			lab.conns.delete(ev.id);
		else
			fetchSoon(ev.id);
		if (type === "connection")
			soon.listeners();
		renderConnections();
		if (ev.id === lab.selected)
			refreshTimeline();
	} else if (type === "listener") {
		refreshListeners();
	}
	soon.interface();
	soon.faults();
}

/* Splits a text/event-stream into events; returns what is left of an unfinished one. */
function parseEvents(buffer) {
	const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
	const rest = blocks.pop();
	for (const block of blocks) {
		let type = "message", id = null;
		const data = [];
		for (const line of block.split("\n")) {
			if (line === "" || line.startsWith(":"))
				continue;
			const colon = line.indexOf(":");
			const name = colon < 0 ? line : line.slice(0, colon);
			const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
			if (name === "event")
				type = value;
			else if (name === "data")
				data.push(value);
			else if (name === "id" && /^\d+$/.test(value))
				id = Number(value);
		}
		if (data.length)
			onEvent(type, id, data.join("\n"));
	}
	return rest;
}
