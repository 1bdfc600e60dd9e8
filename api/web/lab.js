/*
 * lab.js: the lab page's behaviour. It keeps a copy of the daemon's
 * connections, listeners and fault rules, follows /v1/events to keep it
 * current, draws the selected connection's ladder as SVG, and sends every
 * action the API offers. Everything it shows comes from the API of the
 * origin that served it; text goes in through textContent only.
 */
"use strict";

const STATES = ["CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
	"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"];
/* Data segments raise no state event, so a live connection's ladder is also polled. */
const TIMELINE_POLL_MS = 300;
/* The interface's counters move with every frame; no event says so. */
const INTERFACE_POLL_MS = 2000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;
/* The timeline keeps its first events and its latest; the gap, if any, follows these. */
const TIMELINE_HEAD = 64;
const SVG_NS = "http://www.w3.org/2000/svg";

const lab = {
	conns: new Map(),	/* id -> connection object, with seenAt: when it was fetched */
	listeners: [],
	faults: null,		/* null while the fault API has not answered 200 */
	selected: null,		/* the id in the address, or null */
	timeline: null,		/* the selected connection's, as last fetched */
	linkUp: false,
	lastEventId: 0,
};

const $ = (id) => document.getElementById(id);

/* An HTML element; children are nodes or text. */
function el(tag, attrs, ...children) {
	const node = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {}))
		node.setAttribute(k, v);
	node.append(...children);
	return node;
}

