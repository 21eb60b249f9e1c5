// The licence and plan: the banner above every page (a licence about to end, in its grace
// period, or expired), the settings card (status, limits and what they are measured against,
// installing a licence), and the monthly usage statement with its CSV download.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const { api, el } = window.supportd;

  // The card's first line for each status.
  const HEADS = {
    trial: (v) => "Пробный период до " + date(v.valid_until) + ": всё включено",
    free: () => "Бесплатный тариф (без лицензии)",
    active: (v) => "Тариф «" + v.plan_title + "» · действует до " + date(v.valid_until),
    grace: (v) => "Тариф «" + v.plan_title + "» · лицензия истекла " + date(v.valid_until) + ", льготный срок до " + date(v.grace_until),
    expired: (v) => "Тариф «" + v.plan_title + "» · лицензия истекла, бот приостановлен",
  };
  const CHANNELS = { telegram: "Telegram", widget: "чат на сайте", api: "API" };
  const MARKETS = { wb: "Wildberries", ozon: "Ozon" };
  const date = (iso) => new Date(iso).toLocaleDateString("ru-RU", { day: "numeric", month: "long", year: "numeric" });

  // The banner: warnings and danger for everyone; the trial's and free tier's notes stay in settings.
  async function banner() {
    const box = $("licence-banner");
    const v = await api("GET", "/api/v1/licence");
    const w = v.warning;
    const show = w && w.level !== "info";
    box.className = "banner" + (show ? " lvl-" + w.level : " hidden");
    box.textContent = show ? w.message : "";
    return v;
  }

  function row(table, label, value) {
    const tr = el("tr");
    tr.appendChild(el("th", "", label));
    tr.appendChild(el("td", "", value));
    table.appendChild(tr);
  }

  async function card() {
    const v = await banner();
    const head = (HEADS[v.status] || (() => v.status))(v)
      + (v.licence ? " · лицензия " + v.licence.id + " (" + v.licence.customer + ")" : "");
    $("lic-state").textContent = head;
    $("lic-state").dataset.status = v.status;
    $("lic-warning").textContent = v.warning ? v.warning.message : "";
    $("lic-warning").className = v.warning ? "banner lvl-" + v.warning.level : "hidden";
    const t = $("lic-limits");
    t.textContent = "";
    const l = v.limits;
    const u = v.usage || { seats: 0, marketplaces_connected: [], marketplaces_synced: [] };
    row(t, "Операторы и администраторы", u.seats + " из " + (l.seats === "unlimited" ? "без ограничений" : l.seats));
    row(t, "Каналы", l.channels.map((c) => CHANNELS[c] || c).join(", ") || "—");
    const synced = u.marketplaces_synced.map((m) => MARKETS[m] || m).join(", ");
    const idle = u.marketplaces_connected.filter((m) => !u.marketplaces_synced.includes(m)).map((m) => MARKETS[m] || m);
    row(t, "Маркетплейсы", u.marketplaces_synced.length + " из " + l.marketplaces + (synced ? " (" + synced + ")" : "")
      + (idle.length ? "; ключи есть, но тариф не синхронизирует: " + idle.join(", ") : ""));
    row(t, "Языковые модели", l.models === "cloud" ? "локальная и облачные" : "только локальная");
    row(t, "Выгрузка отчётов", l.exports ? "есть" : "нет");
    if (!v.automation) row(t, "Бот", "приостановлен: сообщения принимаются и ждут операторов");
    await statement();
  }

  async function install(e) {
    e.preventDefault();
    const file = $("lic-file").files[0];
    const token = file ? await file.text() : $("lic-token").value.trim();
    if (!token) return;
    try {
      const v = await api("PUT", "/api/v1/licence", { token });
      $("lic-result").textContent = "Лицензия установлена: тариф «" + v.plan_title + "» до " + date(v.valid_until) + " — действует сразу.";
      $("lic-token").value = "";
      $("lic-file").value = "";
      await card();
    } catch (err) { $("lic-result").textContent = err.message; }
  }

  const FIGURES = [
    ["Разговоры с покупателями", (s) => s.conversations],
    ["Сообщения покупателей", (s) => s.messages.buyers],
    ["Ответы бота", (s) => s.messages.bot],
    ["Ответы операторов", (s) => s.messages.people],
    ["Операторов отвечало", (s) => s.active_operators],
    ["Вызовы моделей", (s) => s.model_calls],
    ["Стоимость моделей, ₽", (s) => s.model_cost_rub.toFixed(2)],
  ];

  async function statement() {
    const month = $("st-month").value || new Date().toISOString().slice(0, 7);
    $("st-month").value = month;
    const s = await api("GET", "/api/v1/usage/statement?month=" + encodeURIComponent(month));
    const t = $("st-table");
    t.textContent = "";
    for (const [label, f] of FIGURES) row(t, label, String(f(s)));
    for (const m of s.models) row(t, "Модель " + m.provider, m.calls + " вызовов, " + m.cost_rub.toFixed(2) + " ₽");
    for (const c of s.channels) row(t, "Канал " + (CHANNELS[c.channel] || c.channel), c.conversations + " разговоров, " + c.buyer_messages + " сообщений");
    for (const o of s.operators) row(t, "Оператор " + (o.name || o.email), o.replies + " ответов");
    $("st-csv").href = "/api/v1/usage/statement.csv?month=" + encodeURIComponent(month);
  }

  $("lic-form").addEventListener("submit", install);
  $("st-month").addEventListener("change", () => statement().catch((e) => { $("st-result").textContent = e.message; }));

  window.supportdLicence = { banner, card };
})();
