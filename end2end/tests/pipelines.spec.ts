import { test, expect, type Browser, type Page } from "@playwright/test";
import { approvePipeline, approveRequest, hydrated, signIn, DEMO } from "./helpers";

// The "done when" story on the sandbox: a deployer releases myapp-production and
// watches it reach the manual approval, a second person approves (the release request, then
// the pipeline's approval from the team inbox), and, as production's approval needs someone
// from security too, a third from the pipeline's page; Deploy runs to the end live, and the
// previous commit is redeployed from the history.

test.setTimeout(240_000);

async function personAs(browser: Browser, role: keyof typeof DEMO) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, role);
  return { context, page };
}

const PIPELINE = "/production/pipelines/myapp-production";

/** `a`, from security, answers it from the pipeline's page. */
async function approveFromPipeline(a: Page) {
  await a.goto(PIPELINE);
  const waiting = a.locator('article.pipeline[data-pipeline="myapp-production"] .approval');
  await expect(waiting).toBeVisible({ timeout: 30_000 });
  await waiting.getByLabel("Approval comment").fill("Security is fine");
  await waiting.getByRole("button", { name: "Approve" }).click();
  await expect(a).toHaveURL(new RegExp(`${PIPELINE}$`));
}

test("release myapp-production through the approval, then redeploy the previous commit", async ({ browser }) => {
  const dana = (await personAs(browser, "deployer")).page;
  const avery = (await personAs(browser, "approver")).page;
  const ada = (await personAs(browser, "admin")).page;

  await dana.goto(PIPELINE);
  await hydrated(dana);
  const card = dana.locator('article.pipeline[data-pipeline="myapp-production"]');
  await expect(card.locator('[data-stage="Approval"]')).toBeVisible();
  const release = dana.locator("form[data-action=start]");
  await release.getByLabel("Why").fill("weekly release");
  await release.getByRole("button", { name: "Release" }).click();
  await expect(dana).toHaveURL(new RegExp(`${PIPELINE}$`));

  // Production is protected: the release is a change request someone else approves.
  await approveRequest(avery);

  // Dana's open page follows the execution to the approval, which stands out.
  await expect(card.locator(".approval")).toBeVisible({ timeout: 90_000 });
  await expect(card).toHaveClass(/waiting/);
  await expect(card.locator(".approval")).toContainText("Started through Rollgate by dana");
  const standing = card.locator(".approval .standing");
  await expect(standing).toHaveText("0 of 2; waiting for 2 more people, among them someone from each of release-managers, security");
  await expect(card.locator(".approval .quorum")).toContainText("never whoever asked Rollgate for the release");
  await expect(card.locator(".approval .expires")).toContainText("CodePipeline fails it unanswered at");

  // Avery (release-managers) approves: one of two, and dana's open page says who is missing.
  await approvePipeline(avery);
  await expect(standing).toHaveText("1 of 2: avery approved; waiting for someone from security", { timeout: 30_000 });
  await expect(card.locator('.approval .votes li[data-voter="avery"]')).toContainText("avery approved: Ship it");
  await expect(card.locator('[data-stage="Approval"]')).toHaveAttribute("data-status", "InProgress");
  // Ada (security) approves from the pipeline's page: the quorum is met, CodePipeline answered.
  await approveFromPipeline(ada);
  await expect(card.locator(".approval")).toHaveCount(0, { timeout: 30_000 });
  // The Deploy stage shows the rollout of the deployment it targets, live from the cluster.
  const deploy = card.locator('[data-stage="Deploy"]');
  const target = deploy.locator('[data-deployment="production/myapp-deployment"]');
  await expect(target.locator(".rollout")).toBeVisible({ timeout: 90_000 });
  await expect(deploy).toHaveAttribute("data-status", "Succeeded", { timeout: 90_000 });
  await expect(card).toHaveAttribute("data-status", "Succeeded");
  const released = await card.locator(".execution .commit-line").getAttribute("data-commit");
  const counts = target.locator(".counts");
  await expect(counts).toHaveAttribute("data-ready", (await counts.getAttribute("data-desired"))!, { timeout: 30_000 });
  await expect(target.locator("a")).toHaveAttribute("href", "/production/deployments/production/myapp-deployment");

  // The deployment's page says which execution and commit released its live revision.
  await dana.goto("/production/deployments/production/myapp-deployment");
  const live = dana.locator("table.revisions tr.live .release");
  await expect(live).toHaveAttribute("data-commit", released!);
  await expect(live.locator("a")).toHaveAttribute("href", PIPELINE);

  // Redeploy an earlier successful commit, picked from the history.
  await dana.goto(PIPELINE);
  await hydrated(dana);
  const row = dana.locator('tr[data-status="Succeeded"]').filter({ has: dana.locator("form[data-action=redeploy]") }).first();
  const previous = await row.getAttribute("data-commit");
  expect(previous).not.toBe(released);
  const redeploy = row.locator("form[data-action=redeploy]");
  await redeploy.getByPlaceholder("Why").fill("back to the previous commit");
  await redeploy.getByRole("button", { name: /Redeploy/ }).click();
  await approveRequest(avery);
  await expect(card.locator(".approval")).toBeVisible({ timeout: 90_000 });
  await expect(card.locator(".execution .commit-line")).toHaveAttribute("data-commit", previous!);
  await approveFromPipeline(ada);
  await approvePipeline(avery, "Back to the previous commit");
  await expect(card).toHaveAttribute("data-status", "Succeeded", { timeout: 90_000 });
  await expect(card.locator(".execution .commit-line")).toHaveAttribute("data-commit", previous!);
});
