import { test, expect, type Browser } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hydrated, signIn, DEMO } from "./helpers";

/** The embedded sandbox cluster's kubeconfig (written where `rollgate` says at start). */
const KUBECONFIG = process.env.ROLLGATE_SANDBOX_KUBECONFIG ?? join(tmpdir(), "rollgate-sandbox", "kubeconfig");

// The Deployments pages on the sandbox: the live list, a deploy watched as it rolls out, the
// walk-through's DEMO_GREETING change, a rollback with its preview, and a stale page refused.

async function personAs(browser: Browser, role: keyof typeof DEMO) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, role);
  return { context, page };
}

const row = (page: import("@playwright/test").Page, key: string) => page.locator(`tr[data-deployment="${key}"]`);

test("the list shows health in words and follows changes live, filtered and sorted", async ({ browser }) => {
  const viewer = await personAs(browser, "viewer");
  const v = viewer.page;
  const refused: string[] = [];
  v.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) refused.push(m.text());
  });
  await v.goto("/staging/deployments");
  await hydrated(v);
  await expect(row(v, "staging/payments-worker")).toHaveAttribute("data-health", "Degraded");
  // The replicas bar is drawn (widths are classes: the page's policy refuses inline styles).
  const available = row(v, "staging/myapp-deployment").locator(".bar .available");
  expect(await available.evaluate((e) => e.getBoundingClientRect().width)).toBeGreaterThan(10);
  await expect(row(v, "staging/payments-worker")).toContainText("CrashLoopBackOff");
  await expect(row(v, "staging/myapp-deployment").locator("code.commit")).toHaveText("e93d5f1");

  // Someone else scales a deployment; the open page follows without a reload.
  const deployer = await personAs(browser, "deployer");
  const d = deployer.page;
  await d.goto("/staging/deployments/staging/checkout-api");
  const current = Number(await d.locator("[data-action=scale] input[name=replicas]").inputValue());
  const target = current === 4 ? 3 : 4;
  const scale = d.locator("[data-action=scale]");
  await scale.locator("input[name=replicas]").fill(String(target));
  await scale.getByLabel("Why").fill("more traffic");
  await scale.getByRole("button", { name: "Scale" }).click();
  await expect(d).toHaveURL(/\/staging\/deployments\/staging\/checkout-api$/);

  const counts = row(v, "staging/checkout-api").locator(".counts");
  await expect(counts).toHaveAttribute("data-desired", String(target));
  await expect(counts).toHaveAttribute("data-ready", String(target), { timeout: 20_000 });
  await expect(row(v, "staging/checkout-api")).toContainText("by dana");

  await v.getByRole("searchbox").fill("payments");
  await expect(v.locator("tbody tr[data-deployment]")).toHaveCount(1);
  await v.getByRole("searchbox").fill("");
  await v.getByLabel("Sort by").selectOption("health");
  await expect(v.locator("tbody tr[data-deployment]").first()).toHaveAttribute("data-health", "Degraded");
  expect(refused).toEqual([]);
  await viewer.context.close();
  await deployer.context.close();
});

test("deploy a commit and watch it roll out; change DEMO_GREETING; roll back with one confirmed click", async ({ browser }) => {
  const { context, page } = await personAs(browser, "deployer");
  await page.goto("/staging/deployments/staging/myapp-deployment");
  await hydrated(page);
  const live = page.locator(".live-rollout");
  await expect(live).toHaveAttribute("data-health", "Complete");

  // Deploy the image built for an earlier commit.
  const deploy = page.locator("[data-action=deploy-image]");
  await deploy.locator("input[name=image]").fill("myapp:8e2f6b3");
  await deploy.getByLabel("Why").fill("e2e: deploy 8e2f6b3");
  await deploy.getByRole("button", { name: "Deploy" }).click();
  await expect(page).toHaveURL(/\/staging\/deployments\/staging\/myapp-deployment$/);
  await hydrated(page);
  await expect(page.locator(".live-rollout")).toHaveAttribute("data-health", "Complete", { timeout: 30_000 });
  await expect(page.locator(".live-rollout .counts")).toHaveAttribute("data-updated", "2");
  await page.reload();
  await expect(page.locator("table.revisions tr.live")).toContainText("8e2f6b3");

  // The walk-through's change: a new greeting, rolled out as a new revision.
  const setEnv = page.locator("[data-action=set-env]");
  await setEnv.locator("textarea[name=variables]").fill("DEMO_GREETING=Hello from Rollgate!");
  await setEnv.getByLabel("Why").fill("e2e: new greeting");
  await setEnv.getByRole("button", { name: "Set env" }).click();
  await expect(page).toHaveURL(/myapp-deployment$/);
  await expect(page.locator("dl.env")).toContainText("Hello from Rollgate!");
  await hydrated(page);
  await expect(page.locator(".live-rollout")).toHaveAttribute("data-health", "Complete", { timeout: 30_000 });
  await expect(page.locator("ul.changes li").first()).toContainText("executed");
  // The new pods greet with the new value.
  await page.getByRole("link", { name: "Logs" }).click();
  await hydrated(page);
  const log = page.getByRole("log", { name: "Log lines" });
  await expect(log.locator(".log-row", { hasText: "Hello from Rollgate!" })).toHaveCount(2, { timeout: 15_000 });
  await page.goBack();

  // Roll back to the revision before: the preview says exactly what goes back.
  const previous = page.locator("table.revisions tbody tr:not(.live)").first();
  const number = await previous.getAttribute("data-revision");
  await previous.getByRole("link", { name: "Roll back to this…" }).click();
  await expect(page.locator("dd.diff del")).toContainText("DEMO_GREETING=Hello from Rollgate!");
  await expect(page.locator("dd.diff ins")).toContainText(`revision ${number}`);
  await page.getByLabel("Why").fill("e2e: back to the old greeting");
  await page.getByRole("button", { name: `Roll back to revision ${number}` }).click();
  await expect(page).toHaveURL(/myapp-deployment$/);
  await expect(page.locator("dl.env")).not.toContainText("Hello from Rollgate!");
  await hydrated(page);
  await expect(page.locator(".live-rollout")).toHaveAttribute("data-health", "Complete", { timeout: 30_000 });
  await context.close();
});

