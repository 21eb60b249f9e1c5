// The reports page (#/reports): the period's figures against the previous period, charts drawn
// here as SVG (trend, funnel, handoffs, intents, ratings, the weekday × hour heatmap), knowledge
// gaps with «Создать статью» (the knowledge-base editor, prefilled), operators, channels,
// articles, and the PDF / CSV exports. Also the «Отчёты по почте» card of the settings page.
// Every number comes from GET /api/v1/stats/report: the server defines each figure once.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const { api, el } = window.supportd;
  const SVG = "http://www.w3.org/2000/svg";

  // Reasons and intents in the words the rest of the panel uses (labels.js).
  const { REASONS, INTENTS } = window.supportdLabels;
  const SOURCES = {
    telegram: "Telegram", telegram_business: "Telegram Business", whatsapp: "WhatsApp", vk: "ВКонтакте", widget: "Чат на сайте", api: "API", wb_question: "WB: вопросы", wb_review: "WB: отзывы",
    wb_chat: "WB: чат", ozon_chat: "Ozon: чаты", ozon_review: "Ozon: отзывы", ozon_question: "Ozon: вопросы", other: "Другое",
  };
  const WEEKDAYS = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"];
  const KINDS = { not_found: "нет в базе", low_confidence: "бот не понял", taken_over: "забрал человек" };

  let query = { period: "7d" };

  const num = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("ru-RU"));
  const pct = (x) => (x === null || x === undefined ? "—" : (100 * x).toLocaleString("ru-RU", { maximumFractionDigits: 1 }) + " %");
  const secs = (s) => {
    if (s === null || s === undefined) return "—";
    if (s < 60) return s.toLocaleString("ru-RU", { maximumFractionDigits: 1 }) + " с";
    if (s < 3600) return Math.floor(s / 60) + " мин " + Math.round(s % 60) + " с";
    return Math.floor(s / 3600) + " ч " + Math.round((s % 3600) / 60) + " мин";
  };
  const ms = (v) => (v === null || v === undefined ? "—" : v < 1000 ? v + " мс" : secs(v / 1000));
  // Times as the shop's clock shows them: RFC 3339 strings carry the shop's offset, or are
  // shifted by it (`offset` minutes) and printed as UTC.
  let offset = 180;
  const shop = (iso, opts) => new Date(Date.parse(iso) + offset * 60_000).toLocaleString("ru-RU", Object.assign({ timeZone: "UTC" }, opts));
  const date = (iso) => shop(iso, { day: "numeric", month: "short" });

  // The summary row: (label, value shown, value compared, lower is better, hint).
  const KPIS = [
    ["Разговоры", (f) => num(f.conversations), (f) => f.conversations, false, "Разговоры с покупателями, начатые за период"],
    ["Без человека", (f) => pct(f.automation_rate), (f) => f.automation_rate, false, "Закрыто без человека ÷ все закрытые разговоры"],
    ["Передано людям", (f) => num(f.handoffs), (f) => f.handoffs, true, "Разговоры, в которых участвовал человек"],
    ["Ответ бота", (f) => ms(f.bot_answer_ms_p50), (f) => f.bot_answer_ms_p50, true, "Медиана первого ответа бота: от получения сообщения до ответа"],
    ["Ответ человека", (f) => secs(f.first_human_response_s_p50), (f) => f.first_human_response_s_p50, true, "Медиана: от передачи человеку до первого ответа оператора"],
    ["До решения", (f) => secs(f.resolution_s_p50), (f) => f.resolution_s_p50, true, "Медиана: от первого сообщения до «Решено» или оценки"],
    ["Оценка", (f) => (f.csat_avg === null ? "—" : f.csat_avg.toLocaleString("ru-RU")), (f) => f.csat_avg, false, "Средняя оценка покупателей, 1–5"],
    ["Сообщений", (f) => num(f.messages_buyer), (f) => f.messages_buyer, false, "Сообщения покупателей за период"],
  ];

  function svg(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }

  function titled(node, text) {
    svg("title", {}, node).textContent = text;
    return node;
  }

  function chart(box, width, height, label) {
    box.textContent = "";
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "svg-chart" }, box);
    return root;
  }

  function empty(box) {
    box.textContent = "";
    box.appendChild(el("p", "muted small", "Нет данных за период."));
  }

  function summary(r) {
    const box = $("rep-summary");
    box.textContent = "";
    for (const [label, show, value, lowerBetter, hint] of KPIS) {
      const cur = value(r.summary);
      const prev = value(r.previous);
      const cell = el("div", "rep-kpi");
      cell.title = hint;
      cell.appendChild(el("span", "muted small", label));
      cell.appendChild(el("b", "", show(r.summary)));
      let delta = "—";
      let cls = "delta";
      if (cur !== null && prev !== null && cur !== undefined && prev !== undefined && prev !== 0) {
        const d = label === "Без человека" ? (cur - prev) * 100 : ((cur - prev) / prev) * 100;
        delta = (d > 0 ? "▲ +" : d < 0 ? "▼ " : "") + d.toLocaleString("ru-RU", { maximumFractionDigits: 1 }) + (label === "Без человека" ? " п.п." : " %");
        const good = lowerBetter ? d < 0 : d > 0;
        cls += d === 0 ? "" : good ? " good" : " bad";
      }
      cell.appendChild(el("span", cls, delta + " к прошлому: " + show(r.previous)));
      box.appendChild(cell);
    }
  }

  // Lines: all conversations and those closed without a person, per bucket.
  function trend(r) {
    const box = $("rep-trend");
    const pts = r.trend;
    if (!pts.length || pts.every((p) => p.conversations === 0)) return empty(box);
    const W = 760, H = 220, L = 40, B = 28, T = 10;
    const root = chart(box, W, H, "Разговоры по периодам");
    const max = Math.max(1, ...pts.map((p) => p.conversations));
    const x = (i) => L + (pts.length === 1 ? (W - L - 10) / 2 : (i * (W - L - 10)) / (pts.length - 1));
    const y = (v) => T + (H - T - B) * (1 - v / max);
    for (const v of [0, Math.round(max / 2), max]) {
      svg("line", { x1: L, x2: W - 10, y1: y(v), y2: y(v), class: "grid" }, root);
      svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, root).textContent = String(v);
    }
    const every = Math.max(1, Math.ceil(pts.length / 8));
    pts.forEach((p, i) => {
      if (i % every === 0) {
        const label = r.period.bucket === "hour" ? p.start.slice(11, 16) : date(p.start);
        svg("text", { x: x(i), y: H - 8, class: "axis", "text-anchor": "middle" }, root).textContent = label;
      }
    });
    for (const [key, cls, name] of [["conversations", "line-total", "все"], ["automated", "line-auto", "без человека"]]) {
      // One bucket (today just after midnight, a one-day range) has no line between points:
      // its value holds for the whole bucket, so it is drawn across the chart.
      const d = pts.length === 1
        ? "M" + L + " " + y(pts[0][key]).toFixed(1) + " H" + (W - 10)
        : pts.map((p, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(p[key]).toFixed(1)).join(" ");
      svg("path", { d, class: cls }, root);
      pts.forEach((p, i) => titled(svg("circle", { cx: x(i), cy: y(p[key]), r: 3, class: cls + " dot" }, root),
        (r.period.bucket === "hour" ? p.start.slice(11, 16) : date(p.start)) + ": " + name + " " + p[key]));
    }
    const legend = el("div", "legend small");
    legend.appendChild(el("span", "key key-total", "все разговоры"));
    legend.appendChild(el("span", "key key-auto", "закрыты без человека"));
    box.appendChild(legend);
  }

  function bars(boxId, items, cls) {
    const box = $(boxId);
    if (!items.length || items.every((i) => !i.value)) return empty(box);
    const W = 460, row = 22, L = 150, R = 90;
    // Named for screen readers by its card's heading, not by the element's id.
    const heading = box.closest("section") && box.closest("section").querySelector("h2");
    const root = chart(box, W, items.length * row + 4, heading ? heading.textContent : "Диаграмма");
    const max = Math.max(1, ...items.map((i) => i.value));
    items.forEach((it, i) => {
      const yy = i * row + 4;
      svg("text", { x: 0, y: yy + 13, class: "label" }, root).textContent = it.label.length > 22 ? it.label.slice(0, 21) + "…" : it.label;
      const w = Math.max(it.value ? 2 : 0, ((W - L - R) * it.value) / max);
      titled(svg("rect", { x: L, y: yy + 2, width: w.toFixed(1), height: row - 8, rx: 3, class: "bar " + (cls || "") }, root), it.label + ": " + it.shown);
      svg("text", { x: W, y: yy + 13, class: "value", "text-anchor": "end" }, root).textContent = it.shown;
    });
  }

  function heatmap(r) {
    const box = $("rep-heatmap");
    const cells = r.heatmap.cells;
    if (!r.heatmap.max) return empty(box);
    const W = 760, L = 28, T = 16, cw = (W - L) / 24, ch = 20;
    const root = chart(box, W, T + 7 * ch + 2, "Сообщения по дням недели и часам");
    for (let h = 0; h < 24; h += 3) svg("text", { x: L + h * cw + 2, y: 11, class: "axis" }, root).textContent = h + ":00";
    cells.forEach((row, d) => {
      svg("text", { x: 0, y: T + d * ch + 14, class: "axis" }, root).textContent = WEEKDAYS[d];
      row.forEach((n, h) => {
        const rect = svg("rect", { x: L + h * cw, y: T + d * ch, width: cw - 2, height: ch - 2, rx: 2, class: "heat",
          "fill-opacity": (0.06 + (0.94 * n) / r.heatmap.max).toFixed(3) }, root);
        titled(rect, WEEKDAYS[d] + ", " + h + ":00–" + (h + 1) + ":00 — " + n + " сообщ.");
      });
    });
  }

  function table(id, head, rows) {
    const t = $(id);
    t.textContent = "";
    if (!rows.length) {
      const tr = el("tr");
      tr.appendChild(el("td", "muted", "Нет данных за период."));
      t.appendChild(tr);
      return;
    }
    const hr = el("tr");
    for (const h of head) hr.appendChild(el("th", "", h));
    t.appendChild(hr);
    for (const r of rows) {
      const tr = el("tr");
      for (const c of r) tr.appendChild(el("td", "", String(c)));
      t.appendChild(tr);
    }
  }

  function gaps(r) {
    const ul = $("rep-gaps");
    ul.textContent = "";
    if (!r.gaps.length) {
      ul.appendChild(el("li", "muted small", "Пробелов не найдено: бот нашёл ответ на всё."));
      return;
    }
    for (const g of r.gaps) {
      const li = el("li", "gap");
      const text = el("div", "");
      text.appendChild(el("b", "", g.count + " × "));
      text.appendChild(document.createTextNode("«" + g.example + "»"));
      li.appendChild(text);
      const why = Object.entries(KINDS).filter(([k]) => g[k] > 0).map(([k, label]) => label + ": " + g[k]).join(", ");
      li.appendChild(el("span", "muted small", why));
      const a = el("a", "ghost small", "Создать статью");
      const body = "Покупатели спрашивают: «" + g.example + "»\n\nОтвет: ";
      a.href = "#/kb/new?" + new URLSearchParams({ title: g.example.slice(0, 120), body }).toString();
      li.appendChild(a);
      ul.appendChild(li);
    }
  }

  function params() {
    const q = new URLSearchParams(query);
    const bucket = $("rep-bucket").value;
    if (bucket) q.set("bucket", bucket);
    return q.toString();
  }

  async function show() {
    $("rep-error").textContent = "";
    let r;
    try {
      r = await api("GET", "/api/v1/stats/report?" + params());
    } catch (e) {
      $("rep-error").textContent = e.message;
      return;
    }
    offset = r.period.utc_offset_minutes;
    const before = (iso) => new Date(Date.parse(iso) - 1).toISOString();
    const full = { day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" };
    $("rep-period").textContent = "Период: " + shop(r.period.from, full) + " — " + shop(before(r.period.to), full)
      + " · сравнение с " + shop(r.period.previous_from, full) + " — " + shop(before(r.period.previous_to), full)
      + " (время магазина)";
    const q = params();
    $("rep-pdf").href = "/api/v1/stats/report.pdf?" + q;
    $("rep-csv").href = "/api/v1/stats/export.csv?table=conversations&" + q;
    summary(r);
    trend(r);
    const f = r.funnel;
    bars("rep-funnel", [["Обращения", f.inquiries], ["Ответил бот", f.bot_answered], ["Переданы людям", f.handed], ["Решены", f.resolved]]
      .map(([label, value]) => ({ label, value, shown: num(value) })));
    bars("rep-handoffs", r.handoffs.map((h) => ({ label: REASONS[h.reason] || h.reason, value: h.conversations,
      shown: num(h.conversations) + (h.previous ? " (было " + h.previous + ")" : "") })), "bar-warn");
    bars("rep-intents", r.intents.slice(0, 10).map((i) => ({ label: INTENTS[i.intent] || i.intent, value: i.conversations,
      shown: num(i.conversations) })));
    bars("rep-csat", r.csat.distribution.map((n, i) => ({ label: "★ " + (i + 1), value: n, shown: num(n) })).reverse(), "bar-star");
    heatmap(r);
    gaps(r);
    table("rep-operators", ["Оператор", "Ответов", "Разговоров", "Первых ответов", "Первый ответ, медиана"],
      r.operators.map((o) => [o.name || o.email || "удалённый пользователь", num(o.replies), num(o.conversations), num(o.first_responses), secs(o.first_response_s_p50)]));
    table("rep-channels", ["Канал", "Разговоров", "Без человека", "Оценка"],
      r.channels.map((c) => [SOURCES[c.source] || c.source, num(c.conversations), pct(c.automation_rate), c.csat_avg === null ? "—" : c.csat_avg]));
    table("rep-articles", ["Статья", "Разговоров", "Оценок 4–5", "Средняя"],
      r.articles.map((a) => [a.title || a.doc, num(a.conversations), num(a.rated_good), a.csat_avg === null ? "—" : a.csat_avg]));
  }

  for (const b of document.querySelectorAll("#rep-periods button")) {
    b.addEventListener("click", () => {
      query = { period: b.dataset.period };
      for (const x of document.querySelectorAll("#rep-periods button")) x.setAttribute("aria-pressed", String(x === b));
      show().catch(() => {});
    });
  }
  $("rep-range").addEventListener("submit", (e) => {
    e.preventDefault();
    const from = $("rep-from").value;
    const to = $("rep-to").value;
    if (!from) { $("rep-error").textContent = "Укажите начало периода."; return; }
    query = to ? { from, to } : { from };
    for (const x of document.querySelectorAll("#rep-periods button")) x.setAttribute("aria-pressed", "false");
    show().catch(() => {});
  });
  $("rep-bucket").addEventListener("change", () => show().catch(() => {}));

  // --- Settings: «Отчёты по почте» ---
  const STATES = { pending: "ждёт отправки", sent: "отправлен", failed: "не отправлен" };

  async function settings() {
    const v = await api("GET", "/api/v1/settings/reports");
    const s = v.settings;
    $("rs-schedule").value = s.schedule;
    $("rs-recipients").value = s.recipients.join(", ");
    $("rs-weekday").value = String(s.weekday);
    $("rs-hour").value = String(s.hour);
    const notes = [];
    if (!v.mail_configured) notes.push("Почта не настроена: укажите [smtp] в файле настроек, иначе отчёты не уйдут.");
    if (!v.exports_allowed) notes.push("Тариф не включает выгрузку отчётов.");
    $("rs-state").textContent = notes.join(" ") || "Отчёт приходит PDF-файлом во вложении.";
    const ul = $("rs-runs");
    ul.textContent = "";
    for (const r of v.runs) {
      const day = (iso) => new Date(Date.parse(iso) + offset * 60_000).toLocaleDateString("ru-RU", { timeZone: "UTC" });
      ul.appendChild(el("li", "", day(r.from) + " — " + day(new Date(Date.parse(r.to) - 1).toISOString())
        + ": " + (STATES[r.state] || r.state) + (r.error ? " (" + r.error + ")" : "")));
    }
  }

  $("rs-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      schedule: $("rs-schedule").value,
      recipients: $("rs-recipients").value.split(/[,;\s]+/).filter(Boolean),
      weekday: Number($("rs-weekday").value),
      hour: Number($("rs-hour").value),
    };
    try {
      await api("PUT", "/api/v1/settings/reports", body);
      $("rs-result").textContent = "Сохранено.";
      await settings();
    } catch (err) { $("rs-result").textContent = err.message; }
  });
  $("rs-send").addEventListener("click", async () => {
    $("rs-result").textContent = "Отправляем…";
    try {
      const r = await api("POST", "/api/v1/settings/reports/send");
      $("rs-result").textContent = "Отчёт отправлен: адресов " + r.recipients + ".";
    } catch (err) { $("rs-result").textContent = err.message; }
  });

  window.supportdReports = { show, settings };
})();
