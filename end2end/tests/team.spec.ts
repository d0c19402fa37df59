import { test, expect, type Browser } from "@playwright/test";
import { hydrated, signIn, DEMO } from "./helpers";

async function personAs(browser: Browser, role: keyof typeof DEMO) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, role);
  return { context, page };
}

test("pages need a session; a wrong password says so; sign-out ends the session", async ({ page }) => {
  await page.goto("/production/approvals");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fproduction%2Fapprovals$/);
  await page.getByLabel("User name").fill("dana");
  await page.getByLabel("Password").fill("not her password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("The user name or password is not right.");
  await page.getByLabel("User name").fill(DEMO.deployer[0]);
  await page.getByLabel("Password").fill(DEMO.deployer[1]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/production\/approvals$/);
  await expect(page.locator(".user-menu")).toContainText("dana");
  await expect(page.locator(".user-menu")).toContainText("deployer");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.goto("/production/audit");
  await expect(page).toHaveURL(/\/sign-in/);
});

test("four eyes: a deployer requests a production change, an approver approves it, the audit trail shows it", async ({ browser }) => {
  const reason = `e2e ${Date.now()}`;
  const deployer = await personAs(browser, "deployer");
  const d = deployer.page;
  await d.goto("/production/approvals");
  await hydrated(d);
  await d.locator("select[name=kind]").selectOption("scale");
  await d.getByLabel("Deployment", { exact: true }).fill("myapp-deployment");
  await d.getByLabel("Replicas (scale)").fill("3");
  await d.getByLabel("Why", { exact: true }).fill(reason);
  await d.getByRole("button", { name: "Request", exact: true }).click();
  const mine = d.locator("article.change", { hasText: reason });
  await expect(mine).toContainText("scale production/myapp-deployment to 3 replica(s)");
  await expect(mine).toContainText("pending");
  await expect(mine).toContainText("You requested this change; someone else must approve or reject it.");
  await expect(mine.getByRole("button", { name: "Approve" })).toBeDisabled();

  // A second person, in a second browser context.
  const approver = await personAs(browser, "approver");
  const a = approver.page;
  await a.goto("/production/approvals");
  const theirs = a.locator("article.change", { hasText: reason });
  await expect(theirs).toContainText("by dana");
  await theirs.getByLabel("Approval comment").fill("looks right");
  await theirs.getByRole("button", { name: "Approve" }).click();
  const decided = a.locator("article.change", { hasText: reason });
  // The approval that completes the count runs it, once, on the cluster.
  await expect(decided).toContainText("executed");
  await expect(decided).toContainText("3 replica(s)");
  await expect(decided).toContainText("avery approved: looks right");

  await a.goto("/production/audit?actor=avery");
  const rows = a.locator("table.audit tbody tr");
  // Other tests may have had avery approve pipeline changes: this one is the deployment's.
  await expect(rows.filter({ hasText: "change.execute" }).filter({ hasText: "myapp-deployment" })).toContainText(
    "requested by dana, approved by avery",
  );
  await expect(rows.filter({ hasText: "change.approve" }).filter({ hasText: "myapp-deployment" })).toContainText(
    "looks right",
  );
  const csv = await a.request.get("/production/audit/export?format=csv&actor=avery");
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain("change.execute");

  // The requester sees the outcome too.
  await d.reload();
  await expect(d.locator("article.change", { hasText: reason })).toContainText("executed");
  await d.goto("/production/deployments/production/myapp-deployment");
  await expect(d.locator(".live-rollout .counts")).toHaveAttribute("data-desired", "3");
  await expect(d.locator(".lede")).toContainText("last changed through Rollgate by dana, approved by avery");
  await deployer.context.close();
  await approver.context.close();
});

test("a viewer sees why they cannot act; a lock holds changes with its reason", async ({ browser }) => {
  const viewer = await personAs(browser, "viewer");
  await viewer.page.goto("/staging/approvals");
  await expect(viewer.page.getByText("As viewer in Staging you may not request changes; that needs the deployer or admin role.")).toBeVisible();
  await viewer.page.goto("/staging/deployments");
  await expect(viewer.page.getByText("As viewer in Staging you may not lock or unlock the environment")).toBeVisible();

  const deployer = await personAs(browser, "deployer");
  const d = deployer.page;
  await d.goto("/staging/deployments");
  await d.getByLabel("Reason", { exact: true }).fill("e2e: release train");
  await d.getByRole("button", { name: "Lock", exact: true }).click();
  await expect(d.getByRole("status")).toContainText("Locked by dana");
  await d.goto("/staging/approvals");
  await expect(d.getByText("Changes are held: staging is locked by dana: e2e: release train")).toBeVisible();
  await d.locator("select[name=kind]").selectOption("restart");
  await d.getByLabel("Deployment", { exact: true }).fill("myapp-deployment");
  await d.getByLabel("Why", { exact: true }).fill("during the lock");
  await d.getByRole("button", { name: "Request", exact: true }).click();
  await expect(d.getByRole("alert")).toContainText("Changes are held: staging is locked by dana: e2e: release train.");
  await d.goto("/staging/deployments");
  await d.getByRole("button", { name: "Unlock" }).click();
  await expect(d.getByRole("button", { name: "Lock", exact: true })).toBeVisible();
  await viewer.context.close();
  await deployer.context.close();
});
