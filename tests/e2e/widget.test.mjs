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
