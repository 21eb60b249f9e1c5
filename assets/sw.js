// The panel's service worker: the shell only (the page, scripts, styles, icons), so the panel
// opens as an installed app. API answers, event streams, the widget and files are never cached:
// every /api/ request goes to the network.
"use strict";

const SHELL = "supportd-shell-v1";
const FILES = [
  "/", "/assets/style.css", "/assets/labels.js", "/assets/common.js", "/assets/notify.js", "/assets/pwa.js",
  "/assets/pages.js", "/assets/licence.js", "/assets/ops.js", "/assets/reports.js", "/assets/channels.js",
  "/assets/setup.js", "/assets/profile.js", "/assets/app.js", "/assets/login.js", "/assets/favicon.svg",
  "/assets/icon-192.png", "/assets/icon-512.png", "/assets/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k)))).then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  const shell = url.pathname === "/" || (url.pathname.startsWith("/assets/") && FILES.includes(url.pathname));
  if (!shell) return; // /api/, /widget/, files: straight to the network, never stored
  // Network first, so a new version shows at once; the stored shell when offline.
  event.respondWith(
    fetch(event.request)
      .then((resp) => {
        if (resp.ok) {
          const copy = resp.clone();
          caches.open(SHELL).then((c) => c.put(event.request, copy));
        }
        return resp;
      })
      .catch(() => caches.match(event.request)),
  );
});
