/*
 * lab.js: the lab page's state, the page itself and its actions: the
 * shared copy of the daemon's connections, listeners and fault rules, the
 * lists and the selected connection's details drawn from it, the forms
 * that send every action the API offers, and the page's look. The API
 * calls and the events that keep the copy current are lab_live.js's, the
 * event stream itself stream.js's, the token auth.js's, the ladder
 * lab_ladder.js's, batches and downloads batches.js's and actions_more.js's.
 * index.html loads this file first; start() runs once all have loaded.
 * Everything the page shows comes from the API of the origin that served
 * it; text goes in through textContent only.
 */
"use strict";

const STATES = ["CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
	"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"];
/* The interface's counters move with every frame; no event says so. */
const INTERFACE_POLL_MS = 2000;

const lab = {
	conns: new Map(),	/* id -> connection object, with seenAt: when it was fetched */
	listeners: [],
	faults: [],
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

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/* A member that may be null (no peer state seen yet, no limit): shown as unknown. */
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

function renderFaults() {
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
	$("peer-source").textContent = "Source: " + known(conn.peer_state_source) + ".";
	fillTable($("conn-counters").tBodies[0], [
		...Object.entries(conn.counters || {}).map(([k, v]) => [k, String(v)]),
		["send_queued", known(conn.send_queued)],
		["recv_buffered", known(conn.recv_buffered)],
	]);
	fillTable($("tcb").tBodies[0], Object.entries(conn.tcb || {}).map(([k, v]) => [k, String(v)]));
	drawLadder();
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
		if (!f.timeline.checked)
			body.timeline = false;
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
		const as = submitter ? submitter.value : "data";
		const body = as === "size" ? { size: numberOrText(f.size.value) }
			: as === "base64" ? { data_base64: f.data_base64.value.trim() } : { data: f.data.value };
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
		const res = await connAction("GET", $("read-peek").checked ? "/data?peek=true" : "/data", undefined,
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
	/* The lists fill even while the event stream is refused. */
	resync();
	followEvents();
}

/* Deferred scripts run in order before DOMContentLoaded: by then lab_live.js and lab_ladder.js are in. */
document.addEventListener("DOMContentLoaded", start);
