/*
 * stream.js: how the page stays connected. It follows /v1/events for as
 * long as the page lives, notices a stream gone silent, and says why it is
 * disconnected or why a list could not be loaded, in the API's own words.
 * lab.js's start() begins it once every script is in.
 */
"use strict";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

const stream = {
	/* The daemon sends a heartbeat every 15 s; this long without a byte, the link is gone. */
	silenceMs: 35000,
	failed: new Map(),	/* what could not be loaded -> why, for the page's alert line */
};

/* A refused answer in words: its status and the problem's title and detail. */
async function refusal(res) {
	const p = await res.json().catch(() => ({}));
	return res.status + " " + (p.title || res.statusText) + (p.detail ? ": " + p.detail : "");
}

/* Notes how loading one thing went; failures are listed in the page's alert line. */
function noteLoad(what, res) {
	if (res.ok) {
		stream.failed.delete(what);
	} else {
		const p = res.body || {};
		stream.failed.set(what, (res.status ? res.status + " " : "") + (p.title || "Error") +
			(p.detail ? ": " + p.detail : ""));
	}
	const node = document.getElementById("page-alert");
	node.hidden = stream.failed.size === 0;
	node.textContent = [...stream.failed].map(([w, why]) => "Could not load " + w + ": " + why).join("; ");
}

/*
 * Follows /v1/events. EventSource cannot send Last-Event-ID on a fresh
 * start, nor read a refused answer, nor carry the token, so the stream is
 * read with fetch: on a drop, a refusal, a stream the server ended or one
 * silent for too long, it says so, waits and connects again, naming the
 * last event seen, and then asks for the whole lists once more.
 */
async function followEvents() {
	let wait = RETRY_MIN_MS;
	for (;;) {
		const abort = new AbortController();
		let why = "";
		let watchdog = null;
		const arm = () => {
			clearTimeout(watchdog);
			watchdog = setTimeout(() => {
				why = "nothing heard for " + Math.round(stream.silenceMs / 1000) + " s";
				abort.abort();
			}, stream.silenceMs);
		};
		try {
			const headers = withAuth({ Accept: "text/event-stream" });
			if (lab.lastEventId > 0)
				headers["Last-Event-ID"] = String(lab.lastEventId);
			arm();
			const res = await fetch("/v1/events", { headers, cache: "no-store", signal: abort.signal });
			if (!res.ok || !res.body) {
				why = await refusal(res);
				throw new Error(why);
			}
			setLink(true, "live");
			wait = RETRY_MIN_MS;
			resync();
			const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
			let buffer = "";
			for (;;) {
				const { value, done } = await reader.read();
				if (done)
					break;
				arm();
				buffer = parseEvents(buffer + value);
			}
			why = "the daemon ended the stream";
		} catch (e) {
			if (!why)
				why = "no answer";
		} finally {
			clearTimeout(watchdog);
			abort.abort();
		}
		for (let left = wait; left > 0; left -= 1000) {
			setLink(false, "disconnected (" + why + "): retrying in " + Math.ceil(left / 1000) + " s");
			await sleep(Math.min(left, 1000));
		}
		setLink(false, "disconnected (" + why + "): reconnecting…");
		wait = Math.min(wait * 2, RETRY_MAX_MS);
	}
}
