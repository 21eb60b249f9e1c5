// The operator inbox in headless Chromium: a buyer's message arrives live, the bot's reasons
// are shown, an operator takes over, replies and returns the conversation to the bot.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { launchBrowser, startServer } from "./harness.mjs";

let server;
let browser;
const shots = new URL("./screenshots/", import.meta.url).pathname;

before(async () => {
  server = await startServer({ demo: true });
  browser = await launchBrowser();
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an operator sees a conversation arrive live, takes it over, replies and returns it", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(server.base + "/");
  await page.fill("#email", "admin@localhost");
  await page.fill("#password", server.password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
  await page.locator("#live.ok").waitFor({ timeout: 10_000 });

  // A buyer writes (through the inbound API, as any channel would).
  const status = await page.evaluate(async () => {
    const csrf = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/)[1];
    const r = await fetch("/api/v1/inbound", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ message_id: "e2e-1", customer: "buyer-77", name: "Анна Петрова", text: "где мой заказ 4102938475?" }),
    });
    return r.status;
  });
  assert.equal(status, 202);
  const item = page.locator("#conv-list .conv", { hasText: "Анна Петрова" });
  await item.waitFor({ timeout: 10_000 });
  await item.click();
  await page.locator(".msg.from-bot", { hasText: "в пути" }).waitFor({ timeout: 10_000 });
  assert.match(await page.locator(".msg.from-bot .meta").first().textContent(), /намерение: где заказ/);
  assert.match(await page.locator(".msg.from-bot .meta").first().textContent(), /заказы: 4102938475/);
  // The customer panel shows the order they gave; the dashboard counts today's messages.
  await page.locator("#customer .order", { hasText: "4102938475 · WB · в пути" }).waitFor();
  assert.match(await page.textContent("#dashboard"), /Сообщений сегодня/);
  // Search by the order number finds the conversation; nonsense finds nothing.
  await page.fill("#search", "zzz-nothing");
  await page.locator("#conv-list .empty").waitFor();
  await page.fill("#search", "4102938475");
  await page.locator("#conv-list .conv", { hasText: "Анна Петрова" }).waitFor();
  await page.screenshot({ path: shots + "inbox-light.png" });
  // A return on an order is told to the buyer and shown on the customer card.
  await page.fill("#search", "");
  await page.evaluate(async () => {
    const csrf = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/)[1];
    await fetch("/api/v1/inbound", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ message_id: "e2e-r1", customer: "buyer-78", name: "Олег Смирнов", text: "что с возвратом по заказу 60311822-0009-1" }),
    });
  });
  const second = page.locator("#conv-list .conv", { hasText: "Олег Смирнов" });
  await second.waitFor({ timeout: 10_000 });
  await second.click();
  await page.locator(".msg.from-bot", { hasText: "заявка на возврат на рассмотрении" }).waitFor({ timeout: 10_000 });
  await page.locator("#customer", { hasText: "↩ возврат: на рассмотрении" }).waitFor();
  await page.locator("#conv-list .conv", { hasText: "Анна Петрова" }).click();
  await page.locator(".msg.from-bot", { hasText: "в пути" }).waitFor({ timeout: 10_000 });

  await page.getByRole("button", { name: "Взять в работу" }).click();
  await page.locator("#thread-state", { hasText: "У оператора" }).waitFor();
  // An AI draft to edit, and a note for colleagues that the buyer never sees.
  await page.getByRole("button", { name: "Черновик ИИ" }).click();
  await page.waitForFunction(() => document.getElementById("reply").value.includes("4102938475"));
  await page.fill("#reply", "Покупательница волнуется, проверить завтра.");
  await page.getByRole("button", { name: "Заметка для коллег" }).click();
  await page.locator(".msg.note", { hasText: "проверить завтра" }).waitFor();
  // Taking over assigned it to this operator: it is under «Мои» and in the assignee list.
  assert.equal(await page.locator("#assign option:checked").textContent(), "Администратор");
  assert.equal(await page.locator("#assign-me").isVisible(), false);
  await page.locator("#filters button[data-filter=mine]").click();
  await page.locator("#conv-list .conv", { hasText: "Анна Петрова" }).waitFor();
  await page.locator("#filters button[data-filter=all]").click();
  await page.fill("#reply", "Анна, заказ уже в пути, ждём его послезавтра.");
  await page.press("#reply", "Control+Enter");
  await page.locator(".msg.from-operator", { hasText: "ждём его послезавтра" }).waitFor();
  await page.getByRole("button", { name: "Вернуть боту" }).click();
  await page.locator("#thread-state", { hasText: "Ведёт бот" }).waitFor();

  // Dark theme, remembered after a reload.
  await page.click("#theme");
  await page.reload();
  await page.waitForSelector("#home:not(.hidden)");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.locator("#conv-list .conv", { hasText: "Анна Петрова" }).click();
  await page.locator(".msg.from-operator:not(.note)").waitFor();
  await page.screenshot({ path: shots + "inbox-dark.png" });
  assert.deepEqual(errors, []);
});

test("a viewer reads the inbox but gets no operator controls, and the server refuses them", async () => {
  const page = await browser.newPage();
  await page.goto(server.base + "/");
  await page.fill("#email", "admin@localhost");
  await page.fill("#password", server.password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
  const created = await page.evaluate(async () => {
    const csrf = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/)[1];
    const r = await fetch("/api/v1/users", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ email: "viewer@shop.ru", role: "viewer", password: "viewer-password-123" }),
    });
    return r.status;
  });
  assert.equal(created, 201);
  await page.click("#logout");
  await page.waitForSelector("#signin:not(.hidden)");
  await page.fill("#email", "viewer@shop.ru");
  await page.fill("#password", "viewer-password-123");
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
  await page.locator("#conv-list .conv").first().click();
  await page.locator("#thread:not(.hidden)").waitFor();
  assert.equal(await page.locator("#takeover").isVisible(), false);
  assert.equal(await page.locator("#reply-form").isVisible(), false);
  const id = await page.locator("#conv-list .conv").first().getAttribute("data-id");
  const refused = await page.evaluate(async (id) => {
    const csrf = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/)[1];
    return (await fetch(`/api/v1/conversations/${id}/takeover`, { method: "POST", headers: { "X-CSRF-Token": csrf } })).status;
  }, id);
  assert.equal(refused, 403);
});

test("the panel is small and loads fast from localhost", async () => {
  // Every embedded web file, gzipped, well under the 500 KB budget.
  const dir = new URL("../../assets/", import.meta.url).pathname;
  let total = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    if (f.isFile()) total += gzipSync(readFileSync(dir + f.name)).length;
  }
  assert.ok(total < 500 * 1024, `assets are ${total} bytes gzipped`);
  const page = await browser.newPage();
  await page.goto(server.base + "/");
  const ms = await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
  assert.ok(ms > 0 && ms < 1000, `loaded in ${ms} ms`);
});
