// Panel pages besides the inbox: the knowledge base (list, search, edit with a Markdown
// preview, version history and restore) and settings (integrations, users, audit log).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const time = (v) => new Date(v).toLocaleString("ru-RU", { day: "2-digit", month: "2-digit", year: "2-digit", hour: "2-digit", minute: "2-digit" });

  const { api, csrf, el } = window.supportd;

  // --- Markdown preview: built as DOM nodes from text, so nothing in an article can run. ---
  function inline(parent, text) {
    const parts = text.split("**");
    parts.forEach((p, i) => parent.appendChild(i % 2 ? el("b", "", p) : document.createTextNode(p)));
  }
  function markdown(src) {
    const root = el("div", "md");
    let list = null;
    let para = [];
    const flush = () => {
      if (para.length) {
        const p = el("p");
        inline(p, para.join(" "));
        root.appendChild(p);
        para = [];
      }
    };
    for (const raw of src.split("\n")) {
      const line = raw.trim();
      if (/^\|?[-:| ]+\|?$/.test(line) && line.includes("-") && line.includes("|")) continue;
      const h = line.match(/^(#{1,4})\s+(.*)$/);
      if (h) { flush(); list = null; const e = el("h" + Math.min(6, h[1].length + 2)); inline(e, h[2]); root.appendChild(e); continue; }
      const li = line.match(/^(?:[-*]|\d+\.)\s+(.*)$/);
      if (li) { flush(); if (!list) { list = el("ul"); root.appendChild(list); } const e = el("li"); inline(e, li[1]); list.appendChild(e); continue; }
      if (line.startsWith("|")) { flush(); list = null; const e = el("div", "md-row"); inline(e, line.replace(/^\||\|$/g, "").split("|").map((c) => c.trim()).join(" — ")); root.appendChild(e); continue; }
      if (!line) { flush(); list = null; continue; }
      list = null;
      para.push(line);
    }
    flush();
    return root;
  }

  // --- Knowledge base ---
  let kbCurrent = null;

  async function kbList() {
    const q = $("kb-search").value.trim();
    const ul = $("kb-list");
    ul.textContent = "";
    let items;
    if (q) {
      const r = await api("GET", "/api/v1/kb/search?drafts=true&limit=30&q=" + encodeURIComponent(q));
      items = r.hits.filter((h) => h.doc.startsWith("a:")).map((h) => ({ id: h.id, title: h.title, status: "" }));
    } else {
      items = await api("GET", "/api/v1/kb/articles?limit=500");
    }
    if (!items.length) ul.appendChild(el("li", "empty muted", "Ничего не найдено"));
    for (const a of items) {
      const li = el("li", "conv" + (kbCurrent === a.id ? " active" : ""));
      li.tabIndex = 0;
      li.appendChild(el("b", "", a.title));
      if (a.status === "draft") li.appendChild(el("span", "badge", "черновик"));
      li.addEventListener("click", () => kbOpen(a.id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") kbOpen(a.id); });
      ul.appendChild(li);
    }
  }

  async function kbProducts() {
    const ul = $("kb-products");
    ul.textContent = "";
    for (const p of await api("GET", "/api/v1/kb/products?limit=200")) {
      const price = p.price_rub === null ? "" : " · " + p.price_rub + " ₽";
      const stock = p.stock === null ? "" : " · остаток " + p.stock;
      ul.appendChild(el("li", "order", p.name + " · " + p.marketplace.toUpperCase() + " " + p.offer_id + price + stock));
    }
  }

  async function kbImport() {
    const file = $("kb-import").files[0];
    if (!file) return;
    const type = file.name.toLowerCase().endsWith(".csv") ? "text/csv" : "application/json";
    const resp = await fetch("/api/v1/kb/import", {
      method: "POST", credentials: "same-origin", body: await file.text(),
      headers: { "Content-Type": type, "X-CSRF-Token": csrf() },
    });
    const r = await resp.json().catch(() => null);
    if (!resp.ok || !r) { $("kb-import-result").textContent = r && r.error ? r.error.message : "Ошибка импорта"; return; }
    const lines = [
      "Статьи: новых " + r.articles_created + ", изменено " + r.articles_updated + "; товары: новых " + r.products_created + ", изменено " + r.products_updated,
    ].concat(r.errors.map((e) => e.source + ":" + e.line + ": " + e.message));
    $("kb-import-result").textContent = lines.join("\n");
    $("kb-import").value = "";
    await kbList();
    await kbProducts();
  }

  function kbPreview() {
    const box = $("kb-preview");
    box.textContent = "";
    box.appendChild(markdown($("kb-body").value));
  }

  async function kbOpen(id) {
    kbCurrent = id;
    $("kb-error").textContent = "";
    $("kb-editor").classList.remove("hidden");
    const versions = $("kb-versions");
    versions.textContent = "";
    if (id === null) {
      for (const f of ["kb-slug", "kb-title", "kb-category", "kb-body"]) $(f).value = "";
      $("kb-slug").readOnly = false;
      $("kb-status").value = "published";
      $("kb-usage").textContent = "";
      kbPreview();
      return;
    }
    const a = await api("GET", "/api/v1/kb/articles/" + id);
    $("kb-slug").value = a.slug;
    $("kb-slug").readOnly = true;
    $("kb-title").value = a.title;
    $("kb-category").value = a.category || "";
    $("kb-status").value = a.status;
    $("kb-body").value = a.body;
    $("kb-usage").textContent = "Версия " + a.version + " · найдена " + (a.usage.retrieved || 0) + " раз · в ответах " + (a.usage.used || 0);
    kbPreview();
    for (const v of await api("GET", "/api/v1/kb/articles/" + id + "/versions")) {
      const row = el("li", "");
      row.appendChild(el("span", "", "v" + v.version + " · " + time(v.created_at) + " · " + v.author + " · " + v.title));
      if (v.version !== a.version) {
        const b = el("button", "ghost", "Восстановить");
        b.type = "button";
        b.addEventListener("click", async () => {
          await api("POST", "/api/v1/kb/articles/" + id + "/versions/" + v.version + "/restore");
          await kbOpen(id);
          await kbList();
        });
        row.appendChild(b);
      }
      versions.appendChild(row);
    }
  }

  async function kbSave(e) {
    e.preventDefault();
    $("kb-error").textContent = "";
    const body = {
      slug: $("kb-slug").value.trim(), title: $("kb-title").value.trim(), body: $("kb-body").value,
      category: $("kb-category").value.trim() || null, status: $("kb-status").value,
    };
    try {
      const a = kbCurrent === null ? await api("POST", "/api/v1/kb/articles", body) : await api("PUT", "/api/v1/kb/articles/" + kbCurrent, body);
      await kbList();
      await kbOpen(a.id);
      $("kb-error").textContent = "Сохранено.";
    } catch (err) { $("kb-error").textContent = err.message; }
  }

  // --- Settings ---
  const DAYS = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"];
  const INTENTS = {
    complaint: "жалобы", cancel_order: "отмена заказа", return_request: "возвраты", exchange: "обмен",
    payment: "оплата", promo: "скидки и промокоды", product_info: "вопросы о товаре", delivery_time: "сроки доставки",
  };
  let assistant = null;

  function checks(box, options, selected) {
    box.querySelectorAll("label").forEach((l) => l.remove());
    for (const [value, label] of options) {
      const l = el("label", "check");
      const input = el("input");
      input.type = "checkbox";
      input.value = value;
      input.checked = selected.includes(value);
      l.appendChild(input);
      l.appendChild(document.createTextNode(" " + label));
      box.appendChild(l);
    }
  }

  async function loadAssistant() {
    assistant = await api("GET", "/api/v1/settings/assistant");
    $("as-name").value = assistant.shop.name;
    $("as-offset").value = assistant.shop.utc_offset_minutes;
    $("as-from").value = assistant.shop.work_from;
    $("as-to").value = assistant.shop.work_to;
    checks($("as-days"), DAYS.map((d, i) => [String(i + 1), d]), assistant.shop.work_days.map(String));
    checks($("as-human"), Object.entries(INTENTS), assistant.engine.human_only_intents);
    $("as-answers").value = assistant.engine.answers;
    $("as-misses").value = assistant.engine.max_misses;
    $("as-rating").checked = assistant.engine.ask_rating;
    $("as-tone").value = assistant.engine.tone;
  }

  async function saveAssistant(e) {
    e.preventDefault();
    const picked = (box) => Array.from(box.querySelectorAll("input:checked")).map((i) => i.value);
    const body = {
      shop: Object.assign({}, assistant.shop, {
        name: $("as-name").value.trim(), utc_offset_minutes: Number($("as-offset").value),
        work_from: $("as-from").value, work_to: $("as-to").value, work_days: picked($("as-days")).map(Number),
      }),
      engine: Object.assign({}, assistant.engine, {
        human_only_intents: picked($("as-human")), answers: $("as-answers").value,
        max_misses: Number($("as-misses").value), ask_rating: $("as-rating").checked, tone: $("as-tone").value,
      }),
    };
    try {
      assistant = await api("PUT", "/api/v1/settings/assistant", body);
      $("as-result").textContent = "Сохранено: действует со следующего сообщения.";
    } catch (err) { $("as-result").textContent = err.message; }
  }

  async function loadSnippets() {
    const ul = $("sn-list");
    ul.textContent = "";
    for (const sn of await api("GET", "/api/v1/snippets")) {
      const li = el("li", "user-row", sn.title + " — " + sn.body);
      const del = el("button", "ghost danger", "Удалить");
      del.type = "button";
      del.setAttribute("aria-label", "Удалить ответ «" + sn.title + "»");
      del.addEventListener("click", async () => {
        if (!(await window.supportdUi.confirm("Удалить сохранённый ответ «" + sn.title + "»?", "", "Удалить"))) return;
        try {
          await api("DELETE", "/api/v1/snippets/" + sn.id);
          await loadSnippets();
          // Undo: the same title and text come back (as a new entry).
          window.supportdUi.toast("Ответ удалён.", "Вернуть", async () => {
            await api("POST", "/api/v1/snippets", { title: sn.title, body: sn.body }).catch(() => {});
            await loadSnippets();
          });
        } catch (err) { $("sn-result").textContent = err.message; }
      });
      li.appendChild(del);
      ul.appendChild(li);
    }
  }

  async function addSnippet(e) {
    e.preventDefault();
    try {
      await api("POST", "/api/v1/snippets", { title: $("sn-title").value.trim(), body: $("sn-body").value.trim() });
      $("sn-title").value = "";
      $("sn-body").value = "";
      $("sn-result").textContent = "Добавлен.";
      await loadSnippets();
    } catch (err) { $("sn-result").textContent = err.message; }
  }

  // Settings in sections: one at a time, chosen in the bar at the top (#/settings/<section>).
  function section(name) {
    const known = Array.from(document.querySelectorAll("#settings-nav a")).map((a) => a.dataset.section);
    const current = known.includes(name) ? name : "shop";
    for (const card of document.querySelectorAll("#view-settings [data-section]")) {
      if (card.tagName === "A") continue;
      card.classList.toggle("hidden", card.dataset.section !== current);
    }
    for (const a of document.querySelectorAll("#settings-nav a")) {
      a.setAttribute("aria-pressed", String(a.dataset.section === current));
      if (a.dataset.section === current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
  }

  async function settings(name) {
    if (name !== undefined) section(name);
    await Promise.all([
      loadAssistant(),
      loadSnippets(),
      window.supportdLicence ? window.supportdLicence.card() : null,
      window.supportdOps ? window.supportdOps.settings() : null,
      window.supportdChannels ? window.supportdChannels.settings() : null,
    ]);
    const tg = await api("GET", "/api/v1/channels/telegram").catch((e) => ({ error: e.message }));
    const tgError = tg.error && !tg.token_set ? "токен бота не задан" : tg.error ? window.supportdLabels.errorText({ message: tg.error }) : "";
    $("tg-state").textContent = tg.username ? "Бот @" + tg.username + " подключён, режим: " + (tg.mode === "webhook" ? "webhook" : "опрос")
      : "Не подключён" + (tgError ? ": " + tgError : "");
    if (tg.mode) $("tg-mode").value = tg.mode;

    const mk = $("mk-list");
    mk.textContent = "";
    // What each key reaches, part by part ("заказы FBS ✓, статистика ✗ — нет доступа").
    const access = {};
    for (const a of await api("GET", "/api/v1/settings/marketplaces").catch(() => [])) access[a.market] = a;
    const showParts = (box, parts, kindTitle) => {
      box.textContent = "";
      if (!parts || !parts.length) return;
      if (kindTitle) box.appendChild(el("span", "muted", "Ключ: " + kindTitle + ". "));
      parts.forEach((p, i) => {
        const span = el("span", "part part-" + p.access, p.title + " " + p.access_title);
        if (p.reason) span.title = p.reason;
        box.appendChild(span);
        if (i < parts.length - 1) box.appendChild(document.createTextNode(", "));
      });
    };
    for (const m of await api("GET", "/api/v1/marketplaces")) {
      const row = el("div", "mk");
      const name = m.market === "wb" ? "Wildberries" : "Ozon";
      const last = m.incremental_sync.error || m.full_sync.error;
      row.appendChild(el("b", "", name));
      row.appendChild(el("span", "muted", m.connected ? " · заказов в кэше: " + m.orders_cached + (last ? " · ошибка: " + last : "") : " · не подключён"));
      const parts = el("div", "small mk-parts");
      parts.dataset.market = m.market;
      if (access[m.market]) showParts(parts, access[m.market].parts, access[m.market].key_kind_title);
      row.appendChild(parts);
      const out = el("div", "small");
      for (const [label, path] of [["Проверить подключение", "test"], ["Синхронизировать", "sync"]]) {
        const b = el("button", "ghost", label);
        b.type = "button";
        b.disabled = !m.connected;
        b.addEventListener("click", async () => {
          try {
            const r = await api("POST", "/api/v1/marketplaces/" + m.market + "/" + path);
            out.textContent = r && r.message ? r.message : "Запущено.";
            if (r && r.parts && r.parts.length) showParts(parts, r.parts, access[m.market] && access[m.market].key_kind_title);
          } catch (err) { out.textContent = err.message; }
        });
        row.appendChild(b);
      }
      row.appendChild(out);
      mk.appendChild(row);
    }

    const users = $("users");
    users.textContent = "";
    for (const u of await api("GET", "/api/v1/users")) {
      const li = el("li", "user-row", u.email + (u.disabled ? " · отключён" : "") + " ");
      const sel = el("select", "");
      sel.setAttribute("aria-label", "Роль " + u.email);
      for (const [v, label] of [["admin", "администратор"], ["operator", "оператор"], ["viewer", "наблюдатель"]]) {
        sel.appendChild(el("option", "", label)).value = v;
      }
      sel.value = u.role;
      sel.addEventListener("change", async () => {
        try {
          await api("PATCH", "/api/v1/users/" + u.id, { role: sel.value });
          $("user-result").textContent = "Роль изменена.";
        } catch (err) {
          $("user-result").textContent = err.message;
          sel.value = u.role;
        }
      });
      li.appendChild(sel);
      const toggle = el("button", "ghost", u.disabled ? "Включить" : "Отключить");
      toggle.type = "button";
      toggle.addEventListener("click", async () => {
        if (!u.disabled && !(await window.supportdUi.confirm("Отключить " + u.email + "?", "Пользователь больше не сможет войти, пока его не включат снова.", "Отключить"))) return;
        try {
          await api("PATCH", "/api/v1/users/" + u.id, { disabled: !u.disabled });
          await settings();
        } catch (err) { $("user-result").textContent = err.message; }
      });
      li.appendChild(toggle);
      users.appendChild(li);
    }
    const audit = $("audit");
    audit.textContent = "";
    for (const a of await api("GET", "/api/v1/audit?limit=30")) {
      const actor = a.actor === "cli" ? "командная строка" : a.actor === "system" ? "система" : a.actor;
      const li = el("li", "small", a.at.replace("T", " ").slice(0, 16) + " · " + actor + " · " + window.supportdLabels.label(window.supportdLabels.AUDIT, a.action) + (a.target ? " · " + a.target : ""));
      li.title = a.action;
      audit.appendChild(li);
    }
  }

  async function saveTelegram(e) {
    e.preventDefault();
    const body = { mode: $("tg-mode").value };
    if ($("tg-token").value.trim()) body.token = $("tg-token").value.trim();
    try {
      await api("PUT", "/api/v1/channels/telegram", body);
      $("tg-token").value = "";
      await settings();
    } catch (err) { $("tg-state").textContent = err.message; }
  }

  async function saveMarketKeys(e) {
    e.preventDefault();
    const keys = [["wb.token", "mk-wb"], ["ozon.client_id", "mk-ozon-id"], ["ozon.api_key", "mk-ozon-key"]];
    try {
      for (const [name, id] of keys) {
        const value = $(id).value.trim();
        if (value) await api("PUT", "/api/v1/settings/credentials/" + name, { value });
        $(id).value = "";
      }
      $("mk-result").textContent = "Ключи сохранены. Проверьте подключение.";
      await settings();
    } catch (err) { $("mk-result").textContent = err.message; }
  }

  async function saveKey(e) {
    e.preventDefault();
    try {
      await api("PUT", "/api/v1/settings/credentials/" + $("key-name").value, { value: $("key-value").value.trim() });
      $("key-value").value = "";
      $("key-result").textContent = "Ключ сохранён (зашифрован).";
    } catch (err) { $("key-result").textContent = err.message; }
  }

  async function testModels() {
    $("key-result").textContent = "Спрашиваем модель…";
    try {
      const r = await api("POST", "/api/v1/llm/ask", { question: "Ответь одним словом: работаешь?", max_tokens: 16, cache: false });
      $("key-result").textContent = "Отвечает " + (r.provider === "local" ? "локальная модель" : r.provider) + " (" + r.model + "): " + r.text;
    } catch (err) {
      // The server's reason names files and providers; the seller needs what to do.
      $("key-result").textContent = "Ни одна модель не ответила. Установите локальную модель или задайте ключ облачной на странице «Подключение».";
      $("key-result").title = err.message;
    }
  }

  async function addUser(e) {
    e.preventDefault();
    try {
      const r = await api("POST", "/api/v1/users", { email: $("user-email").value.trim(), role: $("user-role").value });
      $("user-result").textContent = r.generated_password ? "Пароль (показан один раз): " + r.generated_password : "Создан.";
      $("user-email").value = "";
      await settings();
    } catch (err) { $("user-result").textContent = err.message; }
  }

  $("kb-search").addEventListener("input", () => { clearTimeout(kbList.t); kbList.t = setTimeout(() => kbList().catch(() => {}), 250); });
  $("kb-new").addEventListener("click", () => kbOpen(null));
  $("kb-body").addEventListener("input", kbPreview);
  $("kb-form").addEventListener("submit", kbSave);
  $("tg-form").addEventListener("submit", saveTelegram);
  $("as-form").addEventListener("submit", saveAssistant);
  $("key-form").addEventListener("submit", saveKey);
  $("sn-form").addEventListener("submit", addSnippet);
  $("key-test").addEventListener("click", testModels);
  $("mk-form").addEventListener("submit", saveMarketKeys);
  $("kb-import").addEventListener("change", () => kbImport().catch((e) => { $("kb-import-result").textContent = e.message; }));
  $("user-form").addEventListener("submit", addUser);

  window.supportdPages = {
    kb: async (article, draft) => {
      await Promise.all([kbList(), kbProducts()]);
      if (article) await kbOpen(article);
      else if (draft) {
        await kbOpen(null);
        $("kb-title").value = draft.title || "";
        $("kb-body").value = draft.body || "";
        $("kb-category").value = draft.category || "";
        $("kb-slug").value = "faq-" + Date.now().toString(36);
        kbPreview();
        $("kb-title").focus();
      }
    },
    settings: (name) => settings(name || "shop"),
  };
})();
