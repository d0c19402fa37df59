import { test, expect } from "@playwright/test";
import { AREAS, hydrated, signIn } from "./helpers";

// Every page needs a session: each test signs in (as the viewer) first.
test.beforeEach(async ({ page }) => {
  await signIn(page);
});

test("the shell renders an environment with its navigation", async ({ page }) => {
  const response = await page.goto("/staging/pipelines");
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle("Pipelines · staging · Rollgate");
  await expect(page.getByRole("heading", { level: 1, name: "Pipelines" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Areas" });
  for (const area of AREAS) {
    await expect(nav.getByRole("link", { name: area })).toBeVisible();
  }
  await expect(nav.getByRole("link", { name: "Pipelines" })).toHaveAttribute("aria-current", "page");
  await expect(page.getByRole("link", { name: "myapp-staging" }).first()).toBeVisible();
});

test("navigation moves between areas and environments", async ({ page }) => {
  await page.goto("/staging/pipelines");
  await hydrated(page);
  const nav = page.getByRole("navigation", { name: "Areas" });
  for (const area of AREAS) {
    await nav.getByRole("link", { name: area }).click();
    await expect(page).toHaveURL(new RegExp(`/staging/${area.toLowerCase()}$`));
    await expect(page.getByRole("heading", { level: 1, name: area })).toBeVisible();
    await expect(page).toHaveTitle(`${area} · staging · Rollgate`);
  }

  // The switcher keeps the area and swaps the environment.
  await page.locator(".env-switcher summary").click();
  await page.getByRole("link", { name: /Production/ }).click();
  await expect(page).toHaveURL(/\/production\/audit$/);
  await expect(page.locator(".env-switcher summary")).toContainText("Production");
  await expect(page.locator(".env-switcher summary")).toContainText("protected");
  await expect(page.locator(".env-switcher")).not.toHaveAttribute("open", "");
  await nav.getByRole("link", { name: "Approvals" }).click();
  await expect(page.getByText("a change needs 1 approval from someone other than the person who requested it")).toBeVisible();
});

test("navigation works without JavaScript too", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page);
  await page.goto("/staging/pipelines");
  await page.getByRole("navigation", { name: "Areas" }).getByRole("link", { name: "Tokens" }).click();
  await expect(page).toHaveURL(/\/staging\/tokens$/);
  await expect(page.getByRole("cell", { name: "/rollgate/staging/" })).toBeVisible();
  await context.close();
});

test("the theme toggle works only once hydrated, and the choice survives a reload", async ({ browser }) => {
  // Without the wasm the button is inert: proof the interaction needs hydration.
  const ssrOnly = await browser.newContext({ javaScriptEnabled: false, colorScheme: "light" });
  const inert = await ssrOnly.newPage();
  await signIn(inert);
  await inert.goto("/staging/deployments");
  await inert.getByRole("button", { name: "Switch between light and dark theme" }).click();
  await expect(inert.locator("html")).not.toHaveAttribute("data-theme", /.+/);
  await ssrOnly.close();

  const context = await browser.newContext({ colorScheme: "light" });
  const page = await context.newPage();
  await signIn(page);
  await page.goto("/staging/deployments");
  await hydrated(page);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await background();
  await page.getByRole("button", { name: "Switch between light and dark theme" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  expect(await background()).not.toBe(light);

  // The server renders the remembered theme: it is there before any script runs.
  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  const html = await (await page.request.get("/staging/deployments")).text();
  expect(html).toContain('data-theme="dark"');

  await hydrated(page);
  await page.getByRole("button", { name: "Switch between light and dark theme" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  await context.close();
});

test("the OS preference applies until a theme is chosen", async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: "dark" });
  const page = await context.newPage();
  await signIn(page);
  await page.goto("/staging/pipelines");
  const scheme = await page.evaluate(() => getComputedStyle(document.documentElement).colorScheme);
  expect(scheme).toBe("dark");
  await context.close();
});

test("unknown places are 404 pages that say so", async ({ page }) => {
  let response = await page.goto("/staging/nowhere");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page).toHaveTitle("Not found · Rollgate");

  response = await page.goto("/qa/deployments");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("alert")).toContainText("There is no environment named “qa”. Configured: staging, production.");
});

test("fits a phone's width", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await signIn(page);
  await page.goto("/production/deployments");
  await hydrated(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.getByRole("navigation", { name: "Areas" }).getByRole("link", { name: "Audit" })).toBeAttached();
  await page.screenshot({ path: "docs/screenshot-phone.png" });
  await context.close();
});

test("README screenshot", async ({ page }) => {
  await page.setViewportSize({ width: 1200, height: 720 });
  await page.goto("/production/deployments");
  await hydrated(page);
  await page.screenshot({ path: "docs/screenshot.png" });
});
