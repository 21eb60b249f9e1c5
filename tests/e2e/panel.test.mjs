// The panel as a seller's daily tool (issue 18), in headless Chromium: the first-run
// checklist and the «Подключение» page with a test conversation; no page scrolls sideways at
// 390×844 or 1366×768 and every action can be reached; signals (sound, title, menu count);
// safe actions (a failed reply stays with a retry, closing an unanswered conversation asks);
// placeholders; shortcuts on the Russian layout; dark-theme contrast (WCAG AA); the PWA files.
// Screenshots for README's «Первые шаги» land in docs/screenshots/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launchBrowser, startServer } from "./harness.mjs";

let server;
let browser;
const docs = new URL("../../docs/screenshots/", import.meta.url).pathname;

before(async () => {
  server = await startServer({ demo: true });
  browser = await launchBrowser();
  mkdirSync(docs, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(page) {
  await page.goto(server.base + "/");
  await page.fill("#email", "admin@localhost");
  await page.fill("#password", server.password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
}

async function inbound(page, id, customer, name, text) {
  return page.evaluate(async ([id, customer, name, text]) => {
    const csrf = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/)[1];
    const r = await fetch("/api/v1/inbound", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ message_id: id, customer, name, text }),
    });
    return r.status;
  }, [id, customer, name, text]);
}

test("a new shop sees its first steps, sets up the widget and talks to its bot from the set-up page", async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await signIn(page);
  // The first-run checklist on the inbox, until every step is done.
  await page.locator("#first-run:not(.hidden)").waitFor();
  assert.match(await page.textContent("#first-run-count"), /^Готово \d из 6$/);
  assert.ok(await page.locator("#first-run-steps li").count() >= 1, "what is left is listed");
  assert.match(await page.textContent("#first-run"), /Языковая модель/);
  await page.screenshot({ path: docs + "first-run.png" });
  await page.getByRole("link", { name: "Открыть «Подключение»" }).click();
  await page.locator("#view-setup:not(.hidden)").waitFor();
  await page.locator("#setup-steps li").first().waitFor();
  // Models: each with its size, memory and speed, and a button to install it.
  const row = page.locator(".model-row", { hasText: "qwen2.5-coder-1.5b" });
  await row.waitFor();
  assert.match(await row.textContent(), /1117 МБ.*память ≈ 1150 МБ/);
  await row.getByRole("button", { name: "Установить" }).waitFor();
  // The widget: the allowed site is saved, the embed code is there to copy.
  await page.fill("#wg-sites", "https://ladya-shop.ru");
  await page.locator("#wg-form button[type=submit]").click();
  await page.locator("#wg-result", { hasText: "Сохранено" }).waitFor();
  assert.match(await page.textContent("#wg-code"), /<script src="http:\/\/127\.0\.0\.1:\d+\/widget\.js" defer><\/script>/);
  await page.locator("#setup-steps li.done", { hasText: "Виджет на сайте" }).waitFor();
  // A test conversation over the widget's own connection.
  await page.fill("#st-input", "где мой заказ 4102938475");
  await page.locator("#st-form button[type=submit]").click();
  await page.locator("#st-log .from-bot", { hasText: "в пути" }).waitFor({ timeout: 15_000 });
  await page.locator("#setup-steps li.done", { hasText: "Проверочный разговор" }).waitFor();
  await page.screenshot({ path: docs + "setup.png", fullPage: true });
  // The cloud model card has every setting of [llm]: saved for the next start.
  await page.fill("#cm-yandexgpt_folder_id", "b1gtestfolder");
  await page.fill("#cm-chain", "local, yandexgpt");
  await page.locator("#cm-form button[type=submit]").click();
  await page.locator("#cm-result", { hasText: "после перезапуска" }).waitFor();
  assert.deepEqual(errors, []);
});

const PAGES = ["#/inbox", "#/kb", "#/reports", "#/setup", "#/profile", "#/settings/shop", "#/settings/channels",
  "#/settings/marketplaces", "#/settings/models", "#/settings/team", "#/settings/reports", "#/settings/licence",
  "#/settings/data", "#/settings/audit"];

async function overflow(page) {
  return page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const wide = [];
    for (const e of document.querySelectorAll("body *")) {
      const r = e.getBoundingClientRect();
      if (r.width && r.height && e.checkVisibility() && r.right > w + 1 && getComputedStyle(e).position !== "fixed") {
        wide.push((e.id ? "#" + e.id : e.tagName.toLowerCase() + "." + e.className) + " → " + Math.round(r.right));
      }
    }
    return { scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, width: w, wide: wide.slice(0, 8) };
  });
}

