import { expect, type Page } from "@playwright/test";

/** Waits until the wasm has hydrated the page (the entry point marks <html> when done). */
export async function hydrated(page: Page) {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
}

export const AREAS = ["Pipelines", "Deployments", "Tokens", "Approvals", "Blocked", "Delivery", "Notifications", "Audit"] as const;

/** The sandbox's demo users (README), one per role. */
export const DEMO = {
  viewer: ["vera", "vera-viewer-demo"],
  deployer: ["dana", "dana-deployer-demo"],
  approver: ["avery", "avery-approver-demo"],
  admin: ["ada", "ada-admin-demo"],
} as const;

/** Signs in through the sign-in form (works with and without JavaScript). */
export async function signIn(page: Page, role: keyof typeof DEMO = "viewer") {
  const [name, password] = DEMO[role];
  await page.goto("/sign-in");
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).not.toHaveURL(/\/sign-in/);
}

/** `a` approves the oldest change request waiting in production's Approvals inbox. */
export async function approveRequest(a: Page) {
  await a.goto("/production/approvals");
  const request = a.locator('article.change[data-state="pending"]').first();
  await request.getByLabel("Approval comment").fill("ok");
  await request.getByRole("button", { name: "Approve" }).click();
  await expect(a).toHaveURL(/\/production\/approvals/);
}

/** `a` answers the manual approval waiting in production's pipelines, from the inbox. */
export async function approvePipeline(a: Page, comment = "Ship it") {
  await a.goto("/production/approvals");
  const waiting = a.locator(".pipeline-approvals .approval").first();
  await expect(waiting).toBeVisible({ timeout: 90_000 });
  await waiting.getByLabel("Approval comment").fill(comment);
  await waiting.getByRole("button", { name: "Approve" }).click();
  await expect(a).toHaveURL(/\/production\/approvals/);
}
