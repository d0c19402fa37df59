import { test, expect, type Browser } from "@playwright/test";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO, personAs as signedIn, startRollgate } from "./helpers";

// A recurring freeze on the sandbox: a second Rollgate, started by this spec on the sandbox's
// own configuration plus a freeze of production that holds now (every day, an hour either
// side of now, Berlin time), so the other specs' server is never frozen. The calendar shows
// it, a change request is refused in words, the pipeline's Deploy gate is closed by the freeze
// (so a push would wait), and an admin goes through with a reason (break-glass).

let server: ChildProcess | undefined;
let base = "";

/** `date` as a wall-clock time in Berlin: "2026-12-05T16:00:00". */
function berlin(date: Date): string {
  return date.toLocaleString("sv-SE", { timeZone: "Europe/Berlin" }).replace(" ", "T");
}

test.beforeAll(async () => {
  test.skip(!process.env.ROLLGATE_BIN || !process.env.ROLLGATE_E2E_SITE, "ROLLGATE_BIN and ROLLGATE_E2E_SITE are set by scripts/test.sh");
  const now = Date.now();
  const freeze = `
[[environment.recurring_freeze]]
rrule = "FREQ=DAILY"
starts = "${berlin(new Date(now - 3_600_000))}"
ends = "${berlin(new Date(now + 3_600_000))}"
time_zone = "Europe/Berlin"
reason = "e2e freeze"
`;
  ({ base, server } = await startRollgate(mkdtempSync(join(tmpdir(), "rollgate-freeze-")), freeze));
});

test.afterAll(() => {
  server?.kill();
});

async function personAs(browser: Browser, role: keyof typeof DEMO) {
  return signedIn(browser, role, base);
}

test("a recurring freeze: the calendar, a refusal in words, the Deploy gate closed, and break-glass", async ({ browser }) => {
  const dana = await personAs(browser, "deployer");

  // The Deployments page's lock panel links to the calendar, which shows the freeze holding.
  await dana.goto("/production/deployments");
  await dana.getByRole("link", { name: "Freeze calendar" }).click();
  await expect(dana).toHaveURL(/\/production\/calendar$/);
  await expect(dana.locator("p.notice.warn")).toContainText("Deploys are frozen until ");
  await expect(dana.locator("p.notice.warn")).toContainText(": e2e freeze");
  await expect(dana.locator("p.notice.warn")).toContainText(/CES?T/);
  await expect(dana.locator("table.freezes tr.now")).toContainText("e2e freeze");
  await expect(dana.locator("ol.days li.day")).toHaveCount(30);
  await expect(dana.locator("ol.days li.day").first()).toHaveClass(/part|all/);
  // Staging is not frozen.
  await dana.goto("/staging/calendar");
  await expect(dana.getByText("No freeze in the next 30 days.")).toBeVisible();

  // A change request in production is refused, saying until when and why.
  await dana.goto("/production/approvals");
  const form = dana.locator("form", { has: dana.locator("select[name=kind]") });
  await form.locator("select[name=kind]").selectOption("restart");
  await form.getByLabel("Deployment", { exact: true }).fill("myapp-deployment");
  await form.getByLabel("Why", { exact: true }).fill("e2e during the freeze");
  await form.getByRole("button", { name: "Request", exact: true }).click();
  await expect(dana.locator("p.notice.bad[role=alert]")).toContainText("deploys are frozen until ");
  await expect(dana.locator("p.notice.bad[role=alert]")).toContainText(": e2e freeze");

  // The freeze closed the gate into production's Deploy stage, so a push would wait there.
  await dana.goto("/production/pipelines/myapp-production");
  await expect(dana.locator('[data-stage="Deploy"] .frozen')).toContainText(
    "Transition disabled by rollgate-freeze: Rollgate freeze until ",
    { timeout: 30_000 },
  );

  // Break-glass: an admin goes through, saying why; the request keeps the reason.
  const ada = await personAs(browser, "admin");
  await ada.goto("/production/approvals");
  const adminForm = ada.locator("form", { has: ada.locator("select[name=kind]") });
  await adminForm.locator("select[name=kind]").selectOption("restart");
  await adminForm.getByLabel("Deployment", { exact: true }).fill("myapp-deployment");
  await adminForm.getByLabel("Why", { exact: true }).fill("e2e hotfix during the freeze");
  await adminForm.getByLabel("Override the hold (admins; say why)").fill("incident 7: the fix cannot wait");
  await adminForm.getByRole("button", { name: "Request", exact: true }).click();
  const request = ada.locator("article.change", { hasText: "e2e hotfix during the freeze" });
  await expect(request).toContainText("pending");
  await expect(request).toContainText("incident 7: the fix cannot wait (overriding: deploys are frozen until");
});
