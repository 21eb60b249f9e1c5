// The reports page in headless Chromium: seven buyers write (four answered by the bot, three
// ask for a person), then the page shows the summary with the automation rate 4/7, draws its
// SVG charts (trend, funnel, handoffs, intents, ratings, the weekday × hour heatmap), lists a
// knowledge gap whose «Создать статью» opens the editor prefilled, offers the PDF and CSV, and
// the settings page has the «Отчёты по почте» card.
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

test("the reports page draws the period's figures and charts", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1700 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(server.base + "/");
  await page.fill("#email", "admin@localhost");
  await page.fill("#password", server.password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");

  const messages = [
    ["r1", "Здравствуйте!"],
    ["r2", "как вернуть товар на вб"],
    ["r3", "где мой заказ?"],
    ["r4", "продаёте ли вы велосипеды для жирафов"],
    ["r5", "позовите оператора, пожалуйста"],
    ["r6", "позовите оператора, пожалуйста"],
    ["r7", "позовите оператора, пожалуйста"],
  ];
  const statuses = await page.evaluate(async (messages) => {
    const csrf = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/)[1];
    const out = [];
    for (const [customer, text] of messages) {
      const r = await fetch("/api/v1/inbound", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ message_id: "rep-" + customer, customer, name: "Покупатель " + customer, text }),
      });
      out.push(r.status);
    }
    return out;
  }, messages);
  assert.deepEqual(statuses, messages.map(() => 202));
  // Wait until the bot has answered all seven.
  for (let i = 0; ; i++) {
    const s = await page.evaluate(async () => (await fetch("/api/v1/stats/summary?period=today")).json());
    if (s.conversations === 7 && s.settled === 7) break;
    assert.ok(i < 80, "the bot answered: " + JSON.stringify(s));
    await new Promise((r) => setTimeout(r, 250));
  }

  await page.getByRole("link", { name: "Отчёты" }).click();
  await page.locator("#view-reports:not(.hidden)").waitFor();
  await page.getByRole("button", { name: "Сегодня" }).click();
  const rate = page.locator(".rep-kpi", { hasText: "Без человека" });
  await rate.locator("b", { hasText: "57,1 %" }).waitFor({ timeout: 10_000 }).catch(async (e) => {
    await page.screenshot({ path: shots + "reports-failed.png", fullPage: true });
    throw new Error(e.message + "\nsummary: " + (await page.textContent("#rep-summary")) + "\nerror: " + (await page.textContent("#rep-error")) + "\npage errors: " + errors.join("; "));
  });
  assert.equal(await page.locator("#rep-summary .rep-kpi").count(), 8);
  assert.match(await page.locator(".rep-kpi", { hasText: "Разговоры" }).first().textContent(), /7/);

  // The charts are SVG drawn by the page's own code. (A line's length, not Playwright's
  // visibility: a flat line has an empty bounding box and counts as hidden.)
  const lineLength = () => page.locator("#rep-trend svg path.line-total").evaluate((p) => p.getTotalLength());
  await page.locator("#rep-trend svg path.line-total").waitFor({ state: "attached" });
  assert.ok((await lineLength()) > 300, "the trend line is drawn");
  assert.equal(await page.locator("#rep-heatmap svg rect.heat").count(), 7 * 24);
  assert.equal(await page.locator("#rep-funnel svg rect.bar").count(), 4);
  assert.ok((await page.locator("#rep-intents svg rect.bar").count()) >= 3);
  assert.match(await page.textContent("#rep-handoffs"), /попросил человека/);
  const trendBox = await page.locator("#rep-trend svg").boundingBox();
  assert.ok(trendBox && trendBox.width > 300 && trendBox.height > 60, "the trend chart has a size");
  // Today by days is one bucket: its line is still drawn, across the chart (it was a
  // zero-length path, invisible, whenever the hourly view had one hour: just after midnight).
  await page.selectOption("#rep-bucket", "day");
  await page.waitForFunction(() => document.querySelectorAll("#rep-trend svg circle.line-total").length === 1);
  assert.ok((await lineLength()) > 600, "one bucket's line spans the chart");
  await page.selectOption("#rep-bucket", "");
  // Exports are links with the period.
  assert.match(await page.getAttribute("#rep-pdf", "href"), /^\/api\/v1\/stats\/report\.pdf\?period=today/);
  const pdf = await page.evaluate(async (url) => {
    const r = await fetch(url);
    const b = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, type: r.headers.get("content-type"), head: String.fromCharCode(...b.slice(0, 5)) };
  }, await page.getAttribute("#rep-pdf", "href"));
  assert.deepEqual(pdf, { status: 200, type: "application/pdf", head: "%PDF-" });
  await page.screenshot({ path: shots + "reports.png", fullPage: true });

  // A knowledge gap opens the editor prefilled.
  const gap = page.locator("#rep-gaps .gap", { hasText: "велосипеды для жирафов" });
  await gap.waitFor();
  await gap.getByRole("link", { name: "Создать статью" }).click();
  await page.locator("#view-kb:not(.hidden) #kb-editor:not(.hidden)").waitFor();
  await page.waitForFunction(() => document.getElementById("kb-title").value.includes("велосипеды"));
  assert.match(await page.inputValue("#kb-body"), /Покупатели спрашивают/);

  // The settings card for reports by e-mail.
  await page.getByRole("link", { name: "Настройки" }).click();
  await page.locator("#settings-nav a", { hasText: "Отчёты по почте" }).click();
  await page.locator("#reports-card #rs-state", { hasText: "Почта не настроена" }).waitFor();
  await page.selectOption("#rs-schedule", "weekly");
  await page.fill("#rs-recipients", "owner@shop.ru");
  await page.locator("#rs-form button[type=submit]").click();
  await page.locator("#rs-result", { hasText: "Сохранено" }).waitFor();
  await page.locator("#reports-card").screenshot({ path: shots + "settings-reports.png" });
  assert.deepEqual(errors, []);
});
