/*
 * batches.js: the Batches panel. A form starts a batch (POST /v1/batches),
 * the list shows every batch's figures from GET /v1/batches, asked again
 * every second while one runs, and Stop ends a running one (DELETE).
 * Loaded after lab.js, lab_live.js and stream.js, whose helpers it uses.
 */
"use strict";

const BATCH_POLL_MS = 1000;
const batches = { list: [], timer: null };

/* Milliseconds from microseconds, for latencies. */
function ms(us) {
	return typeof us === "number" ? (us / 1000).toFixed(1) + " ms" : "?";
}

function renderBatches() {
	const items = batches.list.slice().sort((a, b) => b.id - a.id).map((b) => {
		const item = el("li", { "data-id": b.id, "data-state": b.state, "data-established": b.established },
			el("span", { class: "id" }, "#" + b.id),
			el("span", { class: "ends" }, b.count + " to " + b.remote_ip + ":" + b.remote_port +
				", then " + b.close),
			el("span", { class: "state", "data-state": b.state }, b.state));
		if (b.state === "running") {
			const stop = el("button", { type: "button", class: "small" }, "Stop");
			stop.addEventListener("click", async () => {
				const res = await api("DELETE", "/v1/batches/" + b.id);
				showResult($("batch-form").querySelector(".result"), res, "batch " + b.id + " stopped");
				refreshBatches();
			});
			item.append(stop);
		}
		const lat = b.latency_us || {};
		item.append(el("span", { class: "figures" },
			"started " + b.started + ", established " + b.established + ", failed " + b.failed +
			", closed " + b.closed + "; " + Math.round(b.rate) + "/s; latency p50 " + ms(lat.p50) +
			", p99 " + ms(lat.p99)));
		return item;
	});
	if (!items.length)
		items.push(el("li", { class: "hint" }, "no batches"));
	$("batches").replaceChildren(...items);
}

/* Reads the list; asks again soon while a batch runs. */
async function refreshBatches() {
	clearTimeout(batches.timer);
	const res = await api("GET", "/v1/batches");
	if (res.ok) {
		batches.list = res.body.batches;
		renderBatches();
	}
	noteLoad("the batches", res);
	if (batches.list.some((b) => b.state === "running"))
		batches.timer = setTimeout(refreshBatches, BATCH_POLL_MS);
}

function bindBatches() {
	onSubmit("batch-form", async (form) => {
		const f = form.elements;
		const body = { remote_ip: f.remote_ip.value.trim(), remote_port: numberOrText(f.remote_port.value),
			count: numberOrText(f.count.value), close: f.close.value, timelines: f.timelines.checked };
		for (const name of ["in_flight", "hold_ms"]) {
			if (f[name].value.trim() !== "")
				body[name] = numberOrText(f[name].value);
		}
		const res = await api("POST", "/v1/batches", body);
		showResult(form.querySelector(".result"), res, res.ok ? "started batch #" + res.body.id : "");
		refreshBatches();
	});
	refreshBatches();
}

bindBatches();
