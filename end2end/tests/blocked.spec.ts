import { test, expect, type Browser } from "@playwright/test";
import { hydrated, signIn, DEMO } from "./helpers";

// Blocked commits on the sandbox: a deployer rolls staging's checkout-api back and blocks the
// commit it takes out of service; the Blocked page says who blocked it, why and when; deploying
// that commit again is refused in words; lifting the block is a change request (staging is not
// protected, so it runs at once), after which the commit is listed as lifted.

async function personAs(browser: Browser, role: keyof typeof DEMO) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, role);
  return { context, page };
}

const DEPLOYMENT = "/staging/deployments/staging/checkout-api";

test("a rolled-back commit is blocked, refused, and released again once the block is lifted", async ({ browser }) => {
  const why = `e2e broke checkout ${Date.now()}`;
  const { context, page } = await personAs(browser, "deployer");
  await page.goto(DEPLOYMENT);
  await hydrated(page);
  const bad = (await page.locator("table.revisions tr.live code.commit").first().textContent())!.trim();
  expect(bad).toMatch(/^[0-9a-f]{7}$/);

  // The rollback page offers to block what it takes out of service (staging: unticked).
  const previous = page.locator("table.revisions tbody tr:not(.live)").first();
  await previous.getByRole("link", { name: "Roll back to this…" }).click();
  const block = page.getByLabel(`Block commit ${bad}: nobody may release it again until a change request lifts the block`);
  await expect(block).not.toBeChecked();
  await block.check();
  await page.getByLabel("Why", { exact: true }).fill("e2e: checkout fails");
  await page.getByLabel("Reason to block it (the rollback's if empty)").fill(why);
  await page.getByRole("button", { name: /^Roll back to revision / }).click();
  await expect(page).toHaveURL(new RegExp(`${DEPLOYMENT}$`));

  // The Blocked page: who, why, when, and the way to lift it.
  await page.getByRole("link", { name: "Blocked" }).click();
  await expect(page).toHaveURL(/\/staging\/blocked$/);
  const entry = page.locator(`article.block[data-commit="${bad}"]`);
  await expect(entry).toContainText(why);
  await expect(entry).toContainText("Blocked by dana at ");

  // Deploying it again is refused, in words.
  await page.goto(DEPLOYMENT);
  await hydrated(page);
  const deploy = page.locator("[data-action=deploy-image]");
  await deploy.locator("input[name=image]").fill(`checkout-api:${bad}`);
  await deploy.getByLabel("Why").fill("e2e: try it again");
  await deploy.getByRole("button", { name: "Deploy" }).click();
  await expect(page.locator("p.notice.bad[role=alert]")).toContainText(
    `It would release a blocked commit: commit ${bad} is blocked by dana`,
  );
  await expect(page.locator("table.revisions tr.live")).not.toContainText(bad);

  // Lifting the block is a change request.
  await page.goto("/staging/blocked");
  await entry.getByLabel("Why lift the block").fill("e2e: fixed");
  await entry.getByRole("button", { name: "Ask to lift the block" }).click();
  await expect(page).toHaveURL(/\/staging\/blocked$/);
  await expect(page.locator(`article.block[data-commit="${bad}"]`)).toHaveCount(0);
  await expect(page.locator(`table.lifted tr[data-commit="${bad}"]`).first()).toContainText("dana");

  // And it may be deployed again.
  await page.goto(DEPLOYMENT);
  await hydrated(page);
  await deploy.locator("input[name=image]").fill(`checkout-api:${bad}`);
  await deploy.getByLabel("Why").fill("e2e: back to it");
  await deploy.getByRole("button", { name: "Deploy" }).click();
  await expect(page).toHaveURL(new RegExp(`${DEPLOYMENT}$`));
  // (The revisions table is read when the page loads.)
  await expect(async () => {
    await page.reload();
    await expect(page.locator("table.revisions tr.live")).toContainText(bad, { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await context.close();
});
