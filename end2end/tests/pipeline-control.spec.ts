import { test, expect, type Browser, type Locator, type Page } from "@playwright/test";
import { hydrated, signIn, DEMO } from "./helpers";

// What people do to pipelines besides releasing (pipelines.spec): retry a failed approval and
// reject it, freeze a transition, stop a running release, roll the Deploy stage back, and
// compare two executions. Each action by a role allowed to do it, checked on the page and,
// where it is cheap, in the audit trail. The world is left as the next specs expect it: no
// execution running or waiting for approval, every transition enabled.

test.setTimeout(120_000);

const PRODUCTION = "/production/pipelines/myapp-production";
const STAGING = "/staging/pipelines/myapp-staging";
const STAGING_DEPLOYMENT = "/staging/deployments/staging/myapp-deployment";

async function personAs(browser: Browser, role: keyof typeof DEMO) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, role);
  return page;
}

/** The live card of pipeline `name` on an open page. */
function cardOf(page: Page, name: string) {
  return page.locator(`article.pipeline[data-pipeline="${name}"]`);
}

/** Opens a pipeline page and waits for it to hydrate (the live card is an island). */
async function openPipeline(page: Page, path: string) {
  await page.goto(path);
  await hydrated(page);
}

/**
 * Presses a form's submit button and waits for the page the server sends back: `path`, with no
 * error (an error comes back in a one-time cookie and is shown on the page as an alert).
 */
async function submit(page: Page, button: Locator, path: string) {
  const navigated = page.waitForEvent("framenavigated", { predicate: (f) => f === page.mainFrame(), timeout: 15_000 });
  await Promise.all([navigated, button.click()]);
  await expect(page.getByRole("alert")).toHaveCount(0);
  await expect(page).toHaveURL(new RegExp(`${path}$`));
  await hydrated(page);
}

/** Waits until the card follows its live stream (the server sends each change from then on). */
async function followed(page: Page) {
  await expect(page.locator('.live-fragment[data-live="open"]')).toHaveCount(1);
}

/** The executions a compare page was asked for. */
function picked(page: Page) {
  const query = new URL(page.url()).searchParams;
  return { a: query.get("a"), b: query.get("b") };
}

/** The audit trail of `env`, filtered by action: the rows. */
async function auditRows(page: Page, env: string, action: string) {
  await page.goto(`/${env}/audit?action=${action}`);
  return page.locator("table.audit tbody tr");
}

// Whatever failed, the next specs need no transition frozen and no approval waiting.
test.afterAll(async ({ browser }) => {
  const ada = await personAs(browser, "admin");
  for (const path of [PRODUCTION, STAGING]) {
    await ada.goto(path);
    for (let left = 5; left > 0; left--) {
      const enable = ada.getByRole("button", { name: /^Enable the transition into / }).first();
      if (!(await enable.count())) break;
      await submit(ada, enable, path);
    }
  }
  const avery = await personAs(browser, "approver");
  for (let left = 5; left > 0; left--) {
    await avery.goto("/production/approvals");
    const waiting = avery.locator(".pipeline-approvals .approval").first();
    if (!(await waiting.count())) break;
    await waiting.getByLabel("Approval comment").fill("e2e clean-up");
    await submit(avery, waiting.getByRole("button", { name: "Reject" }), "/production/approvals");
  }
});

