import { test, expect } from "@playwright/test";
import { readFile } from "node:fs/promises";
import { hydrated, signIn } from "./helpers";

// The pod log viewer on the sandbox's demo deployments: a crash-looping pod's previous
// container, search with highlighting, and every pod of a deployment interleaved.

const LOGS = "/staging/deployments/staging";

test("the previous container of a crash-looping pod says why it failed", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto(`${LOGS}/payments-worker/logs`);
  await hydrated(page);
  const podPicker = page.locator("select[name=pod]");
  await expect(podPicker.locator("option", { hasText: /^payments-worker-/ }).first()).toBeAttached();
  const pod = await podPicker.locator("option", { hasText: /^payments-worker-/ }).first().getAttribute("value");
  await podPicker.selectOption(pod!);
  await page.getByLabel("Previous container").check();
  const log = page.getByRole("log", { name: "Log lines" });
  await expect(log).toContainText("payments-worker starting");
  await expect(log).toContainText("fatal: cannot reach queue at amqp://queue.staging.svc:5671");
  await expect(page.locator(".log-status .link")).toHaveText("The log stream ended.");
});

test("search highlights matches and steps through them", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto(`${LOGS}/myapp-deployment/logs`);
  await hydrated(page);
  const log = page.getByRole("log", { name: "Log lines" });
  await expect(log.locator(".log-row", { hasText: "Hello Kubernetes!" })).toHaveCount(2);
  await page.getByLabel("Search the loaded lines").fill("kubernetes");
  await expect(log.locator(".hit")).toHaveCount(2);
  await expect(log.locator(".hit").first()).toHaveText("Kubernetes");
  await expect(page.locator(".match-count")).toHaveText("2 matches");
  await page.getByRole("button", { name: "Next match" }).click();
  await expect(page.locator(".match-count")).toHaveText("1 of 2");
  await expect(log.locator(".current-match .hit")).toHaveCount(1);
  await page.getByRole("button", { name: "Next match" }).click();
  await expect(page.locator(".match-count")).toHaveText("2 of 2");
  await page.getByLabel("Search the loaded lines").fill("no such text");
  await expect(page.locator(".match-count")).toHaveText("no matches");
  await expect(log.locator(".hit")).toHaveCount(0);
});

test("all pods interleaved, a colour per pod, timestamps and download", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto(`${LOGS}/myapp-deployment/logs`);
  await hydrated(page);
  await expect(page.locator("select[name=pod]")).toHaveValue("");
  const log = page.getByRole("log", { name: "Log lines" });
  const tags = log.locator(".log-pod");
  await expect(tags).toHaveCount(2);
  const classes = await tags.evaluateAll((els) => els.map((e) => e.className));
  expect(new Set(classes).size).toBe(2);
  const colours = await tags.evaluateAll((els) => els.map((e) => getComputedStyle(e).color));
  expect(colours[0]).not.toBe(colours[1]);
  await expect(page.locator(".log-status .link")).toHaveText("Live");

  await expect(log.locator(".log-ts")).toHaveCount(0);
  await page.getByLabel("Timestamps").check();
  await expect(log.locator(".log-ts")).toHaveCount(2);
  await expect(log.locator(".log-ts").first()).toHaveText(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe("myapp-deployment-all-pods.log");
  const text = await readFile((await download.path())!, "utf8");
  const lines = text.trim().split("\n");
  expect(lines).toHaveLength(2);
  for (const line of lines) {
    expect(line).toMatch(/^myapp-deployment-\S+ \d{4}-\d\d-\d\dT\S+ Hello Kubernetes!$/);
  }
});