// The element is shown, inside the viewport's width, and can be scrolled to. (Live updates
// redraw parts of the page: an element replaced meanwhile is looked up again.)
async function reachable(page, selector) {
  for (let attempt = 0; ; attempt++) {
    try {
      const el = page.locator(selector).first();
      await el.scrollIntoViewIfNeeded({ timeout: 5000 });
      assert.ok(await el.isVisible(), selector + " is visible");
      const box = await el.boundingBox();
      const width = page.viewportSize().width;
      // No box: the element was redrawn between the two calls; look it up again.
      if (!box) throw new Error(selector + " detached while measured");
      assert.ok(box.x >= 0 && box.x + box.width <= width + 1, `${selector} within the screen: ${JSON.stringify(box)}`);
      return;
    } catch (e) {
      if (attempt >= 5 || !/not attached|detached/.test(String(e.message))) throw e;
      await page.waitForTimeout(200);
    }
  }
}

for (const [width, height] of [[390, 844], [1366, 768]]) {
  test(`at ${width}×${height} no page scrolls sideways and every action can be reached`, async () => {
    const page = await browser.newPage({ viewport: { width, height } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await signIn(page);
    const buyer = "Ольга Очень-Длинная-Фамилия-Покупательницы-" + width;
    assert.equal(await inbound(page, "lay-" + width, "buyer-lay-" + width, buyer, "подскажите, как вернуть товар"), 202);
    const phone = width < 700;
    for (const hash of PAGES) {
      await page.goto(server.base + "/" + hash);
      await page.waitForSelector("#home:not(.hidden)");
      await page.waitForTimeout(400);
      const o = await overflow(page);
      assert.ok(o.scroll <= o.width && o.body <= o.width, `${hash} at ${width}px: ${JSON.stringify(o)}`);
    }
    await page.goto(server.base + "/#/inbox");
    await page.waitForSelector("#home:not(.hidden)");
    if (phone) {
      // The menu and «Выйти» are one tap away.
      assert.equal(await page.locator("#logout").isVisible(), false);
      await page.click("#menu");
      for (const s of [".nav a[data-view=kb]", ".nav a[data-view=setup]", ".nav a[data-view=profile]", "#logout", "#theme"]) await reachable(page, s);
      await page.click("#menu");
    } else {
      for (const s of [".nav a[data-view=kb]", ".nav a[data-view=settings]", "#logout"]) await reachable(page, s);
    }
    const item = page.locator("#conv-list .conv", { hasText: buyer });
    await item.waitFor({ timeout: 10_000 });
    await item.click();
    await page.locator("#thread:not(.hidden)").waitFor();
    if (phone) assert.equal(await page.locator("#conv-list").isVisible(), false, "the thread replaces the list on a phone");
    for (const s of ["#takeover", "#assign", "#reply", "#send", "#add-note", "#suggest", "#snippet"]) await reachable(page, s);
    await page.click("#takeover");
    await page.locator("#resolve:visible").waitFor();
    for (const s of ["#release", "#resolve"]) await reachable(page, s);
    const o = await overflow(page);
    assert.ok(o.scroll <= o.width, `the open thread at ${width}px: ${JSON.stringify(o)}`);
    if (phone) {
      // The customer card is a sheet; «Назад» returns to the list.
      await page.click("#customer-toggle");
      await reachable(page, "#customer h3");
      await page.screenshot({ path: docs + "phone-customer.png" });
      await page.click("#customer-close");
      await page.screenshot({ path: docs + "phone-thread.png" });
      await page.click("#back");
      await page.locator("#conv-list").waitFor();
      await page.screenshot({ path: docs + "phone-inbox.png" });
    } else {
      await reachable(page, "#customer h3");
      await page.screenshot({ path: docs + "inbox.png" });
    }
    assert.deepEqual(errors, []);
  });
}

test("a handoff beeps, is counted in the tab title and the menu; notifications are asked for on a click only", async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await signIn(page);
  await page.locator("#live.ok").waitFor({ timeout: 10_000 });
  // Nothing is asked on load; the offer is there to press.
  assert.equal(await page.evaluate(() => Notification.permission), "default");
  await page.locator("#notify-offer:not(.hidden)").waitFor();
  const before = await page.evaluate(() => window.supportdNotify.beeps);
  assert.equal(await inbound(page, "n-1", "buyer-n1", "Пётр Сигналов", "позовите человека"), 202);
  await page.locator("#conv-list .conv", { hasText: "Пётр Сигналов" }).waitFor({ timeout: 10_000 });
  await page.waitForFunction((b) => window.supportdNotify.beeps > b, before, { timeout: 10_000 });
  await page.waitForFunction(() => /^\(\d+\) supportd/.test(document.title));
  assert.match(await page.textContent("#nav-waiting"), /^\d+$/);
  // Muted: no more sounds, remembered.
  await page.click("#sound");
  assert.equal(await page.evaluate(() => localStorage.getItem("supportd_sound")), "off");
  const muted = await page.evaluate(() => window.supportdNotify.beeps);
  assert.equal(await inbound(page, "n-2", "buyer-n2", "Вера Тихая", "позовите оператора"), 202);
  await page.locator("#conv-list .conv", { hasText: "Вера Тихая" }).waitFor({ timeout: 10_000 });
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.supportdNotify.beeps), muted);
  await page.click("#sound");
});

