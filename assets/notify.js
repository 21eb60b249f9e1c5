// Signals for an operator at work: a short sound (on by default, muted from the menu), a
// browser notification (the Notification API, asked for only when the operator presses
// «Включить уведомления» — never on page load), and the number of conversations waiting for a
// person in the tab title and beside «Входящие».
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const KEY = "supportd_sound";
  let audio = null;
  let waiting = 0;

  function soundOn() {
    try { return localStorage.getItem(KEY) !== "off"; } catch (_) { return true; }
  }

  function setSound(on) {
    try { localStorage.setItem(KEY, on ? "on" : "off"); } catch (_) { /* private mode */ }
    render();
  }

  // Two short tones from the Web Audio API: no file to load, nothing from outside.
  function beep() {
    if (!soundOn()) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const now = audio.currentTime;
      for (const [i, f] of [[0, 880], [1, 1175]]) {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, now + i * 0.15);
        g.gain.exponentialRampToValueAtTime(0.2, now + i * 0.15 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.15 + 0.14);
        o.connect(g).connect(audio.destination);
        o.start(now + i * 0.15);
        o.stop(now + i * 0.15 + 0.15);
      }
      window.supportdNotify.beeps += 1;
    } catch (_) { /* no audio device */ }
  }

  function canAsk() {
    return "Notification" in window && Notification.permission === "default";
  }

  async function ask() {
    if (!("Notification" in window)) return;
    try { await Notification.requestPermission(); } catch (_) { /* blocked */ }
    render();
  }

  function notify(title, body, href) {
    if (!("Notification" in window) || Notification.permission !== "granted" || document.hasFocus()) return;
    try {
      const n = new Notification(title, { body, tag: href || title });
      n.onclick = () => { window.focus(); if (href) location.hash = href; n.close(); };
    } catch (_) { /* some browsers allow notifications from a service worker only */ }
  }

  // Something that needs a person happened: sound, and a notification when the tab is hidden.
  function alert(title, body, href) {
    beep();
    notify(title, body, href);
  }

  function setWaiting(n) {
    waiting = n;
    render();
  }

  function render() {
    document.title = (waiting > 0 ? "(" + waiting + ") " : "") + "supportd — поддержка";
    const badge = $("nav-waiting");
    if (badge) {
      badge.textContent = waiting > 0 ? String(waiting) : "";
      badge.classList.toggle("hidden", waiting === 0);
      badge.setAttribute("aria-label", "ждут человека: " + waiting);
    }
    const s = $("sound");
    if (s) {
      s.textContent = soundOn() ? "♪ Звук" : "Без звука";
      s.setAttribute("aria-label", soundOn() ? "Звук включён: выключить" : "Звук выключен: включить");
      s.setAttribute("aria-pressed", String(soundOn()));
    }
    const offer = $("notify-offer");
    if (offer) offer.classList.toggle("hidden", !canAsk());
  }

  document.addEventListener("DOMContentLoaded", () => {
    if ($("sound")) $("sound").addEventListener("click", () => setSound(!soundOn()));
    if ($("notify-ask")) $("notify-ask").addEventListener("click", ask);
    if ($("notify-later")) $("notify-later").addEventListener("click", () => $("notify-offer").classList.add("hidden"));
    render();
  });

  window.supportdNotify = { alert, setWaiting, soundOn, setSound, beeps: 0, render };
})();
