import { test, expect } from "@playwright/test";
import { hydrated, signIn } from "./helpers";

const CLUSTER_TOKEN = "/rollgate/staging/k8s-bear-token";
const MASK = "••••••••••••";

test("an admin browses the tokens, rotates the staging cluster token, Rollgate keeps working, each step is audited", async ({ page }) => {
  await signIn(page, "admin");
  await page.goto("/staging/tokens");
  const tree = page.locator("table.tokens");
  await expect(tree.locator("tr.folder").first()).toContainText("/rollgate/");
  const row = tree.locator(`tr.parameter[data-name="${CLUSTER_TOKEN}"]`);
  await expect(row).toContainText("SecureString");
  await expect(row).toContainText("owner=release-engineering");

  const card = page.locator("section.cluster-token");
  const before = Number(await card.locator("[data-field=version]").textContent());
  await expect(card.locator("[data-field=expires]")).toContainText("valid");
  await card.getByLabel("Why").fill(`e2e rotation ${Date.now()}`);
  await card.getByRole("button", { name: "Rotate the cluster token" }).click();
  await expect(page).toHaveURL(/\/staging\/tokens$/);
  await expect(card.locator("[data-field=version]")).toHaveText(String(before + 1));
  await expect(card.locator("[data-field=in-use]")).toHaveText(`version ${before + 1}`);
  await expect(card.locator("[data-field=expires]")).toContainText(/in (29|30) days/);

  // Rollgate keeps reading the cluster, now with the new token.
  await page.goto("/staging/deployments/staging/myapp-deployment");
  await expect(page.locator("h1")).toHaveText("myapp-deployment");
  await expect(page.locator("table.revisions tbody tr").first()).toBeVisible();

  // Each step is in the audit trail.
  for (const step of ["request", "verify", "write", "switch"]) {
    await page.goto(`/staging/audit?action=token.cluster.${step}`);
    const line = page.locator("table.audit tbody tr").first();
    await expect(line).toContainText(`token.cluster.${step}`);
    await expect(line).toContainText("succeeded");
    await expect(line).toContainText(CLUSTER_TOKEN);
  }
  await page.goto("/staging/audit?action=change.execute");
  await expect(page.locator("table.audit tbody tr").first()).toContainText(`version ${before + 1} in use`);
});

test("an admin reveals a value for 30 seconds; the page never carries it", async ({ page }) => {
  await page.clock.install();
  await signIn(page, "admin");
  const response = await page.goto(`/staging/tokens?p=${CLUSTER_TOKEN}`);
  const html = (await response?.text()) ?? "";
  await hydrated(page);
  const reveal = page.locator(".reveal");
  await expect(reveal.locator("code.secret")).toHaveText(MASK);
  await expect(page.locator("table.history tbody tr").first()).toBeVisible();
  await reveal.getByRole("button", { name: "Reveal" }).click();
  await expect(reveal).toHaveAttribute("data-revealed", "true");
  const value = (await reveal.locator("code.secret").textContent()) ?? "";
  // A ServiceAccount token: a JWT.
  expect(value).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  expect(html).not.toContain(value);
  await page.clock.fastForward(31_000);
  await expect(reveal.locator("code.secret")).toHaveText(MASK);
  await expect(reveal).toHaveAttribute("data-revealed", "false");

  await page.goto("/staging/audit?action=token.reveal");
  await expect(page.locator("table.audit tbody tr").first()).toContainText("ada");
});

test("a viewer sees names and history, not values, and no change forms", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto(`/staging/tokens?p=${CLUSTER_TOKEN}`);
  await expect(page.locator("section.parameter-detail")).toContainText("The value is hidden.");
  await expect(page.locator(".reveal")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Rotate the cluster token" })).toHaveCount(0);
  await expect(page.locator("section.cluster-token")).toContainText("may not change secrets");
});