test("a failed reply stays with a Russian error and a retry; closing an unanswered conversation asks first", async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await signIn(page);
  assert.equal(await inbound(page, "s-1", "buyer-safe", "", "позовите оператора"), 202);
  const item = page.locator("#conv-list .conv", { hasText: /Покупатель из API №\d+/ }).first();
  await item.waitFor({ timeout: 10_000 });
  await item.click();
  // Handed to people: waiting for a person, with «Решено» at hand.
  await page.locator("#resolve:visible").waitFor();
  await page.locator("#thread-state", { hasText: "Ждёт человека" }).waitFor();
  // A saved reply with {name} for a buyer without a name.
  await page.evaluate(async () => {
    const csrf = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/)[1];
    await fetch("/api/v1/snippets", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ title: "Привет по имени", body: "Здравствуйте, {name}! Ваш заказ {order} проверим." }) });
  });
  await page.reload();
  await page.waitForSelector("#home:not(.hidden)");
  await page.locator("#conv-list .conv", { hasText: /Покупатель из API/ }).first().click();
  await page.locator("#snippet option", { hasText: "Привет по имени" }).waitFor({ state: "attached" });
  await page.selectOption("#snippet", { label: "Привет по имени" });
  assert.equal(await page.inputValue("#reply"), "Здравствуйте! Ваш заказ проверим.");
  // The network fails: the text stays, with the reason and a retry.
  await page.route("**/messages", (route) => route.abort());
  await page.fill("#reply", "Уже проверяем, напишем через час.");
  await page.click("#send");
  await page.locator("#send-error:not(.hidden)", { hasText: "Нет связи с сервером" }).waitFor();
  assert.equal(await page.inputValue("#reply"), "Уже проверяем, напишем через час.");
  await page.unroute("**/messages");
  await page.click("#send-retry");
  await page.locator(".msg.from-operator", { hasText: "напишем через час" }).waitFor();
  assert.equal(await page.inputValue("#reply"), "");
  assert.equal(await page.locator("#send-error").isVisible(), false);
  // The buyer writes again: closing now asks first; «Отмена» keeps it open.
  assert.equal(await inbound(page, "s-2", "buyer-safe", "", "а можно быстрее?"), 202);
  await page.locator("#thread-state", { hasText: "Ждёт человека" }).waitFor({ timeout: 10_000 });
  await page.click("#resolve");
  const dialog = page.locator("dialog.confirm");
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /ещё не получил ответа/);
  await page.screenshot({ path: docs + "confirm.png" });
  await dialog.getByRole("button", { name: "Отмена" }).click();
  await page.locator("#thread-state", { hasText: "Ждёт человека" }).waitFor();
  await page.click("#resolve");
  await page.locator("dialog.confirm").getByRole("button", { name: "Отметить решённым" }).click();
  // Settled: back with the bot, which asks the buyer for a rating.
  await page.locator("#thread-state", { hasText: "Ведёт бот" }).waitFor();
  // Shortcuts by the key's place, so they work on the Russian layout: «л» is k (up the list).
  await page.locator("#conv-list .conv").nth(1).click();
  await page.locator("#conv-list .conv.active").waitFor();
  const first = await page.locator("#conv-list .conv").first().getAttribute("data-id");
  assert.notEqual(await page.locator("#conv-list .conv.active").getAttribute("data-id"), first);
  await page.evaluate(() => { document.activeElement.blur(); });
  await page.evaluate(() => document.dispatchEvent(new KeyboardEvent("keydown", { key: "л", code: "KeyK", bubbles: true })));
  await page.waitForFunction((id) => document.querySelector("#conv-list .conv.active")?.dataset.id === id, first);
});

