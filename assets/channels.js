// Settings cards for WhatsApp (Cloud API) and VK: what is set (never the secrets themselves),
// a live check with the stored keys, the webhook address to copy, the WhatsApp template for
// order notifications outside the 24-hour window, and the VK mode.
"use strict";

(function () {
  const { api, el } = window.supportd;
  const $ = (id) => document.getElementById(id);

  function copyButton(button, source) {
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText($(source).textContent);
        button.textContent = "Скопировано";
      } catch (_) {
        button.textContent = "Выделите и скопируйте";
      }
    });
  }

  async function whatsapp() {
    const s = await api("GET", "/api/v1/channels/whatsapp").catch((e) => ({ error: e.message }));
    $("wa-url").textContent = s.webhook_url || "";
    const missing = [];
    if (!s.token_set) missing.push("токен");
    if (!s.phone_number_id) missing.push("ID номера");
    if (!s.app_secret_set) missing.push("секрет приложения");
    if (!s.verify_token_set) missing.push("verify token");
    $("wa-state").textContent = s.phone ? "Подключён номер " + s.phone + (missing.length ? ". Не задано: " + missing.join(", ") : ".")
      : "Не подключён" + (missing.length ? " (не задано: " + missing.join(", ") + ")" : "") + (s.error && s.token_set ? ": " + s.error : "");
    if (s.phone_number_id) $("wa-phone").value = s.phone_number_id;
    if (s.business_account_id) $("wa-waba").value = s.business_account_id;
    const sel = $("wa-tpl");
    sel.textContent = "";
    sel.appendChild(el("option", "", "— не отправлять вне окна —")).value = "";
    for (const t of s.synced_templates || []) {
      if (t.status !== "APPROVED") continue;
      const o = el("option", "", t.name + " (" + t.language + ")");
      o.value = t.name + "\u001f" + t.language;
      sel.appendChild(o);
    }
    const chosen = (s.templates || {}).in_transit;
    if (chosen) sel.value = chosen.name + "\u001f" + chosen.language;
  }

  async function saveWhatsApp(e) {
    e.preventDefault();
    const body = {};
    for (const [field, id] of [["token", "wa-token"], ["phone_number_id", "wa-phone"], ["business_account_id", "wa-waba"],
      ["app_secret", "wa-secret"], ["verify_token", "wa-verify"]]) {
      const v = $(id).value.trim();
      if (v) body[field] = v;
    }
    try {
      await api("PUT", "/api/v1/channels/whatsapp", body);
      for (const id of ["wa-token", "wa-secret", "wa-verify"]) $(id).value = "";
      $("wa-result").textContent = "Сохранено (секреты зашифрованы).";
      await whatsapp();
    } catch (err) { $("wa-result").textContent = err.message; }
  }

  async function saveTemplate(e) {
    e.preventDefault();
    const v = $("wa-tpl").value;
    const templates = {};
    if (v) {
      const [name, language] = v.split("\u001f");
      for (const status of ["in_transit", "ready_for_pickup", "cancelled"]) templates[status] = { name, language };
    }
    try {
      await api("PUT", "/api/v1/channels/whatsapp", { templates });
      $("wa-result").textContent = v ? "Шаблон сохранён." : "Вне окна уведомления не отправляются.";
    } catch (err) { $("wa-result").textContent = err.message; }
  }

  async function syncTemplates() {
    $("wa-result").textContent = "Загружаем шаблоны…";
    try {
      const list = await api("POST", "/api/v1/channels/whatsapp/templates");
      $("wa-result").textContent = "Шаблонов: " + list.length + ", одобрено: " + list.filter((t) => t.status === "APPROVED").length + ".";
      await whatsapp();
    } catch (err) { $("wa-result").textContent = err.message; }
  }

  async function vk() {
    const s = await api("GET", "/api/v1/channels/vk").catch((e) => ({ error: e.message }));
    $("vk-url").textContent = s.callback_url || "";
    if (s.group_id) $("vk-group").value = s.group_id;
    if (s.mode) $("vk-mode").value = s.mode;
    const missing = [];
    if (!s.token_set) missing.push("ключ доступа");
    if (!s.group_id) missing.push("ID сообщества");
    if (s.mode === "callback" && !s.confirmation_set) missing.push("строка подтверждения");
    if (s.mode === "callback" && !s.secret_set) missing.push("секретный ключ");
    $("vk-state").textContent = (s.group_name ? "Подключено сообщество «" + s.group_name + "», режим: " + s.mode
      : "Не подключено" + (s.error && s.token_set ? ": " + s.error : "")) + (missing.length ? ". Не задано: " + missing.join(", ") : ".");
  }

  async function saveVk(e) {
    e.preventDefault();
    const body = { mode: $("vk-mode").value };
    for (const [field, id] of [["token", "vk-token"], ["confirmation", "vk-confirm"], ["secret", "vk-secret"]]) {
      const v = $(id).value.trim();
      if (v) body[field] = v;
    }
    const group = $("vk-group").value.trim();
    if (group) body.group_id = Number(group);
    try {
      await api("PUT", "/api/v1/channels/vk", body);
      for (const id of ["vk-token", "vk-secret"]) $(id).value = "";
      $("vk-result").textContent = "Сохранено (ключи зашифрованы).";
      await vk();
    } catch (err) { $("vk-result").textContent = err.message; }
  }

  $("wa-form").addEventListener("submit", saveWhatsApp);
  $("wa-tpl-form").addEventListener("submit", saveTemplate);
  $("wa-sync").addEventListener("click", syncTemplates);
  $("vk-form").addEventListener("submit", saveVk);
  copyButton($("wa-copy"), "wa-url");
  copyButton($("vk-copy"), "vk-url");

  window.supportdChannels = { settings: () => Promise.all([whatsapp(), vk()]) };
})();
