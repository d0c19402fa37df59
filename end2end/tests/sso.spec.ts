import { test, expect } from "@playwright/test";
import { hydrated } from "./helpers";

// Single sign-on through the embedded sandbox's OpenID Connect provider ("Sandbox SSO"), whose
// page lets you pick a demo person (README: olivia is in release-managers → approver).

test("single sign-on: the provider's person comes back signed in with their group's role", async ({ page }) => {
  await page.goto("/production/approvals");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fproduction%2Fapprovals$/);
  await hydrated(page);
  await page.getByRole("link", { name: "Sign in with Sandbox SSO" }).click();
  await expect(page.getByRole("heading", { name: "Sandbox SSO" })).toBeVisible();
  await page.getByRole("button", { name: /Olivia Okafor/ }).click();
  await expect(page).toHaveURL(/\/production\/approvals$/);
  await expect(page.locator(".user-menu")).toContainText("olivia");
  await expect(page.locator(".user-menu")).toContainText("approver");
});

test("single sign-on: declining at the provider is explained on the sign-in page", async ({ page }) => {
  await page.goto("/sign-in");
  await page.getByRole("link", { name: "Sign in with Sandbox SSO" }).click();
  await page.getByRole("button", { name: "Decline" }).click();
  await expect(page).toHaveURL(/\/sign-in\?error=sso-denied/);
  await expect(page.getByRole("alert")).toHaveText(
    "The identity provider did not sign you in (the sign-in was declined).",
  );
  // Local accounts still work from the same page.
  await expect(page.getByLabel("User name")).toBeVisible();
});
