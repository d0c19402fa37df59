import { test, expect, type Browser } from "@playwright/test";
import { hydrated, signIn, DEMO } from "./helpers";

// CodePipeline V2 as the pipeline page shows it: a release with inputs (the declared variable
// pre-filled with its default, a source revision instead of the branch head), a bad revision
// refused in words with nothing started, the execution mode, and production's Deploy entry
// condition with what its rule found.

test.setTimeout(120_000);

const STAGING = "/staging/pipelines/myapp-staging";
const PRODUCTION = "/production/pipelines/myapp-production";
/** The demo repository's oldest commit (README). */
const OLDEST = "4d1c9a7";

async function personAs(browser: Browser, role: keyof typeof DEMO) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, role);
  return page;
}

test("a deployer releases an earlier commit of staging with a variable; a bad revision is refused in words", async ({ browser }) => {
  const dana = await personAs(browser, "deployer");
  await dana.goto(STAGING);
  await hydrated(dana);
  await expect(dana.locator(".mode")).toHaveText(
    "Execution mode SUPERSEDED: a newer execution replaces one waiting at a stage.",
  );
  const release = dana.locator("form[data-action=start]");
  const variables = release.getByLabel("Variables (NAME=value, one per line)");
  await expect(variables).toHaveValue("RELEASE_NOTE=routine release\n");
  await expect(release.locator(".declared")).toContainText("RELEASE_NOTE: Shown with the release in Rollgate");

  // A revision that is no commit: refused before anything starts, in words.
  const card = dana.locator('article.pipeline[data-pipeline="myapp-staging"]');
  const before = await card.locator(".execution").getAttribute("data-execution");
  await release.locator("summary").click();
  await release.getByLabel("Revision (empty: the branch head)").fill("not-a-commit");
  await release.getByLabel("Why").fill("e2e: a bad revision");
  await release.getByRole("button", { name: "Release" }).click();
  await expect(dana.locator("p.notice.bad[role=alert]")).toContainText(
    'Source revision: "not-a-commit" is not a commit hash.',
  );
  await expect(card.locator(".execution")).toHaveAttribute("data-execution", before!);

  // The oldest commit, with a note: staging is not protected, so it starts at once.
  await hydrated(dana);
  const again = dana.locator("form[data-action=start]");
  await again.getByLabel("Variables (NAME=value, one per line)").fill("RELEASE_NOTE=e2e hotfix check");
  await again.locator("summary").click();
  await again.getByLabel("Source action").selectOption("Source");
  await again.getByLabel("Kind").selectOption("commit-id");
  await again.getByLabel("Revision (empty: the branch head)").fill(OLDEST);
  await again.getByLabel("Why").fill("e2e: the oldest commit again");
  await again.getByRole("button", { name: "Release" }).click();
  await expect(dana).toHaveURL(new RegExp(`${STAGING}$`));
  await expect(card.locator(".execution")).not.toHaveAttribute("data-execution", before!, { timeout: 30_000 });
  await expect(card.locator(".execution .commit-line")).toHaveAttribute("data-commit", OLDEST, { timeout: 30_000 });
  await expect(card).toHaveAttribute("data-status", "Succeeded", { timeout: 90_000 });

  // The audit trail keeps what was asked for, inputs included.
  await dana.goto("/staging/audit?action=change.execute");
  await expect(dana.locator("table.audit tbody tr").first()).toContainText(
    `start myapp-staging with RELEASE_NOTE="e2e hotfix check" at commit ${OLDEST} (Source)`,
  );
});

test("production's Deploy stage shows its entry condition and what the alarm rule found", async ({ browser }) => {
  const vera = await personAs(browser, "viewer");
  await vera.goto(PRODUCTION);
  await hydrated(vera);
  const entry = vera.locator('[data-stage="Deploy"] .condition[data-condition="before-entry"]');
  await expect(entry).toContainText("entry condition");
  // pipelines.spec released production before this spec: its check passed.
  await expect(entry).toHaveAttribute("data-status", "Succeeded");
  await expect(entry.locator('.rule[data-rule="NoProductionErrors"]')).toContainText(
    "Alarm myapp-production-errors is OK",
  );
  const rule = vera.locator('table.rules tr[data-rule="NoProductionErrors"]');
  await expect(rule).toHaveAttribute("data-status", "Succeeded");
  await expect(rule.locator(".checked")).toContainText("AlarmName: myapp-production-errors");
  await expect(rule).toContainText("CloudWatchAlarm");
  // A viewer may not release or override anything.
  await expect(vera.locator("form[data-action=override-condition]")).toHaveCount(0);
});