test("a rejected approval is retried, waits again, and an approver rejects it from the pipeline page", async ({ browser }) => {
  const comment = `e2e not before the load test ${Date.now()}`;
  const dana = await personAs(browser, "deployer");
  await openPipeline(dana, PRODUCTION);
  const card = cardOf(dana, "myapp-production");
  const approval = card.locator('[data-stage="Approval"]');
  // The demo world: production's latest release was rejected at the approval.
  await expect(card).toHaveAttribute("data-status", "Failed");
  await expect(approval).toHaveAttribute("data-status", "Failed");
  const execution = (await card.locator(".execution").getAttribute("data-execution"))!;

  const retry = dana.locator("form[data-action=retry]");
  await expect(retry.getByRole("heading")).toHaveText("Retry Approval");
  await retry.getByLabel("Run").selectOption("failed");
  await submit(dana, retry.getByRole("button", { name: "Retry" }), PRODUCTION);

  // The same execution waits at the approval again, and stands out.
  const waiting = card.locator(".approval");
  await expect(waiting).toBeVisible({ timeout: 30_000 });
  await expect(waiting).toHaveAttribute("data-approval", execution);
  await expect(waiting).toContainText("myapp-production is waiting for approval at Approval");
  await expect(card).toHaveClass(/waiting/);
  await expect(card).toHaveAttribute("data-status", "InProgress");
  await expect(approval).toHaveAttribute("data-status", "InProgress");
  await expect(card.locator(".execution")).toHaveAttribute("data-execution", execution);
  // A deployer may not answer approvals: no form on the card.
  await expect(waiting.locator("form")).toHaveCount(0);
  await expect(waiting.getByRole("button", { name: "Approve" })).toHaveCount(0);

  const avery = await personAs(browser, "approver");
  await openPipeline(avery, PRODUCTION);
  await followed(avery);
  const theirs = cardOf(avery, "myapp-production");
  await expect(theirs.locator(".approval")).toHaveAttribute("data-approval", execution);
  const box = theirs.locator(".approval").getByLabel("Approval comment");
  await box.fill(comment);

  // While avery writes her comment the card changes under her (an admin freezes a
  // transition): what she typed must survive the card's refresh.
  const ada = await personAs(browser, "admin");
  await openPipeline(ada, PRODUCTION);
  const freeze = ada.locator("form[data-transition=Deploy]");
  await freeze.getByLabel("Why freeze Deploy").fill(`e2e while avery writes ${Date.now()}`);
  await submit(ada, freeze.getByRole("button", { name: "Disable the transition into Deploy" }), PRODUCTION);
  await expect(theirs.locator('[data-stage="Deploy"] .frozen')).toBeVisible({ timeout: 30_000 });
  expect.soft(await box.inputValue(), "the comment typed before the card refreshed is still there").toBe(comment);
  await submit(ada, freeze.getByRole("button", { name: "Enable the transition into Deploy" }), PRODUCTION);
  await expect(theirs.locator(".frozen")).toHaveCount(0, { timeout: 30_000 });
  // (If it was lost, she types it again, so the rest of the story runs and nothing is left waiting.)
  if ((await box.inputValue()) !== comment) await box.fill(comment);

  await submit(avery, theirs.locator(".approval").getByRole("button", { name: "Reject" }), PRODUCTION);
  await expect(theirs).toHaveAttribute("data-status", "Failed", { timeout: 30_000 });
  await expect(theirs.locator('[data-stage="Approval"]')).toHaveAttribute("data-status", "Failed");
  await expect(theirs.locator(".approval")).toHaveCount(0);
  await expect(theirs.locator(".execution")).toHaveAttribute("data-execution", execution);

  // Dana's open page follows it too.
  await expect(card).toHaveAttribute("data-status", "Failed", { timeout: 30_000 });
  await expect(approval).toHaveAttribute("data-status", "Failed");
  await expect(waiting).toHaveCount(0);
  await dana.reload();
  await expect(dana.locator("form[data-action=retry]")).toHaveCount(1);

  const retried = await auditRows(avery, "production", "pipeline.retry");
  await expect(retried.filter({ hasText: `retry Approval (failed actions) of execution ${execution}` }).first()).toContainText("dana");
  const rejected = await auditRows(avery, "production", "pipeline.reject");
  await expect(rejected.filter({ hasText: comment })).toContainText("avery");
  await expect(rejected.filter({ hasText: comment })).toContainText(`reject Approval of execution ${execution}`);
});

