import { test, expect, type Page } from "@playwright/test";
import { signIn, hydrated } from "../tests/helpers";
import { call, cluster, scale, summary, untilShown, watchDeployments, type Cluster } from "./support";

// Event-to-screen latency of the Deployments page in Chromium, through Rollgate's shared watch
// and its server-sent events. Each sample scales staging/checkout-api through the cluster API
// (as kubectl would) and measures two things:
// - spec: from the scale request being sent to the row showing the new desired count;
// - status: from the sandbox's controllers committing the new ready count (seen on a watch this
//   benchmark holds directly on the cluster) to the row's progress bar showing it.
// Target: p95 under 250 ms. The README's "Measurements" lists the latest figures.

const SAMPLES = 40;
const ROW = 'tr[data-deployment="staging/checkout-api"]';

/** Remembers when each ready count of checkout-api was last seen on the cluster. */
function watchReady(c: Cluster): { readyAt: Map<number, number>; stop: () => void } {
  const readyAt = new Map<number, number>();
  const stop = watchDeployments(c, "&fieldSelector=metadata.name%3Dcheckout-api", (object, at) =>
    readyAt.set(object?.status?.readyReplicas ?? 0, at),
  );
  return { readyAt, stop };
}

/** Remembers when `name:replicas` was first seen on the cluster, for every deployment. */
function watchDesired(c: Cluster): { seenAt: Map<string, number>; stop: () => void } {
  const seenAt = new Map<string, number>();
  const stop = watchDeployments(c, "", (object, at) => {
    const key = `${object?.metadata?.name}:${object?.spec?.replicas}`;
    if (!seenAt.has(key)) seenAt.set(key, at);
  });
  return { seenAt, stop };
}

/** Resolves with the time the row first shows `value` in `attribute` of its counts. */
function shownAt(page: Page, attribute: string, value: number): Promise<number> {
  return page.evaluate(
    ([selector, attribute, value]) =>
      new Promise<number>((resolve) => {
        const seen = () => document.querySelector(`${selector} .counts[${attribute}="${value}"]`);
        if (seen()) return resolve(-1);
        const observer = new MutationObserver(() => {
          if (seen()) {
            observer.disconnect();
            resolve(Date.now());
          }
        });
        observer.observe(document.body, { subtree: true, childList: true, attributes: true });
      }),
    [ROW, attribute, String(value)] as const,
  );
}

test("event-to-screen latency of the Deployments page", async ({ page }) => {
  const c = cluster();
  const watch = watchReady(c);
  await signIn(page, "viewer");
  await page.goto("/staging/deployments");
  await hydrated(page);
  const counts = page.locator(`${ROW} .counts`);
  const spec: number[] = [];
  const status: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    // Always a count the row does not show yet, so every sample waits for a real change.
    const replicas = (await counts.getAttribute("data-desired")) === "3" ? 4 : 3;
    const desiredShown = shownAt(page, "data-desired", replicas);
    const readyShown = shownAt(page, "data-ready", replicas);
    await page.waitForTimeout(50);
    watch.readyAt.delete(replicas);
    const sent = Date.now();
    await scale(c, replicas);
    const desiredAt = await desiredShown;
    const readyAt = await readyShown;
    expect(desiredAt, "the row showed the new count before it was sent").toBeGreaterThan(0);
    expect(readyAt, "the row showed the new ready count before it was sent").toBeGreaterThan(0);
    // The benchmark's own watch may hear of the change a little after Rollgate did.
    await expect.poll(() => watch.readyAt.get(replicas), { timeout: 5_000 }).toBeDefined();
    const committed = watch.readyAt.get(replicas);
    spec.push(desiredAt - sent);
    status.push(readyAt - committed!);
    await page.waitForTimeout(200);
  }
  watch.stop();
  console.log(summary("spec change to screen", spec));
  console.log(summary("status change to screen", status));
  expect(spec.length).toBe(SAMPLES);
});

