// The operator inbox: conversations with live updates (Server-Sent Events of the event feed,
// with catch-up after a network blip), the thread with the bot's reasons, takeover / reply /
// return.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
  const CHANNELS = { telegram: "Telegram", telegram_business: "Telegram Business", whatsapp: "WhatsApp", vk: "ВКонтакте", widget: "Сайт", api: "API", wb_questions: "WB", ozon_chat: "Ozon", cli: "Терминал", eval: "Тест" };
  const AUTHORS = { buyer: "Покупатель", bot: "Бот", operator: "Оператор", system: "Система" };
  const FILTERS = {
    all: {},
    pending: { status: "pending" },
    mine: { assigned: "me" },
    bot: { handled_by: "bot", status: "open" },
    closed: { status: "closed" },
    due: { sort: "due" },
  };
  const STATUSES = {
    new: "оформлен", assembled: "собран", in_transit: "в пути", ready_for_pickup: "в пункте выдачи",
    delivered: "получен", cancelled: "отменён", problem: "требует проверки",
  };
  const RETURNS = {
    review: "на рассмотрении", approved: "одобрен", rejected: "отказ", in_transit: "едет продавцу",
    done: "завершён", cancelled: "отменён",
  };
  const REASONS = {
    requested: "попросил человека", negative: "недоволен", human_only: "тема для людей", repeated_failure: "бот не справился",
    order_problem: "проблема с заказом", processing_failed: "не удалось обработать", takeover: "взят оператором", approval: "черновик на проверку",
    licence: "бот приостановлен: лицензия истекла",
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
    box.appendChild(el("h3", "", v.customer.display_name || v.customer.external_id));
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
        box.appendChild(el("div", "", time(c.last_message) + (c.csat ? " · оценка " + c.csat : "") + " · " + (c.status === "closed" ? "закрыт" : "открыт")));
      }
    }
  }

  async function loadList() {
    const params = Object.assign({}, FILTERS[filter]);
    const search = $("search").value.trim();
    if (search) params.q = search;
    const q = new URLSearchParams(params).toString();
    list = await api("GET", "/api/v1/conversations" + (q ? "?" + q : ""));
    const ul = $("conv-list");
    ul.textContent = "";
    if (!list.length) ul.appendChild(el("li", "empty muted", "Разговоров нет"));
    for (const c of list) {
      const li = el("li", "conv" + (current === c.id ? " active" : ""));
      li.tabIndex = 0;
      li.dataset.id = c.id;
      li.setAttribute("role", "button");
      const top = el("div", "row");
      top.appendChild(el("b", "", c.customer_name || c.recipient));
      if (c.unanswered > 0) top.appendChild(el("span", "unread", String(c.unanswered)));
      top.appendChild(el("span", "badge ch-" + c.channel, CHANNELS[c.channel] || c.channel));
      if (c.reply_due) top.appendChild(dueBadge(c.reply_due));
      li.appendChild(top);
      const bottom = el("div", "row muted small");
      const state = c.status === "closed" ? "закрыт" : c.handled_by === "operator" ? "ждёт человека" : "ведёт бот";
      bottom.appendChild(el("span", "state st-" + (c.status === "closed" ? "closed" : c.handled_by), state));
      bottom.appendChild(el("span", "", time(c.last_message)));
      li.appendChild(bottom);
      li.addEventListener("click", () => open(c.id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") open(c.id); });
      ul.appendChild(li);
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
    if (window.Notification && Notification.permission === "granted") {
      try { new Notification("supportd", { body: "Просрочен ответ покупателю на маркетплейсе" }); } catch (_) { /* unsupported */ }
    }
  }

  function meta(p) {
    if (!p) return null;
    const parts = [];
    if (p.intent) parts.push("намерение: " + p.intent + (p.confidence !== undefined ? " (" + Number(p.confidence).toFixed(2) + ")" : ""));
    if (p.action) parts.push("решение: " + p.action);
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
    if (p.model && p.model.provider) parts.push("модель: " + p.model.provider);
    if (p.draft) parts.push("черновик — отправьте его сами");
    if (!parts.length && !box.childNodes.length) return null;
    box.insertBefore(document.createTextNode(parts.join(" · ") + (box.childNodes.length ? " · " : "")), box.firstChild);
    return box;
  }

  async function open(id) {
    current = id;
    for (const li of document.querySelectorAll("#conv-list .conv")) li.classList.toggle("active", Number(li.dataset.id) === id);
    const t = await api("GET", "/api/v1/conversations/" + id);
    const c = t.conversation;
    $("thread-empty").classList.add("hidden");
    $("thread").classList.remove("hidden");
    $("thread-title").textContent = (c.customer_name || c.recipient) + " · " + (CHANNELS[c.channel] || c.channel);
    const info = c.handled_by === "operator"
      ? "Ведёт оператор" + (c.handoff_reason ? " — " + (REASONS[c.handoff_reason] || c.handoff_reason) : "")
      : c.status === "closed" ? "Закрыт" + (c.csat ? ", оценка " + c.csat : "") : "Ведёт бот";
    $("thread-state").textContent = info;
    const box = $("messages");
    box.textContent = "";
    for (const m of t.messages) {
      const item = el("div", "msg from-" + m.author + (m.internal ? " note" : ""));
      const head = el("div", "who small", (m.internal ? "Заметка" : AUTHORS[m.author] || m.author) + " · " + time(new Date(m.created_at).toISOString()));
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
    if (!current) return;
    $("thread-error").textContent = "";
    try {
      await api("POST", "/api/v1/conversations/" + current + path, body || {});
      await refresh();
    } catch (e) { $("thread-error").textContent = e.message; }
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
      try {
        const data = JSON.parse(e.data);
        if (data.kind === "overdue") overdue(data);
      } catch (_) { /* not JSON */ }
      clearTimeout(pending);
      pending = setTimeout(() => refresh().catch(() => {}), 150);
    };
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
    if (view === "settings" && !can("admin")) view = "inbox";
    if (!["inbox", "kb", "reports", "settings"].includes(view)) view = "inbox";
    for (const v of ["inbox", "kb", "reports", "settings"]) $("view-" + v).classList.toggle("hidden", v !== view);
    for (const a of document.querySelectorAll(".nav a")) a.classList.toggle("active", a.dataset.view === view);
    const article = (location.hash.match(/^#\/kb\/(\d+)/) || [])[1];
    // #/kb/new?title=…&body=…: a new article prefilled (from a knowledge gap on the reports page).
    const draft = location.hash.startsWith("#/kb/new?") ? Object.fromEntries(new URLSearchParams(location.hash.slice(9))) : null;
    if (view === "kb") window.supportdPages.kb(article ? Number(article) : null, draft).catch(() => {});
    if (view === "reports") window.supportdReports.show().catch(() => {});
    if (view === "settings") {
      window.supportdPages.settings().catch(() => {});
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
  function fill(body) {
    const name = customerCard ? customerCard.customer.display_name || "" : "";
    const order = customerCard && customerCard.orders.length ? customerCard.orders[0].number : "";
    return body.replaceAll("{name}", name).replaceAll("{order}", order);
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
  $("release").addEventListener("click", () => action("/release", { resolved: false }));
  $("resolve").addEventListener("click", () => action("/release", { resolved: true }));
  $("reply-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("reply").value.trim();
    if (!text) return;
    await action("/messages", { text });
    $("reply").value = "";
  });
  $("reply").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("reply-form").requestSubmit();
  });
  window.addEventListener("hashchange", route);
  $("theme").addEventListener("click", () => setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
  document.addEventListener("keydown", (e) => {
    if (!me || ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) return;
    if (!$("view-inbox") || $("view-inbox").classList.contains("hidden")) return;
    if (e.key === "j") move(1);
    if (e.key === "k") move(-1);
    if (e.key === "t" && can("operator")) action("/takeover");
  });
  try {
    const saved = localStorage.getItem("supportd_theme");
    if (saved) document.documentElement.dataset.theme = saved;
  } catch (_) { /* private mode */ }

  window.supportdApp = { start, stop };
})();
