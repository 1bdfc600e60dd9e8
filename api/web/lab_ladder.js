/*
 * lab_ladder.js: draws the selected connection's ladder as SVG: its two
 * lifelines, each segment as an arrow with its label and fault, and the
 * states beside them. lab.js holds the timeline it draws from and loads
 * first.
 */
"use strict";

/* The timeline keeps its first events and its latest; the gap, if any, follows these. */
const TIMELINE_HEAD = 64;
const SVG_NS = "http://www.w3.org/2000/svg";

/* An SVG element; attributes are set as given. */
function sv(tag, attrs, ...children) {
	const node = document.createElementNS(SVG_NS, tag);
	for (const [k, v] of Object.entries(attrs || {}))
		node.setAttribute(k, String(v));
	node.append(...children);
	return node;
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