test("a page that fell behind cannot overwrite someone else's change", async ({ browser }) => {
  const first = await personAs(browser, "deployer");
  const second = await personAs(browser, "admin");
  for (const p of [first.page, second.page]) await p.goto("/staging/deployments/staging/checkout-api");

  const scale = (p: import("@playwright/test").Page, n: string, why: string) =>
    p.locator("[data-action=scale]").evaluate(
      (form, [n, why]) => {
        (form.querySelector("input[name=replicas]") as HTMLInputElement).value = n;
        (form.querySelector("input[name=reason]") as HTMLInputElement).value = why;
        (form as HTMLFormElement).submit();
      },
      [n, why],
    );
  const now = Number(await first.page.locator("[data-action=scale] input[name=replicas]").inputValue());
  await scale(first.page, String(now + 1), "first");
  await expect(first.page.locator("ul.changes li").first()).toContainText("executed");
  await scale(second.page, String(now + 2), "second, from a stale page");
  await expect(second.page.getByRole("alert")).toContainText("changed since your page showed it");
  await first.context.close();
  await second.context.close();
});

// Many deployments: the page holds them all but draws only the rows on screen, the address
// carries the view, and the server renders the same view for a link (or a browser without
// script). The deployments are made with kubectl, as a team's tooling would.
test("a long list draws only what is on screen, and the address keeps the view", async ({ browser }) => {
  const MANY = 150;
  const names = Array.from({ length: MANY }, (_, i) => `many-${String(i).padStart(3, "0")}`);
  const kubectl = (args: string[], input?: string) =>
    execFileSync("kubectl", ["--kubeconfig", KUBECONFIG, ...args], { input, encoding: "utf8" });
  const items = names.map((name) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "staging", labels: { "rollgate.io/e2e": "many" } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "web", image: `web:${name}` }] } },
    },
  }));
  // The sandbox serves no OpenAPI schema for kubectl to validate against.
  kubectl(["create", "--validate=false", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
  try {
    const { context, page } = await personAs(browser, "viewer");
    await page.goto("/staging/deployments");
    await hydrated(page);
    await expect(page.locator("table.deployments")).toHaveAttribute("data-held", "all");
    const rows = page.locator("tbody tr[data-deployment]");
    const total = Number((await page.locator(".deployments-filters .count").textContent())!.split(" of ")[1]);
    expect(total).toBeGreaterThanOrEqual(MANY);
    // A screen's worth (and a margin), not all of them.
    expect(await rows.count()).toBeLessThan(60);
    const heights = await rows.evaluateAll((trs) => [...new Set(trs.map((tr) => tr.getBoundingClientRect().height))]);
    expect(heights, "every row one height").toHaveLength(1);

    // Sorted by name, the many come after the demo's "checkout-api" and before its others.
    await page.getByRole("searchbox").fill("many-");
    await expect(page).toHaveURL(/\?q=many-$/);
    await expect(page.locator(".deployments-filters .count")).toHaveText(`${MANY} of ${total}`);
    await expect(rows.first()).toHaveAttribute("data-deployment", "staging/many-000");
    await expect(page.locator('tr[data-deployment="staging/many-149"]')).toHaveCount(0);
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await expect(page.locator('tr[data-deployment="staging/many-149"]')).toBeVisible();
    await expect(page.locator('tr[data-deployment="staging/many-000"]')).toHaveCount(0);
    // Back up: the first rows are drawn again, in place.
    await page.evaluate(() => window.scrollTo(0, 0));
    await expect(page.locator('tr[data-deployment="staging/many-000"]')).toBeVisible();

    // A change to a deployment off screen is held and shows when scrolled to.
    kubectl(["set", "image", "deployment/many-120", "-n", "staging", "web=web:moved-away"]);
    await page.getByRole("searchbox").fill("moved-away");
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toHaveAttribute("data-deployment", "staging/many-120");

    await page.getByLabel("Sort by").selectOption("namespace");
    await page.locator("select[name=health]").selectOption("complete");
    await expect(page).toHaveURL(/\?q=moved-away&health=complete&sort=namespace$/);
    await context.close();

    // The same address without script: the server filters and sorts, and the form asks it again.
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const p = await plain.newPage();
    await signIn(p, "viewer");
    await p.goto("/staging/deployments?q=many-14&sort=name");
    await expect(p.locator("tbody tr[data-deployment]")).toHaveCount(10);
    await expect(p.locator("tbody tr[data-deployment]").first()).toHaveAttribute("data-deployment", "staging/many-140");
    await expect(p.getByRole("searchbox")).toHaveValue("many-14");
    await expect(p.locator(".deployments-filters .count")).toHaveText(`10 of ${total}`);
    await p.getByRole("searchbox").fill("many-0");
    await p.getByRole("searchbox").press("Enter");
    await expect(p).toHaveURL(/q=many-0/);
    await expect(p.locator(".deployments-filters .count")).toHaveText(`100 of ${total}`);
    // The server renders the first rows only; the rest comes with the script.
    await expect(p.locator("tbody tr[data-deployment]")).toHaveCount(30);
    await plain.close();
  } finally {
    kubectl(["delete", "deployments", "-n", "staging", "-l", "rollgate.io/e2e=many", "--wait=false"]);
  }
});