/* An SVG element; attributes are set as given. */
function sv(tag, attrs, ...children) {
	const node = document.createElementNS(SVG_NS, tag);
	for (const [k, v] of Object.entries(attrs || {}))
		node.setAttribute(k, String(v));
	node.append(...children);
	return node;
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/* A member that others are adding may be absent: show it as unknown. */
function known(value) {
	return value === undefined || value === null ? "?" : String(value);
}

function seconds(atUs) {
	return typeof atUs === "number" ? (atUs / 1e6).toFixed(3) + " s" : "?";
}

/* Runs fn once, ms after the first of a burst of calls. */
function throttle(fn, ms) {
	let timer = null;
	return () => {
		if (timer === null)
			timer = setTimeout(() => { timer = null; fn(); }, ms);
	};
}

/* ---- The API ---------------------------------------------------------- */

/* One request. Resolves to {ok, status, body}; a network failure is status 0. */
async function api(method, path, body) {
	const init = { method, cache: "no-store", headers: { Accept: "application/json" } };
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

/* A whole list, page by page: each page's Link header names the next one. */
async function apiList(path, key) {
	const items = [];
	for (let next = path + "?limit=10000"; next;) {
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
}

async function refreshListeners() {
	const res = await apiList("/v1/listeners", "listeners");
	if (res.ok) {
		lab.listeners = res.body.listeners;
		renderListeners();
	}
}

async function refreshFaults() {
	const res = await apiList("/v1/faults", "faults");
	lab.faults = res.ok ? res.body.faults : null;
	renderFaults(res);
}

const soon = {
	interface: throttle(refreshInterface, 250),
	faults: throttle(() => { if (lab.faults !== null) refreshFaults(); }, 250),
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

/*
 * Follows /v1/events for as long as the page lives. EventSource cannot
 * send Last-Event-ID on a fresh start nor outlive a refused answer, so the
 * stream is read with fetch: on a drop, a stream the server ended, or a
 * daemon that went away, it says so, waits and connects again, naming the
 * last event seen, and then asks for the whole lists once more.
 */
async function followEvents() {
	let wait = RETRY_MIN_MS;
	for (;;) {
		try {
			const headers = { Accept: "text/event-stream" };
			if (lab.lastEventId > 0)
				headers["Last-Event-ID"] = String(lab.lastEventId);
			const res = await fetch("/v1/events", { headers, cache: "no-store" });
			if (!res.ok || !res.body)
				throw new Error("the event stream answered " + res.status);
			setLink(true, "live");
			wait = RETRY_MIN_MS;
			resync();
			const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
			let buffer = "";
			for (;;) {
				const { value, done } = await reader.read();
				if (done)
					break;
				buffer = parseEvents(buffer + value);
			}
		} catch (e) {
			/* A refused or cut connection: reported below, like a stream that ended. */
		}
		for (let left = wait; left > 0; left -= 1000) {
			setLink(false, "disconnected: retrying in " + Math.ceil(left / 1000) + " s");
			await sleep(Math.min(left, 1000));
		}
		setLink(false, "disconnected: reconnecting…");
		wait = Math.min(wait * 2, RETRY_MAX_MS);
	}
}

/* ---- Rendering: interface, lists, faults -------------------------------- */

function fillFacts(dl, facts) {
	dl.replaceChildren();
	for (const [k, v] of facts)
		dl.append(el("dt", {}, k), el("dd", {}, v));
}

function fillTable(tbody, rows) {
	tbody.replaceChildren(...rows.map((cells) =>
		el("tr", {}, ...cells.map((c, i) => el(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : {}, c)))));
}

function renderInterface(iface) {
	fillFacts($("interface"), [
		["name", iface.name],
		["address", iface.address + "/" + iface.prefix],
		["MAC", iface.mac],
		["MTU", String(iface.mtu)],
		["link", iface.up ? "up" : "down"],
	]);
	fillTable($("iface-counters").tBodies[0],
		Object.entries(iface.counters || {}).map(([k, v]) => [k, String(v)]));
}

function stateBadge(state) {
	return el("span", { class: "state", "data-state": known(state) }, known(state));
}

function endpoint(e) {
	return e ? e.ip + ":" + e.port : "?";
}

function renderFilter() {
	const select = $("state-filter");
	const counts = new Map();
	for (const c of lab.conns.values())
		counts.set(c.state, (counts.get(c.state) || 0) + 1);
	const value = select.value;
	const options = [el("option", { value: "" }, "all (" + lab.conns.size + ")"),
		el("option", { value: "live" }, "not CLOSED")];
	for (const s of STATES) {
		if (s !== "LISTEN")
			options.push(el("option", { value: s }, s + " (" + (counts.get(s) || 0) + ")"));
	}
	select.replaceChildren(...options);
	select.value = value;
}

function renderConnections() {
	renderFilter();
	const filter = $("state-filter").value;
	const list = [...lab.conns.values()]
		.filter((c) => filter === "" || (filter === "live" ? c.state !== "CLOSED" : c.state === filter))
		.sort((a, b) => b.id - a.id);
	const items = list.map((c) => {
		const link = el("a", { href: "#/connections/" + c.id },
			el("span", { class: "id" }, "#" + c.id),
			el("span", { class: "ends" }, endpoint(c.local) + " → " + endpoint(c.remote)),
			stateBadge(c.state));
		if (c.id === lab.selected)
			link.setAttribute("aria-current", "true");
		return el("li", { "data-id": c.id, "data-state": c.state }, link);
	});
	if (!items.length)
		items.push(el("li", { class: "hint" }, lab.conns.size ? "none in this state" : "no connections yet"));
	$("connections").replaceChildren(...items);
}

function renderListeners() {
	const items = lab.listeners.map((l) => {
		const item = el("li", { "data-id": l.id, "data-state": l.state },
			el("span", { class: "id" }, "#" + l.id),
			el("span", { class: "ends" }, "port " + l.port + ", accepted " + l.accepted),
			stateBadge(l.state));
		if (l.state === "LISTEN") {
			const stop = el("button", { type: "button", class: "small" }, "Unlisten");
			stop.addEventListener("click", async () => {
				const res = await api("DELETE", "/v1/listeners/" + l.id);
				showResult($("listen-form").querySelector(".result"), res, "listener " + l.id + " closed");
				refreshListeners();
			});
			item.append(stop);
		}
		return item;
	});
	$("listeners").replaceChildren(...items);
}

function describeMatch(m) {
	const parts = Object.entries(m || {}).map(([k, v]) => k + "=" + v);
	return parts.length ? parts.join(", ") : "every segment";
}

function renderFaults(res) {
	const status = $("faults-status");
	if (lab.faults === null) {
		status.hidden = false;
		status.textContent = res.status === 404
			? "This daemon has no fault API: " + ((res.body && res.body.detail) || "404")
			: "Fault rules could not be read: " + ((res.body && res.body.detail) || res.status);
		$("faults").replaceChildren();
		return;
	}
	status.hidden = true;
	const items = lab.faults.map((r) => {
		const extra = r.action === "delay" ? " " + r.delay_ms + " ms"
			: r.action === "reorder" && r.hold_ms ? " hold " + r.hold_ms + " ms" : "";
		const remove = el("button", { type: "button", class: "small" }, "Remove");
		remove.addEventListener("click", async () => {
			const del = await api("DELETE", "/v1/faults/" + r.id);
			showResult($("fault-form").querySelector(".result"), del, "rule " + r.id + " removed");
			refreshFaults();
		});
		return el("li", { "data-id": r.id, "data-state": r.state },
			el("span", { class: "id" }, "#" + r.id),
			el("span", { class: "ends" }, r.action + extra + " " + r.dir + ": " + describeMatch(r.match) +
				"; matched " + r.matched + ", applied " + r.applied +
				", remaining " + (r.remaining === null ? "∞" : known(r.remaining))),
			el("span", { class: "state", "data-state": r.state }, r.state),
			remove);
	});
	if (!items.length)
		items.push(el("li", { class: "hint" }, "no rules"));
	$("faults").replaceChildren(...items);
}

/* ---- Rendering: the selected connection ---------------------------------- */

function historyRows(history) {
	return (history || []).map((h) => [known(h.state), seconds(h.at_us), known(h.cause)]);
}

function renderDetail() {
	const id = lab.selected;
	const conn = id === null ? undefined : lab.conns.get(id);
	$("conn-empty").hidden = id !== null;
	$("conn-view").hidden = !conn;
	if (id === null) {
		$("conn-title").textContent = "No connection selected";
		return;
	}
	if (!conn) {
		$("conn-title").textContent = "Connection #" + id;
		return;
	}
	const title = $("conn-title");
	title.replaceChildren("Connection #" + conn.id + " ", stateBadge(conn.state));
	title.dataset.state = conn.state;
	fillFacts($("conn-facts"), [
		["lwIP", endpoint(conn.local)],
		["peer", endpoint(conn.remote)],
		["origin", conn.origin + (conn.listener_id ? " (listener #" + conn.listener_id + ")" : "")],
		["lwIP's state", conn.state],
		["peer's state", known(conn.peer_state) +
			(conn.peer_state_source ? " (" + conn.peer_state_source + ")" : "")],
		...(conn.time_wait_remaining_ms !== undefined
			? [["TIME_WAIT left", conn.time_wait_remaining_ms + " ms"]] : []),
	]);
	fillTable($("history").tBodies[0], historyRows(conn.history));
	fillTable($("peer-history").tBodies[0], historyRows(conn.peer_history));
	$("peer-source").textContent = conn.peer_history === undefined
		? "This daemon does not report the peer's states; the ladder shows what the segments tell."
		: "Source: " + known(conn.peer_state_source) + ".";
	fillTable($("conn-counters").tBodies[0], [
		...Object.entries(conn.counters || {}).map(([k, v]) => [k, String(v)]),
		["send_queued", known(conn.send_queued)],
		["recv_buffered", known(conn.recv_buffered)],
	]);
	fillTable($("tcb").tBodies[0], Object.entries(conn.tcb || {}).map(([k, v]) => [k, String(v)]));
	drawLadder();
}

/* ---- The ladder ------------------------------------------------------------ */

/* What a fault rule did to a segment, in words; "" for nothing. */
function faultText(fault) {
	if (!fault)
		return "";
	const rule = "rule " + known(fault.rule);
	switch (fault.action) {
	case "drop": return "lost (" + rule + ")";
	case "delay": return "delayed " + known(fault.delay_ms) + " ms (" + rule + ")";
	case "reorder": return "held " + known(fault.hold_ms) + " ms (" + rule + ")";
	case "duplicate": return "duplicated (" + rule + ")";
	case "corrupt": return "corrupted (" + rule + ")";
	default: return known(fault.action) + " (" + rule + ")";
	}
}

function segmentLabel(seg) {
	let text = known(seg.flags) + "  seq " + known(seg.rel_seq);
	if (/ACK/.test(seg.flags || ""))
		text += "  ack " + known(seg.rel_ack);
	if (seg.len)
		text += "  len " + seg.len;
	return text;
}

/* The segment a state change belongs to: the one next to it that moved lwIP from -> to, or -1. */
function causingSegment(events, i) {
	const ev = events[i];
	const moved = (e) => e && e.kind === "segment" && e.state_before === ev.from && e.state_after === ev.to;
	for (let j = i - 1; j >= 0 && events[j].kind === "segment"; j--) {
		if (moved(events[j]))
			return j;
	}
	return moved(events[i + 1]) ? i + 1 : -1;
}

/*
 * Groups the events into rows: each segment with the state changes it
 * brought on either side, and state changes with no segment (a timer, say)
 * on rows of their own.
 */
function ladderRows(events, dropped, peerStart, peerHistory) {
	const rows = [];
	const bySegment = new Map();
	let peer = peerStart;
	/*
	 * The peer's history, taken in order, fills in what a segment's two
	 * states skip (CLOSE_WAIT on the way to LAST_ACK, say) and gives the
	 * causes; without it, the segment's flags stand for the cause.
	 */
	let told = 0;
	const peerLabels = (state, fallback) => {
		const at = peerHistory.findIndex((h, k) => k >= told && h.state === state);
		if (at < 0)
			return [{ state, cause: fallback }];
		const labels = peerHistory.slice(told, at + 1).map((h) => ({ state: h.state, cause: h.cause }));
		told = at + 1;
		return labels;
	};
	events.forEach((ev, i) => {
		if (dropped > 0 && i === TIMELINE_HEAD)
			rows.push({ gap: dropped, lwip: [], peer: [] });
		if (ev.kind === "segment") {
			const row = { seg: ev, index: i, lwip: [], peer: [] };
			/* The peer may have moved unseen since the last segment, as it does on receiving one. */
			for (const state of [ev.peer_state_before, ev.peer_state_after]) {
				if (state === undefined || state === null || state === peer)
					continue;
				const fallback = state === ev.peer_state_after ? (ev.dir === "in" ? "tx:" : "rx:") + known(ev.flags) : "";
				row.peer.push(...peerLabels(state, fallback));
				peer = state;
			}
			bySegment.set(i, row);
			rows.push(row);
		}
	});
	/* Second pass, as a change may come just before the segment it belongs to. */
	const alone = [];
	events.forEach((ev, i) => {
		if (ev.kind !== "state")
			return;
		const label = { state: ev.to, cause: ev.cause };
		const seg = bySegment.get(causingSegment(events, i));
		if (seg) {
			seg.lwip.push(label);
			return;
		}
		/* A row of its own, before the first segment that came after it. */
		const after = rows.findIndex((r) => r.seg && r.index > i);
		alone.push({ at: after < 0 ? rows.length : after, row: { lwip: [label], peer: [] } });
	});
	/* From the last, so that the positions still to insert at stay right. */
	for (const a of alone.reverse())
		rows.splice(a.at, 0, a.row);
	return rows;
}

/* What the ladder on the page was drawn from. */
let ladderKey = "";

function drawLadder() {
	const svg = $("ladder");
	const t = lab.timeline;
	if (!t || t.connection.id !== lab.selected) {
		svg.replaceChildren();
		ladderKey = "";
		return;
	}
	const conn = lab.conns.get(lab.selected) || t.connection;
	const width = Math.max($("ladder-box").clientWidth, 320);
	const font = parseFloat(getComputedStyle(svg).fontSize) || 14;
	const margin = Math.min(font * 8.5, width * 0.3);
	const xL = margin, xR = width - margin;
	const events = t.events || [];
	const firstState = events.find((e) => e.kind === "state");
	const firstSeg = events.find((e) => e.kind === "segment");
	const lwipStart = firstState ? firstState.from : (conn.origin === "passive" ? "LISTEN" : "CLOSED");
	const peerStart = firstSeg && firstSeg.peer_state_before != null ? firstSeg.peer_state_before : "?";
	/* Polls and events redraw often; an unchanged ladder is left alone. */
	const key = [width, font, endpoint(conn.local), endpoint(conn.remote), t.dropped, JSON.stringify(events)].join("|");
	if (key === ladderKey)
		return;
	ladderKey = key;
	const rows = ladderRows(events, t.dropped || 0, peerStart, conn.peer_history || []);
	const labelStep = font * 2.3;

	const nodes = [];
	let y = font * 1.4;
	nodes.push(sv("text", { x: xL, y, class: "end-label", "text-anchor": "middle" }, "lwIP " + endpoint(conn.local)),
		sv("text", { x: xR, y, class: "end-label", "text-anchor": "middle" }, "peer " + endpoint(conn.remote)));
	const top = y + font * 0.6;
	y += font * 1.8;
	nodes.push(stateLabel(xL - font * 0.5, y, "end", "lwip", { state: lwipStart, cause: "" }, font),
		stateLabel(xR + font * 0.5, y, "start", "peer", { state: peerStart, cause: "" }, font));
	y += font * 1.2;

	for (const row of rows) {
		let bottom = y;
		if (row.gap) {
			nodes.push(sv("text", { x: width / 2, y: y + font * 1.2, class: "gap", "text-anchor": "middle" },
				"… " + row.gap + " events not kept …"));
			bottom = y + font * 2;
		}
		/* Where each side's labels start: at the arrow's end on that side, else at the row's top. */
		let lwipY = y + font * 0.8, peerY = lwipY;
		if (row.seg) {
			const drawn = drawSegment(row.seg, xL, xR, y, font);
			nodes.push(drawn.node);
			const lwipSends = row.seg.dir === "out";
			lwipY = lwipSends ? drawn.y0 : drawn.y1;
			peerY = lwipSends ? drawn.y1 : drawn.y0;
			bottom = drawn.bottom;
		}
		row.lwip.forEach((l, i) => nodes.push(stateLabel(xL - font * 0.5, lwipY + font * 0.35 + i * labelStep, "end", "lwip", l, font)));
		row.peer.forEach((l, i) => nodes.push(stateLabel(xR + font * 0.5, peerY + font * 0.35 + i * labelStep, "start", "peer", l, font)));
		bottom = Math.max(bottom, lwipY + row.lwip.length * labelStep, peerY + row.peer.length * labelStep);
		y = bottom + font * 0.4;
	}
	y += font * 0.5;
	nodes.unshift(sv("line", { x1: xL, y1: top, x2: xL, y2: y, class: "lifeline" }),
		sv("line", { x1: xR, y1: top, x2: xR, y2: y, class: "lifeline" }));
	svg.setAttribute("viewBox", "0 0 " + width + " " + Math.ceil(y));
	svg.setAttribute("width", width);
	svg.setAttribute("height", Math.ceil(y));
	svg.replaceChildren(...nodes);
	$("ladder-caption").textContent = "lwIP on the left, the peer on the right; " +
		events.filter((e) => e.kind === "segment").length + " segments" +
		(t.dropped ? ", " + t.dropped + " events not kept" : "") + ".";
}

/* A state written beside a lifeline (with a background, so it reads over anything), and its cause. */
function stateLabel(x, y, anchor, side, label, font) {
	return sv("g", { class: "state-label " + side, "data-state": known(label.state) },
		sv("text", { x, y, "text-anchor": anchor, class: "state-name" }, known(label.state)),
		sv("text", { x, y: y + font * 0.95, "text-anchor": anchor, class: "cause" }, label.cause || ""));
}

/*
 * One segment: its step and label above, an arrow from the sender's
 * lifeline sloping down, and under it what a fault rule did. Returns the
 * group, where the arrow starts and ends (y0, y1) and its lowest point.
 */
function drawSegment(seg, xL, xR, y, font) {
	const out = seg.dir === "out";
	const lost = !!(seg.fault && seg.fault.action === "drop");
	const x0 = out ? xL : xR, x1 = out ? xR : xL;
	const y0 = y + font * 1.5, y1 = y0 + font * 1.1;
	const mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
	const ex = lost ? mx : x1, ey = lost ? my : y1;
	const cls = "segment " + seg.dir + (lost ? " lost" : "");
	const attrs = { class: cls, "data-step": seg.step || "", "data-dir": seg.dir };
	if (lost)
		attrs["data-lost"] = "true";
	const g = sv("g", attrs);
	g.append(sv("title", {}, known(seg.flags) + " " + seg.dir + ": seq " + known(seg.seq) + " ack " + known(seg.ack) +
		" len " + known(seg.len) + " wnd " + known(seg.wnd) + " at " + seconds(seg.at_us) +
		"; lwIP " + known(seg.state_before) + " → " + known(seg.state_after) +
		", peer " + known(seg.peer_state_before) + " → " + known(seg.peer_state_after)));
	g.append(sv("line", { x1: x0, y1: y0, x2: ex, y2: ey, class: "arrow" }));
	if (lost) {
		const r = font * 0.55;
		g.append(sv("path", { d: `M${ex - r} ${ey - r}L${ex + r} ${ey + r}M${ex - r} ${ey + r}L${ex + r} ${ey - r}`, class: "cross" }));
	} else {
		/* The head, pointing along the arrow. */
		const len = Math.hypot(x1 - x0, y1 - y0), ux = (x1 - x0) / len, uy = (y1 - y0) / len;
		const h = font * 0.75, w = font * 0.4;
		const bx = x1 - ux * h, by = y1 - uy * h;
		g.append(sv("path", { d: `M${x1} ${y1}L${bx - uy * w} ${by + ux * w}L${bx + uy * w} ${by - ux * w}Z`, class: "head" }));
	}
	const label = sv("text", { x: mx, y: y + font * 1.05, "text-anchor": "middle", class: "seg-label" });
	if (seg.step)
		label.append(sv("tspan", { class: "step" }, seg.step + "  "));
	label.append(sv("tspan", {}, segmentLabel(seg)));
	g.append(label);
	let bottom = y1;
	if (seg.fault) {
		bottom = y1 + font * 1.2;
		g.append(sv("text", { x: mx, y: bottom, "text-anchor": "middle", class: "fault-note" }, faultText(seg.fault)));
	}
	return { node: g, y0, y1, bottom: bottom + font * 0.3 };
}

/* ---- Actions --------------------------------------------------------------- */

function onSubmit(id, handler) {
	const form = $(id);
	form.addEventListener("submit", async (event) => {
		event.preventDefault();
		const buttons = form.querySelectorAll("button");
		buttons.forEach((b) => { b.disabled = true; });
		try {
			await handler(form, event.submitter);
		} finally {
			buttons.forEach((b) => { b.disabled = false; });
		}
	});
}

function select(id) {
	if (lab.selected !== id) {
		lab.selected = id;
		lab.timeline = null;
		clearResult($("conn-result"));
		clearResult($("conn-problem"));
		$("read-output").hidden = true;
	}
	renderConnections();
	renderDetail();
	refreshTimeline();
}

function route() {
	const m = /^#\/connections\/(\d+)$/.exec(location.hash);
	select(m ? Number(m[1]) : null);
}

/* Runs an action on the selected connection and shows how it went. */
async function connAction(method, suffix, body, okText) {
	const id = lab.selected;
	if (id === null)
		return null;
	const res = await api(method, "/v1/connections/" + id + suffix, body);
	showResult($("conn-result"), res, okText(res));
	if (res.ok && res.body && res.body.id === id)
		storeConn(res.body, performance.now());
	renderConnections();
	refreshTimeline();
	return res;
}

function printable(bytes) {
	return Array.from(bytes, (b) => (b >= 32 && b < 127) || b === 10 ? String.fromCharCode(b)
		: "\\x" + b.toString(16).padStart(2, "0")).join("");
}

function bindActions() {
	onSubmit("open-form", async (form) => {
		const f = form.elements;
		const body = { remote_ip: f.remote_ip.value.trim(), remote_port: numberOrText(f.remote_port.value) };
		if (f.local_port.value.trim() !== "")
			body.local_port = numberOrText(f.local_port.value);
		const res = await api("POST", "/v1/connections", body);
		showResult(form.querySelector(".result"), res, res.ok ? "opened connection #" + res.body.id : "");
		if (res.ok) {
			storeConn(res.body, performance.now());
			location.hash = "#/connections/" + res.body.id;
		}
	});
	onSubmit("listen-form", async (form) => {
		const f = form.elements;
		const body = { port: numberOrText(f.port.value) };
		if (f.backlog.value.trim() !== "")
			body.backlog = numberOrText(f.backlog.value);
		const res = await api("POST", "/v1/listeners", body);
		showResult(form.querySelector(".result"), res, res.ok ? "listening on port " + res.body.port : "");
		refreshListeners();
	});
	onSubmit("send-form", async (form, submitter) => {
		const f = form.elements;
		const body = submitter && submitter.value === "size"
			? { size: numberOrText(f.size.value) } : { data: f.data.value };
		await connAction("POST", "/send", body, (r) => r.ok ? "queued " + r.body.queued + " bytes" : "");
	});
	$("btn-close").addEventListener("click", () =>
		connAction("DELETE", "", undefined, (r) => r.status === 202 ? "closing (FIN)" : "already closing"));
	$("btn-abort").addEventListener("click", () =>
		connAction("DELETE", "?mode=abort", undefined, (r) => r.status === 202 ? "reset (RST)" : "already closing"));
	$("btn-shutdown").addEventListener("click", () => {
		const how = $("shutdown-how").value;
		return connAction("POST", "/shutdown", { how }, () => "shut down " + how);
	});
	$("btn-expire").addEventListener("click", () =>
		connAction("POST", "/expire", undefined, () => "TIME_WAIT ended"));
	$("btn-read").addEventListener("click", async () => {
		const res = await connAction("GET", "/data", undefined,
			(r) => r.ok ? "read " + r.body.bytes + " bytes" + (r.body.truncated ? " (truncated)" : "") : "");
		const out = $("read-output");
		if (res && res.ok) {
			const raw = atob(res.body.data_base64);
			out.textContent = printable(Uint8Array.from(raw, (c) => c.charCodeAt(0))) || "(nothing)";
			out.hidden = false;
		}
	});
	$("state-filter").addEventListener("change", renderConnections);
	bindFaults();
}

/* The textbook cases, as rule bodies the form is filled from. */
const PRESETS = {
	syn: { dir: "out", action: "drop", step: "handshake-1", count: "1" },
	synack: { dir: "in", action: "drop", exact_flags: "SYN,ACK", count: "1" },
	ack3: { dir: "out", action: "drop", step: "handshake-3", count: "1" },
	fin: { dir: "out", action: "drop", flags: "FIN", count: "1" },
	lastack: { dir: "out", action: "drop", step: "teardown-4", count: "1" },
};
const MATCH_FIELDS = ["connection", "flags", "exact_flags", "state", "step", "data", "local_port", "remote_port"];
const RULE_FIELDS = ["delay_ms", "hold_ms", "skip", "count", "probability", "seed"];

function bindFaults() {
	const form = $("fault-form");
	$("fault-preset").addEventListener("change", () => {
		const preset = PRESETS[$("fault-preset").value];
		if (!preset)
			return;
		for (const input of form.elements) {
			if (input.name)
				input.value = preset[input.name] !== undefined ? preset[input.name] : "";
		}
	});
	onSubmit("fault-form", async () => {
		const f = form.elements;
		const match = {};
		for (const name of MATCH_FIELDS) {
			const v = f[name].value.trim();
			if (v === "")
				continue;
			if (name === "data")
				match.data = v === "true";
			else if (["connection", "local_port", "remote_port"].includes(name))
				match[name] = numberOrText(v);
			else
				match[name] = v;
		}
		const body = { dir: f.dir.value, match, action: f.action.value };
		for (const name of RULE_FIELDS) {
			const v = f[name].value.trim();
			if (v !== "")
				body[name] = name === "probability" && !isNaN(Number(v)) ? Number(v) : numberOrText(v);
		}
		const res = await api("POST", "/v1/faults", body);
		showResult(form.querySelector(".result"), res, res.ok ? "added rule #" + res.body.id : "");
		refreshFaults();
	});
	$("faults-clear").addEventListener("click", async () => {
		const res = await api("DELETE", "/v1/faults");
		showResult(form.querySelector(".result"), res, "all rules removed");
		refreshFaults();
	});
}

/* ---- Projector mode and theme ------------------------------------------------ */

const THEMES = ["auto", "light", "dark"];
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

function applyLook() {
	const theme = localStorage.getItem("lwipd-lab-theme") || "auto";
	const large = localStorage.getItem("lwipd-lab-large") === "1";
	const dark = theme === "dark" || (theme === "auto" && darkQuery.matches);
	document.documentElement.dataset.theme = dark ? "dark" : "light";
	document.documentElement.classList.toggle("large", large);
	$("toggle-theme").textContent = "Theme: " + theme;
	$("toggle-large").setAttribute("aria-pressed", String(large));
	drawLadder();
}

function bindLook() {
	$("toggle-theme").addEventListener("click", () => {
		const now = localStorage.getItem("lwipd-lab-theme") || "auto";
		localStorage.setItem("lwipd-lab-theme", THEMES[(THEMES.indexOf(now) + 1) % THEMES.length]);
		applyLook();
	});
	$("toggle-large").addEventListener("click", () => {
		const large = localStorage.getItem("lwipd-lab-large") === "1";
		localStorage.setItem("lwipd-lab-large", large ? "0" : "1");
		applyLook();
	});
	darkQuery.addEventListener("change", applyLook);
	window.addEventListener("resize", throttle(drawLadder, 100));
}

/* ---- Start ------------------------------------------------------------------ */

function start() {
	bindLook();
	applyLook();
	bindActions();
	window.addEventListener("hashchange", route);
	route();
	setInterval(() => { if (lab.linkUp) refreshInterface(); }, INTERFACE_POLL_MS);
	followEvents();
}

start();
