// The «Подключение» page (#/setup, admins): the checklist of GET /api/v1/setup, models to
// install with a progress bar, check and choose, the cloud models with every setting, the chat
// widget (allowed sites, look, embed code, a check of a site), and a test conversation over the
// widget's own connection. Also the first-run checklist on the inbox until every step is done.
"use strict";

(function () {
  const { api, el } = window.supportd;
  const L = window.supportdLabels;
  const $ = (id) => document.getElementById(id);
  const mb = (n) => Math.round(n / 1e6) + " МБ";
  let polling = null;

  // Where each step is done.
  const WHERE = {
    model: "#setup-models", embeddings: "#setup-models", telegram: "#/settings/channels",
    marketplaces: "#/settings/marketplaces", widget: "#setup-widget", test_conversation: "#setup-test",
  };

  // `todoOnly`: the inbox's box lists what is left, the set-up page every step.
  function stepList(steps, ul, todoOnly) {
    ul.textContent = "";
    for (const s of steps) {
      if (todoOnly && s.done) continue;
      const li = el("li", "step " + (s.done ? "done" : "todo"));
      li.dataset.step = s.step;
      li.appendChild(el("span", "step-mark", s.done ? "✓" : "•"));
      const body = el("div", "");
      const a = el("a", "step-name", L.STEPS[s.step] || s.step);
      const where = WHERE[s.step];
      a.href = where.startsWith("#/") ? where : "#/setup";
      if (!where.startsWith("#/")) a.addEventListener("click", () => setTimeout(() => { const t = document.querySelector(where); if (t) t.scrollIntoView(); }, 300));
      body.appendChild(a);
      body.appendChild(el("div", "small muted", s.detail));
      li.appendChild(body);
      ul.appendChild(li);
    }
  }

  // The inbox's first-run box: shown while any step is left.
  async function checklist() {
    const steps = await api("GET", "/api/v1/setup");
    const left = steps.filter((s) => !s.done);
    const box = $("first-run");
    box.classList.toggle("hidden", left.length === 0);
    if (!left.length) return;
    $("first-run-count").textContent = "Готово " + (steps.length - left.length) + " из " + steps.length;
    stepList(steps, $("first-run-steps"), true);
  }

  async function models() {
    const v = await api("GET", "/api/v1/setup/models");
    $("setup-local").textContent = v.local.startsWith("ready") ? "Сейчас работает: " + v.local.slice(7)
      : v.local === "loading" ? "Модель загружается…" : "Локальная модель не загружена.";
    const box = $("setup-model-list");
    box.textContent = "";
    for (const m of v.models) {
      const row = el("div", "model-row");
      const head = el("div", "");
      head.appendChild(el("b", "", m.id));
      head.appendChild(el("span", "muted small", " · " + (m.kind === "embeddings" ? "поиск по смыслу" : "чат") + " · " + mb(m.size_bytes)
        + (m.memory_mb ? " · память ≈ " + m.memory_mb + " МБ" : "") + (m.speed ? " · " + m.speed : "")));
      row.appendChild(head);
      row.appendChild(el("div", "small muted", m.installed ? (m.configured ? "Установлена, используется" : "Установлена") : "Не установлена"));
      const tools = el("div", "tools");
      const b = (text, fn, cls) => { const x = el("button", cls || "ghost", text); x.type = "button"; x.addEventListener("click", fn); tools.appendChild(x); return x; };
      const out = el("div", "small");
      if (!m.installed) b("Установить", () => install(m.id, out), "");
      else b("Проверить", async () => { out.textContent = "Проверяем…"; try { out.textContent = (await api("POST", "/api/v1/setup/models/" + m.id + "/verify")).message; } catch (e) { out.textContent = e.message; } });
      if (m.kind === "chat" && m.installed && !m.configured) b("Выбрать", () => choose(m.id, out));
      row.appendChild(tools);
      row.appendChild(out);
      box.appendChild(row);
    }
    progress(v.install);
  }

  function progress(i) {
    const bar = $("setup-progress");
    bar.classList.toggle("hidden", !i);
    if (!i) return;
    $("setup-progress-bar").max = i.total;
    $("setup-progress-bar").value = i.bytes;
    $("setup-progress-text").textContent = i.id + ": " + (i.state === "running" ? mb(i.bytes) + " из " + mb(i.total) + " — " + (i.log.length ? i.log[i.log.length - 1] : i.message) : i.message);
    clearTimeout(polling);
    if (i.state === "running") polling = setTimeout(() => models().catch(() => {}), 1000);
  }

  async function install(id, out) {
    try { progress(await api("POST", "/api/v1/setup/models/" + id + "/install")); } catch (e) { out.textContent = e.message; }
  }

  let modelSettings = null;
  async function choose(id, out) {
    try {
      const s = Object.assign({}, modelSettings || (await api("GET", "/api/v1/settings/models")).settings, { local_model: id });
      await api("PUT", "/api/v1/settings/models", s);
      out.textContent = "Выбрано. Модель загрузится при следующем запуске supportd.";
      await cloud();
    } catch (e) { out.textContent = e.message; }
  }

  const CLOUD = [
    ["openai_base_url", "text"], ["openai_model", "text"], ["openai_price_input_rub_per_m", "number"],
    ["openai_price_output_rub_per_m", "number"], ["openai_monthly_budget_rub", "number"],
    ["yandexgpt_base_url", "text"], ["yandexgpt_folder_id", "text"], ["yandexgpt_model", "text"], ["yandexgpt_auth", "select"],
    ["yandexgpt_price_input_rub_per_m", "number"], ["yandexgpt_price_output_rub_per_m", "number"], ["yandexgpt_monthly_budget_rub", "number"],
  ];

  async function cloud() {
    const v = await api("GET", "/api/v1/settings/models");
    modelSettings = v.settings;
    $("cm-chain").value = v.settings.chain.join(", ");
    for (const [k] of CLOUD) $("cm-" + k).value = v.settings[k];
    $("cm-keys").textContent = "Ключ OpenAI: " + (v.openai_key_set ? "сохранён" : "не задан") + " · ключ YandexGPT: " + (v.yandexgpt_key_set ? "сохранён" : "не задан");
    const pending = JSON.stringify(v.settings) !== JSON.stringify(v.running);
    $("cm-state").textContent = pending ? "Изменения вступят в силу после перезапуска supportd." : "";
  }

  async function saveCloud(e) {
    e.preventDefault();
    const s = Object.assign({}, modelSettings);
    s.chain = $("cm-chain").value.split(",").map((x) => x.trim()).filter(Boolean);
    for (const [k, type] of CLOUD) s[k] = type === "number" ? Number($("cm-" + k).value) : $("cm-" + k).value.trim();
    try {
      await api("PUT", "/api/v1/settings/models", s);
      await cloud();
      $("cm-result").textContent = "Сохранено. Действует после перезапуска supportd.";
    } catch (err) { $("cm-result").textContent = err.message; }
  }

  let widgetSettings = null;
  async function widget() {
    const v = await api("GET", "/api/v1/settings/widget");
    widgetSettings = v.settings;
    $("wg-sites").value = v.settings.allowed_origins.join("\n");
    $("wg-colour").value = v.settings.colour;
    $("wg-greeting").value = v.settings.greeting;
    $("wg-title").value = v.settings.title;
    $("wg-code").textContent = v.embed_code;
    $("wg-config").textContent = v.config_origins.length ? "Из config.toml также разрешены: " + v.config_origins.join(", ") : "";
  }

  async function saveWidget(e) {
    e.preventDefault();
    const body = {
      allowed_origins: $("wg-sites").value.split(/[\s,]+/).filter(Boolean),
      colour: $("wg-colour").value, greeting: $("wg-greeting").value, title: $("wg-title").value,
    };
    try {
      await api("PUT", "/api/v1/settings/widget", body);
      await widget();
      $("wg-result").textContent = "Сохранено: действует для новых подключений.";
      checklist().catch(() => {});
      steps().catch(() => {});
    } catch (err) { $("wg-result").textContent = err.message; }
  }

  async function checkSite() {
    const url = $("wg-check-url").value.trim();
    if (!url) { $("wg-check-result").textContent = "Введите адрес страницы сайта."; return; }
    $("wg-check-result").textContent = "Проверяем…";
    try { $("wg-check-result").textContent = (await api("POST", "/api/v1/settings/widget/check", { url })).message; } catch (e) { $("wg-check-result").textContent = e.message; }
  }

  // The test conversation: the widget's own WebSocket from the panel's page (its origin is allowed).
  let ws = null;
  const visitorKey = "supportd_setup_visitor";
  function visitor() {
    let v = null;
    try { v = localStorage.getItem(visitorKey); } catch (_) { /* private mode */ }
    if (!v) {
      v = "v-setup-" + Math.random().toString(36).slice(2, 12);
      try { localStorage.setItem(visitorKey, v); } catch (_) { /* private mode */ }
    }
    return v;
  }
  function bubble(author, text) {
    const d = el("div", "msg from-" + (author === "buyer" ? "buyer" : author === "operator" ? "operator" : "bot"), text);
    $("st-log").appendChild(d);
    $("st-log").scrollTop = $("st-log").scrollHeight;
  }
  function connectTest() {
    if (ws && ws.readyState <= 1) return;
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/widget/ws?visitor=" + visitor());
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (_) { return; }
      if (m.type === "history") { $("st-log").textContent = ""; for (const h of m.messages) bubble(h.author, h.text); }
      else if (m.type === "message") { bubble(m.author || "bot", m.text || ""); $("st-typing").classList.add("hidden"); steps().catch(() => {}); }
      else if (m.type === "error") $("st-typing").textContent = m.message;
    };
    ws.onclose = () => { ws = null; };
  }
  function sendTest(e) {
    e.preventDefault();
    const text = $("st-input").value.trim();
    if (!text) return;
    connectTest();
    const go = () => {
      ws.send(JSON.stringify({ type: "message", id: "t-" + Date.now().toString(36), text }));
      bubble("buyer", text);
      $("st-input").value = "";
      $("st-typing").textContent = "бот печатает…";
      $("st-typing").classList.remove("hidden");
    };
    if (ws.readyState === 1) go(); else ws.addEventListener("open", go, { once: true });
  }

  async function steps() {
    const list = await api("GET", "/api/v1/setup");
    stepList(list, $("setup-steps"));
    const left = list.filter((s) => !s.done).length;
    $("setup-summary").textContent = left ? "Осталось шагов: " + left + " из " + list.length + "." : "Всё подключено.";
  }

  async function show() {
    await Promise.all([steps(), models(), cloud(), widget()]);
    connectTest();
  }

  $("cm-form").addEventListener("submit", saveCloud);
  $("wg-form").addEventListener("submit", saveWidget);
  $("wg-check").addEventListener("click", checkSite);
  $("wg-copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("wg-code").textContent); $("wg-copy").textContent = "Скопировано"; } catch (_) { $("wg-copy").textContent = "Выделите и скопируйте"; }
  });
  $("st-form").addEventListener("submit", sendTest);

  window.supportdSetup = { show, checklist };
})();
