// Installable panel: the service worker (/sw.js) keeps the panel's own files for a start
// without network; it never stores API answers.
"use strict";

if ("serviceWorker" in navigator && (location.protocol === "https:" || location.hostname === "127.0.0.1" || location.hostname === "localhost")) {
  window.addEventListener("load", () => { navigator.serviceWorker.register("/sw.js").catch(() => { /* not installable here */ }); });
}
