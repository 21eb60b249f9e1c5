// supportd chat widget. Put on any page of an allowed site:
//   <script src="https://YOUR-SUPPORTD/widget.js" defer></script>
// It opens a chat with the shop's assistant over WebSocket, keeps the visitor's id in
// localStorage (the same conversation on return), reconnects after network blips and resends
// what was not confirmed. No dependencies, no external resources.
(function () {
  "use strict";
  if (window.__supportdWidget) return;
  window.__supportdWidget = true;

  var script = document.currentScript;
  var base = new URL(script ? script.src : "/widget.js", location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/widget/ws";
  var configUrl = base.protocol + "//" + base.host + "/widget/config";
  // The seller's look and greeting (set on the panel's «Подключение» page), and whether this
  // site may show the chat at all; asked once before the first connection.
  var config = null;
  var KEY = "supportd_visitor";

  function randomId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return "v-" + Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  var visitor;
  try {
    visitor = localStorage.getItem(KEY);
    if (!visitor) { visitor = randomId(); localStorage.setItem(KEY, visitor); }
  } catch (e) { visitor = randomId(); }

  var host = document.createElement("div");
  host.setAttribute("data-supportd-widget", "");
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  root.innerHTML =
    '<style>' +
    ':host{all:initial}*{box-sizing:border-box;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}' +
    '.btn{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;' +
    'background:#2563eb;color:#fff;font-size:15px;cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25)}' +
    '.panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:min(360px,calc(100vw - 40px));height:min(520px,calc(100vh - 120px));' +
    'display:none;flex-direction:column;background:#fff;color:#111;border-radius:14px;overflow:hidden;box-shadow:0 10px 40px rgba(0,0,0,.3)}' +
    '.panel.open{display:flex}.head{padding:12px 14px;background:#2563eb;color:#fff;font-weight:600;display:flex;justify-content:space-between;align-items:center}' +
    '.head button{background:transparent;border:0;color:#fff;font-size:20px;cursor:pointer}.state{font-size:12px;font-weight:400;opacity:.85}' +
    '.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f5f7fb}' +
    '.msg{max-width:85%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word;font-size:14px;line-height:1.4}' +
    '.buyer{align-self:flex-end;background:#2563eb;color:#fff}.bot,.operator,.system{align-self:flex-start;background:#fff;border:1px solid #e3e7ef}' +
    '.who{display:block;font-size:11px;opacity:.7;margin-bottom:2px}.typing{align-self:flex-start;font-size:12px;opacity:.7;font-style:italic}' +
    '.refused{align-self:stretch;background:#fff4e5;color:#5c3c00;border:1px solid #f0c36d}' +
    '.pending{opacity:.6}.writing{opacity:.85;font-style:italic}.quick{display:flex;gap:6px;flex-wrap:wrap}.quick button{border:1px solid #2563eb;background:#fff;color:#2563eb;border-radius:14px;padding:4px 12px;cursor:pointer}' +
    'form{display:flex;border-top:1px solid #e3e7ef}textarea{flex:1;border:0;padding:10px;resize:none;font-size:14px;height:48px;outline:none}' +
    'form button{border:0;background:#2563eb;color:#fff;padding:0 16px;cursor:pointer}' +
    '@media (prefers-color-scheme:dark){.panel{background:#1b1f27;color:#e8e8e8}.log{background:#12151b}.bot,.operator,.system{background:#1b1f27;border-color:#2c3340;color:#e8e8e8}textarea{background:#1b1f27;color:#e8e8e8}}' +
    '</style>' +
    '<button class="btn" type="button" aria-expanded="false" aria-controls="sd-panel">Чат с магазином</button>' +
    '<section class="panel" id="sd-panel" role="dialog" aria-label="Чат с магазином">' +
    '<div class="head"><span>Поддержка <span class="state" aria-live="polite"></span></span>' +
    '<button type="button" class="close" aria-label="Закрыть чат">×</button></div>' +
    '<div class="log" role="log" aria-live="polite"></div>' +
    '<form><label style="position:absolute;left:-9999px" for="sd-input">Сообщение</label>' +
    '<textarea id="sd-input" placeholder="Напишите вопрос…" maxlength="4000"></textarea>' +
    '<button type="submit" aria-label="Отправить">➤</button></form></section>';
  (document.body || document.documentElement).appendChild(host);

  var $ = function (s) { return root.querySelector(s); };
  var btn = $(".btn"), panel = $(".panel"), log = $(".log"), form = $("form"), input = $("textarea"), stateEl = $(".state");
  var pending = {}; // client id → text, until the server confirms it
  var seq = 0, ws = null, delay = 500, closedByUs = false, typingEl = null, typingTimer = null;
  var draft = null; // the reply being written: {id, el}, replaced by the final message

  // "печатает…" from a confirmed question until the answer comes (at most 20 seconds: the
  // assistant answers within that; a person's reply may take longer, and then it just arrives).
  function typing() {
    if (!typingEl) {
      typingEl = document.createElement("div");
      typingEl.className = "typing";
      typingEl.textContent = "печатает…";
    }
    log.appendChild(typingEl);
    log.scrollTop = log.scrollHeight;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { if (typingEl) { typingEl.remove(); typingEl = null; } }, 20000);
  }

  function applyConfig(c) {
    config = c;
    var colour = /^#[0-9a-f]{6}$/i.test(c.colour || "") ? c.colour : "#2563eb";
    btn.style.background = colour;
    $(".head").style.background = colour;
    $("form button").style.background = colour;
    if (c.title) $(".head > span").firstChild.textContent = c.title + " ";
  }

  // Who answers: the operator by name, or the assistant.
  function bubble(author, text, cls, name) {
    var d = document.createElement("div");
    d.className = "msg " + author + (cls ? " " + cls : "");
    if (author === "operator" || author === "bot") {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = author === "operator" ? (name || "Оператор") : "Бот-помощник";
      d.appendChild(who);
    }
    d.appendChild(document.createTextNode(text));
    if (typingEl && author !== "buyer") { typingEl.remove(); typingEl = null; }
    log.appendChild(d);
    log.scrollTop = log.scrollHeight;
    return d;
  }
  function quick(buttons) {
    var row = document.createElement("div");
    row.className = "quick";
    buttons.forEach(function (r) {
      (r || []).forEach(function (label) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = label;
        b.onclick = function () { row.remove(); send(label); };
        row.appendChild(b);
      });
    });
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }
  function setState(text) { stateEl.textContent = text; }

  function transmit(id) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "message", id: id, text: pending[id].text }));
  }
  function send(text) {
    text = text.trim();
    if (!text) return;
    var id = visitor.slice(-6) + "-" + Date.now().toString(36) + "-" + (seq++);
    pending[id] = { text: text, el: bubble("buyer", text, "pending") };
    transmit(id);
  }

  // A site that is not allowed is told so, in words, once: no endless reconnecting.
  function refused(message) {
    setState("");
    log.textContent = "";
    bubble("system", message || "Чат недоступен на этом сайте.", "refused");
    input.disabled = true;
    $("form button").disabled = true;
  }

  function start() {
    if (config) { if (config.allowed) connect(); else refused(config.message); return; }
    setState("подключаемся…");
    fetch(configUrl, { credentials: "omit" })
      .then(function (r) { return r.json(); })
      .then(function (c) { applyConfig(c); if (c.allowed) connect(); else refused(c.message); })
      .catch(function () { connect(); });
  }

  function connect() {
    setState("подключаемся…");
    ws = new WebSocket(wsUrl + "?visitor=" + encodeURIComponent(visitor));
    ws.onopen = function () {
      delay = 500;
      setState("");
      Object.keys(pending).forEach(transmit);
    };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.type === "history") {
        draft = null;
        log.textContent = "";
        m.messages.forEach(function (h) { bubble(h.author, h.text, "", h.name); });
        Object.keys(pending).forEach(function (id) { pending[id].el = bubble("buyer", pending[id].text, "pending"); });
        if (!m.messages.length && !Object.keys(pending).length) {
          bubble("bot", (config && config.greeting) || "Здравствуйте! Спросите о заказе, возврате, размере или доставке.");
        }
      } else if (m.type === "ack" && pending[m.id]) {
        pending[m.id].el.classList.remove("pending");
        delete pending[m.id];
        typing();
      } else if (m.type === "draft") {
        // The answer as it is written, sentence by sentence.
        if (typingEl) { typingEl.remove(); typingEl = null; }
        if (!draft || draft.id !== m.id) draft = { id: m.id, el: bubble("bot", "", "writing") };
        draft.el.lastChild.textContent = m.text || "";
        log.scrollTop = log.scrollHeight;
      } else if (m.type === "message") {
        if (draft && (m.author || "bot") === "bot") {
          draft.el.remove();
          draft = null;
        }
        bubble(m.author || "bot", m.text || "", "", m.name);
        if (m.buttons) quick(m.buttons);
      } else if (m.type === "error") {
        setState(m.message || "ошибка");
      }
    };
    ws.onclose = function () {
      ws = null;
      if (closedByUs) return;
      setState("нет связи, переподключаемся…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  btn.onclick = function () {
    var open = !panel.classList.contains("open");
    panel.classList.toggle("open", open);
    btn.setAttribute("aria-expanded", String(open));
    if (open) {
      if (!ws) start();
      input.focus();
    }
  };
  $(".close").onclick = function () { panel.classList.remove("open"); btn.setAttribute("aria-expanded", "false"); };
  form.onsubmit = function (e) { e.preventDefault(); send(input.value); input.value = ""; };
  input.onkeydown = function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.onsubmit(e); }
  };
  window.addEventListener("beforeunload", function () { closedByUs = true; });
})();
