/*
 * auth.js: the API token, for a daemon started with --api-token-file. The
 * page's files need none, so the page loads and asks for it; it is kept in
 * sessionStorage (this tab only, gone when the tab closes) and every
 * request the page makes carries it as "Authorization: Bearer".
 */
"use strict";

const AUTH_KEY = "lwipd-lab-token";

/* Adds the token, if one was given, to a request's headers; returns them. */
function withAuth(headers) {
	const token = sessionStorage.getItem(AUTH_KEY);
	if (token)
		headers.Authorization = "Bearer " + token;
	return headers;
}

/* A new token applies to everything, the event stream included: load the page again with it. */
function bindAuth() {
	const form = document.getElementById("token-form");
	form.elements.token.value = sessionStorage.getItem(AUTH_KEY) || "";
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		const token = form.elements.token.value.trim();
		if (token)
			sessionStorage.setItem(AUTH_KEY, token);
		else
			sessionStorage.removeItem(AUTH_KEY);
		location.reload();
	});
}

bindAuth();
