// Settings cards for a seller alone on a server: scheduled backups (the last good copy, a
// warning when it is older than two periods, "back up now") and buyers' personal data (the
// retention limits, finding a buyer, exporting or erasing everything stored about them).
"use strict";

(function () {
  const { api, el } = window.supportd;
  const $ = (id) => document.getElementById(id);
  const when = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : "");
  const size = (n) => (n > 1048576 ? (n / 1048576).toFixed(1) + " МБ" : Math.max(1, Math.round(n / 1024)) + " КБ");

  async function backups() {
    const s = await api("GET", "/api/v1/settings/backups");
    const state = $("bk-state");
    state.classList.toggle("stale", Boolean(s.stale));
    let text;
    if (!s.enabled) text = "Копии по расписанию выключены (backup.every_hours = 0).";
    else if (s.last_ok) {
      text = "Последняя проверенная копия: " + when(s.last_ok.at) + " (" + size(s.last_ok.bytes) + ")" +
        (s.stale ? " — старше двух периодов, проверьте журнал сервера." : ".");
    } else text = s.stale ? "Ни одной удачной копии, хотя срок прошёл." : "Копий пока нет: первая — " + when(s.next_due_at) + ".";
    if (s.enabled) text += " Каждые " + s.every_hours + " ч, храним " + s.keep + ", папка " + s.dir + ".";
    text += s.encrypted ? " Копии зашифрованы паролем." : " Без пароля: ключ secret.key лежит рядом с копией.";
    if (s.last_error) text += " Последняя попытка не удалась: " + s.last_error;
    state.textContent = text;
    const list = $("bk-list");
    list.textContent = "";
    for (const c of s.copies) list.appendChild(el("li", "", c));
  }

  async function backupNow() {
    $("bk-result").textContent = "Делаем копию…";
    try {
      await api("POST", "/api/v1/settings/backups");
      setTimeout(() => backups().then(() => { $("bk-result").textContent = "Готово."; }).catch(() => {}), 1500);
    } catch (err) { $("bk-result").textContent = err.message; }
  }

  async function retention() {
    const p = await api("GET", "/api/v1/settings/privacy");
    const days = (n, what) => (n ? what + " хранятся " + n + " дн." : what + " хранятся без срока");
    let text = days(p.keep_conversations_days, "Переписки") + "; " + days(p.keep_files_days, "фото и документы").toLowerCase() +
      " (privacy.keep_conversations_days, privacy.keep_files_days).";
    if (p.last_run_at && p.last_result) {
      text += " Последняя очистка " + when(p.last_run_at) + ": переписок " + p.last_result.conversations + ", файлов " + p.last_result.files + ".";
    }
    $("pd-retention").textContent = text;
  }

  function customerRow(c) {
    const li = el("li", "user-row", "#" + c.id + " · " + (c.display_name || "без имени") + " · " + c.channel + ":" + c.external_id +
      (c.phone ? " · " + c.phone : "") + " ");
    const get = el("a", "button ghost", "Выгрузить");
    get.href = "/api/v1/customers/" + c.id + "/export";
    get.setAttribute("download", "customer-" + c.id + ".zip");
    li.appendChild(get);
    const erase = el("button", "ghost danger", "Удалить данные");
    erase.type = "button";
    erase.addEventListener("click", async () => {
      if (!erase.dataset.armed) {
        erase.dataset.armed = "1";
        erase.textContent = "Точно удалить навсегда? Нажмите ещё раз";
        return;
      }
      try {
        const r = await api("DELETE", "/api/v1/customers/" + c.id + "?confirm=" + c.id);
        $("pd-result").textContent = "Удалено: переписок " + r.conversations + ", сообщений " + r.messages + ", файлов " + r.files.length +
          ". Копии, сделанные раньше, хранят данные до ротации.";
        li.remove();
      } catch (err) { $("pd-result").textContent = err.message; }
    });
    li.appendChild(erase);
    return li;
  }

  async function find(e) {
    e.preventDefault();
    const list = $("pd-list");
    list.textContent = "";
    $("pd-result").textContent = "";
    try {
      const found = await api("GET", "/api/v1/customers?q=" + encodeURIComponent($("pd-query").value.trim()));
      if (!found.length) $("pd-result").textContent = "Никого не нашли.";
      for (const c of found) list.appendChild(customerRow(c));
    } catch (err) { $("pd-result").textContent = err.message; }
  }

  $("bk-now").addEventListener("click", backupNow);
  $("pd-form").addEventListener("submit", find);

  window.supportdOps = {
    settings: () => Promise.all([backups(), retention()]),
  };
})();
