// Sign-in page: sign in, sign out, ask for and use a password-reset link.
"use strict";

const ROLES = { admin: "администратор", operator: "оператор", viewer: "наблюдатель" };
const $ = (id) => document.getElementById(id);

function show(id) {
  for (const s of ["signin", "forgot-card", "reset", "home"]) $(s).classList.toggle("hidden", s !== id);
}

const { api } = window.supportd;

// Error texts live in labels.js with every other label.
const MESSAGES = window.supportdLabels.ERRORS;
const say = (el, err) => { $(el).textContent = MESSAGES[err.code] || err.message; };

async function refresh() {
  const m = location.hash.match(/^#reset=([A-Za-z0-9_-]+)$/);
  if (m) { show("reset"); return; }
  try {
    const me = await api("GET", "/api/v1/auth/me");
    $("who").textContent = me.user.email;
    $("role").textContent = ROLES[me.user.role] || me.user.role;
    show("home");
    if (window.supportdApp) window.supportdApp.start(me.user).catch(() => {});
  } catch (_) {
    show("signin");
  }
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signin-error").textContent = "";
  try {
    await api("POST", "/api/v1/auth/login", { email: $("email").value, password: $("password").value });
    $("password").value = "";
    await refresh();
  } catch (err) { say("signin-error", err); }
});

$("forgot").addEventListener("click", () => show("forgot-card"));

$("forgot-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/v1/auth/password-reset", { email: $("forgot-email").value });
    $("forgot-error").textContent = "Если такая учётная запись есть, письмо со ссылкой уже в пути.";
  } catch (err) { say("forgot-error", err); }
});

$("reset-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if ($("new1").value !== $("new2").value) { $("reset-error").textContent = "Пароли не совпадают."; return; }
  const token = location.hash.slice("#reset=".length);
  try {
    await api("POST", "/api/v1/auth/password-reset/confirm", { token, new_password: $("new1").value });
    history.replaceState(null, "", "/");
    show("signin");
    $("signin-error").textContent = "Пароль изменён. Войдите с новым паролем.";
  } catch (err) { say("reset-error", err); }
});

$("logout").addEventListener("click", async () => {
  if (window.supportdApp) window.supportdApp.stop();
  try { await api("POST", "/api/v1/auth/logout"); } finally { await refresh(); }
});

window.addEventListener("hashchange", () => { if (location.hash.startsWith("#reset=")) refresh(); });
refresh();