// "Usable with 500 deployments in a namespace": the page with 500 more deployments in staging.
test("the Deployments page with 500 deployments in a namespace", async ({ page }) => {
  const c = cluster();
  const base = "/apis/apps/v1/namespaces/staging/deployments";
  const template = await call(c, "GET", `${base}/checkout-api`);
  const names = Array.from({ length: 500 }, (_, i) => `bench-${String(i).padStart(3, "0")}`);
  for (const name of names) {
    await call(c, "POST", base, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, labels: { "rollgate.io/bench": "500" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: template.spec.template.spec },
      },
    });
  }
  try {
    // Measure the steady state: wait until the 500 have rolled out.
    for (let tries = 0; ; tries++) {
      const list = await call(c, "GET", `${base}?labelSelector=rollgate.io%2Fbench%3D500`);
      const available = list.items.filter((d: any) => d.status?.availableReplicas === 1).length;
      if (available === names.length) break;
      if (tries > 600) throw new Error(`only ${available} of ${names.length} rolled out`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const loads: number[] = [];
    await signIn(page, "viewer");
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      await page.goto("/staging/deployments");
      await hydrated(page);
      loads.push(Date.now() - started);
    }
    // The table draws only the rows on screen; its count says how many it holds.
    const count = (await page.locator(".deployments-filters .count").textContent()) ?? "";
    expect(Number(count.split(" of ")[1])).toBeGreaterThan(names.length);

    // A second stream, only listened to, so a slow sample can be told apart: late from the
    // server, or slow to render.
    await page.evaluate(() => {
      const arrivals: Record<string, number> = {};
      (window as any).__arrivals = arrivals;
      new EventSource("/live/staging/deployments").onmessage = (e) => {
        const now = Date.now();
        const row = JSON.parse(e.data).Changed?.row;
        if (row) arrivals[`${row.name}:${row.desired}`] ??= now;
      };
    });
    const filter: number[] = [];
    const sort: number[] = [];
    const live: number[] = [];
    const arrival: number[] = [];
    const clusterWatch: number[] = [];
    const direct = watchDesired(c);
    const search = page.getByRole("searchbox");
    for (let i = 0; i < 10; i++) {
      const name = names[(i * 37) % names.length];
      filter.push(await untilShown(page, { rows: 1 }, () => search.fill(name)));
      await search.fill("");
      await expect(page.locator("tr[data-deployment]")).not.toHaveCount(1);
      // Name order puts bench-000 first; worst health first puts a degraded demo deployment there.
      const byName = i % 2 === 1;
      sort.push(
        await untilShown(page, { first: "staging/bench-000", is: byName }, async () => {
          await page.getByLabel("Sort by").selectOption(byName ? "name" : "health");
        }),
      );
      const target = names[(i * 53) % names.length];
      // Each sample scales another deployment from 1 to 2, its row on screen.
      const replicas = 2;
      let sent = 0;
      await search.fill(target);
      await expect(page.locator("tr[data-deployment]")).toHaveCount(1);
      live.push(
        await untilShown(page, { selector: `tr[data-deployment="staging/${target}"] .counts[data-desired="${replicas}"]` }, () => {
          sent = Date.now();
          return scale(c, replicas, target);
        }),
      );
      await search.fill("");
      const arrived = await page.evaluate((k) => (window as any).__arrivals[k] as number | undefined, `${target}:${replicas}`);
      arrival.push(arrived === undefined ? NaN : arrived - sent);
      const seen = direct.seenAt.get(`${target}:${replicas}`);
      clusterWatch.push(seen === undefined ? NaN : seen - sent);
    }
    console.log(summary("500 deployments: page load to hydrated", loads));
    console.log(summary("500 deployments: filter keystroke to screen", filter));
    console.log(summary("500 deployments: sort change to screen", sort));
    console.log(summary("500 deployments: spec change to screen", live));
    console.log(summary("500 deployments: spec change to its event in the browser", arrival));
    console.log(summary("500 deployments: spec change to its event on a direct cluster watch", clusterWatch));
    direct.stop();
  } finally {
    await call(c, "DELETE", `${base}?labelSelector=rollgate.io%2Fbench%3D500`);
  }
});
