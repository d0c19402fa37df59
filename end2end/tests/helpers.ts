import { expect, type Browser, type Page } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/** Waits until the wasm has hydrated the page (the entry point marks <html> when done). */
export async function hydrated(page: Page) {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
}

export const AREAS = ["Pipelines", "Deployments", "Tokens", "Approvals", "Blocked", "Delivery", "Notifications", "Audit"] as const;

/** The sandbox's demo users (README), one per role. */
export const DEMO = {
  viewer: ["vera", "vera-viewer-demo"],
  deployer: ["dana", "dana-deployer-demo"],
  approver: ["avery", "avery-approver-demo"],
  admin: ["ada", "ada-admin-demo"],
} as const;

/** Signs in through the sign-in form (works with and without JavaScript). */
export async function signIn(page: Page, role: keyof typeof DEMO = "viewer") {
  const [name, password] = DEMO[role];
  await page.goto("/sign-in");
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).not.toHaveURL(/\/sign-in/);
}

/** `a` approves the oldest change request waiting in production's Approvals inbox. */
export async function approveRequest(a: Page) {
  await a.goto("/production/approvals");
  const request = a.locator('article.change[data-state="pending"]').first();
  await request.getByLabel("Approval comment").fill("ok");
  await request.getByRole("button", { name: "Approve" }).click();
  await expect(a).toHaveURL(/\/production\/approvals/);
}

/** `a` answers the manual approval waiting in production's pipelines, from the inbox. */
export async function approvePipeline(a: Page, comment = "Ship it") {
  await a.goto("/production/approvals");
  const waiting = a.locator(".pipeline-approvals .approval").first();
  await expect(waiting).toBeVisible({ timeout: 90_000 });
  await waiting.getByLabel("Approval comment").fill(comment);
  await waiting.getByRole("button", { name: "Approve" }).click();
  await expect(a).toHaveURL(/\/production\/approvals/);
}

/** A fresh browser context signed in as the demo user holding `role` (on `baseURL`, or the
 * suite's server). */
export async function personAs(browser: Browser, role: keyof typeof DEMO, baseURL?: string) {
  const context = await browser.newContext(baseURL ? { baseURL } : {});
  const page = await context.newPage();
  await signIn(page, role);
  return page;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A second Rollgate, for a spec that needs a configuration of its own: the sandbox's, with
 * `extra` added before `[roles]` (so `[[environment.…]]` tables belong to the last
 * environment, production), its store and temporary files in `dir`, listening on `port` (a
 * free one by default), with `env` added to its environment. Resolves once it is ready. */
export async function startRollgate(
  dir: string,
  extra: string,
  options: { port?: number; env?: Record<string, string> } = {},
) {
  const bin = process.env.ROLLGATE_BIN!;
  // The tests run from the clone's root (scripts/test.sh).
  const sandbox = readFileSync(join(process.cwd(), "backend/src/config/sandbox.toml"), "utf8");
  const config = join(dir, "rollgate.toml");
  writeFileSync(config, sandbox.replace(/\n\[roles\]/, `${extra}\n[roles]`));
  const port = options.port ?? (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const server: ChildProcess = spawn(bin, ["--config", config], {
    env: {
      ...process.env,
      TMPDIR: dir,
      ROLLGATE_DATABASE_URL: `sqlite://${dir}/store.db?mode=rwc`,
      ROLLGATE_LISTEN: `127.0.0.1:${port}`,
      ROLLGATE_SITE_ROOT: process.env.ROLLGATE_E2E_SITE!,
      ...options.env,
    },
    stdio: "ignore",
  });
  for (let i = 0; i < 150; i++) {
    const ready = await fetch(`${base}/readyz`).then((r) => r.ok).catch(() => false);
    if (ready) return { base, server };
    await new Promise((r) => setTimeout(r, 200));
  }
  server.kill();
  throw new Error("the second Rollgate did not become ready");
}
