// The sign-in page and the API docs page in a real browser.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startServer } from "./harness.mjs";

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

test("an admin signs in and out through the page", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(server.base + "/");
  await page.waitForSelector("#signin:not(.hidden)");

  await page.fill("#email", "admin@localhost");
  await page.fill("#password", "a wrong password");
  await page.click("#signin-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("signin-error").textContent.length > 0);
  assert.equal(await page.textContent("#signin-error"), "Неверная почта или пароль.");

  await page.fill("#password", server.password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
  assert.equal(await page.textContent("#who"), "admin@localhost");
  assert.equal(await page.textContent("#role"), "администратор");
  if (process.env.E2E_SCREENSHOTS) await page.screenshot({ path: process.env.E2E_SCREENSHOTS + "/home.png" });

  // The session survives a reload (HttpOnly cookie), and sign-out needs the CSRF header the page sends.
  await page.reload();
  await page.waitForSelector("#home:not(.hidden)");
  await page.click("#logout");
  await page.waitForSelector("#signin:not(.hidden)");
  const me = await page.evaluate(async () => (await fetch("/api/v1/auth/me")).status);
  assert.equal(me, 401);
  // 401 answers to our own probes are expected; nothing else may fail on the page.
  assert.deepEqual(errors.filter((e) => !e.includes("401")), []);
});

test("the API docs page renders every operation under the strict CSP", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(server.base + "/api/docs");
  await page.waitForSelector("details.op");
  const paths = await page.$$eval("details.op code", (els) => els.map((e) => e.textContent));
  for (const p of ["/api/v1/auth/login", "/api/v1/users", "/api/v1/audit", "/api/v1/settings/credentials"]) {
    assert.ok(paths.includes(p), `${p} not rendered: ${paths}`);
  }
  await page.click("details.op summary");
  assert.match(await page.textContent("details.op[open]"), /Ответ 200|Ответ 204|Ответ 201/);
  if (process.env.E2E_SCREENSHOTS) await page.screenshot({ path: process.env.E2E_SCREENSHOTS + "/docs.png", fullPage: true });
  assert.deepEqual(errors, []);
});
