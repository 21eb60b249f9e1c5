// The licence card and banner in headless Chromium: a trial, a refused licence with its
// reason, a licence installed from the settings page (in force at once, with the banner for
// its last days), and the month's usage statement with its CSV download.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, launchBrowser, startServer } from "./harness.mjs";

let server;
let browser;
let keys;
const shots = new URL("./screenshots/", import.meta.url).pathname;

// The test is the vendor: its own key pair, trusted by the debug build.
before(async () => {
  keys = mkdtempSync(join(tmpdir(), "supportd-keys-"));
  const gen = spawnSync(BIN, ["licence", "keygen", "--out", keys], { encoding: "utf8" });
  if (gen.status !== 0) throw new Error("keygen failed: " + gen.stderr);
  const publicKey = readFileSync(join(keys, "vendor.pub.pem"), "utf8");
  server = await startServer({ env: { SUPPORTD_LICENCE_PUBLIC_KEY: publicKey } });
  browser = await launchBrowser();
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (keys) rmSync(keys, { recursive: true, force: true });
});

function issue(args) {
  const r = spawnSync(BIN, ["licence", "issue", "--key", join(keys, "vendor.key.pem"), "--customer", "ООО Ладья", ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("issue failed: " + r.stderr);
  return r.stdout.trim();
}

test("an admin installs a licence in the settings; it applies at once and the statement is there", async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1500 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(server.base + "/");
  await page.fill("#email", "admin@localhost");
  await page.fill("#password", server.password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
  // A fresh installation is on its trial: no alarming banner, the card says so.
  assert.equal(await page.locator("#licence-banner").isVisible(), false);
  await page.getByRole("link", { name: "Настройки" }).click();
  await page.locator("#settings-nav a", { hasText: "Тариф" }).click();
  await page.locator("#lic-state", { hasText: "Пробный период до" }).waitFor();
  assert.match(await page.textContent("#lic-limits"), /1 из без ограничений/);
  assert.match(await page.textContent("#lic-warning"), /осталось 14 дней/);

  // A broken licence is refused with its reason, and nothing changes.
  await page.fill("#lic-token", "SUPPORTD-LIC.e30.AAAA");
  await page.getByRole("button", { name: "Установить лицензию" }).click();
  await page.locator("#lic-result", { hasText: "Лицензия не принята" }).waitFor();
  assert.match(await page.textContent("#lic-state"), /Пробный период/);

  // A real one, ten days before its end: installed at once, the banner warns everyone.
  await page.fill("#lic-token", issue(["--plan", "business", "--days", "10"]));
  await page.getByRole("button", { name: "Установить лицензию" }).click();
  await page.locator("#lic-result", { hasText: "Лицензия установлена: тариф «Бизнес»" }).waitFor();
  await page.locator("#lic-state", { hasText: "Тариф «Бизнес» · действует" }).waitFor();
  assert.match(await page.textContent("#lic-state"), /ООО Ладья/);
  assert.match(await page.textContent("#lic-limits"), /1 из 10/);
  await page.locator("#licence-banner.lvl-warning", { hasText: "заканчивается" }).waitFor();
  assert.equal(await page.inputValue("#lic-token"), "");

  // The month's statement, and the same as CSV (UTF-8 with a byte-order mark).
  await page.locator("#st-table th", { hasText: "Разговоры с покупателями" }).waitFor();
  const href = await page.getAttribute("#st-csv", "href");
  assert.match(href, /^\/api\/v1\/usage\/statement\.csv\?month=\d{4}-\d{2}$/);
  const csv = await page.evaluate(async (url) => {
    const r = await fetch(url);
    const bytes = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, bom: Array.from(bytes.slice(0, 3)), text: new TextDecoder().decode(bytes) };
  }, href);
  assert.equal(csv.status, 200);
  assert.deepEqual(csv.bom, [0xef, 0xbb, 0xbf]);
  assert.match(csv.text, /month,metric,dimension,value,description/);
  await page.locator("#licence-card").screenshot({ path: shots + "settings-licence.png" });
  assert.deepEqual(errors, []);
});
