// Knowledge-base and settings pages in headless Chromium: edit an article (with its preview),
// find it in search, restore an old version; integrations and users for admins only.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
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

async function signIn(page, email, password) {
  await page.goto(server.base + "/");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
}

test("an admin edits an article, finds it in search and restores the old version", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await signIn(page, "admin@localhost", server.password);
  await page.getByRole("link", { name: "База знаний" }).click();
  await page.locator("#kb-list .conv", { hasText: "Часы работы поддержки" }).click();
  await page.locator("#kb-preview h3, #kb-preview p").first().waitFor();
  const old = await page.inputValue("#kb-body");
  await page.fill("#kb-body", "## Новые часы\n\n**Поддержка работает круглосуточно**, без выходных и праздников.\n\n- чат\n- телефон");
  assert.equal(await page.textContent("#kb-preview b"), "Поддержка работает круглосуточно");
  await page.getByRole("button", { name: "Сохранить" }).click();
  await page.waitForFunction(() => document.getElementById("kb-error").textContent.length > 0);
  assert.equal(await page.textContent("#kb-error"), "Сохранено.");
  await page.screenshot({ path: shots + "kb-light.png" });
  await page.click("#theme");
  await page.screenshot({ path: shots + "kb-dark.png" });
  await page.click("#theme");

  await page.fill("#kb-search", "круглосуточно без выходных");
  await page.locator("#kb-list .conv", { hasText: "Часы работы поддержки" }).waitFor();
  await page.locator("#kb-list .conv", { hasText: "Часы работы поддержки" }).click();
  const restore = page.locator("#kb-versions li", { hasText: "v1" }).getByRole("button", { name: "Восстановить" });
  await restore.click();
  await page.waitForFunction((text) => document.getElementById("kb-body").value === text, old);

  // Import from a file: one good article, one bad row reported with its line.
  const data = JSON.stringify({ articles: [
    { slug: "gift-cards", title: "Подарочные сертификаты", body: "Сертификаты на 1000, 3000 и 5000 рублей действуют год." },
    { slug: "BAD SLUG", title: "x", body: "y" },
  ] });
  await page.setInputFiles("#kb-import", { name: "more.json", mimeType: "application/json", buffer: Buffer.from(data) });
  await page.locator("#kb-import-result", { hasText: "новых 1" }).waitFor();
  assert.match(await page.textContent("#kb-import-result"), /slug/);
  await page.fill("#kb-search", "сертификаты");
  await page.locator("#kb-list .conv", { hasText: /^Подарочные сертификаты$/ }).waitFor();
  await page.locator("#kb-products li", { hasText: "Футболка" }).first().waitFor();
  assert.deepEqual(errors, []);
});

test("settings: integrations, users and the audit log for admins; a viewer is kept out", async () => {
  const page = await browser.newPage();
  await signIn(page, "admin@localhost", server.password);
  await page.getByRole("link", { name: "Настройки" }).click();
  // Settings come in sections; «Магазин и бот» first.
  await page.locator("#as-name:visible").waitFor();
  await page.screenshot({ path: shots + "settings-light.png" });
  // Working hours and handoff rules, saved without a restart.
  assert.equal(await page.inputValue("#as-name"), "Ладья");
  await page.fill("#as-from", "10:00");
  await page.locator("#as-human label", { hasText: "жалобы" }).locator("input").check();
  await page.locator("#as-form button[type=submit]").click();
  await page.locator("#as-result", { hasText: "Сохранено" }).waitFor();
  // A saved reply for operators.
  await page.fill("#sn-title", "Приветствие");
  await page.fill("#sn-body", "Здравствуйте, {name}!");
  await page.getByRole("button", { name: "Добавить ответ" }).click();
  await page.locator("#sn-list li", { hasText: "Здравствуйте, {name}!" }).waitFor();
  const saved = await page.evaluate(async () => (await (await fetch("/api/v1/settings/assistant")).json()));
  assert.equal(saved.shop.work_from, "10:00");
  assert.deepEqual(saved.engine.human_only_intents, ["complaint"]);
  await page.locator("#settings-nav a", { hasText: "Каналы" }).click();
  await page.locator("#tg-state", { hasText: "Не подключён" }).waitFor();
  await page.locator("#settings-nav a", { hasText: "Маркетплейсы" }).click();
  await page.locator("#mk-list .mk", { hasText: "Wildberries · не подключён" }).waitFor();
  // Marketplace keys entered here connect the marketplace without a restart.
  await page.fill("#mk-wb", "wb-token-from-the-panel");
  await page.getByRole("button", { name: "Сохранить ключи" }).click();
  await page.locator("#mk-list .mk", { hasText: "Wildberries · заказов в кэше" }).waitFor();
  assert.equal(await page.inputValue("#mk-wb"), "");
  await page.locator("#settings-nav a", { hasText: "Пользователи" }).click();
  await page.fill("#user-email", "viewer2@shop.ru");
  await page.selectOption("#user-role", "viewer");
  await page.getByRole("button", { name: "Добавить", exact: true }).click();
  const result = await page.locator("#user-result", { hasText: "Пароль" }).textContent();
  const password = result.split(": ")[1].trim();
  await page.locator("#settings-nav a", { hasText: "Журнал" }).click();
  // Audit actions in words, not codes.
  await page.locator("#audit li", { hasText: "новый пользователь" }).first().waitFor();
  // A cloud model key is stored (encrypted) and never shown back; a role can be changed.
  await page.locator("#settings-nav a", { hasText: "Модели" }).click();
  await page.fill("#key-value", "AQVN-test-key");
  await page.getByRole("button", { name: "Сохранить ключ", exact: true }).click();
  await page.locator("#key-result", { hasText: "Ключ сохранён" }).waitFor();
  assert.equal(await page.inputValue("#key-value"), "");
  await page.getByRole("button", { name: "Проверить модели" }).click();
  await page.locator("#key-result", { hasText: "Ни одна модель не ответила" }).waitFor({ timeout: 20_000 });
  await page.locator("#settings-nav a", { hasText: "Пользователи" }).click();
  await page.getByLabel("Роль viewer2@shop.ru").selectOption("operator");
  await page.locator("#user-result", { hasText: "Роль изменена" }).waitFor();
  await page.getByLabel("Роль viewer2@shop.ru").selectOption("viewer");
  await page.locator("#settings-nav a", { hasText: "Журнал" }).click();
  await page.locator("#audit li").first().waitFor();
  await page.evaluate(() => { document.documentElement.dataset.theme = "dark"; });
  await page.screenshot({ path: shots + "settings-dark.png", fullPage: true });

  const viewer = await browser.newPage();
  await signIn(viewer, "viewer2@shop.ru", password);
  assert.equal(await viewer.locator(".nav a[data-view=settings]").isVisible(), false);
  await viewer.goto(server.base + "/#/settings");
  await viewer.waitForSelector("#home:not(.hidden)");
  await viewer.locator("#view-inbox:not(.hidden)").waitFor();
  assert.equal(await viewer.locator("#view-settings").isVisible(), false);
  const status = await viewer.evaluate(async () => (await fetch("/api/v1/users")).status);
  assert.equal(status, 403, "the server refuses, too");
});
