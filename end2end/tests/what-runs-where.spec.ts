import { test, expect } from "@playwright/test";
import { hydrated, personAs } from "./helpers";

// What runs where, the landing page: staging is put back at the demo repository's oldest
// commit, so production is ahead of it whatever ran before; a viewer picks two cells and
// reads the commits between them (no Promote for her); a deployer promotes production's
// commit into staging and the grid then shows one commit in both, released by her.
// (Named to run last: other stories release production and staging too.)

test.setTimeout(180_000);

const STAGING = "/staging/pipelines/myapp-staging";
const OLDEST = "4d1c9a7";


const row = (page: import("@playwright/test").Page) => page.locator('tr[data-app="myapp-deployment"]');

test("staging goes back to the oldest commit and the grid follows what is deployed", async ({ browser }) => {
  const dana = await personAs(browser, "deployer");
  await expect(dana).toHaveURL(/\/overview$/);
  await dana.goto(STAGING);
  await hydrated(dana);
  const card = dana.locator('article.pipeline[data-pipeline="myapp-staging"]');
  const before = await card.locator(".execution").getAttribute("data-execution");
  const release = dana.locator("form[data-action=start]");
  await release.locator("summary").click();
  await release.getByLabel("Source action").selectOption("Source");
  await release.getByLabel("Kind").selectOption("commit-id");
  await release.getByLabel("Revision (empty: the branch head)").fill(OLDEST);
  await release.getByLabel("Why").fill("e2e: staging back to the oldest commit");
  await release.getByRole("button", { name: "Release" }).click();
  await expect(card.locator(".execution")).not.toHaveAttribute("data-execution", before!, { timeout: 30_000 });
  await expect(card).toHaveAttribute("data-status", "Succeeded", { timeout: 90_000 });

  await dana.goto("/overview");
  const staging = row(dana).locator('td[data-env="staging"]');
  await expect(staging.locator(".commit-line")).toHaveAttribute("data-commit", OLDEST);
  await expect(staging).toContainText("released by dana");
  await expect(row(dana).locator('td[data-env="production"]')).toHaveAttribute("data-differs", "true");
  await expect(row(dana).locator('td[data-env="production"] .differs-mark')).toHaveText("≠ differs from Staging");
});

test("a viewer picks two cells and reads the commits between them; she may not promote", async ({ browser }) => {
  const vera = await personAs(browser, "viewer");
  await expect(vera).toHaveURL(/\/overview$/);
  await expect(vera).toHaveTitle("Overview · Rollgate");
  await expect(vera.getByRole("heading", { level: 1, name: "What runs where" })).toBeVisible();
  const production = await row(vera).locator('td[data-env="production"] .commit-line').getAttribute("data-commit");

  await row(vera).locator('td[data-env="production"]').getByRole("link", { name: "Pick Production" }).click();
  await expect(row(vera).locator("td.picked")).toHaveAttribute("data-env", "production");
  await row(vera).getByRole("link", { name: "Compare Production → Staging" }).click();
  await expect(vera).toHaveURL(/\/overview\/compare\?app=myapp-deployment&left=production&right=staging$/);
  await expect(vera.getByRole("heading", { level: 1 })).toHaveText("myapp-deployment: Production → Staging");
  await expect(vera.locator(".lede")).toContainText(/Production is \d+ commits? ahead of Staging\./);
  const commits = vera.locator("table.commits-between tbody tr");
  await expect(commits.first()).toHaveAttribute("data-commit", production!);
  await expect(commits.locator(`[data-commit="${OLDEST}"]`)).toHaveCount(0);
  await expect(commits.first().locator("td").nth(3).getByRole("link").first()).toHaveAttribute("href", /\/pipelines\/myapp-/);
  await expect(vera.locator("form[data-action=promote]")).toHaveCount(0);
  await expect(vera.locator('[data-promote="refused"]')).toContainText("You may not promote into Staging");
});

test("a deployer promotes production's commit into staging; both then run it", async ({ browser }) => {
  const dana = await personAs(browser, "deployer");
  await dana.goto("/overview/compare?app=myapp-deployment&left=production&right=staging");
  const commit = await dana.locator('[data-side="left"] .commit-line').getAttribute("data-commit");
  const promote = dana.locator("form[data-action=promote]");
  await expect(dana.locator(".card.promote h2")).toHaveText(`Promote commit ${commit} to Staging`);
  await promote.getByLabel("Why").fill("e2e: staging catches up with production");
  await promote.getByRole("button", { name: "Promote to Staging" }).click();
  // Staging is not protected: the request runs at once and the pipeline page follows it.
  await expect(dana).toHaveURL(new RegExp(`${STAGING}$`));
  const card = dana.locator('article.pipeline[data-pipeline="myapp-staging"]');
  await expect(card.locator(".execution .commit-line")).toHaveAttribute("data-commit", commit!, { timeout: 30_000 });
  await expect(card).toHaveAttribute("data-status", "Succeeded", { timeout: 90_000 });

  await dana.goto("/overview");
  await expect(row(dana).locator('td[data-env="staging"] .commit-line')).toHaveAttribute("data-commit", commit!);
  await expect(row(dana).locator('td[data-env="production"]')).toHaveAttribute("data-differs", "false");
  await dana.goto("/overview/compare?app=myapp-deployment&left=production&right=staging");
  await expect(dana.locator(".lede")).toContainText("Production and Staging run the same commit.");
  await expect(dana.locator("form[data-action=promote]")).toHaveCount(0);
});