test("an admin freezes the transition into Deploy with a reason, and lifts the freeze", async ({ browser }) => {
  const reason = `e2e change freeze ${Date.now()}`;
  const ada = await personAs(browser, "admin");
  try {
    await openPipeline(ada, PRODUCTION);
    const deploy = cardOf(ada, "myapp-production").locator('[data-stage="Deploy"]');
    await expect(deploy.locator(".frozen")).toHaveCount(0);
    const freeze = ada.locator("form[data-transition=Deploy]");
    await freeze.getByLabel("Why freeze Deploy").fill(reason);
    await submit(ada, freeze.getByRole("button", { name: "Disable the transition into Deploy" }), PRODUCTION);
    const frozen = deploy.locator(".frozen");
    await expect(frozen).toHaveText(new RegExp(`^Transition disabled by .+: ${reason}$`), { timeout: 30_000 });
    // Who froze it is the person (as "Started through Rollgate by …" names the starter), not
    // the AWS identity Rollgate itself calls CodePipeline with.
    expect.soft(await frozen.textContent(), "the freeze names the person who froze it").toMatch(/^Transition disabled by ada: /);
    // Only Deploy is frozen.
    await expect(cardOf(ada, "myapp-production").locator(".frozen")).toHaveCount(1);

    // A viewer sees the freeze and may not lift it.
    const vera = await personAs(browser, "viewer");
    await openPipeline(vera, PRODUCTION);
    await expect(cardOf(vera, "myapp-production").locator('[data-stage="Deploy"] .frozen')).toContainText(reason);
    await expect(vera.locator("form[data-transition]")).toHaveCount(0);

    await submit(ada, freeze.getByRole("button", { name: "Enable the transition into Deploy" }), PRODUCTION);
    await expect(deploy.locator(".frozen")).toHaveCount(0, { timeout: 30_000 });
    await expect(ada.locator("form[data-transition=Deploy]").getByRole("button")).toHaveText(
      "Disable the transition into Deploy",
    );

    const disabled = await auditRows(ada, "production", "pipeline.disable-transition");
    await expect(disabled.filter({ hasText: reason })).toContainText("ada");
    const enabled = await auditRows(ada, "production", "pipeline.enable-transition");
    await expect(enabled.filter({ hasText: "enable the transition into Deploy" }).first()).toContainText("ada");
  } finally {
    // Whatever failed above, the next specs need the transition enabled.
    await ada.goto(PRODUCTION);
    const enable = ada.getByRole("button", { name: "Enable the transition into Deploy" });
    if (await enable.count()) await enable.click();
  }
});

test("a deployer releases staging and stops the running execution", async ({ browser }) => {
  // Someone else watches the Pipelines page meanwhile: its cards follow through one stream.
  const vera = await personAs(browser, "viewer");
  const streams: string[] = [];
  vera.on("request", (r) => {
    if (r.url().includes("/live/")) streams.push(new URL(r.url()).pathname);
  });
  await openPipeline(vera, "/staging/pipelines");
  const listed = cardOf(vera, "myapp-staging");

  const dana = await personAs(browser, "deployer");
  await openPipeline(dana, STAGING);
  const card = cardOf(dana, "myapp-staging");
  const line = card.locator(".execution");
  const before = await line.getAttribute("data-execution");
  await expect(card).not.toHaveAttribute("data-status", "InProgress");

  const release = dana.locator("form[data-action=start]");
  await release.getByLabel("Why").fill("e2e: a release to stop");
  await submit(dana, release.getByRole("button", { name: "Release" }), STAGING);
  // Staging is not protected: the execution starts at once.
  await expect(line).not.toHaveAttribute("data-execution", before ?? "", { timeout: 30_000 });
  await expect(card).toHaveAttribute("data-status", "InProgress");
  await expect(line).toContainText("running for");
  const running = (await line.getAttribute("data-execution"))!;
  await expect(listed.locator(".execution")).toHaveAttribute("data-execution", running, { timeout: 30_000 });

  // The actions render with the page: it offers to stop the running execution.
  await dana.reload();
  await hydrated(dana);
  const stop = dana.locator("form[data-action=stop]");
  await expect(stop.locator("input[name=execution]")).toHaveValue(running);
  await stop.getByLabel(/Abandon/).check();
  await stop.getByLabel("Why").fill("e2e: wrong commit");
  await submit(dana, stop.getByRole("button", { name: "Stop" }), STAGING);

  await expect(card).toHaveAttribute("data-status", "Stopped", { timeout: 30_000 });
  await expect(line).toHaveAttribute("data-execution", running);
  await expect(listed).toHaveAttribute("data-status", "Stopped", { timeout: 30_000 });
  // One stream for the page's cards (an EventSource may reconnect to it), none per card.
  expect([...new Set(streams)]).toEqual(["/live/staging/pipelines"]);
  await expect(card.locator(".card-row .chip")).toHaveText("Stopped");
  await expect(line).toContainText("took");
  await expect(card.locator('[data-stage="Deploy"]')).not.toHaveAttribute("data-status", "InProgress");
  // Nothing is left to stop, and the history says so.
  await dana.reload();
  await expect(dana.locator("form[data-action=stop]")).toHaveCount(0);
  const row = dana.locator(`tr[data-execution="${running}"]`);
  await expect(row).toHaveAttribute("data-status", "Stopped");
  await expect(row).toContainText("e2e: wrong commit");
  // The stage it was in when abandoned shows Stopped.
  await expect(card.locator('.stage[data-status="Stopped"]')).toHaveCount(1);

  const stopped = await auditRows(dana, "staging", "pipeline.stop");
  await expect(stopped.filter({ hasText: `abandon execution ${running}: e2e: wrong commit` })).toContainText("dana");
});

