// Starts the real supportd binary on an ephemeral port with a temp data dir, and headless
// Chromium (Debian's /usr/bin/chromium) through playwright-core.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const BIN = process.env.SUPPORTD_BIN || new URL("../../target/debug/supportd", import.meta.url).pathname;
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

// opts.env: extra environment; opts.demo: load the demo shop (`init --demo`) first.
export async function startServer(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), "supportd-e2e-"));
  const env = { ...process.env, SUPPORTD_DATA_DIR: join(dir, "data"), SUPPORTD_LOG: "warn", ...(opts.env || {}) };
  let initOutput = "";
  if (opts.demo) {
    const init = spawnSync(BIN, ["init", "--demo"], { env, encoding: "utf8" });
    if (init.status !== 0) throw new Error("init --demo failed: " + init.stderr);
    initOutput = init.stdout;
  }
  const child = spawn(BIN, ["serve", "--listen", "127.0.0.1:0"], {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  let password = (initOutput.match(/password:\s+(\S+)/) || [])[1] || null;
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("supportd did not start in 30 s")), 30_000);
    child.on("exit", (code) => reject(new Error(`supportd exited with ${code}`)));
    lines.on("line", (line) => {
      const p = line.trim().match(/^password:\s+(\S+)/);
      if (p) password = p[1];
      const m = line.match(/^supportd listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return {
    base,
    password,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}
