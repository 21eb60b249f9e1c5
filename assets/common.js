// Shared by the panel's scripts: the JSON API helper (session cookie + CSRF header, errors with
// the server's message and code) and a safe element builder (text only, never HTML).
"use strict";

(function () {
  function csrf() {
    const m = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/);
    return m ? m[1] : "";
  }

  async function api(method, path, body) {
    const headers = { "X-CSRF-Token": csrf() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (_) { /* empty body */ }
    if (!resp.ok) {
      const err = new Error(data && data.error ? data.error.message : "HTTP " + resp.status);
      err.code = data && data.error ? data.error.code : "http_" + resp.status;
      throw err;
    }
    return data;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  window.supportd = { api, csrf, el };
})();
