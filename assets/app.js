// The operator inbox: conversations with live updates (Server-Sent Events of the event feed,
// with catch-up after a network blip), the thread with the bot's reasons, takeover / reply /
// return.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
  const L = window.supportdLabels;
  const CHANNELS = L.CHANNELS;
  const AUTHORS = L.AUTHORS;
  const STATUSES = L.ORDER_STATUSES;
  const RETURNS = L.RETURNS;
  const REASONS = L.REASONS;
  const FILTERS = {
    all: {},
    pending: { status: "pending" },
    mine: { assigned: "me" },
    bot: { handled_by: "bot", status: "open" },
    closed: { status: "closed" },
    due: { sort: "due" },
  };

  let me = null;
  let snippets = [];
  let customerCard = null;
  let filter = "all";
  let list = [];
  let current = null;
  let lastEvent = 0;
  let source = null;
  let pending = null;
  let sortBy = "recent";
  let currentConv = null;
  let known = new Map(); // conversation id → its state key, to notice new handoffs
  let drafts = new Map(); // conversation id → a reply that failed to send
  let listed = false; // the first full list of this session is read without signals

  const { api, el } = window.supportd;

  const time = (iso) => new Date(iso).toLocaleString("ru-RU", { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" });
  const can = (role) => me && ROLE_RANK[me.role] >= ROLE_RANK[role];

  // Today's numbers, defined once on the server (GET /api/v1/stats/summary's definitions).
  async function loadDashboard() {
    const d = await api("GET", "/api/v1/dashboard");
    const rate = d.automation_rate === null ? "—" : Math.round(100 * d.automation_rate) + "%";
    const secs = (s) => (s === null ? "—" : s < 60 ? s.toFixed(1).replace(".", ",") + " с" : Math.round(s / 60) + " мин");
    const cells = [
      ["Сообщений сегодня", d.messages_buyer, "Сообщения покупателей с полуночи по времени магазина"],
      ["Без человека", rate, "Закрыто без человека ÷ все закрытые разговоры сегодня"],
      ["Ждут", d.waiting, "Разговоры, которые сейчас ждут человека"],
      ["Ответ человека", secs(d.first_human_response_s_p50), "Медиана: от передачи человеку до первого ответа оператора"],
      ["Ответ бота", d.bot_answer_ms_p50 === null ? "—" : secs(d.bot_answer_ms_p50 / 1000), "Медиана первого ответа бота"],
    ];
    const box = $("dashboard");
    box.textContent = "";
    for (const [label, value, hint] of cells) {
      const cell = el("a", "kpi");
      cell.href = "#/reports";
      cell.title = hint;
      cell.appendChild(el("b", "", String(value)));
      cell.appendChild(el("span", "muted", label));
      box.appendChild(cell);
    }
  }

  async function loadCustomer(id) {
    const v = await api("GET", "/api/v1/customers/" + id);
    customerCard = v;
    const box = $("customer");
    box.textContent = "";
    box.appendChild(el("h3", "", L.buyerName(v.customer.display_name, v.customer.channel, v.customer.id)));
    box.appendChild(el("div", "muted", (CHANNELS[v.customer.channel] || v.customer.channel) + (v.customer.phone ? " · " + v.customer.phone : "")));
    box.appendChild(el("h4", "", "Заказы"));
    if (!v.orders.length) box.appendChild(el("div", "muted", "Покупатель ещё не называл заказов"));
    for (const o of v.orders) {
      box.appendChild(el("div", "order", o.number + " · " + (o.market === "wb" ? "WB" : "Ozon") + " · " + (STATUSES[o.status] || o.status)));
      const refs = [o.number, o.reference];
      for (const r of (v.returns || []).filter((x) => x.market === o.market && refs.includes(x.order_ref))) {
        box.appendChild(el("div", "muted", "↩ возврат: " + (RETURNS[r.status] || r.status) + " · " + r.status_text + (r.reason ? " · «" + r.reason + "»" : "")));
      }
    }
    const earlier = v.conversations.filter((c) => c.id !== current);
    if (earlier.length) {
      box.appendChild(el("h4", "", "Ранее"));
      for (const c of earlier.slice(0, 10)) {
        box.appendChild(el("div", "", time(c.last_message) + (c.csat ? " · оценка " + c.csat : "") + " · " + L.conversationState(c).text.toLowerCase()));
      }
    }
  }

  const nameOf = (c) => L.buyerName(c.customer_name, c.channel, c.customer_id);

  async function loadList() {
    const params = Object.assign({}, FILTERS[filter]);
    const search = $("search").value.trim();
    if (search) params.q = search;
    if (sortBy === "waiting") params.limit = 200;
    const q = new URLSearchParams(params).toString();
    list = await api("GET", "/api/v1/conversations" + (q ? "?" + q : ""));
    if (sortBy === "waiting") {
      // Longest wait first; those nobody waits on after them, newest first.
      const w = (c) => (c.triage && c.triage.waiting_since ? c.triage.waiting_since : Infinity);
      list.sort((a, b) => w(a) - w(b));
    }
    const ul = $("conv-list");
    ul.textContent = "";
    if (!list.length) ul.appendChild(el("li", "empty muted", search ? "Ничего не найдено" : "Разговоров нет"));
    const now = Date.now();
    let waitingCount = 0;
    for (const c of list) {
      const st = L.conversationState(c);
      const t = c.triage || {};
      if (st.key === "waiting") waitingCount += 1;
      const full = !search && filter === "all";
      const before = known.get(c.id);
      if (full && listed && before !== "waiting" && st.key === "waiting") {
        window.supportdNotify.alert("Нужен человек: " + nameOf(c), (t.last_text || "").slice(0, 120), "#/inbox/" + c.id);
      }
      if (full) known.set(c.id, st.key);
      const li = el("li", "conv" + (current === c.id ? " active" : ""));
      li.tabIndex = 0;
      li.dataset.id = c.id;
      li.setAttribute("role", "button");
      const top = el("div", "row");
      const name = el("b", "name", nameOf(c));
      top.appendChild(name);
      const marks = el("span", "marks");
      if (t.sentiment === "angry" || t.sentiment === "negative") marks.appendChild(el("span", "mark mark-angry", t.sentiment === "angry" ? "😠 злится" : "☹ недоволен"));
      if (t.urgent) marks.appendChild(el("span", "mark mark-urgent", "⚡ срочно"));
      if (c.unanswered > 0) marks.appendChild(el("span", "unread", String(c.unanswered)));
      marks.appendChild(el("span", "badge ch-" + c.channel, CHANNELS[c.channel] || c.channel));
      top.appendChild(marks);
      if (c.reply_due) top.appendChild(dueBadge(c.reply_due));
      li.appendChild(top);
      if (t.last_text) {
        li.appendChild(el("div", "conv-preview small", (t.last_author && t.last_author !== "buyer" ? AUTHORS[t.last_author] + ": " : "") + t.last_text));
      }
      const bottom = el("div", "row muted small");
      bottom.appendChild(el("span", "state st-" + st.key, st.text));
      const wait = t.waiting_since ? now - t.waiting_since : null;
      const when = el("span", "when" + (wait !== null && wait > 15 * 60000 ? " late" : ""), wait !== null ? "ждёт " + L.waited(wait) : time(c.last_message));
      if (wait !== null) when.title = "Покупатель ждёт ответа с " + time(new Date(t.waiting_since).toISOString());
      bottom.appendChild(when);
      li.appendChild(bottom);
      li.addEventListener("click", () => open(c.id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") open(c.id); });
      ul.appendChild(li);
    }
    if (!search && filter === "all") {
      window.supportdNotify.setWaiting(waitingCount);
      listed = true;
    }
  }

  // A marketplace thread's answer deadline: "ответить за 5 ч", "просрочено на 2 ч".
  function left(seconds) {
    const s = Math.abs(seconds);
    if (s >= 86400) return Math.floor(s / 86400) + " дн";
    if (s >= 3600) return Math.floor(s / 3600) + " ч";
    return Math.max(1, Math.floor(s / 60)) + " мин";
  }

  function dueBadge(d) {
    const soon = !d.overdue && d.seconds_left < 3 * 3600;
    const b = el("span", "due" + (d.overdue ? " overdue" : soon ? " soon" : ""),
      d.overdue ? "просрочено на " + left(d.seconds_left) : "ответить за " + left(d.seconds_left));
    b.title = "Срок ответа: " + time(d.due_at);
    return b;
  }

  // An "overdue" event: a marketplace answer's deadline passed without an answer.
  function overdue(e) {
    const n = $("overdue-notice");
    n.textContent = "Просрочен ответ на маркетплейсе — открыть";
    n.classList.remove("hidden");
    n.onclick = () => { n.classList.add("hidden"); if (e.conversation_id) open(e.conversation_id); };
    // A sound, and a browser notification when allowed and the tab is in the background.
    window.supportdNotify.alert("Просрочен ответ на маркетплейсе", "Покупатель ждёт ответа дольше срока площадки",
      e.conversation_id ? "#/inbox/" + e.conversation_id : "#/inbox");
  }

  function meta(p) {
    if (!p) return null;
    const parts = [];
    if (p.intent) parts.push("намерение: " + L.label(L.INTENTS, p.intent) + (p.confidence !== undefined ? " (" + Number(p.confidence).toFixed(2).replace(".", ",") + ")" : ""));
    if (p.action) parts.push("решение: " + L.label(L.ACTIONS, p.action));
    if (p.sentiment && p.sentiment !== "neutral") parts.push("настроение: " + L.label(L.SENTIMENTS, p.sentiment));
    if (p.urgent) parts.push("срочно");
    if (p.orders && p.orders.length) parts.push("заказы: " + p.orders.map((o) => o.number).join(", "));
    const box = el("div", "meta small");
    if (p.sources && p.sources.length) {
      // Each source opens its article in the knowledge base.
      const src = el("span", "", "источники: ");
      p.sources.forEach((s, i) => {
        if (i) src.appendChild(document.createTextNode(", "));
        const id = String(s.doc || "").startsWith("a:") ? s.doc.slice(2) : null;
        const a = el(id ? "a" : "span", "", "«" + s.title + "»");
        if (id) a.href = "#/kb/" + id;
        src.appendChild(a);
      });
      box.appendChild(src);
    }
    if (p.model && p.model.provider) parts.push("модель: " + (p.model.provider === "local" ? "локальная" : p.model.provider));
    if (p.draft) parts.push("черновик — отправьте его сами");
    if (!parts.length && !box.childNodes.length) return null;
    box.insertBefore(document.createTextNode(parts.join(" · ") + (box.childNodes.length ? " · " : "")), box.firstChild);
    return box;
  }

  async function open(id) {
    if (current !== id) saveDraft();
    current = id;
    document.body.classList.add("thread-open");
    for (const li of document.querySelectorAll("#conv-list .conv")) li.classList.toggle("active", Number(li.dataset.id) === id);
    const t = await api("GET", "/api/v1/conversations/" + id);
    const c = t.conversation;
    $("thread-empty").classList.add("hidden");
    $("thread").classList.remove("hidden");
    const listedConv = list.find((x) => x.id === id);
    c.triage = listedConv ? listedConv.triage : null;
    currentConv = c;
    $("thread-title").textContent = nameOf(c) + " · " + (CHANNELS[c.channel] || c.channel);
    const st = L.conversationState(c);
    const info = st.text + (c.handled_by === "operator" && c.handoff_reason ? " — " + L.label(REASONS, c.handoff_reason) : "")
      + (c.status === "closed" && c.csat ? ", оценка " + c.csat : "");
    $("thread-state").textContent = info;
    $("thread-state").className = "small state st-" + st.key;
    const draft = drafts.get(id);
    if (draft && !$("reply").value) { $("reply").value = draft.text; showSendError(draft.error); }
    else if (!draft) showSendError(null);
    const box = $("messages");
    box.textContent = "";
    for (const m of t.messages) {
      const item = el("div", "msg from-" + m.author + (m.internal ? " note" : ""));
      const head = el("div", "who small", (m.internal ? "Заметка" : AUTHORS[m.author] || m.author) + " · " + time(new Date(m.created_at).toISOString()));
      if (m.internal) item.setAttribute("aria-label", "Заметка для коллег");
      item.appendChild(head);
      item.appendChild(el("div", "body", m.body));
      for (const a of m.attachments || []) {
        const url = a.path ? "/api/v1/" + a.path.replace(/^files\//, "files/") : null;
        if (url && (a.kind === "photo" || (a.mime || "").startsWith("image/"))) {
          const img = el("img", "attachment");
          img.src = url;
          img.alt = a.name || "фото покупателя";
          img.loading = "lazy";
          item.appendChild(img);
        } else if (url) {
          const link = el("a", "small", "📎 " + (a.name || a.kind));
          link.href = url;
          item.appendChild(link);
        } else {
          item.appendChild(el("div", "small muted", "📎 " + (a.name || a.kind) + (a.error ? " — " + a.error : "")));
        }
      }
      const mm = meta(m.provenance);
      if (mm) item.appendChild(mm);
      // What the channel reported about a reply (WhatsApp statuses), or why it waits.
      const delivery = { sent: "✓ отправлено", delivered: "✓✓ доставлено", read: "✓✓ прочитано",
        failed: "⚠ не доставлено", parked: "⏸ ждёт сообщения покупателя (окно 24 ч закрыто)" }[m.delivery];
      if (delivery) item.appendChild(el("div", "small muted delivery", delivery));
      box.appendChild(item);
    }
    box.scrollTop = box.scrollHeight;
    const operator = can("operator");
    $("takeover").classList.toggle("hidden", !operator || c.handled_by === "operator");
    $("release").classList.toggle("hidden", !operator || c.handled_by !== "operator");
    $("resolve").classList.toggle("hidden", !operator || c.handled_by !== "operator");
    $("reply-form").classList.toggle("hidden", !operator);
    $("assign-me").classList.toggle("hidden", !operator || c.assigned_user_id === me.id);
    $("assign").classList.toggle("hidden", !operator);
    $("assign").value = c.assigned_user_id ? String(c.assigned_user_id) : "";
    await loadCustomer(c.customer_id);
  }

  async function action(path, body) {
    if (!current) return false;
    $("thread-error").textContent = "";
    try {
      await api("POST", "/api/v1/conversations/" + current + path, body || {});
      await refresh();
      return true;
    } catch (e) { $("thread-error").textContent = e.message; return false; }
  }

  // A failed reply stays in the box with the reason and a retry; switching conversations keeps it.
  function showSendError(message) {
    const box = $("send-error");
    box.classList.toggle("hidden", !message);
    $("send-error-text").textContent = message || "";
  }

  function saveDraft() {
    if (current && $("reply").value.trim()) drafts.set(current, { text: $("reply").value, error: $("send-error-text").textContent || null });
    else if (current) drafts.delete(current);
    $("reply").value = "";
  }

  async function send() {
    const text = $("reply").value.trim();
    if (!text || !current) return;
    const id = current;
    $("send").disabled = true;
    showSendError(null);
    try {
      await api("POST", "/api/v1/conversations/" + id + "/messages", { text });
      drafts.delete(id);
      if (current === id) $("reply").value = "";
      await refresh();
    } catch (e) {
      const message = "Ответ не отправлен: " + e.message + " Текст сохранён — нажмите «Отправить ещё раз».";
      drafts.set(id, { text: $("reply").value, error: message });
      if (current === id) showSendError(message);
    } finally {
      $("send").disabled = false;
    }
  }

  // Closing or returning a conversation whose buyer has had no answer yet asks first.
  async function release(resolved) {
    const c = currentConv;
    const waits = c && (c.triage ? Boolean(c.triage.waiting_since) : c.unanswered > 0);
    if (waits) {
      const what = resolved ? "Отметить решённым" : "Вернуть боту";
      const since = c.triage && c.triage.waiting_since ? "Покупатель ждёт ответа человека " + L.waited(Date.now() - c.triage.waiting_since) + "." : "";
      const ok = await window.supportdUi.confirm(what + " разговор, в котором покупатель ещё не получил ответа?", since, what);
      if (!ok) return;
    }
    const done = await action("/release", { resolved });
    if (done && !resolved && c) {
      // Cheap to undo: take it back at once.
      window.supportdUi.toast("Разговор возвращён боту.", "Отменить", () => { current = c.id; action("/takeover"); });
    }
  }

  async function refresh() {
    await Promise.all([loadList(), loadDashboard()]);
    if (current) await open(current);
  }

  // Live updates: Server-Sent Events. The browser reconnects by itself after a blip and sends
  // the last event id, so the server replays whatever was missed.
  function connect() {
    source = new EventSource("/api/v1/events/stream?after=" + lastEvent);
    source.onopen = () => { $("live").textContent = "● онлайн"; $("live").className = "live ok"; };
    source.onmessage = (e) => {
      lastEvent = Number(e.lastEventId) || lastEvent;
      let ev = null;
      try { ev = JSON.parse(e.data); } catch (_) { /* keep-alive */ }
      if (ev && ev.kind === "overdue") overdue(ev);
      // A buyer writes in a conversation a person handles: a sound even if it already waited.
      if (ev && ev.kind === "message" && ev.payload && ev.payload.author === "buyer") {
        const c = list.find((x) => x.id === ev.conversation_id);
        if (c && c.handled_by === "operator") window.supportdNotify.alert("Новое сообщение: " + nameOf(c), "", "#/inbox/" + c.id);
      }
      clearTimeout(pending);
      pending = setTimeout(() => refresh().catch(() => {}), 150);
    };
    // The assistant's answer while it is written: its checked sentences so far, shown at the
    // end of the open conversation until the final message replaces them.
    source.addEventListener("writing", (e) => {
      let w = null;
      try { w = JSON.parse(e.data); } catch (_) { return; }
      if (!w || w.conversation_id !== current) return;
      const box = $("messages");
      let item = box.querySelector(".msg.writing");
      if (w.done) { if (item) item.remove(); return; }
      if (!item) {
        item = el("div", "msg from-bot writing");
        item.appendChild(el("div", "who small", "Бот пишет…"));
        item.appendChild(el("div", "body", ""));
        box.appendChild(item);
      }
      item.querySelector(".body").textContent = w.text || "";
      box.scrollTop = box.scrollHeight;
    });
    source.onerror = () => { $("live").textContent = "● нет связи, переподключаемся…"; $("live").className = "live bad"; };
  }

  function move(step) {
    if (!list.length) return;
    const i = list.findIndex((c) => c.id === current);
    const next = list[Math.min(list.length - 1, Math.max(0, (i < 0 ? -1 : i) + step))];
    open(next.id);
  }

  function setTheme(theme) {
    document.documentElement.dataset.theme = theme;
    try { localStorage.setItem("supportd_theme", theme); } catch (_) { /* private mode */ }
  }

  // Views: #/inbox (default), #/kb, #/settings (admins).
  function route() {
    if (!me) return;
    let view = (location.hash.match(/^#\/(\w+)/) || [])[1] || "inbox";
    if ((view === "settings" || view === "setup") && !can("admin")) view = "inbox";
    const VIEWS = ["inbox", "kb", "reports", "settings", "setup", "profile"];
    if (!VIEWS.includes(view)) view = "inbox";
    for (const v of VIEWS) $("view-" + v).classList.toggle("hidden", v !== view);
    for (const a of document.querySelectorAll(".nav a")) {
      a.classList.toggle("active", a.dataset.view === view);
      if (a.dataset.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    document.body.classList.remove("menu-open");
    const conv = (location.hash.match(/^#\/inbox\/(\d+)/) || [])[1];
    if (view === "inbox" && conv) open(Number(conv)).catch(() => {});
    if (view === "inbox" && !conv) document.body.classList.remove("thread-open");
    if (view === "setup") window.supportdSetup.show().catch(() => {});
    if (view === "profile") window.supportdProfile.show().catch(() => {});
    const article = (location.hash.match(/^#\/kb\/(\d+)/) || [])[1];
    // #/kb/new?title=…&body=…: a new article prefilled (from a knowledge gap on the reports page).
    const draft = location.hash.startsWith("#/kb/new?") ? Object.fromEntries(new URLSearchParams(location.hash.slice(9))) : null;
    if (view === "kb") window.supportdPages.kb(article ? Number(article) : null, draft).catch(() => {});
    if (view === "reports") window.supportdReports.show().catch(() => {});
    if (view === "settings") {
      const section = (location.hash.match(/^#\/settings\/([\w-]+)/) || [])[1];
      window.supportdPages.settings(section).catch(() => {});
      window.supportdReports.settings().catch(() => {});
    }
  }

  async function loadAssignees() {
    if (!can("operator")) return;
    const sel = $("assign");
    sel.textContent = "";
    sel.appendChild(el("option", "", "Не назначен")).value = "";
    for (const u of await api("GET", "/api/v1/assignees")) sel.appendChild(el("option", "", u.name || u.email)).value = String(u.id);
  }

  async function loadSnippets() {
    if (!can("operator")) return;
    snippets = await api("GET", "/api/v1/snippets");
    const sel = $("snippet");
    sel.textContent = "";
    sel.appendChild(el("option", "", "Сохранённые ответы…")).value = "";
    for (const sn of snippets) sel.appendChild(el("option", "", sn.title)).value = String(sn.id);
  }

  // Placeholders: {name} — the buyer's name, {order} — the order they gave last.
  // Without a name, "Здравствуйте, {name}!" becomes "Здравствуйте!", not "Здравствуйте, !";
  // without an order, "Ваш заказ {order} в пути" becomes "Ваш заказ в пути".
  function fill(body) {
    const name = customerCard ? (customerCard.customer.display_name || "").trim() : "";
    const order = customerCard && customerCard.orders.length ? customerCard.orders[0].number : "";
    let out = body;
    if (!name) out = out.replace(/,\s*\{name\}/g, "").replace(/\{name\},?\s*/g, "");
    out = out.replaceAll("{name}", name);
    if (!order) out = out.replace(/\s*(№\s*)?\{order\}/g, "");
    return out.replaceAll("{order}", order);
  }

  async function start(user) {
    me = user;
    loadSnippets().catch(() => {});
    loadAssignees().catch(() => {});
    for (const a of document.querySelectorAll(".admin-only")) a.classList.toggle("hidden", !can("admin"));
    if (window.supportdLicence) window.supportdLicence.banner().catch(() => {});
    route();
    const events = await api("GET", "/api/v1/events?after=0&limit=1000");
    lastEvent = events.length ? events[events.length - 1].id : 0;
    await Promise.all([loadList(), loadDashboard()]);
    if (can("admin")) window.supportdSetup.checklist().catch(() => {});
    if (source) source.close();
    connect();
  }

  function stop() {
    if (source) source.close();
    source = null;
    me = null;
    current = null;
  }

  for (const b of document.querySelectorAll("#filters button")) {
    b.addEventListener("click", () => {
      filter = b.dataset.filter;
      for (const x of document.querySelectorAll("#filters button")) x.setAttribute("aria-pressed", String(x === b));
      loadList();
    });
  }
  let searching = null;
  $("search").addEventListener("input", () => {
    clearTimeout(searching);
    searching = setTimeout(() => loadList().catch(() => {}), 250);
  });
  $("takeover").addEventListener("click", () => action("/takeover"));
  $("assign-me").addEventListener("click", () => action("/assign", { user_id: me.id }));
  $("assign").addEventListener("change", () => action("/assign", { user_id: $("assign").value ? Number($("assign").value) : null }));
  $("snippet").addEventListener("change", () => {
    const sn = snippets.find((x) => String(x.id) === $("snippet").value);
    if (sn) $("reply").value = fill(sn.body);
    $("snippet").value = "";
    $("reply").focus();
  });
  $("suggest").addEventListener("click", async () => {
    if (!current) return;
    $("thread-error").textContent = "";
    try {
      const s = await api("POST", "/api/v1/conversations/" + current + "/draft");
      if (s.text) $("reply").value = s.text;
      else $("thread-error").textContent = "Не из чего составить черновик: в базе знаний нет ответа.";
    } catch (e) { $("thread-error").textContent = e.message; }
  });
  $("add-note").addEventListener("click", async () => {
    const text = $("reply").value.trim();
    if (!text) return;
    await action("/notes", { text });
    $("reply").value = "";
  });
  $("release").addEventListener("click", () => release(false));
  $("resolve").addEventListener("click", () => release(true));
  $("reply-form").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("send-retry").addEventListener("click", () => send());
  $("back").addEventListener("click", () => {
    document.body.classList.remove("thread-open");
    if (location.hash.startsWith("#/inbox/")) history.replaceState(null, "", "#/inbox");
  });
  $("customer-toggle").addEventListener("click", () => {
    const open = !$("customer-sheet").classList.contains("sheet-open");
    $("customer-sheet").classList.toggle("sheet-open", open);
    $("customer-toggle").setAttribute("aria-expanded", String(open));
  });
  $("customer-close").addEventListener("click", () => {
    $("customer-sheet").classList.remove("sheet-open");
    $("customer-toggle").setAttribute("aria-expanded", "false");
  });
  $("sort").addEventListener("change", () => { sortBy = $("sort").value; loadList().catch(() => {}); });
  $("menu").addEventListener("click", () => {
    const open = !document.body.classList.contains("menu-open");
    document.body.classList.toggle("menu-open", open);
    $("menu").setAttribute("aria-expanded", String(open));
  });
  $("reply").addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.code === "Enter" || e.code === "NumpadEnter") && (e.ctrlKey || e.metaKey)) $("reply-form").requestSubmit();
  });
  window.addEventListener("hashchange", route);
  $("theme").addEventListener("click", () => setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
  document.addEventListener("keydown", (e) => {
    if (!me || ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) return;
    if (!$("view-inbox") || $("view-inbox").classList.contains("hidden")) return;
    // Physical keys (e.code), so the shortcuts work on the Russian layout too (о / л / е).
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.code === "KeyJ") move(1);
    if (e.code === "KeyK") move(-1);
    if (e.code === "KeyT" && can("operator")) action("/takeover");
  });
  try {
    const saved = localStorage.getItem("supportd_theme");
    if (saved) document.documentElement.dataset.theme = saved;
  } catch (_) { /* private mode */ }

  window.supportdApp = { start, stop, can, me: () => me };
})();
