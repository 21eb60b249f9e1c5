// The settings page's backup and personal-data cards in headless Chromium: back up now and
// see the last good copy; find a buyer, export them, erase them with a second click.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launchBrowser, startServer } from "./harness.mjs";

const shots = new URL("./screenshots/", import.meta.url).pathname;

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an admin backs up now, then finds, exports and erases a buyer", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(server.base + "/");
  await page.fill("#email", "admin@localhost");
  await page.fill("#password", server.password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
  // A buyer writes through the API (as another system would).
  const accepted = await page.evaluate(() => window.supportd.api("POST", "/api/v1/inbound",
    { message_id: "e2e-1", customer: "e2e-buyer", name: "Анфиса Тестова", text: "Здравствуйте, мой номер +7 926 000-11-22" }));
  assert.equal(accepted.duplicate, false);

  await page.getByRole("link", { name: "Настройки" }).click();
  await page.locator("#settings-nav a", { hasText: "Данные и копии" }).click();
  await page.locator("#bk-state", { hasText: "Копий пока нет" }).waitFor();
  await page.getByRole("button", { name: "Сделать копию сейчас" }).click();
  await page.locator("#bk-state", { hasText: "Последняя проверенная копия" }).waitFor({ timeout: 20_000 });
  await page.locator("#bk-list li", { hasText: /^supportd-\d{8}T\d{6}Z\.db$/ }).waitFor();
  await page.locator("#pd-retention", { hasText: "без срока" }).waitFor();

  await page.fill("#pd-query", "Анфиса");
  await page.getByRole("button", { name: "Найти", exact: true }).click();
  const row = page.locator("#pd-list li", { hasText: "Анфиса Тестова" });
  await row.waitFor();
  mkdirSync(shots, { recursive: true });
  await page.locator("#bk-card").scrollIntoViewIfNeeded();
  await page.screenshot({ path: shots + "settings-backups-privacy.png" });
  const href = await row.getByRole("link", { name: "Выгрузить" }).getAttribute("href");
  const zip = await page.evaluate(async (h) => {
    const r = await fetch(h);
    return { status: r.status, type: r.headers.get("content-type"), size: (await r.arrayBuffer()).byteLength };
  }, href);
  assert.equal(zip.status, 200);
  assert.equal(zip.type, "application/zip");
  assert.ok(zip.size > 200, "a zip with customer.json");
  await row.getByRole("button", { name: "Удалить данные" }).click();
  await row.getByRole("button", { name: /Точно удалить/ }).click();
  await page.locator("#pd-result", { hasText: "Удалено" }).waitFor();
  await page.getByRole("button", { name: "Найти", exact: true }).click();
  await page.locator("#pd-result", { hasText: "Никого не нашли" }).waitFor();
  assert.deepEqual(errors, []);
});
