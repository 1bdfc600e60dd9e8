/*
 * actions_more.js: the selected connection's downloads: its capture
 * (pcapng) and its ladder as text, SVG or Mermaid. A plain link cannot
 * carry the API token, so a click fetches the file with it and hands the
 * browser the bytes. Loaded after lab.js and lab_live.js, whose helpers it uses.
 */
"use strict";

const DOWNLOADS = ["link-capture", "link-text", "link-svg", "link-mermaid"];

/* Points the links at the selected connection. */
function updateDownloads() {
	const id = /^#\/connections\/(\d+)$/.exec(location.hash);
	for (const name of DOWNLOADS) {
		const a = $(name);
		a.href = id ? "/v1/connections/" + id[1] + a.dataset.suffix : "#";
	}
}

async function download(event) {
	event.preventDefault();
	const a = event.currentTarget;
	let res;
	try {
		res = await fetch(a.href, { headers: withAuth({}), cache: "no-store" });
	} catch (e) {
		showResult($("conn-result"), { ok: false, status: 0, body: { detail: "the daemon did not answer" } });
		return;
	}
	if (!res.ok) {
		const body = await res.json().catch(() => ({ detail: res.statusText }));
		showResult($("conn-result"), { ok: false, status: res.status, body });
		return;
	}
	const disposition = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
	const url = URL.createObjectURL(await res.blob());
	const save = el("a", { href: url, download: disposition ? disposition[1] : a.id.slice(5) });
	document.body.append(save);
	save.click();
	save.remove();
	setTimeout(() => URL.revokeObjectURL(url), 1000);
}

for (const name of DOWNLOADS)
	$(name).addEventListener("click", download);
window.addEventListener("hashchange", updateDownloads);
updateDownloads();
