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
    let resp;
    try {
      resp = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (_) {
      // "Failed to fetch": the server is out of reach. Said in Russian, with a code to retry on.
      const err = new Error(window.supportdLabels ? window.supportdLabels.ERRORS.network : "Нет связи с сервером");
      err.code = "network";
      throw err;
    }
    let data = null;
    try { data = await resp.json(); } catch (_) { /* empty body */ }
    if (!resp.ok) {
      const err = new Error(data && data.error ? data.error.message : "HTTP " + resp.status);
      err.code = data && data.error ? data.error.code : "http_" + resp.status;
      err.status = resp.status;
      // Shown to people as is: in Russian (the server's message when it is, else the code's).
      if (window.supportdLabels) err.message = window.supportdLabels.errorText(err);
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

  // A confirmation in the page (not the browser's confirm()): a <dialog> with the question,
  // what follows, and the action's own name on the button. Resolves true or false.
  function confirm(question, detail, action) {
    return new Promise((resolve) => {
      const d = el("dialog", "confirm");
      d.setAttribute("aria-label", question);
      d.appendChild(el("p", "confirm-q", question));
      if (detail) d.appendChild(el("p", "muted small", detail));
      const row = el("div", "confirm-row");
      const no = el("button", "ghost", "Отмена");
      no.type = "button";
      const yes = el("button", "danger-button", action || "Да");
      yes.type = "button";
      row.appendChild(no);
      row.appendChild(yes);
      d.appendChild(row);
      const done = (v) => { d.close(); d.remove(); resolve(v); };
      no.addEventListener("click", () => done(false));
      yes.addEventListener("click", () => done(true));
      d.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
      document.body.appendChild(d);
      d.showModal();
      no.focus();
    });
  }

  // A short message at the bottom, with an undo button for a few seconds where one is cheap.
  function toast(text, undoLabel, undo, ms) {
    const old = document.querySelector(".toast");
    if (old) old.remove();
    const t = el("div", "toast");
    t.setAttribute("role", "status");
    t.appendChild(el("span", "", text));
    if (undo) {
      const b = el("button", "ghost", undoLabel || "Отменить");
      b.type = "button";
      b.addEventListener("click", () => { t.remove(); undo(); });
      t.appendChild(b);
    }
    document.body.appendChild(t);
    setTimeout(() => t.remove(), ms || 6000);
  }

  window.supportd = { api, csrf, el };
  window.supportdUi = { confirm, toast };
})();
