// The chat widget embedded in a seller's page on another origin, in headless Chromium.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { launchBrowser, startServer } from "./harness.mjs";

let server;
let site;
let siteUrl;
let browser;

before(async () => {
  // The seller's site: a page that embeds the widget from supportd.
  site = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="ru"><head><title>Ладья</title></head><body><h1>Магазин «Ладья»</h1>
      <script src="${server.base}/widget.js" defer></script></body></html>`);
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  siteUrl = `http://127.0.0.1:${site.address().port}`;
  server = await startServer({ demo: true, env: { SUPPORTD_WIDGET_ALLOWED_ORIGINS: siteUrl } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  site?.close();
});

test("a visitor asks about an order through the widget and finds the chat again after a reload", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(siteUrl + "/");
  await page.getByRole("button", { name: "Чат с магазином" }).click();
  const input = page.getByLabel("Сообщение");
  await input.fill("где мой заказ 4102938475");
  await input.press("Enter");
  const reply = page.locator(".msg.bot", { hasText: "в пути" });
  await reply.waitFor({ timeout: 15_000 });
  assert.match(await reply.textContent(), /4102938475/);
  const shots = new URL("./screenshots/", import.meta.url).pathname;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: shots + "widget.png" });

  // Same visitor after a reload: the conversation is still there.
  await page.reload();
  await page.getByRole("button", { name: "Чат с магазином" }).click();
  await page.locator(".msg.buyer", { hasText: "где мой заказ 4102938475" }).waitFor({ timeout: 10_000 });
  await page.locator(".msg.bot", { hasText: "в пути" }).waitFor();
  assert.deepEqual(errors, []);
});

test("the seller's look, who answers, a typing sign, and a clear refusal on a site that is not allowed", async () => {
  // The admin sets the look from the panel (through the API, as the «Подключение» page does).
  const login = await (await fetch(server.base + "/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: "admin@localhost", password: server.password }) })).json();
  const auth = { Authorization: "Bearer " + login.token, "Content-Type": "application/json" };
  const put = await fetch(server.base + "/api/v1/settings/widget", { method: "PUT", headers: auth,
    body: JSON.stringify({ allowed_origins: [], colour: "#aa3300", greeting: "Добрый день! Чем помочь?", title: "Ладья" }) });
  assert.equal(put.status, 200);
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(siteUrl + "/?fresh");
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.getByRole("button", { name: "Чат с магазином" }).click();
  await page.locator(".msg.bot", { hasText: "Добрый день! Чем помочь?" }).waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector("[data-supportd-widget]").shadowRoot.querySelector(".btn")).backgroundColor), "rgb(170, 51, 0)");
  const input = page.getByLabel("Сообщение");
  await input.fill("позовите оператора");
  await input.press("Enter");
  await page.locator(".msg.bot", { hasText: "оператор" }).waitFor({ timeout: 15_000 });
  // A person answers: the widget names them.
  const list = await (await fetch(server.base + "/api/v1/conversations?limit=5", { headers: auth })).json();
  const conv = list.find((c) => c.channel === "widget" && c.handled_by === "operator");
  assert.ok(conv, JSON.stringify(list));
  const r = await fetch(server.base + `/api/v1/conversations/${conv.id}/messages`, { method: "POST", headers: auth, body: JSON.stringify({ text: "Здравствуйте, я Анна, помогу." }) });
  assert.ok(r.ok, String(r.status));
  const reply = page.locator(".msg.operator", { hasText: "я Анна" });
  await reply.waitFor({ timeout: 15_000 });
  assert.match(await reply.locator(".who").textContent(), /Администратор/);
  // The buyer's next message is confirmed: "печатает…" shows until the answer comes.
  await input.fill("спасибо, жду");
  await input.press("Enter");
  await page.locator(".typing", { hasText: "печатает" }).waitFor({ timeout: 10_000 });

  // Another site: told in words, and no endless reconnecting.
  const other = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="ru"><body><script src="${server.base}/widget.js" defer></script></body></html>`);
  });
  await new Promise((r) => other.listen(0, "127.0.0.1", r));
  const foreign = await browser.newPage();
  await foreign.goto(`http://127.0.0.1:${other.address().port}/`);
  await foreign.getByRole("button", { name: "Чат с магазином" }).click();
  await foreign.locator(".msg.refused", { hasText: "не добавлен в список разрешённых" }).waitFor({ timeout: 10_000 });
  assert.equal(await foreign.getByLabel("Сообщение").isDisabled(), true);
  other.close();
  assert.deepEqual(errors, []);
});
