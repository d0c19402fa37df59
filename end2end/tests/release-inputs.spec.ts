import { test, expect } from "@playwright/test";
import { approvePipeline, approveRequest, hydrated, personAs } from "./helpers";

// CodePipeline V2 as the pipeline page shows it: a release with inputs (the declared variable
// pre-filled with its default, a source revision instead of the branch head), a bad revision
// refused in words with nothing started, the execution mode, production's Deploy entry
// condition with what its rule found, and, while the error alarm fires (set through the
// sandbox's CloudWatch), a release held at that condition and let through by an override
// that someone else approves.

test.setTimeout(120_000);

const STAGING = "/staging/pipelines/myapp-staging";
const PRODUCTION = "/production/pipelines/myapp-production";
/** The demo repository's oldest commit (README). */
const OLDEST = "4d1c9a7";


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

/** Sets the sandbox's CloudWatch alarm `myapp-production-errors` (scripts/test.sh finds the endpoint). */
async function alarm(state: "ALARM" | "OK", reason: string) {
  const response = await fetch(`${process.env.ROLLGATE_E2E_CLOUDWATCH}/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.0",
      "X-Amz-Target": "GraniteServiceVersion20100801.SetAlarmState",
    },
    body: JSON.stringify({ AlarmName: "myapp-production-errors", StateValue: state, StateReason: reason }),
  });
  expect(response.status).toBe(200);
}

test("while the error alarm fires, a release waits at Deploy's entry until an override someone else approves", async ({ browser }) => {
  test.skip(!process.env.ROLLGATE_E2E_CLOUDWATCH, "scripts/test.sh passes the sandbox's CloudWatch endpoint");
  test.setTimeout(240_000);
  const dana = await personAs(browser, "deployer");
  const avery = await personAs(browser, "approver");
  const ada = await personAs(browser, "admin");
  await alarm("ALARM", "e2e: 5xx above 5%");
  try {
    await dana.goto(PRODUCTION);
    await hydrated(dana);
    const release = dana.locator("form[data-action=start]");
    await release.getByLabel("Why").fill("e2e: release into a firing alarm");
    await release.getByRole("button", { name: "Release" }).click();
    await expect(dana).toHaveURL(new RegExp(`${PRODUCTION}$`));
    await approveRequest(avery);
    // Dana's open page follows the execution to its manual approval; two people answer it.
    const card = dana.locator('article.pipeline[data-pipeline="myapp-production"]');
    await expect(card.locator(".approval")).toBeVisible({ timeout: 90_000 });
    await approvePipeline(avery);
    await approvePipeline(ada);

    // The live card shows the release held at Deploy's entry, the rule waiting on the alarm.
    const entry = dana.locator('[data-stage="Deploy"] .condition[data-condition="before-entry"]');
    await expect(entry).toHaveAttribute("data-status", "InProgress", { timeout: 60_000 });
    await expect(entry.locator('.rule[data-rule="NoProductionErrors"]')).toContainText(
      "Alarm myapp-production-errors is ALARM: waiting up to 60 min for it to change",
    );

    // Dana asks for an override: a change request, which she cannot approve herself.
    await dana.reload();
    await hydrated(dana);
    const override = dana.locator('form[data-action=override-condition][data-stage="Deploy"]');
    await expect(override.locator("h3")).toHaveText("Override the entry condition of Deploy");
    await override.getByLabel("Reason for the override").fill("e2e: the alarm is a known flake");
    await override.getByRole("button", { name: "Override" }).click();
    await dana.goto("/production/approvals");
    const mine = dana.locator('article.change[data-state="pending"]', { hasText: "override the entry condition of Deploy" });
    await expect(mine).toContainText("You requested this change");
    await approveRequest(avery);

    // Overridden: the release goes on and deploys.
    await dana.goto(PRODUCTION);
    await expect(entry).toHaveAttribute("data-status", "Overridden", { timeout: 30_000 });
    await expect(card).toHaveAttribute("data-status", "Succeeded", { timeout: 90_000 });
    await expect(dana.locator('table.rules tr[data-rule="NoProductionErrors"]')).toHaveAttribute("data-status", "Abandoned");
    await dana.goto("/production/audit?action=change.execute");
    const executed = dana.locator("table.audit tbody tr").first();
    await expect(executed).toContainText("requested by dana, approved by avery");
    await expect(executed).toContainText("overrode the entry condition of Deploy");
  } finally {
    await alarm("OK", "e2e: recovered");
  }
});
