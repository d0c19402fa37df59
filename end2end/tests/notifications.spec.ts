import { test, expect, type Browser } from "@playwright/test";
import type { ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer as httpServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO, freePort, personAs as signedIn, startRollgate } from "./helpers";

// Notifications, with a receiver of this spec's own: a second Rollgate on the sandbox's
// configuration plus a signed webhook for production. Dana asks for a production change; the
// receiver gets "approval waiting" with a signature that checks out and a deep link, which
// avery follows straight to the request and approves; the change's result is told too. The
// Notifications page shows the target, sends a test, and logs every attempt with the answer.

const KEY = "e2e-signing-key";

let server: ChildProcess | undefined;
let receiver: Server | undefined;
let base = "";
const got: { event: string; signature: string; body: string }[] = [];

/** A receiver's check: the HMAC of "<t>.<body>" with the key, and a recent t. */
function signed(r: { signature: string; body: string }): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(r.signature);
  if (!match) return false;
  const fresh = Math.abs(Date.now() / 1000 - Number(match[1])) < 300;
  const expected = createHmac("sha256", KEY).update(`${match[1]}.${r.body}`).digest("hex");
  return fresh && expected === match[2];
}

async function received(event: string): Promise<{ event: string; signature: string; body: string }> {
  for (let i = 0; i < 150; i++) {
    const found = got.find((r) => r.event === event);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${event} arrived: ${JSON.stringify(got.map((r) => r.event))}`);
}

test.beforeAll(async () => {
  test.skip(!process.env.ROLLGATE_BIN || !process.env.ROLLGATE_E2E_SITE, "ROLLGATE_BIN and ROLLGATE_E2E_SITE are set by scripts/test.sh");
  const hookPort = await freePort();
  receiver = httpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({
        event: String(req.headers["x-rollgate-event"] ?? ""),
        signature: String(req.headers["x-rollgate-signature"] ?? ""),
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(204).end();
    });
  }).listen(hookPort, "127.0.0.1");
  const dir = mkdtempSync(join(tmpdir(), "rollgate-notify-"));
  writeFileSync(join(dir, "hook-url"), `http://127.0.0.1:${hookPort}/rollgate`);
  writeFileSync(join(dir, "hook-key"), KEY);
  const notify = `
[[environment.notify]]
name = "release-channel"
kind = "webhook"
url = { file = "${join(dir, "hook-url")}" }
secret = { file = "${join(dir, "hook-key")}" }
events = ["approval-waiting", "change-executed"]
`;
  // Deep links name the address the browser uses: the port is only known once it is chosen.
  const port = await freePort();
  ({ base, server } = await startRollgate(dir, notify, {
    port,
    env: { ROLLGATE_PUBLIC_URL: `http://127.0.0.1:${port}` },
  }));
});

test.afterAll(() => {
  server?.kill();
  receiver?.close();
});

async function personAs(browser: Browser, role: keyof typeof DEMO) {
  return signedIn(browser, role, base);
}

test("an approval waiting reaches the channel, signed, and its link takes the approver to it", async ({ browser }) => {
  const dana = await personAs(browser, "deployer");
  await dana.goto("/production/deployments/production/myapp-deployment");
  const scale = dana.locator("form[data-action=scale]");
  await scale.getByLabel("Replicas").fill("5");
  await scale.getByLabel("Why").fill("e2e: notify the channel");
  await scale.getByRole("button", { name: /Scale/ }).click();

  const waiting = await received("approval-waiting");
  expect(signed(waiting)).toBe(true);
  expect(signed({ ...waiting, body: waiting.body.replace("dana", "mallory") })).toBe(false);
  const told = JSON.parse(waiting.body);
  expect(told.title).toContain("dana asks: scale production/myapp-deployment to 5");
  expect(told.link).toMatch(new RegExp(`^${base}/production/approvals#change-`));

  // avery follows the link from the channel straight to the request.
  const avery = await personAs(browser, "approver");
  await avery.goto(told.link);
  const id = told.link.split("#")[1];
  const request = avery.locator(`article#${id}`);
  await expect(request).toContainText("scale production/myapp-deployment to 5");
  await request.getByLabel("Approval comment").fill("ok");
  await request.getByRole("button", { name: "Approve" }).click();
  const ran = JSON.parse((await received("change-executed")).body);
  expect(ran.detail).toContain("approved by avery");
});

test("the Notifications page sends a test and logs every attempt with the answer", async ({ browser }) => {
  const dana = await personAs(browser, "deployer");
  await dana.goto("/production/notifications");
  await expect(dana.getByRole("heading", { level: 1, name: "Notifications" })).toBeVisible();
  const target = dana.locator('table.targets tr[data-target="release-channel"]');
  await expect(target).toContainText("JSON webhook (signed)");
  await expect(target).toContainText("approval-waiting, change-executed");
  await target.getByRole("button", { name: "Send a test to release-channel" }).click();
  await expect(dana).toHaveURL(/\/production\/notifications$/);
  const test = await received("test");
  expect(signed(test)).toBe(true);
  expect(JSON.parse(test.body).title).toBe("A test from Rollgate, sent by dana");

  await dana.reload();
  const logged = dana.locator('table.delivery-log tr[data-event="test"]');
  await expect(logged).toHaveAttribute("data-state", "delivered");
  await expect(logged.locator("li[data-attempt]")).toHaveAttribute("data-status", "204");
  await expect(dana.locator('table.delivery-log tr[data-event="approval-waiting"]')).toHaveAttribute("data-state", "delivered");

  // A viewer sees the log but has no test button.
  const vera = await personAs(browser, "viewer");
  await vera.goto("/production/notifications");
  await expect(vera.locator("form[data-action=test]")).toHaveCount(0);
  await expect(vera.locator('table.delivery-log tr[data-event="test"]')).toBeVisible();
});