test("a deployer rolls Deploy back to an earlier execution; the deployment names the rollback as its release", async ({ browser }) => {
  const dana = await personAs(browser, "deployer");
  await dana.goto(STAGING_DEPLOYMENT);
  const running = (await dana.locator("table.revisions tr.live td:nth-child(2) code.commit").first().textContent())!.trim();

  await openPipeline(dana, STAGING);
  const card = cardOf(dana, "myapp-staging");
  // An earlier successful execution that deployed another commit than the one running.
  const row = dana
    .locator('tr[data-status="Succeeded"]')
    .filter({ has: dana.locator("form[data-action=rollback-stage]") })
    .filter({ hasNot: dana.locator(`code.commit:text-is("${running}")`) })
    .first();
  const earlier = (await row.getAttribute("data-execution"))!;
  const commit = (await row.getAttribute("data-commit"))!;
  expect(commit).not.toBe(running);
  const rollback = row.locator("form[data-action=rollback-stage]");
  await rollback.getByLabel("Why roll Deploy back").fill("e2e: back to a known good build");
  await submit(dana, rollback.getByRole("button", { name: "Roll Deploy back to this" }), STAGING);

  const line = card.locator(".execution");
  await expect(line).toContainText(" · rollback", { timeout: 30_000 });
  await expect(line.locator(".commit-line")).toHaveAttribute("data-commit", commit);
  const execution = (await line.getAttribute("data-execution"))!;
  expect(execution).not.toBe(earlier);

  // The Deploy stage shows the deployment it rolls out, live, and links to it.
  const deploy = card.locator('[data-stage="Deploy"]');
  const shown = deploy.locator('[data-deployment="staging/myapp-deployment"]');
  await expect(shown.locator(".rollout")).toBeVisible({ timeout: 30_000 });
  await expect(shown.getByRole("link", { name: "staging/myapp-deployment" })).toHaveAttribute("href", STAGING_DEPLOYMENT);
  await expect(card).toHaveAttribute("data-status", "Succeeded", { timeout: 90_000 });
  await expect(deploy).toHaveAttribute("data-status", "Succeeded");
  await expect(line).toHaveAttribute("data-execution", execution);
  await expect(shown.locator(".counts")).toHaveAttribute("data-ready", /^[1-9]/);
  await expect(shown.locator("[data-health]")).toHaveAttribute("data-health", "Complete");

  await dana.reload();
  await expect(dana.locator(`tr[data-execution="${execution}"]`)).toContainText("rollback");
  await expect(dana.locator(`tr[data-execution="${execution}"]`)).toHaveAttribute("data-status", "Succeeded");

  // On the deployment's page the live revision runs the commit, released by the rollback.
  await cardOf(dana, "myapp-staging").locator('[data-deployment="staging/myapp-deployment"] a').click();
  await expect(dana).toHaveURL(new RegExp(`${STAGING_DEPLOYMENT}$`));
  const live = dana.locator("table.revisions tr.live");
  await expect(live).toHaveCount(1);
  await expect(live.locator("td:nth-child(2) code.commit").first()).toHaveText(commit);
  await expect(live.locator(`[title$=":${commit}"]`).first()).toBeVisible();
  const released = live.locator(".release");
  await expect(released).toHaveAttribute("data-commit", commit);
  await expect(released).toHaveAttribute("data-execution", execution);
});