// WCAG 2 contrast of every visible text against its background (AA: 4.5:1, large text 3:1).
async function contrastFailures(page) {
  return page.evaluate(() => {
    const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const v = m[1].split(",").map((x) => parseFloat(x)); return { r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1 }; };
    const lum = ({ r, g, b }) => { const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    const background = (e) => {
      let layers = [];
      for (let n = e; n; n = n.parentElement) {
        const c = parse(getComputedStyle(n).backgroundColor);
        if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
      }
      let bg = { r: 255, g: 255, b: 255 };
      for (const c of layers.reverse()) bg = { r: c.r * c.a + bg.r * (1 - c.a), g: c.g * c.a + bg.g * (1 - c.a), b: c.b * c.a + bg.b * (1 - c.a) };
      return bg;
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const e = t.parentElement;
      if (!t.textContent.trim() || !e || !e.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
      if (e.closest("svg, option, button:disabled")) continue;
      const s = getComputedStyle(e);
      const fg = parse(s.color);
      const bg = background(e);
      const mixed = { r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a) };
      const [l1, l2] = [lum(mixed), lum(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(s.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) out.push(`${ratio.toFixed(2)}:1 «${t.textContent.trim().slice(0, 30)}» (${e.tagName.toLowerCase()}.${e.className})`);
    }
    return [...new Set(out)].slice(0, 15);
  });
}

test("the dark theme keeps every text readable (WCAG AA) and the light one too", async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await signIn(page);
  await page.locator("#conv-list .conv").first().waitFor({ timeout: 10_000 });
  await page.locator("#conv-list .conv").first().click();
  await page.locator("#thread:not(.hidden)").waitFor();
  for (const theme of ["dark", "light"]) {
    await page.evaluate((t) => { document.documentElement.dataset.theme = t; }, theme);
    for (const hash of ["#/inbox", "#/kb", "#/setup", "#/profile", "#/settings/shop", "#/settings/channels", "#/settings/audit"]) {
      await page.evaluate((h) => { location.hash = h; }, hash);
      await page.waitForTimeout(500);
      const bad = await contrastFailures(page);
      assert.deepEqual(bad, [], `${theme} ${hash}`);
    }
  }
  await page.evaluate(() => { document.documentElement.dataset.theme = "dark"; location.hash = "#/inbox"; });
  await page.waitForTimeout(300);
  await page.screenshot({ path: docs + "inbox-dark.png" });
  // The API documentation's code stays readable in the dark theme too.
  const docsPage = await browser.newPage();
  await docsPage.emulateMedia({ colorScheme: "dark" });
  await docsPage.goto(server.base + "/api/docs");
  await docsPage.locator(".op").first().waitFor();
  await docsPage.locator(".op summary").first().click();
  assert.deepEqual(await contrastFailures(docsPage), []);
});

test("the panel installs as an app: manifest, icons, a service worker for the shell only", async () => {
  const page = await browser.newPage();
  await signIn(page);
  const m = await page.evaluate(async () => (await fetch(document.querySelector("link[rel=manifest]").href)).json());
  assert.equal(m.display, "standalone");
  assert.equal(m.lang, "ru");
  for (const icon of m.icons) {
    const r = await page.evaluate(async (src) => { const x = await fetch(src); return [x.status, x.headers.get("content-type")]; }, icon.src);
    assert.equal(r[0], 200, icon.src);
    assert.match(r[1], /^image\//);
  }
  await page.waitForFunction(async () => Boolean(await navigator.serviceWorker.getRegistration()), null, { timeout: 10_000 });
  const reg = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
  assert.equal(reg, server.base + "/");
  // The worker never stores API answers.
  await page.reload();
  await page.waitForSelector("#home:not(.hidden)");
  const cached = await page.evaluate(async () => {
    const names = await caches.keys();
    const urls = [];
    for (const n of names) for (const r of await (await caches.open(n)).keys()) urls.push(new URL(r.url).pathname);
    return urls;
  });
  assert.ok(cached.includes("/assets/app.js"), JSON.stringify(cached));
  assert.deepEqual(cached.filter((u) => u.startsWith("/api/")), []);
});
