// The «Профиль» page (#/profile): the signed-in person's password, sound and browser
// notifications, and (operators, admins) their own alerts by Telegram and e-mail with quiet hours.
"use strict";

(function () {
  const { api, el } = window.supportd;
  const L = window.supportdLabels;
  const $ = (id) => document.getElementById(id);
  const time = (ms) => new Date(ms).toLocaleString("ru-RU", { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" });

  async function alerts() {
    const v = await api("GET", "/api/v1/profile/alerts");
    const p = v.prefs;
    $("al-chat").value = p.telegram_chat_id || "";
    $("al-email").value = p.email || "";
    $("al-handoff").checked = p.on_handoff;
    $("al-overdue").checked = p.on_overdue;
    $("al-failed").checked = p.on_failed;
    $("al-minutes").value = p.overdue_minutes;
    $("al-quiet-from").value = p.quiet ? p.quiet.from : "";
    $("al-quiet-to").value = p.quiet ? p.quiet.to : "";
    $("al-routes").textContent = (v.telegram_ready ? "Бот Telegram подключён." : "Бот Telegram не подключён: оповещения в Telegram не придут.")
      + " " + (v.email_ready ? "Почта настроена." : "Почта не настроена (smtp.host): письма не придут.");
    const ul = $("al-recent");
    ul.textContent = "";
    for (const r of v.recent) {
      ul.appendChild(el("li", "small", time(r.created_at) + " · " + L.label(L.ALERT_KINDS, r.kind) + " · " + L.label(L.ROUTES, r.via)
        + " · " + L.label(L.ALERT_STATUSES, r.status) + (r.error ? " — " + r.error : "")));
    }
    if (!v.recent.length) ul.appendChild(el("li", "small muted", "Оповещений ещё не было."));
  }

  async function saveAlerts(e) {
    e.preventDefault();
    const body = {
      telegram_chat_id: $("al-chat").value.trim() || null, email: $("al-email").value.trim() || null,
      on_handoff: $("al-handoff").checked, on_overdue: $("al-overdue").checked, on_failed: $("al-failed").checked,
      overdue_minutes: Number($("al-minutes").value),
      quiet: $("al-quiet-from").value && $("al-quiet-to").value ? { from: $("al-quiet-from").value, to: $("al-quiet-to").value } : null,
    };
    if (Boolean($("al-quiet-from").value) !== Boolean($("al-quiet-to").value)) {
      $("al-result").textContent = "Задайте оба конца тихих часов или ни одного.";
      return;
    }
    try {
      await api("PUT", "/api/v1/profile/alerts", body);
      $("al-result").textContent = "Сохранено.";
      await alerts();
    } catch (err) { $("al-result").textContent = err.message; }
  }

  async function testAlerts() {
    $("al-result").textContent = "Отправляем…";
    try {
      const r = await api("POST", "/api/v1/profile/alerts/test");
      $("al-result").textContent = r.length ? r.map((x) => L.label(L.ROUTES, x.via) + ": " + (x.ok ? "доставлено" : x.error)).join("; ")
        : "Укажите чат Telegram или почту и сохраните.";
    } catch (err) { $("al-result").textContent = err.message; }
  }

  async function changePassword(e) {
    e.preventDefault();
    if ($("pw-new").value !== $("pw-new2").value) { $("pw-result").textContent = "Новые пароли не совпадают."; return; }
    try {
      await api("POST", "/api/v1/auth/password", { current_password: $("pw-old").value, new_password: $("pw-new").value });
      for (const id of ["pw-old", "pw-new", "pw-new2"]) $(id).value = "";
      $("pw-result").textContent = "Пароль изменён.";
    } catch (err) { $("pw-result").textContent = err.message; }
  }

  function signals() {
    $("pf-sound").checked = window.supportdNotify.soundOn();
    const n = "Notification" in window ? Notification.permission : "unsupported";
    $("pf-notify-state").textContent = { granted: "Уведомления браузера включены.", denied: "Уведомления запрещены в настройках браузера для этого сайта.",
      default: "Уведомления браузера не включены.", unsupported: "Этот браузер не показывает уведомления." }[n];
    $("pf-notify").classList.toggle("hidden", n !== "default");
  }

  async function show() {
    const me = window.supportdApp.me();
    $("pf-who").textContent = me ? me.email : "";
    signals();
    const operator = window.supportdApp.can("operator");
    $("pf-alerts").classList.toggle("hidden", !operator);
    if (operator) await alerts();
  }

  $("al-form").addEventListener("submit", saveAlerts);
  $("al-test").addEventListener("click", testAlerts);
  $("pw-form").addEventListener("submit", changePassword);
  $("pf-sound").addEventListener("change", () => window.supportdNotify.setSound($("pf-sound").checked));
  $("pf-notify").addEventListener("click", async () => {
    if ("Notification" in window) await Notification.requestPermission().catch(() => {});
    signals();
    window.supportdNotify.render();
  });

  window.supportdProfile = { show };
})();
