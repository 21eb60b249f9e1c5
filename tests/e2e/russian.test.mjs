// Everything the panel shows people is Russian: every page of the real panel is walked in
// headless Chromium (visible text, placeholders, titles, button and field names), and the
// labels file and the scripts' literal texts are read, and any Latin-only wording fails the
// test. Names of products and services (Telegram, Wildberries, API, …) are allowed, as are
// people's data (messages, names, addresses) and code shown as code.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { launchBrowser, startServer } from "./harness.mjs";

// Words that are names, not English: brands, formats, protocol names, units, settings keys.
const ALLOWED = new Set(("supportd telegram business whatsapp wildberries ozon wb vk api pdf csv json jsonl markdown yandexgpt openai " +
  "client-id api-key id webhook verify token https http gguf sha-256 smtp iam seller callback long poll e-mail email ctrl enter " +
  "j k t utc msk ₽ md q4_k_m e5-small qwen2.5-coder-1.5b qwen2.5-coder-0.5b smollm2-135m local yandexgpt openai-совместимый " +
  "supportd-lic botfather userinfobot ooo ok config.toml smtp.host widget.allowed_origins llm.chain b1g… eaag… vk1.a.… " +
  "privacy.keep_conversations_days privacy.keep_files_days backup.every_hours max abc").split(/\s+/));

// Addresses and e-mails are examples of a format, not wording.
const strip = (text) => text.replace(/https?:\/\/\S*/g, " ").replace(/\S+@\S+/g, " ");

function latinOnly(text) {
  const t = strip(text).trim();
  if (!t || /[а-яё]/i.test(t) || !/[a-z]/i.test(t)) return false;
  const words = t.toLowerCase().match(/[a-z][a-z0-9_.\-…]*/g) || [];
  return words.some((w) => !ALLOWED.has(w) && !ALLOWED.has(w.replace(/[.…]+$/, "")));
}

let server;
let browser;

before(async () => {
  server = await startServer({ demo: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the labels file has a Russian word (or a name) for every code", () => {
  const src = readFileSync(new URL("../../assets/labels.js", import.meta.url), "utf8");
  // Every `name: "text"` pair but the state keys (`key: "waiting"`), which are codes.
  const values = [...src.matchAll(/([\w"-]+):\s*"([^"]*)"/g)].filter((m) => m[1] !== "key").map((m) => m[2]);
  assert.ok(values.length > 100, "labels found: " + values.length);
  assert.deepEqual(values.filter(latinOnly), []);
});

test("no script sets a Latin-only text for people", () => {
  const dir = new URL("../../assets/", import.meta.url).pathname;
  const bad = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".js") && f !== "api-docs.js")) {
    const src = readFileSync(dir + f, "utf8");
    // Texts given to the element builder, textContent, placeholders, titles and labels.
    const patterns = [/el\("[^"]*",\s*"[^"]*",\s*"([^"]+)"\)/g, /\.textContent\s*=\s*"([^"]+)"/g, /\.(?:placeholder|title)\s*=\s*"([^"]+)"/g,
      /setAttribute\("(?:aria-label|title|placeholder)",\s*"([^"]+)"/g,
      /bubble\("[a-z]+",\s*"([^"]+)"/g, /toast\("([^"]+)"/g, /confirm\("([^"]+)"/g];
    for (const p of patterns) for (const m of src.matchAll(p)) if (latinOnly(m[1])) bad.push(f + ": " + m[1]);
  }
  assert.deepEqual(bad, []);
});

async function visibleLatin(page) {
  return page.evaluate((allowed) => {
    const ALLOWED = new Set(allowed);
    const latinOnly = (text) => {
      const t = text.replace(/https?:\/\/\S*/g, " ").replace(/\S+@\S+/g, " ").trim();
      if (!t || /[а-яё]/i.test(t) || !/[a-z]/i.test(t)) return false;
      const words = t.toLowerCase().match(/[a-z][a-z0-9_.\-…]*/g) || [];
      return words.some((w) => !ALLOWED.has(w) && !ALLOWED.has(w.replace(/[.…]+$/, "")));
    };
    // People's data and code: messages, names, e-mails, article texts, model ids, code blocks.
    const data = "code, pre, .msg .body, #who, #pf-who, .name, .kb-list, #kb-list, #kb-products, #kb-preview, #users, #audit, .order, " +
      "#customer h3, #thread-title, #sn-list, #pd-list, #bk-list, #mk-list b, #st-log, #lic-limits, #rep-gaps, #rep-articles, " +
      "#rep-operators, #rep-channels, .model-row b, #setup-local, #wg-config, .badge, option";
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const e = t.parentElement;
      if (!e || !e.checkVisibility() || e.closest(data)) continue;
      if (latinOnly(t.textContent)) out.push(t.textContent.trim().slice(0, 60) + " (" + e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + ")");
    }
    for (const e of document.querySelectorAll("[placeholder], [title], [aria-label]")) {
      if (!e.checkVisibility() || e.closest(data)) continue;
      for (const a of ["placeholder", "title", "aria-label"]) {
        const v = e.getAttribute(a);
        if (v && latinOnly(v)) out.push(a + "=" + v + " (" + e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + ")");
      }
    }
    return [...new Set(out)];
  }, [...ALLOWED]);
}

test("every page of the panel speaks Russian", async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await page.goto(server.base + "/");
  assert.deepEqual(await visibleLatin(page), [], "the sign-in page");
  await page.fill("#email", "admin@localhost");
  await page.fill("#password", server.password);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#home:not(.hidden)");
  await page.evaluate(async () => {
    const csrf = document.cookie.match(/(?:^|; )supportd_csrf=([^;]*)/)[1];
    await fetch("/api/v1/inbound", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ message_id: "ru-1", customer: "buyer-ru", name: "", text: "где мой заказ 4102938475?" }) });
  });
  await page.locator("#conv-list .conv").first().waitFor({ timeout: 10_000 });
  await page.locator("#conv-list .conv").first().click();
  await page.locator(".msg.from-bot .meta").first().waitFor({ timeout: 10_000 });
  const seen = {};
  for (const hash of ["#/inbox", "#/kb", "#/reports", "#/setup", "#/profile", "#/settings/shop", "#/settings/channels",
    "#/settings/marketplaces", "#/settings/models", "#/settings/team", "#/settings/reports", "#/settings/licence",
    "#/settings/data", "#/settings/audit"]) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.waitForTimeout(700);
    const bad = await visibleLatin(page);
    if (bad.length) seen[hash] = bad;
  }
  assert.deepEqual(seen, {});
});
