import { test, expect } from "@playwright/test";
import { signIn } from "./helpers";

// Delivery figures (DORA): a viewer opens Delivery from the areas, reads the four figures of
// each application with their trends, switches to 90 days, reads one application's charts
// (SVG drawn on the server, the figures in a table beside each, which add up to the
// summary), the definitions, and downloads the rollouts as CSV.

test("a viewer reads the delivery figures, their charts and definitions, and exports them", async ({ page }) => {
  await signIn(page);
  await page.goto("/staging/pipelines");
  await page.getByRole("navigation", { name: "Areas" }).getByRole("link", { name: "Delivery" }).click();
  await expect(page).toHaveURL(/\/staging\/delivery$/);
  await expect(page).toHaveTitle("Delivery · staging · Rollgate");
  await expect(page.getByRole("heading", { level: 2, name: "The last 30 days, against the 30 before" })).toBeVisible();
  const myapp = page.locator('table.delivery-summary tr[data-app="myapp-deployment"]');
  await expect(myapp.locator('[data-figure="deployments"]')).toContainText(/\d+ \(\d+\.\d\d\/day\)/);

  await page.getByLabel("Period").selectOption("90");
  await page.getByLabel("Application").selectOption("myapp-deployment");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/days=90&app=myapp-deployment/);
  await expect(page.getByRole("heading", { level: 2, name: "The last 90 days, against the 90 before" })).toBeVisible();
  await expect(page.locator("h2.delivery-app")).toHaveText("myapp-deployment");

  const charts = page.locator("section.chart");
  await expect(charts).toHaveCount(4);
  for (const metric of ["deployments", "lead-time", "failure-rate", "restore"]) {
    const chart = page.locator(`section.chart[data-metric="${metric}"]`);
    await expect(chart.getByRole("img")).toBeVisible();
    await expect(chart.locator("svg title").first()).not.toBeEmpty();
    await expect(chart.getByRole("table")).toBeVisible();
  }
  await expect(page.locator('section.chart[data-metric="deployments"] h3')).toHaveText("Deployments per 6 days");
  // The chart's figures add up to the summary's count.
  const cells = await page.locator('section.chart[data-metric="deployments"] tbody td').allTextContents();
  const sum = cells.reduce((total, n) => total + Number(n), 0);
  const summary = await myapp.locator('[data-figure="deployments"]').textContent();
  expect(sum).toBe(Number(summary!.trim().split(" ")[0]));
  expect(sum).toBeGreaterThan(0);
  // Every rollout is a row: the deployments, and failed rollouts if any.
  const rows = page.locator("table.rollouts tbody tr");
  expect(await rows.count()).toBeGreaterThanOrEqual(sum);
  await expect(rows.and(page.locator(':not([data-outcome="failed"])'))).toHaveCount(sum);

  await expect(page.getByRole("heading", { name: "How these are counted" })).toBeVisible();
  await expect(page.locator(".definitions")).toContainText("within 24 hours it was rolled back or a hotfix followed it");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Export CSV" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe("rollgate-staging-delivery-90d.csv");
  const text = await (await download.createReadStream()).toArray();
  const csv = Buffer.concat(text).toString("utf8");
  expect(csv.split("\r\n")[0]).toBe(
    "environment,application,namespace,finished_at,outcome,commit,authored_at,lead_time_seconds,failed_change,restored_at,time_to_restore_seconds,source,message",
  );
  expect(csv).toContain("staging,myapp-deployment,staging,");
});
