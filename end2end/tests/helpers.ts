import { expect, type Page } from "@playwright/test";

/** Waits until the wasm has hydrated the page (the entry point marks <html> when done). */
export async function hydrated(page: Page) {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
}

export const AREAS = ["Pipelines", "Deployments", "Tokens", "Approvals", "Audit"] as const;