test("two executions side by side: the defaults, then a succeeded one against a failed one", async ({ browser }) => {
  const vera = await personAs(browser, "viewer");
  await openPipeline(vera, PRODUCTION);
  const rows = vera.locator("table.executions tbody tr");
  // By default B is the newest execution and A the one before it.
  const newest = (await rows.nth(0).getAttribute("data-execution"))!;
  const before = (await rows.nth(1).getAttribute("data-execution"))!;
  await expect(rows.nth(0).locator("input[name=b]")).toBeChecked();
  await expect(rows.nth(1).locator("input[name=a]")).toBeChecked();
  await vera.getByRole("button", { name: "Compare A and B side by side" }).click();
  await expect(vera).toHaveURL(new RegExp(`${PRODUCTION}/compare\\?`));
  expect(picked(vera)).toEqual({ a: before, b: newest });
  await expect(vera.getByRole("heading", { name: "Two executions side by side" })).toBeVisible();
  const sides = vera.locator('tr[data-row="execution"] td');
  await expect(sides.nth(0)).toHaveAttribute("data-execution", before);
  await expect(sides.nth(1)).toHaveAttribute("data-execution", newest);
  await expect(sides.nth(0)).toHaveText(before);
  await expect(sides.nth(1)).toHaveText(newest);
  await expect(vera.locator('tr[data-row="commit"] .commit-line')).toHaveCount(2);

  // Now picked: a succeeded execution as A, a failed one as B.
  await openPipeline(vera, PRODUCTION);
  const succeeded = vera.locator('table.executions tr[data-status="Succeeded"]').first();
  const failed = vera.locator('table.executions tr[data-status="Failed"]').first();
  const a = (await succeeded.getAttribute("data-execution"))!;
  const b = (await failed.getAttribute("data-execution"))!;
  const [commitA, commitB] = [await succeeded.getAttribute("data-commit"), await failed.getAttribute("data-commit")];
  await succeeded.locator("input[name=a]").check();
  await failed.locator("input[name=b]").check();
  await vera.getByRole("button", { name: "Compare A and B side by side" }).click();
  await expect(vera).toHaveURL(new RegExp(`${PRODUCTION}/compare\\?`));
  expect(picked(vera)).toEqual({ a, b });
  await expect(sides.nth(0)).toHaveAttribute("data-execution", a);
  await expect(sides.nth(1)).toHaveAttribute("data-execution", b);
  const commitRow = vera.locator('tr[data-row="commit"]');
  await expect(commitRow.locator("td").nth(0).locator(".commit-line")).toHaveAttribute("data-commit", commitA!);
  await expect(commitRow.locator("td").nth(1).locator(".commit-line")).toHaveAttribute("data-commit", commitB!);
  await expect(commitRow).toHaveAttribute("data-differs", String(commitA !== commitB));
  await expect(vera.locator('tr[data-row="status"]')).toHaveClass(/differs/);
  // The failed execution was rejected at the approval and never deployed.
  const approval = vera.locator('tr[data-action="Approval/ManualApproval"]');
  await expect(approval).toHaveAttribute("data-differs", "true");
  await expect(approval).toHaveClass(/differs/);
  await expect(approval.locator("td").nth(0)).toContainText("Succeeded");
  await expect(approval.locator("td").nth(1)).toContainText("Failed");
  const deploy = vera.locator('tr[data-action="Deploy/Deploy"]');
  await expect(deploy).toHaveAttribute("data-differs", "true");
  await expect(deploy.locator("td").nth(0)).toContainText("Succeeded");
  await expect(deploy.locator("td").nth(1)).toContainText("did not run");
});
